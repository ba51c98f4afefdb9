"""The snapshot write leaves the connection as it found it."""

from __future__ import annotations

from datetime import UTC, datetime

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
