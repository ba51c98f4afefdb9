"""Every command answers within Discord's 3 seconds, whatever the cache and the database do.

The real bot process runs on PostgreSQL and on a Redis reached through a proxy the test
controls: Redis that accepts connections but never answers, Redis under `CLIENT PAUSE`, and
tables locked for 2.2 s, as they were measured to make the bot miss the deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio
import redis.asyncio

from tests.conftest import service_url
from tests.db.test_leader import server_of
from tests.e2e.harness import bot_environment, expected_summary, run_bot
from tests.fakes.discord import FakeDiscord
from tests.fakes.proxy import Proxy
from tests.fakes.twitch import FakeTwitch, random_streams

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.postgres, pytest.mark.redis]

TOP = 100
LOCK_SECONDS = 2.2
DEADLINE = 3.0
COMMANDS = [
    ("streamstats", {}),
    ("streamstats", {"source": "database"}),
    ("gamestats", {}),
    ("top", {}),
    ("status", {}),
    ("whoami", {}),
]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory):
    postgres = service_url("TEST_POSTGRES_URL", "PostgreSQL")
    redis_url = service_url("TEST_REDIS_URL", "Redis")
    name = f"streamstats_deadline_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(postgres)
    await admin.execute(f'CREATE DATABASE "{name}"')
    database = f"{postgres.rsplit('/', 1)[0]}/{name}"
    folder = tmp_path_factory.mktemp("bot")
    try:
        async with (
            Proxy(*server_of(redis_url)) as redis_proxy,
            FakeDiscord() as discord_fake,
            FakeTwitch(streams=random_streams(200)) as twitch,
        ):
            env = bot_environment(
                discord_fake,
                twitch,
                folder,
                TOP_STREAMS=str(TOP),
                REQUIRE_LOGIN="false",
                DATABASE_URL=database,
                CACHE_URL=redis_proxy.url_for(redis_url.rsplit("/", 1)[0] + "/6"),
            )
            async with run_bot(env, folder) as bot:
                await discord_fake.wait_until_identified(timeout=30)
                await discord_fake.wait_for_commands(timeout=30)
                await bot.wait_for_snapshot()
                yield discord_fake, twitch, redis_proxy, database
            assert await discord_fake.all_violations() == []
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@contextlib.asynccontextmanager
async def tables_locked(database: str) -> AsyncIterator[None]:
    """Every table a command reads is under an exclusive lock for LOCK_SECONDS from entry."""
    conn = await asyncpg.connect(database)
    locked = asyncio.Event()

    async def hold() -> None:
        async with conn.transaction():
            await conn.execute(
                "LOCK TABLE snapshots, streams, refresh_runs, users, sessions "
                "IN ACCESS EXCLUSIVE MODE"
            )
            locked.set()
            await asyncio.sleep(LOCK_SECONDS)

    holder = asyncio.create_task(hold())
    try:
        await locked.wait()
        yield
    finally:
        await holder
        await conn.close()


@contextlib.asynccontextmanager
async def redis_silent(proxy: Proxy) -> AsyncIterator[None]:
    """Redis still accepts connections but never answers."""
    proxy.silent = True
    try:
        yield
    finally:
        proxy.silent = False
        proxy.cut_all()  # requests swallowed meanwhile would desynchronise those connections


@contextlib.asynccontextmanager
async def redis_paused() -> AsyncIterator[None]:
    """`CLIENT PAUSE` on the Redis server itself, for longer than the table lock."""
    client = redis.asyncio.from_url(service_url("TEST_REDIS_URL", "Redis"))
    await client.execute_command("CLIENT", "PAUSE", int((LOCK_SECONDS + 1) * 1000), "ALL")
    try:
        yield
    finally:
        await client.execute_command("CLIENT", "UNPAUSE")
        await client.aclose()


async def assert_every_command_answers_in_time(discord_fake, twitch) -> None:
    interactions = await asyncio.gather(
        *(discord_fake.slash(name, options) for name, options in COMMANDS),
        discord_fake.autocomplete("gamestats", "game", "a"),
    )
    for interaction in interactions[:-1]:
        await interaction.wait_for_message(timeout=15)
    await interactions[-1].wait_for_response(timeout=DEADLINE)
    late = {i.name: i.answered_after for i in interactions if i.answered_after >= DEADLINE}
    assert late == {}
    summary = (await interactions[0].wait_for_message())["embeds"][0]["fields"]
    expected = expected_summary(twitch, TOP)
    assert {"name": "Duplicates", "value": f"{expected.duplicates:,}", "inline": True} in summary
    assert await discord_fake.all_violations() == []


async def test_a_redis_that_never_answers(world):
    discord_fake, twitch, proxy, _ = world
    async with redis_silent(proxy):
        await assert_every_command_answers_in_time(discord_fake, twitch)


async def test_a_redis_that_never_answers_and_locked_tables(world):
    discord_fake, twitch, proxy, database = world
    async with redis_silent(proxy), tables_locked(database):
        await assert_every_command_answers_in_time(discord_fake, twitch)


async def test_a_paused_redis_and_locked_tables(world):
    discord_fake, twitch, _, database = world
    async with redis_paused(), tables_locked(database):
        await assert_every_command_answers_in_time(discord_fake, twitch)
