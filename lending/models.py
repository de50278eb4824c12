"""Every table of the service, gathered so that Alembic and the tests see the whole schema."""

from inventory.models import Device, Location, TagSequence, Wipe
from lending.accounts.models import Token, User
from lending.audit.models import AuditEntry
from lending.loans.models import EligibilityDecision, Loan
from lending.recipients.models import Recipient
from lending.waitlist.models import WaitlistRequest
from notifications.models import Message, Reply

__all__ = ["AuditEntry", "Device", "EligibilityDecision", "Loan", "Location", "Message",
           "Recipient", "Reply", "TagSequence", "Token", "User", "WaitlistRequest", "Wipe"]
