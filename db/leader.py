"""Leadership: which one of several bot processes runs the refresh and the token validation.

PostgreSQL: a session-level advisory lock, held on a connection of its own for as long as the
process lives; if the process dies, PostgreSQL drops the connection and the lock with it, and
the next process to try takes over. SQLite: an exclusive lock on a file beside the database,
which the operating system likewise releases when the process ends.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

import asyncpg

log = logging.getLogger(__name__)

ADVISORY_KEY = 0x5354_5354  # "STST": one fixed key per database
SCHEMA_KEY = ADVISORY_KEY + 1
CONNECT_TIMEOUT = 5.0
QUERY_TIMEOUT = 5.0  # a lock query that hangs must not hold up the loop that asked
# Whatever talking to PostgreSQL about the lock can raise: none of it may escape `acquire`.
LOCK_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


class LeaderLock(Protocol):
    """Held by at most one process at a time."""

    @property
    def held(self) -> bool:
        """True if this process held the lock when last asked."""
        ...

    async def acquire(self) -> bool:
        """Take the lock if free (or keep it if held); True while this process holds it."""
        ...

    async def release(self) -> None:
        """Give the lock up."""
        ...


def _asyncpg_dsn(database_url: str) -> str:
    """DATABASE_URL without Tortoise-only options, which mean nothing to asyncpg."""
    parts = urlsplit(database_url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


@asynccontextmanager
async def one_at_a_time(database_url: str) -> AsyncIterator[None]:
    """Serialise start-up work (creating the schema) among processes sharing a PostgreSQL.

    Processes started together would otherwise race to create the same tables. SQLite
    serialises such statements itself.
    """
    if not database_url.startswith("postgres://"):
        yield
        return
    connection = await asyncpg.connect(_asyncpg_dsn(database_url), timeout=CONNECT_TIMEOUT)
    try:
        await connection.execute("SELECT pg_advisory_lock($1)", SCHEMA_KEY)
        yield
    finally:
        connection.terminate()  # ends the session and with it the lock


class PostgresLeaderLock:
    """`pg_try_advisory_lock` on a dedicated connection."""

    def __init__(self, database_url: str) -> None:
        self._dsn = _asyncpg_dsn(database_url)
        self._connection: asyncpg.Connection | None = None
        # The refresh loop and the validation loop ask at the same moment at start-up: one
        # must not take the lock on a second connection and be refused by its own process.
        self._asking = asyncio.Lock()

    @property
    def held(self) -> bool:
        """True if this process held the lock when last asked."""
        return self._connection is not None

    async def acquire(self) -> bool:
        """True while we hold the lock; a lost connection means a lost lock."""
        async with self._asking:
            return await self._acquire()

    async def _acquire(self) -> bool:
        """True if we hold the lock; any failure on the way means "not the refresher this time"."""
        if self._connection is not None:
            try:
                await self._connection.fetchval("SELECT 1", timeout=QUERY_TIMEOUT)
                return True
            except LOCK_ERRORS:
                log.warning("lost the connection that held the refresh lock")
                await self._drop()
        connection: asyncpg.Connection | None = None
        try:
            connection = await asyncpg.connect(self._dsn, timeout=CONNECT_TIMEOUT)
            taken = await connection.fetchval(
                "SELECT pg_try_advisory_lock($1)", ADVISORY_KEY, timeout=QUERY_TIMEOUT
            )
        except LOCK_ERRORS as error:
            log.warning("cannot take the refresh lock: %s: %s", type(error).__name__, error)
            if connection is not None:
                connection.terminate()
            return False
        if taken:
            self._connection = connection
            log.info("this process now refreshes (it holds the refresh lock)")
            return True
        connection.terminate()
        return False

    async def release(self) -> None:
        """Closing the connection releases the lock."""
        await self._drop()

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.terminate()


class FileLeaderLock:
    """An exclusive `flock` on `<database>.leader` (processes sharing one SQLite file)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """True if this process holds the lock."""
        return self._fd is not None

    async def acquire(self) -> bool:
        """True while we hold the lock."""
        if self._fd is not None:
            return True
        try:
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as error:
            log.warning("cannot open the refresh lock file %s: %s", self._path, error)
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # BlockingIOError: another process holds it
            os.close(fd)
            return False
        self._fd = fd
        return True

    async def release(self) -> None:
        """Unlock and close the file."""
        fd, self._fd = self._fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


class AlwaysLeader:
    """A database only this process can see (SQLite in memory): nobody to compete with."""

    held = True

    async def acquire(self) -> bool:
        """Always held."""
        return True

    async def release(self) -> None:
        """Nothing to give up."""


def leader_lock(database_url: str) -> LeaderLock:
    """The lock that fits DATABASE_URL."""
    scheme, _, rest = database_url.partition("://")
    if scheme == "postgres":
        return PostgresLeaderLock(database_url)
    path = rest.split("?", 1)[0]
    if not path or path.startswith(":memory:"):
        return AlwaysLeader()
    return FileLeaderLock(Path(path + ".leader"))
