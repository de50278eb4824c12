"""The subject-access export as the API documents it."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class SubjectAccessExport(BaseModel):
    """Everything held about one recipient. The parts are the records as the rest of the
    API shows them (a recipient, decisions, loans, waitlist requests, data vouchers with
    their codes, the texts sent to them and received from them, audit entries, opened
    where their key still exists)."""

    exported_at: datetime
    recipient: dict[str, Any]
    decisions: list[dict[str, Any]]
    loans: list[dict[str, Any]]
    waitlist_requests: list[dict[str, Any]]
    vouchers: list[dict[str, Any]]
    """The data vouchers given to them, with their codes: theirs to see."""
    messages: list[dict[str, Any]]
    replies: list[dict[str, Any]]
    audit_entries: list[dict[str, Any]]
