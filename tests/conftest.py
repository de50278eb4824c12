"""Every database test runs twice: on SQLite and on PostgreSQL, each test on a fresh
database of its own cloned from one migrated by Alembic at the start of the run."""

import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterator

import pytest
from litestar.testing import TestClient
from sqlalchemy import Engine, create_engine, text

from lending.accounts.schemas import UserCreate
from lending.accounts.service import create_token, create_user
from lending.app import create_app
from lending.db import make_engine, session_for
from lending.migrate import upgrade_database
from lending.settings import Settings

POSTGRES_ADMIN_URL = os.environ.get(
    "LENDING_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BACKENDS = ["sqlite", "postgresql"]


def _postgres_admin() -> Engine:
    return create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")


def _postgres_url(name: str) -> str:
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("+psycopg", "") + "/" + name


@pytest.fixture(scope="session")
def run_id(worker_id: str) -> str:
    return f"{uuid.uuid4().hex[:8]}_{worker_id}"


@pytest.fixture(scope="session")
def worker_id(request) -> str:
    return getattr(request.config, "workerinput", {}).get("workerid", "main")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("template") / "lending.db"
    upgrade_database(f"sqlite:///{path}")
    # Fold the write-ahead log into the file, so that copying the file copies everything.
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return str(path)


@pytest.fixture(scope="session")
def postgres_template(run_id: str) -> Iterator[str]:
    name = f"lending_tpl_{run_id}"
    admin = _postgres_admin()
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    upgrade_database(_postgres_url(name))
    yield name
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path, run_id) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "lending.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    template = request.getfixturevalue("postgres_template")
    name = f"lending_{run_id}_{uuid.uuid4().hex[:8]}"
    admin = _postgres_admin()
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    yield _postgres_url(name)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path) -> Settings:
    return Settings(database_url=database_url, secret_key="test-secret", scheduler="off",
                    base_url="http://testserver", _env_file=None)


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings.database_url, secret_key=settings.secret_key)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine):
    with session_for(engine, actor="test") as session:
        yield session


@pytest.fixture
def app(settings: Settings, engine: Engine):
    return create_app(settings, engine)


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app=app) as client:
        yield client


def add_user(engine: Engine, email: str, role: str, location: str | None = None,
             password: str | None = "correct horse battery") -> dict[str, str]:
    """An account and its bearer header."""
    with session_for(engine, actor="test") as session:
        user = create_user(session, UserCreate(email=email, role=role, location=location,
                                               password=password))
        _, secret = create_token(session, user, "test")
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def staff(engine) -> dict[str, str]:
    return add_user(engine, "staff@example.org", "staff")


@pytest.fixture
def manager(engine) -> dict[str, str]:
    return add_user(engine, "manager@example.org", "manager")


@pytest.fixture
def admin(engine) -> dict[str, str]:
    return add_user(engine, "admin@example.org", "admin")


@pytest.fixture
def office(client, manager) -> str:
    """A location (LDN) to put devices in."""
    response = client.post("/api/v1/locations", json={"code": "LDN", "name": "London"},
                           headers=manager)
    assert response.status_code == 201, response.text
    return "LDN"
