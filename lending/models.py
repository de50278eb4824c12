"""Every table of the service, gathered so that Alembic and the tests see the whole schema."""

from inventory.models import Device, Location, TagSequence, Wipe
from lending.accounts.models import LoginFailure, Token, User
from lending.audit.models import AuditEntry, RecipientKey
from lending.decisions.models import EligibilityDecision
from lending.loans.models import Loan
from lending.recipients.models import Recipient
from lending.waitlist.models import WaitlistRequest

__all__ = ["AuditEntry", "Device", "EligibilityDecision", "Loan", "Location", "LoginFailure",
           "Recipient", "RecipientKey", "TagSequence", "Token", "User", "WaitlistRequest",
           "Wipe"]
