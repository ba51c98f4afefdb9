"""The bot over time: loading state, a failing Twitch, recovery, and a refresh while paging."""

from __future__ import annotations

import sqlite3

import pytest
import pytest_asyncio

from tests.e2e.harness import bot_environment, current_top, expected_summary, run_bot
from tests.fakes.discord import FakeDiscord
from tests.fakes.twitch import FakeTwitch, random_streams

pytestmark = pytest.mark.asyncio(loop_scope="module")

TOP = 200
EPHEMERAL = 64


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bot")
    async with FakeDiscord() as discord_fake, FakeTwitch(streams=random_streams(300)) as twitch:
        env = bot_environment(
            discord_fake, twitch, folder, TOP_STREAMS=str(TOP), REQUIRE_LOGIN="false"
        )
        env["REFRESH_MINUTES"] = "0.05"  # every 3 s, so recovery is quick to observe
        del env["DISCORD_GUILD_ID"]  # commands are synced globally
        real_secret = twitch.client_secret
        twitch.client_secret = "rotated-by-someone"  # Twitch now refuses the bot's credentials
        async with run_bot(env, folder, tracebacks_expected=True) as bot:
            await discord_fake.wait_until_identified(timeout=30)
            await discord_fake.wait_for_commands(timeout=30)
            yield discord_fake, twitch, bot, real_secret
        assert await discord_fake.all_violations() == []


async def test_without_a_guild_commands_are_synced_globally(world):
    assert world[0].synced_guild_ids == [None]


@pytest.mark.parametrize(
    ("command", "options"), [("streamstats", {}), ("gamestats", {}), ("top", {"order": "asc"})]
)
async def test_before_the_first_snapshot_commands_say_data_is_loading(world, command, options):
    discord_fake = world[0]
    interaction = await discord_fake.slash(command, options)
    message = await interaction.wait_for_message()

    assert message["flags"] & EPHEMERAL
    assert "still loading" in message["content"]
    assert not message.get("embeds")


async def test_autocomplete_offers_nothing_before_the_first_snapshot(world):
    interaction = await world[0].autocomplete("gamestats", "game", "")
    response = await interaction.wait_for_response()
    assert response["data"]["choices"] == []


async def test_status_says_why_refreshing_fails(world):
    discord_fake, _, bot, _ = world
    await bot.wait_for_log("refresh failed", timeout=15)
    interaction = await discord_fake.slash("status")
    message = await interaction.wait_for_message()

    fields = {f["name"]: f["value"] for f in message["embeds"][0]["fields"]}
    assert "none yet" in fields["Snapshot"]
    assert fields["Last refresh"].startswith("failed")
    assert "refused the app credentials" in fields["Last refresh"]
    assert "rotated-by-someone" not in bot.log()


async def test_the_loop_recovers_when_twitch_accepts_again(world):
    discord_fake, twitch, bot, real_secret = world
    twitch.client_secret = real_secret
    await bot.wait_for_snapshot()

    interaction = await discord_fake.slash("streamstats")
    message = await interaction.wait_for_message()
    fields = {f["name"]: f["value"] for f in message["embeds"][0]["fields"]}
    assert fields["Duplicates"] == f"{expected_summary(twitch, TOP).duplicates:,}"


async def test_pages_stay_on_one_snapshot_while_a_refresh_commits(world):
    discord_fake, twitch, bot, _ = world
    old_top = current_top(twitch, TOP)
    interaction = await discord_fake.slash("top")
    message = await interaction.wait_for_message()
    assert f"(https://twitch.tv/{old_top[0].user_login})" in message["embeds"][0]["description"]

    twitch.streams = random_streams(300, seed=99)
    await bot.wait_for_fresh_snapshot(twitch)
    buttons = message["components"][0]["components"]
    next_id = next(b["custom_id"] for b in buttons if (b.get("emoji") or {}).get("name") == "▶️")
    click = await discord_fake.click(message, next_id)
    page_two = (await click.wait_for_message())["embeds"][0]["description"]

    new_top = current_top(twitch, TOP)
    old_page, new_page = old_top[10:20], new_top[10:20]
    assert [s.user_login for s in old_page] != [s.user_login for s in new_page]
    shown = [line.split("(https://twitch.tv/")[1].split(")")[0] for line in page_two.splitlines()]
    assert shown == [s.user_login for s in old_page]

    fresh = await discord_fake.slash("streamstats", {"source": "memory"})
    fields = {
        f["name"]: f["value"] for f in (await fresh.wait_for_message())["embeds"][0]["fields"]
    }
    new = expected_summary(twitch, TOP)
    assert fields["Duplicates"] == f"{new.duplicates:,}"
    assert fields["Odd viewer count"] == f"{new.odd:,}"


async def test_a_failing_database_gets_a_short_private_answer(world):
    discord_fake, _, bot, _ = world
    database = bot.log_path.parent / "streamstats.sqlite3"
    with sqlite3.connect(database) as conn:
        conn.execute("ALTER TABLE streams RENAME TO streams_gone")
    try:
        interaction = await discord_fake.slash("streamstats", {"source": "database"})
        message = await interaction.wait_for_message()
    finally:
        with sqlite3.connect(database) as conn:
            conn.execute("ALTER TABLE streams_gone RENAME TO streams")

    assert message["flags"] & EPHEMERAL
    assert message["content"] == (
        "StreamStats cannot reach its database right now. Try again in a minute."
    )
    assert "database unavailable" in bot.log()
    assert "no such table: streams" in bot.log()
