"""A data voucher: a code for a network's data top-up, held encrypted, given once.

The code is money: only its ciphertext (`code_ciphertext`, AES-GCM) and a keyed hash of the
normalised code (`code_digest`, HMAC-SHA256, unique) are stored, never the code itself.
"""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Date, DateTime, Float, Index, LargeBinary
from sqlmodel import Field, SQLModel


class VoucherStatus(StrEnum):
    available = "available"
    issued = "issued"
    expired = "expired"


class Voucher(SQLModel, table=True):
    __tablename__ = "vouchers"
    __table_args__ = (
        # The claim: an office's available vouchers of a network, soonest expiry first.
        Index("ix_vouchers_claim", "location_id", "status", "network", "expires_on"),
        Index("ix_vouchers_recipient", "recipient_id", "issued_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    location_id: int = Field(foreign_key="locations.id")
    network: str = Field(max_length=40)
    data_gb: float = Field(sa_type=Float)
    expires_on: date = Field(sa_type=Date)
    code_ciphertext: bytes = Field(sa_type=LargeBinary)
    code_digest: str = Field(max_length=64, unique=True)
    status: str = Field(default=VoucherStatus.available.value, max_length=10)
    imported_at: datetime = Field(sa_type=DateTime(timezone=True))
    imported_by: str = Field(max_length=254)
    recipient_id: int | None = Field(default=None, foreign_key="recipients.id")
    issued_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    issued_by: str | None = Field(default=None, max_length=254)
    # "sms": queued to the recipient's mobile; "slip": shown once to staff, to print.
    delivery: str | None = Field(default=None, max_length=10)
    decision_id: int | None = Field(default=None, foreign_key="eligibility_decisions.id")
    expired_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
