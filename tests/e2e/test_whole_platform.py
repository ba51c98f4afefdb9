"""TOP_STREAMS=all as a server sees it: `python -m bot` walks every live stream of the fake."""

from __future__ import annotations

import pytest
import pytest_asyncio

from tests.e2e.harness import bot_environment, expected_summary, run_bot
from tests.fakes.discord import FakeDiscord
from tests.fakes.twitch import FakeTwitch, random_streams

pytestmark = pytest.mark.asyncio(loop_scope="module")

LIVE = 2_345  # every live stream of the fake: 24 pages


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bot")
    async with (
        FakeDiscord() as discord_fake,
        FakeTwitch(streams=random_streams(LIVE, seed=31, games=60)) as twitch_fake,
    ):
        env = bot_environment(
            discord_fake, twitch_fake, folder, TOP_STREAMS="all", REQUIRE_LOGIN="false"
        )
        async with run_bot(env, folder) as bot:
            await discord_fake.wait_until_identified(timeout=30)
            await discord_fake.wait_for_commands(timeout=30)
            await bot.wait_for_snapshot()
            yield discord_fake, twitch_fake
        assert await discord_fake.all_violations() == []


async def test_the_figures_cover_every_live_stream_and_say_so(world):
    discord_fake, twitch_fake = world
    message = await (await discord_fake.slash("streamstats")).wait_for_message()

    embed = message["embeds"][0]
    assert embed["description"] == f"Over **all {LIVE:,}** live streams on Twitch."
    assert embed["footer"]["text"].startswith(f"all {LIVE:,} live streams · data as of ")
    fields = {field["name"]: field["value"] for field in embed["fields"]}
    expected = expected_summary(twitch_fake, LIVE)
    assert fields["Median viewers"] == f"{expected.median:,.1f}".removesuffix(".0")
    assert fields["Duplicates"] == f"{expected.duplicates:,}"


async def test_status_says_what_the_snapshot_covers(world):
    discord_fake, _ = world
    message = await (await discord_fake.slash("status")).wait_for_message()

    fields = {field["name"]: field["value"] for field in message["embeds"][0]["fields"]}
    assert fields["Streams"] == f"all {LIVE:,} live streams"


async def test_top_still_shows_the_top_100(world):
    discord_fake, twitch_fake = world
    message = await (await discord_fake.slash("top")).wait_for_message()

    embed = message["embeds"][0]
    assert embed["footer"]["text"].startswith(f"all {LIVE:,} live streams")
    most_watched = max(twitch_fake.streams, key=lambda s: (s["viewer_count"], -int(s["id"])))
    assert most_watched["user_login"] in embed["description"].split("\n")[0]
    assert "1/10" in str(message["components"])  # 100 streams, 10 a page


async def test_channel_says_what_it_knows_of_every_live_stream(world):
    discord_fake, twitch_fake = world
    live = max(twitch_fake.streams, key=lambda s: (s["viewer_count"], -int(s["id"])))

    found = await (
        await discord_fake.slash("channel", {"login": live["user_login"]})
    ).wait_for_message()
    fields = {field["name"]: field["value"] for field in found["embeds"][0]["fields"]}
    assert fields["Now"].startswith("#1 · ")

    missing = await (
        await discord_fake.slash("channel", {"login": "nobody_live"})
    ).wait_for_message()
    assert missing["content"].startswith("“nobody\\_live” is not live now and not among")
