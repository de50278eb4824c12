from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from inventory.schemas import MAX_OFFSET, ReadModel


class AuditQuery(BaseModel):
    entity: str | None = Field(default=None, max_length=40)
    entity_id: str | None = Field(default=None, max_length=40)
    actor: str | None = Field(default=None, max_length=254, description="the actor's email")
    since: datetime | None = None
    until: datetime | None = None
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)


class AuditEntryRead(ReadModel):
    id: int
    at: datetime
    actor: str
    actor_id: int | None = None
    action: str
    entity: str
    entity_id: str
    changes: dict[str, Any]
