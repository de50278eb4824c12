"""What the API shows of the outbox and the inbox (GET /api/v1/notifications and the
pages), and its filters."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from notifications.models import MessageStatus
from notifications.texts import without_codes


class MessageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    language: str
    status: str
    attempts: int
    body: str
    recipient_id: int | None
    loan_id: int | None
    request_id: int | None
    error_code: str | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime

    # A voucher's code is money: the outbox holds it for the provider, but no listing shows it.
    _codes_masked = field_validator("body")(without_codes)


class MessageFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recipient_id: int | None = Field(default=None, ge=1)
    loan_id: int | None = Field(default=None, ge=1)
    status: MessageStatus | None = None
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0)


class ReplyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    from_number: str
    body: str
    kind: str
    recipient_id: int | None
    received_at: datetime
    read_at: datetime | None
