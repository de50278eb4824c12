"""The database engine: SQLite by default, PostgreSQL in production.

SQLite runs in WAL mode with a busy timeout, and every transaction that may write begins
IMMEDIATE so that two writers queue for the lock instead of failing half-way. SQLite has no
time-zone type, so its DATETIME is adapted here to hand back aware UTC datetimes, as
PostgreSQL does.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from weakref import WeakKeyDictionary

import msgspec
from sqlalchemy import Engine, create_engine, event, select, text
from sqlalchemy.dialects.sqlite import DATETIME as SQLITE_DATETIME
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.types import DateTime
from sqlmodel import Session

# The audit listeners: registered wherever a session can be made, so that no way in (a
# request, a command, the scheduler) can change data unaudited.
import lending.audit.service  # noqa: F401
from inventory.service import Invalid, NotFound
from lending.settings import get_settings

# What every session of an engine carries in its `info` (`session_for`): the secret it
# seals personal values in the audit log with, and what the app or the command line hands
# on with `carry_in_sessions` (how a change texts at once, for `lending.messages`).
_carried: "WeakKeyDictionary[Engine, dict[str, Any]]" = WeakKeyDictionary()


class AwareSQLiteDateTime(SQLITE_DATETIME):
    """Stores UTC without an offset; reads it back as an aware UTC datetime."""

    def bind_processor(self, dialect):
        process = super().bind_processor(dialect)

        def to_utc(value: datetime | None):
            if value is not None and value.tzinfo is not None:
                value = value.astimezone(UTC).replace(tzinfo=None)
            return process(value) if process else value

        return to_utc

    def result_processor(self, dialect, coltype):
        process = super().result_processor(dialect, coltype)

        def as_utc(value):
            value = process(value) if process else value
            return value.replace(tzinfo=UTC) if value is not None else None

        return as_utc


def database_url(raw: str) -> str:
    """Plain `postgresql://` and `sqlite:///` URLs, with the drivers this service uses."""
    url = make_url(raw)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


_JSON = msgspec.json.Encoder()


def json_text(value: Any) -> str:
    """A JSON column's value as compact text. msgspec writes it several times faster than
    `json.dumps`, which counts when an import writes an audit entry for each of thousands
    of devices."""
    return _JSON.encode(value).decode()


def make_engine(raw_url: str, write_wait_seconds: float = 30, secret_key: str | None = None,
                **options) -> Engine:
    """`write_wait_seconds`: how long a change waits for SQLite's write lock before it is
    refused (the request answers 503 with Retry-After). Bound parameters (names, mobiles)
    are never written into a logged database error. `secret_key` (LENDING_SECRET_KEY by
    default) opens the recipient keys that seal personal values in the audit log."""
    engine = _make_engine(raw_url, write_wait_seconds, **options)
    carry_in_sessions(engine, secret_key=secret_key or get_settings().secret_key)
    return engine


def carry_in_sessions(engine: Engine, **info: Any) -> None:
    """Puts `info` in the `info` of every session `session_for` makes on `engine`: for
    listeners that must know how the running service is set up, wherever the session was
    made (a request, a command, the scheduler)."""
    _carried.setdefault(engine, {}).update(info)


def _make_engine(raw_url: str, write_wait_seconds: float, **options) -> Engine:
    url = database_url(raw_url)
    options.setdefault("hide_parameters", True)
    options.setdefault("json_serializer", json_text)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False,
                                                  "timeout": write_wait_seconds},
                               **options)
        engine.dialect.colspecs = {**engine.dialect.colspecs, DateTime: AwareSQLiteDateTime}

        @event.listens_for(engine, "connect")
        def _configure(dbapi_connection, _record):
            # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={int(write_wait_seconds * 1000)}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            # An erased value is overwritten in the file, not just unlinked from the b-tree.
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(connection):
            # Readers never wait in WAL mode; a writer takes the lock up front, so it can
            # never fail half-way on finding that another writer got there first.
            read_only = connection.get_execution_options().get("read_only")
            connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, **options)


# The largest value of an INTEGER id column: PostgreSQL refuses a larger one outright, so
# an id beyond it is simply one that no row has.
MAX_ID = 2**31 - 1


def get_row(session: Session, model: Any, row_id: int, noun: str, field: str = "id",
            lock: bool = False) -> Any:
    """The row of `model` with this id, or an error naming it as `noun`: NotFound (404) for
    an id in the path, Invalid (422) for one given in a body `field`. `lock` holds the row
    for the rest of the transaction (SELECT ... FOR UPDATE on PostgreSQL; SQLite's BEGIN
    IMMEDIATE has already serialised writers)."""
    row = None
    if 0 < row_id <= MAX_ID:
        query = select(model).where(model.id == row_id)
        row = session.scalar(query.with_for_update() if lock else query)
    if row is None:
        error = NotFound if field == "id" else Invalid
        raise error(f"no {noun} has the id {row_id}", field)
    return row


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


@contextmanager
def session_for(engine: Engine, actor: str | None = None, actor_id: int | None = None,
                read_only: bool = False) -> Iterator[Session]:
    """A session whose changes the audit log attributes to `actor`. A read-only session
    takes no write lock on SQLite, so it never waits behind a writer."""
    bind = engine.execution_options(read_only=True) if read_only else engine
    with Session(bind, expire_on_commit=False) as session:
        session.info["actor"] = actor or "system"
        session.info["actor_id"] = actor_id
        session.info.update(_carried.get(engine, {}))
        session.info.setdefault("secret_key", get_settings().secret_key)
        yield session


def on_commit(session: Session, action: Callable[[], None]) -> None:
    """Runs `action` once the session's transaction has committed, and never if it rolls
    back: for work that must follow a change but must not be undone with it (a nudge to
    the SMS dispatcher, say). Actions run in the order they were added."""
    session.info.setdefault("on_commit", []).append(action)


@event.listens_for(OrmSession, "after_commit")
def _run_on_commit(session: OrmSession) -> None:
    for action in session.info.pop("on_commit", []):
        action()


@event.listens_for(OrmSession, "after_soft_rollback")
def _forget_on_commit(session: OrmSession, _previous_transaction) -> None:
    if not session.in_transaction():
        session.info.pop("on_commit", None)


def database_answers(engine: Engine) -> bool:
    try:
        with engine.execution_options(read_only=True).connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
