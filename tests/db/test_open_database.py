"""Opening the database as an operator meets it: any DATABASE_URL the settings accept works,
and a database that cannot be opened stops the bot with the reason instead of hanging it."""

from __future__ import annotations

import asyncio
import secrets
import sys
from datetime import UTC, datetime

import asyncpg
import pytest

from bot.streams import by_viewers
from bot.twitch import parse_stream
from db import close_database, open_database, queries, snapshots
from tests.conftest import service_url
from tests.e2e.harness import bot_environment, expected_summary, run_bot
from tests.fakes.discord import FakeDiscord
from tests.fakes.twitch import FakeTwitch, random_streams

TOP = 200


async def test_an_in_memory_database_keeps_what_is_stored_in_it():
    streams = [parse_stream(payload) for payload in random_streams(50, seed=5)]
    await open_database("sqlite://:memory:")
    try:
        stored = await snapshots.replace_snapshot(
            streams, pages=1, duplicates_dropped=0, taken_at=datetime.now(UTC)
        )
        latest = await queries.latest_snapshot()
        loaded = await queries.load_streams()
    finally:
        await close_database()

    assert latest == stored
    assert loaded is not None
    assert sorted(loaded.value, key=by_viewers) == sorted(streams, key=by_viewers)


@pytest.mark.postgres
async def test_a_process_can_store_snapshots_in_one_database_after_another(tmp_path):
    streams = [parse_stream(payload) for payload in random_streams(20, seed=6)]
    admin_url = service_url("TEST_POSTGRES_URL", "PostgreSQL")
    name = f"streamstats_test_{secrets.token_hex(4)}"
    sqlite_url = f"sqlite://{tmp_path / 'first.sqlite3'}"
    postgres_url = f"{admin_url.rpartition('/')[0]}/{name}"
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        for url in (sqlite_url, postgres_url):
            await open_database(url)
            try:
                stored = await snapshots.replace_snapshot(
                    streams, pages=1, duplicates_dropped=0, taken_at=datetime.now(UTC)
                )
                assert await queries.latest_snapshot() == stored
            finally:
                await close_database()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_a_bot_whose_database_cannot_be_opened_exits_with_the_reason(tmp_path):
    not_a_database = tmp_path / "streamstats.sqlite3"
    not_a_database.write_bytes(b"this is not an SQLite file" * 100)
    async with FakeDiscord() as discord_fake, FakeTwitch() as twitch:
        env = bot_environment(discord_fake, twitch, tmp_path)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", cwd=tmp_path, env=env, stderr=asyncio.subprocess.PIPE
        )
        try:
            _, errors = await asyncio.wait_for(process.communicate(), 30)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise AssertionError("the bot kept running after its database failed") from None

    assert process.returncode == 1
    assert b"cannot start: file is not a database" in errors


async def test_the_bot_answers_from_an_in_memory_database(tmp_path):
    async with FakeDiscord() as discord_fake, FakeTwitch(streams=random_streams(300)) as twitch:
        env = bot_environment(
            discord_fake,
            twitch,
            tmp_path,
            DATABASE_URL="sqlite://:memory:",
            TOP_STREAMS=str(TOP),
            REQUIRE_LOGIN="false",
        )
        async with run_bot(env, tmp_path) as bot:
            await discord_fake.wait_until_identified(timeout=30)
            await discord_fake.wait_for_commands(timeout=30)
            await bot.wait_for_snapshot()
            interaction = await discord_fake.slash("streamstats", {"source": "database"})
            message = await interaction.wait_for_message()
        assert discord_fake.violations == []

    fields = {field["name"]: field["value"] for field in message["embeds"][0]["fields"]}
    expected = expected_summary(twitch, TOP)
    assert fields["Streams covered"] == f"{TOP:,}"
    assert fields["Median viewers"] == f"{expected.median:,.1f}".removesuffix(".0")
    assert fields["Odd viewer count"] == f"{expected.odd:,}"
