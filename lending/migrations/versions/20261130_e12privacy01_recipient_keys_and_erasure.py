"""recipient keys seal the audit log's personal values; recipients can be erased; failed
sign-ins are counted

Revision ID: e12privacy01
Revises: i13inclusion
Create Date: 2026-11-30 08:30:00

Existing entries are sealed here, once: the append-only triggers are lifted for the length
of this transaction only (the migration runs in one transaction on both databases), each
entry about a recipient has its personal values replaced by their ciphertext, and the
triggers are put back. The keys are wrapped with LENDING_SECRET_KEY, which `lending db
upgrade` and `lending serve` hand to the migration (alembic's config attributes) or the
settings supply.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = 'e12privacy01'
down_revision: str | None = 'i13inclusion'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_TRIGGERS = {
    event: f"CREATE TRIGGER audit_entries_no_{event.lower()} BEFORE {event} ON audit_entries "
           "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
    for event in ("UPDATE", "DELETE")}


def _secret() -> str:
    secret = context.config.attributes.get("secret_key")
    if not secret:
        from lending.settings import get_settings
        secret = get_settings().secret_key
    return secret


def _seal_existing_entries(bind) -> None:
    from lending.audit.sealing import PERSONAL_FIELDS, SEALED, Keyring, seal

    owners = {"loan": "loans", "eligibility_decision": "eligibility_decisions",
              "waitlist_request": "waitlist_requests"}
    audit = sa.table("audit_entries", sa.column("id", sa.Integer),
                     sa.column("entity", sa.String), sa.column("entity_id", sa.String),
                     sa.column("changes", sa.JSON))
    keyring = None
    rows = bind.execute(sa.select(audit.c.id, audit.c.entity, audit.c.entity_id,
                                  audit.c.changes)
                        .where(audit.c.entity.in_(list(PERSONAL_FIELDS)))
                        .order_by(audit.c.id)).all()
    recipient_of: dict[tuple[str, str], int | None] = {}
    for entry_id, entity, entity_id, changes in rows:
        if not isinstance(changes, dict) or SEALED in changes or not entity_id.isdigit():
            continue
        if entity == "recipient":
            recipient_id = int(entity_id)
        else:
            if (entity, entity_id) not in recipient_of:
                recipient_of[(entity, entity_id)] = bind.scalar(sa.text(
                    f"SELECT recipient_id FROM {owners[entity]} WHERE id = :id"),
                    {"id": int(entity_id)})
            recipient_id = recipient_of[(entity, entity_id)]
        if recipient_id is None:
            continue
        keyring = keyring or Keyring(_secret())
        sealed = seal(keyring, bind, entity, recipient_id, changes)
        if sealed is not changes:
            bind.execute(audit.update().where(audit.c.id == entry_id).values(changes=sealed))


def upgrade() -> None:
    op.create_table(
        'recipient_keys',
        sa.Column('recipient_id', sa.Integer(), nullable=False),
        sa.Column('wrapped_key', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['recipient_id'], ['recipients.id'], ),
        sa.PrimaryKeyConstraint('recipient_id'),
    )
    op.create_table(
        'login_failures',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=80), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_login_failures_key_at', 'login_failures', ['key', 'at'], unique=False)
    with op.batch_alter_table('recipients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True))

    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    if postgres:
        op.execute("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only")
    else:
        op.execute("DROP TRIGGER audit_entries_no_update")
    _seal_existing_entries(bind)
    if postgres:
        op.execute("ALTER TABLE audit_entries ENABLE TRIGGER audit_entries_append_only")
        # Nor may the whole log be emptied at a stroke.
        op.execute(
            "CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_append_only()")
    else:
        op.execute(_SQLITE_TRIGGERS["UPDATE"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_entries_no_truncate ON audit_entries")
    with op.batch_alter_table('recipients', schema=None) as batch_op:
        batch_op.drop_column('erased_at')
    op.drop_table('recipient_keys')
    op.drop_index('ix_login_failures_key_at', table_name='login_failures')
    op.drop_table('login_failures')
