"""The deployment the README shows: the service's PostgreSQL role may add to the audit log
but never change, empty or alter it."""

import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from lending.db import database_url as driver_url


def test_the_service_role_cannot_alter_the_audit_log(engine, database_url):
    if engine.dialect.name != "postgresql":
        pytest.skip("roles are PostgreSQL's")
    role = f"lending_app_{uuid.uuid4().hex[:8]}"
    with engine.begin() as owner:
        owner.execute(text(f"CREATE ROLE {role} LOGIN"))
        owner.execute(text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "
                           f"public TO {role}"))
        owner.execute(text(f"REVOKE UPDATE, DELETE, TRUNCATE ON audit_entries FROM {role}"))
        owner.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}"))
    service = create_engine(driver_url(database_url.replace("postgres@", f"{role}@")))
    try:
        with service.begin() as connection:
            connection.execute(text(
                "INSERT INTO audit_entries (at, actor, action, entity, entity_id, changes) "
                "VALUES (now(), 'app', 'create', 'x', '1', '{}')"))
        for statement in ("UPDATE audit_entries SET actor = 'x'", "DELETE FROM audit_entries",
                          "TRUNCATE audit_entries",
                          "ALTER TABLE audit_entries DISABLE TRIGGER ALL",
                          "DROP TRIGGER audit_entries_append_only ON audit_entries"):
            with pytest.raises(DBAPIError, match="permission denied|must be owner"), \
                    service.begin() as connection:
                connection.execute(text(statement))
    finally:
        service.dispose()
        with engine.begin() as owner:  # its grants live in this database
            owner.execute(text(f"DROP OWNED BY {role}"))
            owner.execute(text(f"DROP ROLE {role}"))
