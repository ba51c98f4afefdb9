"""/trends and /channel as a Discord user sees them after three refreshes of changing data:
the real bot process, the fake Discord and the fake Twitch."""

from __future__ import annotations

import re

import pytest
import pytest_asyncio

from tests.e2e.harness import (
    assert_one_call_answer,
    backend,
    bot_environment,
    run_bot,
    shown_chart,
)
from tests.fakes.discord import FakeDiscord
from tests.fakes.twitch import FakeTwitch, make_stream

pytestmark = pytest.mark.asyncio(loop_scope="module")

EPHEMERAL = 64
LOL = ("21779", "League of Legends")
ART = ("509660", "Art")
CHATTING = ("509658", "Just Chatting")
MINECRAFT = ("27471", "Minecraft")


def stream(index: int, viewers: int, game: tuple[str, str]) -> dict:
    return make_stream(index, viewers, game_id=game[0], game_name=game[1])


FIRST = [stream(0, 100, LOL), stream(1, 50, LOL), stream(2, 30, ART), stream(3, 10, CHATTING)]
SECOND = [stream(0, 200, LOL), stream(2, 5, ART), stream(3, 10, CHATTING)]
THIRD = [stream(0, 20, LOL), stream(1, 150, LOL), stream(3, 60, CHATTING), stream(4, 40, MINECRAFT)]


