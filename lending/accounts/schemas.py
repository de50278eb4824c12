from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from inventory.schemas import ReadModel
from lending.accounts.models import Role


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    email: EmailStr
    display_name: str = Field(default="", max_length=120)
    role: Role = Role.staff
    location: str | None = Field(default=None, max_length=16, description="a location code")
    password: str | None = Field(default=None, min_length=12, max_length=200)

    @field_validator("email")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    display_name: str | None = Field(default=None, min_length=1, max_length=120)
    role: Role | None = None
    location: str | None = Field(default=None, max_length=16)
    active: bool | None = None
    password: str | None = Field(default=None, min_length=12, max_length=200)


class PasswordChange(BaseModel):
    """A user's own new password, with the one they have now."""

    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=12, max_length=200)


class UserRead(ReadModel):
    id: int
    email: str
    display_name: str
    role: str
    location: str | None
    active: bool


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(default="API token", min_length=1, max_length=120)


class TokenRead(ReadModel):
    id: int
    name: str
    kind: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenRead):
    token: str = Field(description="shown once; only its hash is kept")
