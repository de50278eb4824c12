"""Every table of the service, gathered so that Alembic and the tests see the whole schema."""

from inventory.models import Device, Location, PlanChange, TagSequence, Wipe
from lending.accounts.models import LoginFailure, Token, User
from lending.audit.models import AuditEntry, RecipientKey
from lending.decisions.models import EligibilityDecision
from lending.loans.models import Loan
from lending.recipients.models import Declaration, Recipient
from lending.stocktakes.models import Stocktake, StocktakeItem
from lending.vouchers.models import Voucher
from lending.waitlist.models import WaitlistRequest
from notifications.models import Message, Reply

__all__ = ["AuditEntry", "Declaration", "Device", "EligibilityDecision", "Loan", "Location",
           "LoginFailure", "Message", "PlanChange", "Recipient", "RecipientKey", "Reply",
           "Stocktake", "StocktakeItem", "TagSequence", "Token", "User", "Voucher",
           "WaitlistRequest", "Wipe"]