@pytest_asyncio.fixture(
    scope="module",
    loop_scope="module",
    params=[
        "embedded",
        pytest.param("postgres+redis", marks=[pytest.mark.postgres, pytest.mark.redis]),
    ],
)
async def world(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("bot")
    async with (
        backend(request.param) as settings,
        FakeDiscord() as discord_fake,
        FakeTwitch(streams=FIRST) as twitch_fake,
    ):
        env = bot_environment(
            discord_fake,
            twitch_fake,
            folder,
            REQUIRE_LOGIN="false",
            REFRESH_MINUTES="0.01",  # a refresh every 0.6 s
            **settings,
        )
        async with run_bot(env, folder) as bot:
            await discord_fake.wait_until_identified(timeout=30)
            await discord_fake.wait_for_commands(timeout=30)
            await bot.wait_for_snapshot()
            for data in (SECOND, THIRD):
                twitch_fake.streams = data
                await bot.wait_for_fresh_snapshot(twitch_fake)
            yield discord_fake
        assert await discord_fake.all_violations() == []


def fields_of(message: dict) -> dict[str, str]:
    return {field["name"]: field["value"] for field in message["embeds"][0]["fields"]}


async def test_trends_list_the_gains_and_losses_since_the_oldest_snapshot(world):
    message = await (await world.slash("trends", {"period": "1h"})).wait_for_message()

    embed = message["embeds"][0]
    assert embed["title"] == "Trends over the last hour"
    # Seconds of history, not an hour: the answer says so and uses all there is.
    assert "based on the last less than a minute" in embed["description"]
    assert fields_of(message) == {
        "Gained most viewers": "1. **Just Chatting** +50 (+500.0%)\n"
        "2. **Minecraft** +40 (new)\n"
        "3. **League of Legends** +20 (+13.3%)",
        "Lost most viewers": "1. **Art** -30 (-100.0%)",
    }
    assert not message.get("flags", 0) & EPHEMERAL


async def test_trends_chart_the_viewers_of_the_biggest_gainers(world):
    message = await (await world.slash("trends", {"period": "1h"})).wait_for_message()

    attachment, _ = shown_chart(world, message)
    assert attachment["filename"] == "trends.png"
    description = attachment["description"]
    assert description.startswith(
        "Total viewers of the 3 biggest gainers over the last hour: line chart of total viewers"
    )
    # Each gainer from the oldest snapshot to the newest (0 where it was not in the top).
    assert "Just Chatting: from 10 to 60, peak 60" in description
    assert "Minecraft: from 0 to 40, peak 40" in description
    assert "League of Legends: from 150 to 170, peak 200" in description
    assert "Art" not in description  # a loser


async def test_trends_of_one_game_show_its_series_change_and_peak(world):
    message = await (await world.slash("trends", {"game": "league of legends"})).wait_for_message()

    embed = message["embeds"][0]
    assert embed["title"] == "League of Legends over the last 24 hours"
    fields = fields_of(message)
    assert fields["Total viewers now"] == "170"
    assert fields["Live streams now"] == "2"
    assert fields["Change"] == "+20 (+13.3%)"
    assert fields["Peak"].startswith("200 viewers, <t:")
    series = fields["Over the period"].splitlines()
    assert series[0].endswith(" · 150 viewers · 2 streams")
    assert series[-1].endswith(" · 170 viewers · 2 streams")
    assert any(line.endswith(" · 200 viewers · 1 streams") for line in series)


async def test_trends_of_one_game_chart_its_viewers(world):
    message = await (await world.slash("trends", {"game": "21779"})).wait_for_message()

    attachment, _ = shown_chart(world, message)
    assert attachment["filename"] == "trends.png"
    description = attachment["description"]
    assert description.startswith("League of Legends: total viewers over the last 24 hours")
    assert "League of Legends: from 150 to 170, peak 200" in description


async def test_trends_suggest_games_of_the_history(world):
    interaction = await world.autocomplete("trends", "game", "mine")
    response = await interaction.wait_for_response()

    assert response["data"]["choices"] == [{"name": "Minecraft", "value": "27471"}]
    art = await world.autocomplete("trends", "game", "ar")  # gone from the top, still in history
    assert {"name": "Art", "value": "509660"} in (await art.wait_for_response())["data"]["choices"]


async def test_channel_shows_the_rank_now_and_the_record(world):
    message = await (await world.slash("channel", {"login": "Streamer0"})).wait_for_message()

    embed = message["embeds"][0]
    assert embed["title"] == "streamer0"
    assert embed["url"] == "https://twitch.tv/streamer0"
    fields = fields_of(message)
    assert fields["Now"] == "#4 · 20 viewers"
    assert fields["Best rank"] == "#1"
    assert fields["Peak viewers"] == "200"
    assert int(fields["Snapshots in the top"]) >= 3
    first, last = (re.fullmatch(r"<t:(\d+):f>", fields[f]) for f in ("First seen", "Last seen"))
    assert first and last and int(first[1]) < int(last[1])


async def test_channel_charts_the_rank_over_time(world):
    message = await (await world.slash("channel", {"login": "streamer0"})).wait_for_message()

    attachment, _ = shown_chart(world, message)
    assert attachment["filename"] == "rank.png"
    description = attachment["description"]
    assert description.startswith("Rank of streamer0 in the top over time: line chart")
    snapshots = int(fields_of(message)["Snapshots in the top"])
    assert f"Best rank 1, latest 4, over {snapshots} snapshots" in description


async def test_a_channel_out_of_the_top_now_still_has_its_record(world):
    message = await (await world.slash("channel", {"login": "streamer2"})).wait_for_message()

    fields = fields_of(message)
    assert fields["Now"] == "not in the top 1,000 now"
    assert (fields["Best rank"], fields["Peak viewers"]) == ("#3", "30")


async def test_an_unknown_channel_gets_a_short_private_answer(world):
    message = await (await world.slash("channel", {"login": "nobody_at_all"})).wait_for_message()

    assert message["flags"] & EPHEMERAL
    assert "nobody\\_at\\_all" in message["content"]
    assert "has not been in the top 1,000" in message["content"]


async def test_channel_suggests_logins_now_and_of_the_last_day(world):
    interaction = await world.autocomplete("channel", "login", "STREAMER")
    names = [c["name"] for c in (await interaction.wait_for_response())["data"]["choices"]]

    assert names == ["streamer0", "streamer1", "streamer2", "streamer3", "streamer4"]


@pytest.mark.parametrize(
    "options",
    [
        ("trends", {}),
        ("trends", {"game": "Minecraft", "period": "7d"}),
        ("channel", {"login": "streamer1"}),
    ],
    ids=str,
)
async def test_an_answer_at_hand_is_one_rest_call(world, options):
    command, values = options
    message = await assert_one_call_answer(world, command, values)
    shown_chart(world, message)  # the chart is part of that one call


async def test_every_interaction_was_answered_in_time(world):
    assert await world.all_violations() == []
