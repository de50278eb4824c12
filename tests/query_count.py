"""Counting the statements a request sends to the database, for the query budgets that
make an N+1 fail the build."""

from collections.abc import Iterator
from contextlib import contextmanager

from litestar import Litestar
from sqlalchemy import Engine, event

from lending.app import create_app
from lending.settings import Settings


@contextmanager
def counted_queries(engine: Engine) -> Iterator[list[str]]:
    """The statements run on `engine` inside the block (transaction control and SQLite's
    pragmas left out: they are not the work)."""
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        if not statement.startswith(("PRAGMA", "BEGIN")):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def queries_for(client, engine: Engine, url: str, **request) -> int:
    """How many statements one GET of `url` runs; it must answer 200."""
    with counted_queries(engine) as statements:
        response = client.get(url, **request)
    assert response.status_code == 200, (url, response.text[:500])
    return len(statements)


def app_trusting_tokens(settings: Settings, engine: Engine) -> Litestar:
    """The app, trusting a token it has looked up for the whole test: on a busy machine the
    few seconds of the usual cache could run out between two requests, and the look-up
    again would count against the page measured."""
    return create_app(settings.model_copy(update={"auth_cache_seconds": 3600}), engine)
