"""Database lifecycle: Tortoise configured from DATABASE_URL, opened and closed."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
from tortoise import Tortoise, connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.exceptions import BaseORMException
from tortoise.migrations.executor import MigrationExecutor
from tortoise.transactions import in_transaction

from bot.errors import ServiceUnavailable
from db.leader import one_at_a_time

log = logging.getLogger(__name__)
T = TypeVar("T")
MODELS = ["db.models"]
MIGRATIONS = "db.migrations"


def tortoise_config(database_url: str) -> dict[str, Any]:
    """The Tortoise configuration: our models and their committed migrations."""
    return {
        "connections": {"default": database_url},
        "apps": {
            "models": {
                "models": MODELS,
                "migrations": MIGRATIONS,
                "default_connection": "default",
            }
        },
    }


# For the `tortoise` command line (pyproject.toml [tool.tortoise]): makemigrations compares the
# models with the migration files; migrate uses DATABASE_URL as the bot does.
TORTOISE_ORM = tortoise_config(os.environ.get("DATABASE_URL", "sqlite://:memory:"))

# What a failing or unreachable database raises, whichever backend is configured.
DATABASE_ERRORS = (
    BaseORMException,
    sqlite3.Error,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    OSError,
)


def ensure_sqlite_folder(database_url: str) -> None:
    """Create the folder of a SQLite file (the default lives under ./data/)."""
    scheme, _, path = database_url.partition("://")
    if scheme == "sqlite" and path and not path.startswith(":memory:"):
        Path(path).parent.mkdir(parents=True, exist_ok=True)


async def open_database(database_url: str) -> None:
    """Connect and apply pending migrations. Run it in the task that later starts the bot.

    Processes starting together take turns, so each migration runs exactly once. On any error
    what was opened is closed again: an open SQLite connection runs a thread of its own, which
    would keep the process alive after the error.
    """
    ensure_sqlite_folder(database_url)
    config = tortoise_config(database_url)
    # Tortoise caches each model's INSERT statement under the connection's name, whatever the
    # database behind it: a process that opened another database before (SQLite's `?`
    # placeholders, then PostgreSQL's `$1`) would reuse statements of the wrong dialect.
    EXECUTOR_CACHE.clear()
    await Tortoise.init(config=config)
    connection = connections.get("default")
    try:
        # Connecting first makes an unusable database fail here, with its own error. Inside a
        # query, a failed connect leaves the client's lock taken, and the next query waits for
        # it forever (tortoise-orm 1.1.9, `ConnectionWrapper.__aenter__`).
        await connection.create_connection(with_db=True)
        async with one_at_a_time(database_url):
            # Through the connection the queries use: `sqlite://:memory:` is a new, empty
            # database on every connection (`tortoise.migrations.api.migrate` opens its own).
            await MigrationExecutor(connection, config["apps"]).migrate(progress=_log_migration)
    except BaseException:
        await close_database()
        raise


def _log_migration(event: str, app_label: str, name: str) -> None:
    log.info("migration %s.%s: %s", app_label, name, event)


async def close_database() -> None:
    """Close every connection opened by `open_database`."""
    await Tortoise.close_connections()


async def atomically(work: Callable[[BaseDBAsyncClient], Awaitable[T]]) -> T:
    """Run `work` in one transaction that is never cut short by the caller's cancellation.

    tortoise-orm 1.1.9 loses the pooled connection of a transaction cancelled while it begins
    (its context manager was not entered yet, so nothing gives the connection back), and
    PostgreSQL's pool then waits for it forever when the database is closed: a refresh
    cancelled at the wrong moment made the process hang at shutdown. So the transaction runs in
    a task of its own; a cancelled caller waits until it has committed or rolled back (a few
    milliseconds), then is cancelled, so that nothing it guards (the refresh's lock) is let go
    while the transaction still runs.
    """

    async def run() -> T:
        async with in_transaction() as connection:
            return await work(connection)

    transaction = asyncio.ensure_future(run())
    try:
        return await asyncio.shield(transaction)
    except asyncio.CancelledError:
        await asyncio.wait([transaction])
        raise


async def guarded(query: Awaitable[T]) -> T:
    """Await a query someone waits on; a failing database becomes `ServiceUnavailable`."""
    try:
        return await query
    except DATABASE_ERRORS as error:
        log.warning("database unavailable: %r", error)
        raise ServiceUnavailable from error


async def check_database(database_url: str) -> None:
    """Connect and run one query, without migrating; raise (DATABASE_ERRORS) if that fails."""
    ensure_sqlite_folder(database_url)
    try:
        await Tortoise.init(config=tortoise_config(database_url))
        await connections.get("default").execute_query("SELECT 1")
    finally:
        await Tortoise.close_connections()
