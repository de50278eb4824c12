"""indexes for the manager reports

Revision ID: c10reports01
Revises: f15stocktake
Create Date: 2026-11-30 08:00:00
"""
from collections.abc import Sequence

from alembic import op


revision: str = 'c10reports01'
down_revision: str | None = 'f15stocktake'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = [
    ('ix_devices_location_kind_status', 'devices', ['location_id', 'kind', 'status']),
    ('ix_devices_plan_ends_on', 'devices', ['plan_ends_on']),
    ('ix_loans_issued_at', 'loans', ['issued_at', 'recipient_id']),
    ('ix_loans_returned_at', 'loans',
     ['returned_at', 'status', 'due_on', 'issued_at', 'renewals']),
    ('ix_loans_lost_at', 'loans', ['lost_at']),
    ('ix_loans_recipient_issued_at', 'loans', ['recipient_id', 'issued_at']),
    ('ix_decisions_decided_at', 'eligibility_decisions', ['decided_at']),
    ('ix_waitlist_status_loan', 'waitlist_requests', ['status', 'loan_id']),
]


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
