"""Exactly one process holds the refresh lock; when it dies, another can take it."""

from __future__ import annotations

import asyncio
import secrets

import asyncpg

from db import close_database, open_database
from db.leader import FileLeaderLock, PostgresLeaderLock, leader_lock
from tests.conftest import service_url
from tests.fakes.proxy import Proxy


def server_of(url: str) -> tuple[str, int]:
    host, _, port = url.split("@")[-1].split("/")[0].partition(":")
    return host, int(port or 5432)


async def test_a_file_lock_is_held_by_one_holder_at_a_time(tmp_path):
    first, second = FileLeaderLock(tmp_path / "db.leader"), FileLeaderLock(tmp_path / "db.leader")

    assert await first.acquire()
    assert await first.acquire()  # still ours
    assert not await second.acquire()
    await first.release()
    assert await second.acquire()
    await second.release()


def test_the_lock_fits_the_database():
    assert isinstance(leader_lock("postgres://u@127.0.0.1:5432/db"), PostgresLeaderLock)
    assert isinstance(leader_lock("sqlite://data/streamstats.sqlite3"), FileLeaderLock)
    assert leader_lock("sqlite://:memory:").__class__.__name__ == "AlwaysLeader"


async def test_a_postgres_lock_moves_when_its_holder_dies():
    url = service_url("TEST_POSTGRES_URL", "PostgreSQL")
    first, second = PostgresLeaderLock(url), PostgresLeaderLock(url)
    try:
        assert await first.acquire()
        assert not await second.acquire()

        # The holder's process dies: PostgreSQL ends its connection and releases the lock.
        admin = await asyncpg.connect(url)
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks "
            "WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()"
        )
        await admin.close()

        # Termination is a signal: the backend lets go a moment later.
        async with asyncio.timeout(5):
            while not await second.acquire():
                await asyncio.sleep(0.05)
        assert not await first.acquire()  # it noticed the loss and cannot take it back
    finally:
        await first.release()
        await second.release()


async def test_one_process_asking_twice_at_once_gets_the_lock_once():
    url = service_url("TEST_POSTGRES_URL", "PostgreSQL")
    lock = PostgresLeaderLock(url)
    try:
        assert await asyncio.gather(lock.acquire(), lock.acquire(), lock.acquire()) == [True] * 3
    finally:
        await lock.release()


async def test_losing_the_lock_connection_twice_in_a_row_means_not_the_refresher_this_time():
    """The holder's backend is killed, then the next connection dies as it asks for the lock:
    the lock answers "not held" instead of raising, and takes the lock once PostgreSQL is back."""
    url = service_url("TEST_POSTGRES_URL", "PostgreSQL")
    async with Proxy(*server_of(url)) as proxy:
        lock = PostgresLeaderLock(proxy.url_for(url))
        try:
            assert await lock.acquire()

            proxy.cut_all()
            proxy.cut_next_sending(b"pg_try_advisory_lock")

            assert await lock.acquire() is False
            assert not lock.held
            assert proxy.cuts == 1
            async with asyncio.timeout(5):  # the killed backend lets go of the lock a moment later
                while not await lock.acquire():
                    await asyncio.sleep(0.05)
            assert lock.held
        finally:
            await lock.release()


async def test_an_unwritable_lock_file_means_not_the_refresher(tmp_path):
    lock = FileLeaderLock(tmp_path / "missing-folder" / "db.leader")

    assert await lock.acquire() is False
    assert not lock.held


async def test_processes_starting_together_create_the_schema_without_tripping_up():
    url = service_url("TEST_POSTGRES_URL", "PostgreSQL")
    name = f"streamstats_start_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    database = f"{url.rsplit('/', 1)[0]}/{name}"

    async def start_process() -> None:
        # Each task gets a Tortoise context of its own, as each process would.
        await open_database(database)
        await close_database()

    try:
        await asyncio.gather(*(asyncio.create_task(start_process()) for _ in range(6)))
        check = await asyncpg.connect(database)
        applied = await check.fetch("SELECT name FROM tortoise_migrations ORDER BY name")
        tables = await check.fetchval(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'snapshots'"
        )
        await check.close()
        names = [row["name"] for row in applied]
        assert names == sorted(set(names))  # every migration applied exactly once
        assert names[:2] == ["0001_initial", "0002_snapshot_tops"]
        assert tables == 1
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
