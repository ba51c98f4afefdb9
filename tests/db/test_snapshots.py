"""The snapshot write: the text it stores, and the connection left as it found it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from tortoise import connections

from db import queries
from db.snapshots import replace_snapshot
from tests.bot.test_cache import make_streams


@pytest.mark.parametrize("setting", [("ON", 1), ("OFF", 0), ("FAST", 2)])
async def test_sqlite_secure_delete_is_as_it_was_after_the_old_snapshot_is_dropped(
    database, setting
):
    if database != "sqlite":
        pytest.skip("a setting of SQLite connections")
    connection = connections.get("default")
    await connection.execute_query(f"PRAGMA secure_delete = {setting[0]}")
    for seed in (1, 2):  # the second write drops the first one's table
        written = await replace_snapshot(
            make_streams(seed, 50), pages=1, duplicates_dropped=0, taken_at=datetime.now(UTC)
        )

    [after] = await connection.execute_query_dict("PRAGMA secure_delete")
    assert after["secure_delete"] == setting[1]
    loaded = await queries.load_streams()
    assert loaded.snapshot == written and len(loaded.value) == 50


START_TIMES = [
    datetime(2026, 11, 30, 12, 34, 56, tzinfo=UTC),  # as Twitch gives them: whole seconds
    datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC),  # before the Unix epoch
    datetime(2026, 11, 30, 12, 34, 56, 999_999, tzinfo=UTC),
    datetime(2026, 11, 30, 8, 4, 5, tzinfo=timezone(timedelta(hours=-5))),  # stored in UTC
]


async def test_start_times_load_back_unchanged_and_sqlite_keeps_them_as_utc_text(database):
    streams = [
        replace(stream, started_at=started_at)
        for stream, started_at in zip(make_streams(3, len(START_TIMES)), START_TIMES, strict=True)
    ]
    await replace_snapshot(streams, pages=1, duplicates_dropped=0, taken_at=datetime.now(UTC))

    loaded = await queries.load_streams()
    assert sorted(loaded.value, key=lambda s: s.id) == sorted(streams, key=lambda s: s.id)
    if database == "sqlite":  # text that /hours reads as it is
        rows = await connections.get("default").execute_query_dict(
            "SELECT id, started_at FROM streams"
        )
        stored = {row["id"]: row["started_at"] for row in rows}
        assert stored == {s.id: s.started_at.astimezone(UTC).isoformat(" ") for s in streams}
