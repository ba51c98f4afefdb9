"""PostgreSQL going away mid-refresh or restarting: the previous snapshot survives and the
refresh recovers once the database is back."""

from __future__ import annotations

import asyncio
import os
import shutil
from urllib.parse import urlsplit

import asyncpg
import pytest
from tortoise import connections

from bot.refresh import RefreshService
from db import queries
from tests.conftest import service_url
from tests.fakes.twitch import random_streams

pytestmark = pytest.mark.postgres


async def current_database() -> str:
    rows = await connections.get("default").execute_query_dict("SELECT current_database() AS db")
    return rows[0]["db"]


async def refresh_until_ok(refresher: RefreshService, attempts: int = 5):
    for _ in range(attempts):
        outcome = await refresher.refresh()
        if outcome.ok:
            return outcome
        await asyncio.sleep(0.5)
    raise AssertionError(f"the refresh did not recover: {outcome.error}")


async def test_connections_killed_mid_write_keep_the_previous_snapshot(
    postgres_database, twitch, fake_twitch, stats
):
    refresher = RefreshService(twitch, stats, top_streams=300)
    good = await refresher.refresh()
    fake_twitch.streams = random_streams(1000, seed=11)
    conn = connections.get("default")
    # Make the swap stall after it dropped the old streams, so the connections die in the
    # middle of the transaction that swaps the snapshot in.
    await conn.execute_script(
        "CREATE FUNCTION stall() RETURNS trigger AS $$ BEGIN PERFORM pg_sleep(0.5); "
        "RETURN NEW; END $$ LANGUAGE plpgsql; "
        "CREATE TRIGGER stall BEFORE INSERT ON snapshot_tops "
        "FOR EACH ROW EXECUTE FUNCTION stall();"
    )
    name = await current_database()
    admin = await asyncpg.connect(service_url("TEST_POSTGRES_URL", "PostgreSQL"))

    async def kill_connections_mid_write() -> None:
        async with asyncio.timeout(20):  # until the stalled INSERT is running
            while not await admin.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 "
                "AND state = 'active' AND query LIKE 'INSERT INTO \"snapshot_tops\"%'",
                name,
            ):
                await asyncio.sleep(0.02)
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )

    killer = asyncio.create_task(kill_connections_mid_write())
    failed = await refresher.refresh()
    await killer
    await admin.close()

    assert not failed.ok
    await refresh_until_ok_or_previous(good)
    await connections.get("default").execute_script(
        "DROP TRIGGER stall ON snapshot_tops; DROP FUNCTION stall();"
    )
    recovered = await refresh_until_ok(refresher)
    assert recovered.snapshot.id > good.snapshot.id
    assert (await queries.load_streams()).snapshot == recovered.snapshot


async def refresh_until_ok_or_previous(good) -> None:
    """After the kill, the database (once reconnected) still holds the previous snapshot."""
    for _ in range(5):
        try:
            loaded = await queries.load_streams()
        except Exception:  # the pool hands out a dead connection once, then a fresh one
            await asyncio.sleep(0.2)
            continue
        assert loaded.snapshot == good.snapshot
        assert len(loaded.value) == 300
        return
    raise AssertionError("the database did not come back")


def postgres_control() -> tuple[str, str]:
    data = os.environ.get("TEST_POSTGRES_DATA")
    pg_ctl = shutil.which("pg_ctl") or next(
        (f"/usr/lib/postgresql/{v}/bin/pg_ctl" for v in ("17", "16", "15") if
         os.path.exists(f"/usr/lib/postgresql/{v}/bin/pg_ctl")),
        None,
    )  # fmt: skip
    if not data or not pg_ctl:
        pytest.skip("set TEST_POSTGRES_DATA (bash .ci/run does) to restart PostgreSQL in a test")
    return pg_ctl, data


async def test_a_postgres_restart_keeps_the_snapshot_and_the_refresh_recovers(
    postgres_database, twitch, fake_twitch, stats
):
    pg_ctl, data = postgres_control()
    refresher = RefreshService(twitch, stats, top_streams=200)
    good = await refresher.refresh()
    port = str(urlsplit(service_url("TEST_POSTGRES_URL", "PostgreSQL")).port)
    restart = await asyncio.create_subprocess_exec(
        shutil.which("runuser") or "/usr/sbin/runuser", "-u", "postgres", "--",
        pg_ctl, "-D", data, "-m", "fast", "-w", "restart",
        "-o", f"-p {port} -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert await restart.wait() == 0

    fake_twitch.streams = random_streams(1000, seed=12)
    recovered = await refresh_until_ok(refresher)

    assert recovered.snapshot.id == good.snapshot.id + 1  # nothing lost, nothing doubled
    assert (await stats.stream_summary("database")).snapshot == recovered.snapshot
