"""The outbox (every text we mean to send, and what became of it) and the inbox (replies).

This package knows a person only as a phone number and a language. The integer columns
`recipient_id`, `loan_id` and `request_id` let the application find its own messages; they
carry no foreign keys so that this package stays independent of the application's tables.
"""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import DateTime, Index
from sqlmodel import Field, SQLModel


class MessageStatus(StrEnum):
    queued = "queued"
    sending = "sending"
    sent = "sent"
    delivered = "delivered"
    failed = "failed"
    cancelled = "cancelled"


class ErrorCode(StrEnum):
    """Why a message failed or was cancelled, in words the application can act on."""

    invalid_number = "invalid_number"  # the provider refused the number: staff should fix it
    unsubscribed = "unsubscribed"  # the number replied STOP at the provider (Twilio 21610)
    not_delivered = "not_delivered"  # the provider accepted it but the network gave up
    auth = "auth"  # our credentials were refused
    rejected = "rejected"  # any other refusal we cannot cure by retrying
    retries_exhausted = "retries_exhausted"
    opted_out = "opted_out"  # the recipient asked us for no texts
    superseded = "superseded"  # the reason for the text went away (loan returned, say)


# A number staff should look at: texting it again will not help.
NUMBER_PROBLEMS = frozenset({ErrorCode.invalid_number.value, ErrorCode.unsubscribed.value})


class Message(SQLModel, table=True):
    __tablename__ = "outbox"
    __table_args__ = (
        # Dispatch looks for due rows by status and time.
        Index("ix_outbox_status_next_attempt", "status", "next_attempt_at"),
        Index("ix_outbox_recipient", "recipient_id", "id"),
        Index("ix_outbox_loan", "loan_id", "id"),
        Index("ix_outbox_request", "request_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # What the text is about, e.g. "loan:42:due_soon:2026-12-01": a second attempt to queue
    # the same text is ignored, so a sweep that runs twice sends nothing twice.
    key: str = Field(max_length=120, unique=True)
    to: str = Field(max_length=16)
    language: str = Field(max_length=2)
    kind: str = Field(max_length=20)
    body: str = Field(max_length=918)
    status: str = Field(default=MessageStatus.queued.value, max_length=10)
    # Sends tried, so that retries stop at a bound.
    attempts: int = 0
    # For a queued row, when it may go; for a `sending` row, the end of the dispatcher's
    # lease: past it, the text is looked up at the provider before anything is sent again.
    next_attempt_at: datetime = Field(sa_type=DateTime(timezone=True))
    # Tells dispatchers apart, so that one whose lease lapsed cannot record over another.
    claim_token: str | None = Field(default=None, max_length=32)
    provider: str | None = Field(default=None, max_length=10)
    provider_id: str | None = Field(default=None, max_length=64, index=True)
    provider_status: str | None = Field(default=None, max_length=24)
    # Opaque and random, given to the provider so that a lost answer can be looked up.
    reference: str = Field(max_length=32, unique=True)
    error_code: str | None = Field(default=None, max_length=20)
    last_error: str | None = Field(default=None, max_length=400)
    recipient_id: int | None = None
    loan_id: int | None = None
    request_id: int | None = None
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
    sent_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    updated_at: datetime = Field(sa_type=DateTime(timezone=True))


class ReplyKind(StrEnum):
    stop = "stop"
    start = "start"
    more = "more"
    # An answer to the survey after a return (1 to 5): stored against the loan, so it
    # waits for no one. Set by the application, which knows a survey was sent.
    survey = "survey"
    other = "other"


class Reply(SQLModel, table=True):
    """A text a recipient sent us. Kept whatever it says; STOP and START act as well."""

    __tablename__ = "inbox"
    __table_args__ = (
        Index("ix_inbox_unread", "read_at", "received_at"),
        Index("ix_inbox_from", "from_number", "received_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(max_length=10)
    # Providers repeat callbacks: the same text is kept once.
    provider_id: str = Field(max_length=64, unique=True)
    from_number: str = Field(max_length=16)
    body: str = Field(max_length=1600)
    kind: str = Field(max_length=10)
    recipient_id: int | None = None
    received_at: datetime = Field(sa_type=DateTime(timezone=True))
    read_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
