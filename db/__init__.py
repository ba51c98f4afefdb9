"""Database lifecycle: Tortoise configured from DATABASE_URL, opened and closed."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Awaitable
from pathlib import Path
from typing import TypeVar

import asyncpg
from tortoise import Tortoise
from tortoise.exceptions import BaseORMException

from bot.errors import ServiceUnavailable
from db.leader import one_at_a_time

log = logging.getLogger(__name__)
T = TypeVar("T")
MODELS = ["db.models"]

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
    """Connect and create missing tables. Must run in the task that later starts the bot."""
    ensure_sqlite_folder(database_url)
    await Tortoise.init(db_url=database_url, modules={"models": MODELS})
    async with one_at_a_time(database_url):
        await Tortoise.generate_schemas(safe=True)


async def close_database() -> None:
    """Close every connection opened by `open_database`."""
    await Tortoise.close_connections()


async def guarded(query: Awaitable[T]) -> T:
    """Await a query someone waits on; a failing database becomes `ServiceUnavailable`."""
    try:
        return await query
    except DATABASE_ERRORS as error:
        log.warning("database unavailable: %r", error)
        raise ServiceUnavailable from error
