"""Charts as a Discord user sees them: the real bot process, fake Discord and Twitch.

A chart is a PNG attached to the answer and shown by its embed; it survives page turns; and
when the chart worker dies, the text answer still goes out in one call, and charts come back.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest
import pytest_asyncio

from bot import stats
from tests.e2e.harness import (
    bot_environment,
    current_top,
    expected_summary,
    run_bot,
    shown_chart,
)
from tests.fakes.discord import FakeDiscord
from tests.fakes.twitch import FakeTwitch, random_streams

pytestmark = pytest.mark.asyncio(loop_scope="module")

TOP = 300


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bot")
    async with (
        FakeDiscord() as discord_fake,
        FakeTwitch(streams=random_streams(400, seed=5)) as twitch_fake,
    ):
        env = bot_environment(
            discord_fake,
            twitch_fake,
            folder,
            TOP_STREAMS=str(TOP),
            REQUIRE_LOGIN="false",
            REFRESH_MINUTES="0.05",  # a new snapshot every 3 s: charts not yet drawn, on demand
        )
        # The worker is killed on purpose below: its pool's error is logged with a traceback.
        async with run_bot(env, folder, tracebacks_expected=True) as bot:
            await discord_fake.wait_until_identified(timeout=30)
            await discord_fake.wait_for_commands(timeout=30)
            await bot.wait_for_snapshot()
            yield discord_fake, twitch_fake, bot
        assert await discord_fake.all_violations() == []


async def one_call_answer(discord_fake: FakeDiscord, command: str) -> dict:
    interaction = await discord_fake.slash(command)
    message = await interaction.wait_for_message()
    callback = f"/interactions/{interaction.id}/{interaction.token}/callback"
    assert interaction.rest_calls() == [("POST", callback)]
    assert interaction.responses[0]["type"] == 4  # the answer itself, not a deferral
    return message


async def test_streamstats_shows_the_viewer_histogram(world):
    discord_fake, twitch_fake, _ = world
    message = await one_call_answer(discord_fake, "streamstats")
    attachment, _ = shown_chart(discord_fake, message)
    assert attachment["filename"] == "viewers.png"
    summary = expected_summary(twitch_fake, TOP)
    assert f"histogram of {summary.total:,} live streams" in attachment["description"]
    median = f"{summary.median:,.1f}".removesuffix(".0")
    assert f"Median {median} viewers" in attachment["description"]


async def test_gamestats_chart_stays_on_every_page(world):
    discord_fake, twitch_fake, _ = world
    games = stats.game_stats(current_top(twitch_fake, TOP))
    message = await one_call_answer(discord_fake, "gamestats")
    attachment, data = shown_chart(discord_fake, message)
    assert attachment["filename"] == "games.png"
    assert f"{games[0].label}: {games[0].streams}" in attachment["description"]

    next_page = next(
        b["custom_id"]
        for b in message["components"][0]["components"]
        if (b.get("emoji") or {}).get("name") == "▶️"
    )
    click = await discord_fake.click(message, next_page)
    turned = await click.wait_for_message()
    assert "page 2/" in turned["embeds"][0]["author"]["name"]
    assert shown_chart(discord_fake, turned) == (attachment, data)  # the same image, not broken


async def test_hours_shows_the_start_hours_chart(world):
    discord_fake, twitch_fake, _ = world
    hours = stats.start_hours(current_top(twitch_fake, TOP))
    message = await one_call_answer(discord_fake, "hours")
    attachment, _ = shown_chart(discord_fake, message)
    assert attachment["filename"] == "hours.png"
    assert f"{TOP:,} streams over {len(hours)} start hours" in attachment["description"]


def chart_workers(bot_pid: int) -> list[int]:
    """The bot's grandchildren: the chart workers (forked by the fork server, its child)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, parent = stat.read_text().rsplit(")", 1)[1].split()[:2]
        except OSError:
            continue  # ended meanwhile
        if state != "Z":  # a dead process not yet reaped is no worker
            parents[int(stat.parent.name)] = int(parent)
    children = {pid for pid, parent in parents.items() if parent == bot_pid}
    return [pid for pid, parent in parents.items() if parent in children]


async def test_a_dead_chart_worker_costs_the_chart_not_the_answer(world):
    discord_fake, twitch_fake, bot = world
    await bot.wait_for_fresh_snapshot(twitch_fake)  # charts of this snapshot: none drawn yet
    workers = chart_workers(bot.process.pid)
    assert len(workers) == 1
    bot_log_before = len(bot.log())
    os.kill(workers[0], signal.SIGKILL)

    message = await one_call_answer(discord_fake, "streamstats")
    assert message["attachments"] == [] and "image" not in message["embeds"][0]
    summary = expected_summary(twitch_fake, TOP)
    fields = {f["name"]: f["value"] for f in message["embeds"][0]["fields"]}
    assert fields["Streams covered"] == f"{summary.total:,}"
    assert "the chart worker died; starting a new one" in bot.log()[bot_log_before:]

    async with asyncio.timeout(10):  # a new worker draws the next ask's chart
        while not (again := await one_call_answer(discord_fake, "streamstats"))["attachments"]:
            await asyncio.sleep(0.1)
    shown_chart(discord_fake, again)
    assert len(chart_workers(bot.process.pid)) == 1
