"""indexes that let SQLite answer the manager report's slowest figures from an index

Revision ID: r16reportspeed
Revises: e12privacy01
Create Date: 2026-11-30 11:00:00

Measured on SQLite with 100,000 devices and 1,000,000 loans: the figures over loans returned
in a period (returned on time, median length, renewals) read the status index and then
nearly every row, because SQLite prefers an equality on `status` to a range on
`returned_at`. One index on (status, returned_at, ...) gives it both, and holds every column
those figures read. The survey's answers are a partial index (only answered loans), and the
devices by source are counted from an index.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'r16reportspeed'
down_revision: str | None = 'e12privacy01'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ANSWERED = "survey_answer IS NOT NULL"


def upgrade() -> None:
    op.create_index('ix_loans_status_returned_at', 'loans',
                    ['status', 'returned_at', 'issued_at', 'due_on', 'renewals'], unique=False)
    op.create_index('ix_loans_survey_answered_at', 'loans',
                    ['survey_answered_at', 'survey_answer'], unique=False,
                    sqlite_where=sa.text(ANSWERED), postgresql_where=sa.text(ANSWERED))
    op.create_index('ix_devices_source_status', 'devices',
                    ['source', 'source_name', 'status'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_devices_source_status', table_name='devices')
    op.drop_index('ix_loans_survey_answered_at', table_name='loans')
    op.drop_index('ix_loans_status_returned_at', table_name='loans')
