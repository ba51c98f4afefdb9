"""What the benchmarks share: their command line, databases opened for one run, the timing loop,
and the raw loads the snapshot write is compared with.

Not a benchmark itself: `.ci/run` runs every `bench/*.py` except the ones named `_*.py`.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiosqlite
import asyncpg

from bot.streams import Stream
from db import close_database, open_database
from db.snapshots import COLUMNS

RAW_TABLE = "raw_streams"
RAW_INSERT = (  # constants only
    f"INSERT INTO {RAW_TABLE} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"  # noqa: S608
)


def command_line(doc: str, *, postgres: bool = False) -> argparse.ArgumentParser:
    """The options every benchmark takes (and `--postgres URL` for those with a PostgreSQL half)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small sizes, one round: shows that the benchmark still runs (for CI)",
    )
    if postgres:
        parser.add_argument(
            "--postgres",
            default=os.environ.get("TEST_POSTGRES_URL"),
            help="a PostgreSQL server URL for the PostgreSQL half (default: $TEST_POSTGRES_URL; "
            "without one that half is skipped)",
        )
    return parser


@asynccontextmanager
async def database(url: str) -> AsyncIterator[None]:
    """The product's database, opened for a run and closed however the run ends.

    A SQLite connection left open keeps its thread, and with it the process, alive: a failing
    benchmark would print its error and then hang instead of exiting.
    """
    await open_database(url)
    try:
        yield
    finally:
        await close_database()


@asynccontextmanager
async def scratch_postgres(server_url: str, name: str) -> AsyncIterator[str]:
    """A new, empty database `name` on the server of `server_url`, dropped afterwards; its URL."""
    admin = await asyncpg.connect(server_url)
    try:
        # A run killed midway leaves its database behind; FORCE ends what still uses it.
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"{server_url.rpartition('/')[0]}/{name}"
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def timed(action: Callable[[], Awaitable[object]], repeat: int) -> list[float]:
    """Seconds taken by each of `repeat` runs of `action`, one after another."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await action()
        times.append(time.perf_counter() - started)
    return times


def raw_rows(streams: Sequence[Stream], *, text_times: bool) -> list[tuple[Any, ...]]:
    """The streams as rows in `COLUMNS` order, for a raw load: all the conversion is done here,
    before any timing (`text_times`: start times as the text SQLite stores)."""
    return [
        (
            s.id, 1, s.user_id, s.user_login, s.user_name, s.game_id, s.game_name, s.title,
            s.viewer_count, s.started_at.isoformat(" ") if text_times else s.started_at,
            s.language, json.dumps(s.tags), s.thumbnail_url, s.is_mature,
        )
        for s in streams
    ]  # fmt: skip


async def new_raw_sqlite_table(conn: aiosqlite.Connection) -> None:
    """An empty `raw_streams`: the `streams` table and its indexes under other names."""
    async with conn.execute(
        "SELECT sql FROM sqlite_master WHERE tbl_name = 'streams' AND sql IS NOT NULL"
    ) as cursor:
        statements = [statement for (statement,) in await cursor.fetchall()]
    await conn.execute(f"DROP TABLE IF EXISTS {RAW_TABLE}")
    for statement in statements:
        await conn.execute(
            statement.replace('"streams"', f'"{RAW_TABLE}"', 1).replace(
                '"idx_streams_', f'"idx_{RAW_TABLE}_'
            )
        )
    await conn.commit()


async def new_raw_postgres_table(conn: asyncpg.Connection) -> None:
    """An empty `raw_streams`: the `streams` table and its indexes under another name."""
    await conn.execute(f"DROP TABLE IF EXISTS {RAW_TABLE}")
    await conn.execute(f"CREATE TABLE {RAW_TABLE} (LIKE streams INCLUDING ALL)")
