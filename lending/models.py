"""Every table of the service, gathered so that Alembic and the tests see the whole schema."""

from inventory.models import Device, Location, PlanChange, TagSequence, Wipe
from lending.accounts.models import Token, User
from lending.audit.models import AuditEntry
from lending.decisions.models import EligibilityDecision
from lending.loans.models import Loan
from lending.recipients.models import Declaration, Recipient
from lending.stocktakes.models import Stocktake, StocktakeItem
from lending.waitlist.models import WaitlistRequest
from notifications.models import Message, Reply

__all__ = ["AuditEntry", "Declaration", "Device", "EligibilityDecision", "Loan", "Location",
           "Message", "PlanChange", "Recipient", "Reply", "Stocktake", "StocktakeItem",
           "TagSequence", "Token", "User", "WaitlistRequest", "Wipe"]
