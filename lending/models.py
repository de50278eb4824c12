"""Every table of the service, gathered so that Alembic and the tests see the whole schema."""

from inventory.models import Device, Location, TagSequence, Wipe
from lending.accounts.models import Token, User
from lending.audit.models import AuditEntry

__all__ = ["AuditEntry", "Device", "Location", "TagSequence", "Token", "User", "Wipe"]
