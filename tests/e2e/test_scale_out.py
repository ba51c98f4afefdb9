"""Several bot processes as Discord shards on one PostgreSQL and one Redis: commands from any
shard show the newest snapshot, exactly one process refreshes, and another takes over."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from datetime import UTC, datetime

import asyncpg
import pytest
import pytest_asyncio
from aiocache import Cache

from tests.conftest import service_url
from tests.e2e.harness import bot_environment, expected_summary, refreshes_started, run_bot
from tests.fakes.discord import DEFAULT_GUILD_ID, DEFAULT_MEMBER_PERMISSIONS, FakeDiscord
from tests.fakes.twitch import FakeTwitch, random_streams

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.postgres, pytest.mark.redis]

TOP = 150
INTERVAL = 3.0  # seconds (REFRESH_MINUTES=0.05)
SHARDS = 2
MANAGE_GUILD = 1 << 5


def guild_on_other_shard() -> int:
    """A guild id whose shard ((id >> 22) % 2) is not the default guild's."""
    guild = DEFAULT_GUILD_ID + (1 << 22)
    assert (guild >> 22) % SHARDS != (DEFAULT_GUILD_ID >> 22) % SHARDS
    return guild


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(tmp_path_factory):
    postgres = service_url("TEST_POSTGRES_URL", "PostgreSQL")
    redis_url = service_url("TEST_REDIS_URL", "Redis").rsplit("/", 1)[0] + "/3"
    server = postgres.rsplit("/", 1)[0]
    name = f"streamstats_scale_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(postgres)
    await admin.execute(f'CREATE DATABASE "{name}"')
    cache = Cache.from_url(redis_url)
    await cache.clear()
    other_guild = guild_on_other_shard()
    try:
        async with FakeDiscord() as discord_fake, FakeTwitch(streams=random_streams(400)) as twitch:
            discord_fake.add_guild(other_guild, name="Second guild")
            processes = []
            async with contextlib.AsyncExitStack() as stack:
                for shard in range(SHARDS):
                    folder = tmp_path_factory.mktemp(f"shard{shard}")
                    env = bot_environment(discord_fake, twitch, folder, TOP_STREAMS=str(TOP))
                    del env["DISCORD_GUILD_ID"]
                    env.update(
                        DATABASE_URL=f"{server}/{name}",
                        CACHE_URL=redis_url,
                        SHARD_COUNT=str(SHARDS),
                        SHARD_IDS=str(shard),
                        WEB_ENABLED="true" if shard == 0 else "false",
                        REFRESH_MINUTES=str(INTERVAL / 60),
                        REQUIRE_LOGIN="false",
                    )
                    processes.append(await stack.enter_async_context(run_bot(env, folder)))
                try:
                    await discord_fake.wait_until_identified(timeout=30, shards=SHARDS)
                    await discord_fake.wait_for_commands(timeout=30)
                    await processes[0].wait_for_snapshot()
                except TimeoutError as error:
                    logs = "\n\n".join(p.log() for p in processes)
                    raise AssertionError(f"the cluster did not come up:\n{logs}") from error
                yield discord_fake, twitch, processes, other_guild
                assert await discord_fake.all_violations() == []
    finally:
        await cache.clear()
        await cache.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def duplicates_shown(discord_fake: FakeDiscord, guild_id: int) -> str:
    interaction = await discord_fake.slash("streamstats", guild_id=guild_id)
    message = await interaction.wait_for_message()
    fields = {f["name"]: f["value"] for f in message["embeds"][0]["fields"]}
    return fields["Duplicates"] + "/" + fields["Odd viewer count"]


def expected_shown(twitch: FakeTwitch) -> str:
    summary = expected_summary(twitch, TOP)
    return f"{summary.duplicates:,}/{summary.odd:,}"


async def test_every_shard_answers_with_the_same_numbers(cluster):
    discord_fake, twitch, _, other_guild = cluster
    interaction = await discord_fake.slash("streamstats")
    other = await discord_fake.slash("streamstats", guild_id=other_guild)

    assert interaction.shard_id != other.shard_id
    assert await duplicates_shown(discord_fake, discord_fake.guild_id) == expected_shown(twitch)
    assert await duplicates_shown(discord_fake, other_guild) == expected_shown(twitch)


async def test_exactly_one_process_refreshes(cluster):
    """Three refreshes take at least two intervals: with two refreshers they would come faster."""
    _, twitch, processes, _ = cluster
    before = refreshes_started(twitch)
    started = asyncio.get_running_loop().time()
    async with asyncio.timeout(INTERVAL * 10):
        while refreshes_started(twitch) < before + 3:
            await asyncio.sleep(0.05)
    elapsed = asyncio.get_running_loop().time() - started

    assert elapsed >= INTERVAL * 2 - 1, elapsed  # one refresh per interval, not per process
    refreshers = [p for p in processes if "this process now refreshes" in p.log()]
    assert len(refreshers) == 1


async def test_after_a_refresh_every_shard_shows_the_new_snapshot(cluster):
    discord_fake, twitch, processes, other_guild = cluster
    old = expected_shown(twitch)
    twitch.streams = random_streams(400, seed=77)
    assert expected_shown(twitch) != old
    await processes[0].wait_for_fresh_snapshot(twitch)

    assert await duplicates_shown(discord_fake, discord_fake.guild_id) == expected_shown(twitch)
    assert await duplicates_shown(discord_fake, other_guild) == expected_shown(twitch)


async def test_a_digest_is_posted_once_by_the_whole_cluster(cluster):
    discord_fake, twitch, _, _ = cluster
    hour = (datetime.now(UTC).hour + 12) % 24  # its period changes twelve hours from now
    interaction = await discord_fake.slash(
        "digest",
        {"channel": discord_fake.channel_id, "every": "daily", "hour": hour},
        subcommand="set",
        permissions=DEFAULT_MEMBER_PERMISSIONS | MANAGE_GUILD,
    )
    await interaction.wait_for_message()
    before = refreshes_started(twitch)
    async with asyncio.timeout(INTERVAL * 10):
        posted = await discord_fake.wait_for_channel_message(since=0, timeout=INTERVAL * 3)
        # Two more refreshes, from whichever process: neither posts the same period again.
        while refreshes_started(twitch) < before + 3:
            await asyncio.sleep(0.05)

    assert posted["embeds"][0]["title"] == "StreamStats digest"
    assert len(discord_fake.channel_messages) == 1


async def test_another_process_takes_over_when_the_refresher_dies(cluster):
    _, twitch, processes, _ = cluster
    refresher = next(p for p in processes if "this process now refreshes" in p.log())
    survivor = next(p for p in processes if p is not refresher)
    refresher.kill()
    await refresher.process.wait()
    before = refreshes_started(twitch)

    def took_over() -> bool:
        _, marker, after = survivor.log().partition("this process now refreshes")
        return bool(marker) and "refresh ok" in after

    async with asyncio.timeout(INTERVAL + 2.5):  # the survivor's next tick, plus the refresh
        while not took_over():
            await asyncio.sleep(0.1)
    assert refreshes_started(twitch) > before
