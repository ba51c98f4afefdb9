"""A write cancelled at any moment gives its database connection back (PostgreSQL's pool).

A transaction cancelled while it began used to keep its pooled connection for good; closing
the database then waited for it forever, and the process hung at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime, timedelta

from tortoise import connections

from db import accounts, queries, snapshots
from db.accounts import SessionRecord
from tests.bot.test_cache import make_streams

ATTEMPTS = 120


async def cancel_at_every_moment(start, lasts: float = 0.003) -> None:
    """Start the write and cancel it at moments spread over `lasts` seconds, ATTEMPTS times."""
    for attempt in range(ATTEMPTS):
        task = asyncio.create_task(start())
        await asyncio.sleep(attempt % 30 / 30 * lasts)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def every_connection_comes_back() -> None:
    pool = connections.get("default")._pool
    async with asyncio.timeout(10):
        while pool.get_idle_size() < pool.get_size():
            await asyncio.sleep(0.01)


async def test_cancelled_snapshot_writes_give_their_connections_back(postgres_database):
    streams = make_streams(3, 200)

    def write():
        return snapshots.replace_snapshot(
            streams, pages=2, duplicates_dropped=0, taken_at=datetime.now(UTC)
        )

    started = time.perf_counter()
    await write()  # how long a whole write takes: the cancellations spread over that time
    await cancel_at_every_moment(write, lasts=(time.perf_counter() - started) * 1.2)

    await every_connection_comes_back()
    snapshot = await queries.latest_snapshot()
    loaded = await queries.load_streams()
    assert loaded is not None and loaded.snapshot == snapshot  # whole snapshots only
    assert len(loaded.value) == 200


async def test_cancelled_link_writes_give_their_connections_back(postgres_database):
    now = datetime.now(UTC)
    sessions = iter(range(ATTEMPTS))

    async def link_then_end() -> None:
        await accounts.save_link(
            discord_id="42",
            twitch_id="7",
            twitch_login="viewer",
            twitch_display_name="Viewer",
            access_token="a",
            refresh_token="r",
            scopes="user:read:follows",
            session=SessionRecord(f"s{next(sessions)}", "42", now, now + timedelta(hours=1)),
        )
        user = await accounts.linked_user("42")
        await accounts.end_link("42", user.token_version, now)

    await cancel_at_every_moment(link_then_end)

    await every_connection_comes_back()
