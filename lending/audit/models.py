"""The append-only audit log: who changed (or read) what, when, before and after."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Index
from sqlmodel import Field, SQLModel


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_audit_entity", "entity", "entity_id", "id"),
        Index("ix_audit_actor", "actor_id", "id"),
        Index("ix_audit_at", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=DateTime(timezone=True))
    actor_id: int | None = Field(default=None)
    actor: str = Field(max_length=254)
    action: str = Field(max_length=40)
    entity: str = Field(max_length=40)
    entity_id: str = Field(max_length=40)
    # {field: [before, after]} for updates; {field: value} under "after" for creations.
    changes: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class RecipientKey(SQLModel, table=True):
    """The key that seals one recipient's personal values in the audit log, itself sealed
    with a key derived from LENDING_SECRET_KEY. Erasing a recipient deletes this row, and
    with it every readable copy of what the log held about them (crypto-shredding)."""

    __tablename__ = "recipient_keys"

    recipient_id: int = Field(primary_key=True, foreign_key="recipients.id")
    wrapped_key: str = Field(max_length=200)
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
