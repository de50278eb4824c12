"""Staff accounts and the tokens that authenticate them (API tokens and browser sessions)."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import DateTime, Index
from sqlmodel import Field, SQLModel


class Role(StrEnum):
    staff = "staff"
    manager = "manager"
    admin = "admin"


# Each role may do everything the roles before it may.
ROLE_RANK = {Role.staff: 1, Role.manager: 2, Role.admin: 3}


class TokenKind(StrEnum):
    api = "api"
    session = "session"


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True)
    display_name: str = Field(max_length=120)
    role: str = Field(default=Role.staff.value, max_length=10)
    location_id: int | None = Field(default=None, foreign_key="locations.id")
    password_hash: str | None = Field(default=None, max_length=200)
    active: bool = True
    created_at: datetime = Field(sa_type=DateTime(timezone=True))


class Token(SQLModel, table=True):
    """A bearer secret, stored only as its SHA-256: an API token or a browser session."""

    __tablename__ = "tokens"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    kind: str = Field(default=TokenKind.api.value, max_length=10)
    name: str = Field(max_length=120)
    secret_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
    expires_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    last_used_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    revoked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class LoginFailure(SQLModel, table=True):
    """A failed sign-in, counted per account and per client address so that guessing is
    slowed however many instances serve it. `key` is "account:" and a hash of the email, or
    "address:" and the client's address; rows older than a day are deleted as new ones come."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_key_at", "key", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=80)
    at: datetime = Field(sa_type=DateTime(timezone=True))
