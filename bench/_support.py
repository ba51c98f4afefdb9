"""What the benchmarks share: their command line, databases opened for one run, the timing loop.

Not a benchmark itself: `.ci/run` runs every `bench/*.py` except the ones named `_*.py`.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import asyncpg

from db import close_database, open_database


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
