"""API input and output for data vouchers: never a code, but in the one answer that hands it
over on paper."""

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from inventory.schemas import ReadModel


class VoucherIssue(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    network: str | None = Field(default=None, max_length=40,
                                description="the network wanted; default: any")
    send_sms: bool = Field(default=True, description="text the code to the recipient; false "
                                                     "shows it once, for a printed slip")
    override_reason: str | None = Field(
        default=None, min_length=10, max_length=2000,
        description="a manager overriding an ineligible or needs_review outcome")

    @field_validator("network", "override_reason", mode="before")
    @classmethod
    def _blank(cls, value):
        return None if isinstance(value, str) and not value.strip() else value


class IssuedVoucher(ReadModel):
    id: int
    network: str
    data_gb: float
    expires_on: date
    issued_at: datetime
    delivery: str = Field(description="sms (queued to the recipient) or slip (shown here once)")
    code: str | None = Field(default=None, description="only when send_sms was false: shown "
                                                       "once, to print; the reveal is audited")


class VoucherImported(ReadModel):
    created: int


class NetworkStock(ReadModel):
    network: str
    available: int
    issued: int
    expired: int
    available_gb: float
    issued_gb: float
    expired_gb: float
    next_expiry: date | None = Field(description="the soonest expiry of an available voucher")


class VoucherStock(ReadModel):
    networks: list[NetworkStock]
    total: dict[str, int]
    total_gb: dict[str, float]
