"""Digests through the real bot and the fake Discord, on a clock the test moves: when they are
due, that each period is posted once (restarts, two posters), and what Discord's refusals do."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest_asyncio

from bot import stats
from bot.app import Services, running_services
from bot.config import settings_from_env
from bot.digest_service import DigestService
from tests.conftest import Clock
from tests.e2e.harness import bot_environment, current_top
from tests.fakes.discord import (
    DEFAULT_MEMBER_PERMISSIONS,
    FakeDiscord,
    patched_discord,
    png_dimensions,
)
from tests.fakes.twitch import FakeTwitch, make_stream, random_streams
from tests.markdown import live_markdown

MANAGE_GUILD = 1 << 5
MANAGER = DEFAULT_MEMBER_PERMISSIONS | MANAGE_GUILD
EPHEMERAL = 64
TOP = 200
HOSTILE_GAME = "@everyone **Hot** [game](https://evil.example) <#1>"


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A moment counted from 1 November 2026 (UTC): day 31 is 1 December."""
    start = datetime(2026, 11, 1, tzinfo=UTC)
    return start + timedelta(days=day - 1, hours=hour, minutes=minute, seconds=second)


def hostile_streams(seed: int) -> list[dict]:
    streams = random_streams(300, seed=seed)
    # The most-watched game has a name full of markdown and mentions.
    streams.append(make_stream(99_999, 50_000, game_id="999999", game_name=HOSTILE_GAME))
    return streams


@dataclass
class Digests:
    """A guild with a #digests channel, the fakes, a clock, and a bot that can be restarted."""

    discord: FakeDiscord
    twitch: FakeTwitch
    clock: Clock
    env: dict[str, str]
    channel_id: int
    services: Services | None = None

    def posts(self) -> list[dict]:
        """Every message posted in #digests so far."""
        return [m for m in self.discord.channel_messages if int(m["channel_id"]) == self.channel_id]

    async def refresh(self) -> list[dict]:
        """One run of the refresh loop at the clock's time; the digests it posted."""
        before = len(self.posts())
        bot = self.services.bot
        await bot.get_cog("RefreshCog").refresh_top_streams()
        if bot.digests.posting is not None:
            await bot.digests.posting
        return self.posts()[before:]

    async def command(self, subcommand: str, options=None, permissions: int = MANAGER) -> dict:
        interaction = await self.discord.slash(
            "digest", options, subcommand=subcommand, permissions=permissions
        )
        message = await interaction.wait_for_message()
        assert message["flags"] & EPHEMERAL
        return message

    async def set(self, every: str, hour: int | None = None) -> dict:
        options = {"channel": self.channel_id, "every": every}
        if hour is not None:
            options["hour"] = hour
        return await self.command("set", options)

    async def show(self) -> dict:
        return (await self.command("show"))["embeds"][0]

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Services]:
        """The bot, started; its start-up refresh (and the digests it posts) done."""
        settings = settings_from_env(self.env)
        with patched_discord(self.discord):
            async with running_services(settings, clock=self.clock) as services:
                identified = len(self.discord.identifies)
                task = asyncio.create_task(services.bot.start(settings.discord_token))
                async with asyncio.timeout(30):
                    while len(self.discord.identifies) == identified:
                        await asyncio.sleep(0.02)
                    await self.discord.wait_for_commands(timeout=30, names=["digest"])
                    # The start-up refresh has ended (and handed its snapshot to the digests).
                    while services.refresher.last_outcome is None or services.refresher.running:
                        await asyncio.sleep(0.02)
                    if services.bot.digests.posting is not None:
                        await services.bot.digests.posting
                self.services = services
                try:
                    yield services
                finally:
                    await services.bot.close()
                    await task


@pytest_asyncio.fixture
async def stopped(tmp_path: Path, caplog) -> AsyncIterator[Digests]:
    """The world with the bot not started yet."""
    caplog.set_level(logging.INFO)
    clock = Clock()
    clock.now = at(30, 10, 5)
    async with (
        FakeDiscord() as discord_fake,
        FakeTwitch(streams=hostile_streams(seed=1)) as twitch,
    ):
        channel_id = discord_fake.add_channel(discord_fake.guild_id, name="digests")
        env = bot_environment(
            discord_fake, twitch, tmp_path, TOP_STREAMS=str(TOP), REQUIRE_LOGIN="false"
        )
        yield Digests(discord_fake, twitch, clock, env, channel_id)
        assert await discord_fake.all_violations() == []


@pytest_asyncio.fixture
async def digests(stopped: Digests) -> AsyncIterator[Digests]:
    """The world with the bot running."""
    async with stopped.running():
        yield stopped


def fields_of(post: dict) -> dict[str, str]:
    return {field["name"]: field["value"] for field in post["embeds"][0]["fields"]}


async def test_hourly_posts_after_set_then_at_the_first_refresh_of_each_hour(digests):
    reply = await digests.set("hourly")
    assert "first one is posted after the next refresh" in reply["content"]

    assert len(await digests.refresh()) == 1  # 10:05: right after /digest set
    digests.clock.now = at(30, 10, 20)
    assert await digests.refresh() == []
    digests.clock.now = at(30, 10, 59, 59)
    assert await digests.refresh() == []
    digests.clock.now = at(30, 11, 0)
    assert len(await digests.refresh()) == 1
    digests.clock.now = at(30, 11, 45)
    assert await digests.refresh() == []
    digests.clock.now = at(30, 14, 10)  # hours without a refresh are not made up for
    assert len(await digests.refresh()) == 1
    assert len(digests.posts()) == 3


async def test_daily_posts_once_per_day_from_its_hour(digests):
    await digests.set("daily", hour=18)
    assert len(await digests.refresh()) == 1  # 10:05: the period began yesterday at 18:00
    digests.clock.now = at(30, 17, 59, 59)
    assert await digests.refresh() == []
    digests.clock.now = at(30, 18, 0)
    assert len(await digests.refresh()) == 1
    for moment in (at(30, 23, 59), at(31, 0, 0), at(31, 17, 45)):
        digests.clock.now = moment
        assert await digests.refresh() == [], moment
    digests.clock.now = at(31, 18, 15)
    assert len(await digests.refresh()) == 1

    show = await digests.show()
    assert "every day at 18:00 UTC" in show["description"]


async def test_daily_at_midnight_posts_again_after_the_day_boundary(digests):
    digests.clock.now = at(30, 23, 50)
    await digests.set("daily")  # hour 0 by default
    assert "every day at 00:00 UTC" in (await digests.show())["description"]
    assert len(await digests.refresh()) == 1
    digests.clock.now = at(30, 23, 59, 59)
    assert await digests.refresh() == []
    digests.clock.now = at(31, 0, 0)
    assert len(await digests.refresh()) == 1


async def test_a_restart_posts_nothing_twice(stopped):
    async with stopped.running():
        await stopped.set("hourly")
        assert len(await stopped.refresh()) == 1

    stopped.clock.now = at(30, 10, 40)
    async with stopped.running():  # a new process: its start-up refresh posts nothing
        assert len(stopped.posts()) == 1
        assert await stopped.refresh() == []
        stopped.clock.now = at(30, 11, 5)
        assert len(await stopped.refresh()) == 1


async def test_two_posters_at_once_post_once(digests):
    """Two processes that both believe they refresh (a lock handed over) share the database."""
    await digests.set("hourly")
    bot = digests.services.bot
    snapshot = await digests.services.stats.snapshot()
    posters = [
        DigestService(
            stats=digests.services.stats,
            renderer=bot.renderer,
            clock=digests.clock,
            refresh_minutes=15,
        )
        for _ in range(2)
    ]
    sent = await asyncio.gather(*(poster.post_due(bot, snapshot) for poster in posters))

    assert sorted(sent) == [0, 1]
    assert len(digests.posts()) == 1


async def test_a_forbidden_channel_switches_the_digest_off_and_show_says_why(digests):
    await digests.set("hourly")
    digests.discord.denied_channels.add(digests.channel_id)
    assert await digests.refresh() == []

    show = await digests.show()
    assert "**Off**" in show["description"]
    assert "not allowed to post in that channel" in show["description"]
    attempts = [r for r in digests.discord.requests if r[1].endswith("/messages")]
    digests.clock.now = at(30, 11, 5)
    assert await digests.refresh() == []
    assert [r for r in digests.discord.requests if r[1].endswith("/messages")] == attempts

    digests.discord.denied_channels.clear()  # the admin fixed the permissions and set it again
    await digests.set("hourly")
    assert len(await digests.refresh()) == 1
    assert "**On**" in (await digests.show())["description"]


async def test_a_deleted_channel_switches_the_digest_off(digests, caplog):
    await digests.set("daily", hour=6)
    digests.discord.delete_channel(digests.channel_id)
    assert await digests.refresh() == []

    show = await digests.show()
    assert "**Off**" in show["description"]
    assert "the channel no longer exists" in show["description"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_server_error_skips_that_period_only(digests):
    await digests.set("hourly")
    digests.discord.inject_error("POST", rf"/channels/{digests.channel_id}/messages", status=503)
    assert await digests.refresh() == []
    assert "Discord did not accept the post" in fields_of_show(await digests.show())["Last digest"]
    assert await digests.refresh() == []  # at most once: the period stays claimed

    digests.clock.now = at(30, 11, 5)
    assert len(await digests.refresh()) == 1
    assert "**On**" in (await digests.show())["description"]


def fields_of_show(embed: dict) -> dict[str, str]:
    return {field["name"]: field["value"] for field in embed["fields"]}


async def test_the_first_digest_shows_the_top_games_median_and_count(digests):
    await digests.set("hourly")
    [post] = await digests.refresh()

    top = current_top(digests.twitch, TOP)
    totals: dict[str, int] = {}
    for stream in top:
        totals[stream.game_id] = totals.get(stream.game_id, 0) + stream.viewer_count
    expected = sorted(totals, key=lambda game: (-totals[game], game))[:5]
    lines = fields_of(post)["Top games by viewers"].splitlines()
    assert len(lines) == 5
    for line, game in zip(lines, expected, strict=True):
        assert f"— {totals[game]:,} viewers" in line
    hostile = re.match(r"`1\.` \*\*(.*)\*\* — ", lines[0]).group(1)  # the most-watched game
    assert hostile.startswith("@\u200beveryone \\*\\*Hot\\*\\* \\[game\\]")
    assert live_markdown(hostile) == []

    summary = stats.stream_summary(top)
    assert fields_of(post)["Median viewers"] == f"{summary.median:,.1f}".removesuffix(".0")
    assert fields_of(post)["Live streams"] == f"{len(top):,}"
    assert "first digest" in post["embeds"][0]["description"]
    [request] = [
        body
        for method, path, body in digests.discord.requests
        if method == "POST" and path == f"/channels/{digests.channel_id}/messages"
    ]
    assert request["allowed_mentions"] == {"parse": []}


async def test_only_server_managers_may_use_digest(digests):
    command = digests.discord.commands["digest"]
    assert int(command["default_member_permissions"]) == MANAGE_GUILD
    assert command["contexts"] == [0]  # servers only

    for subcommand, options in (
        ("set", {"channel": digests.channel_id, "every": "hourly"}),
        ("show", None),
        ("off", None),
    ):
        refused = await digests.command(subcommand, options, permissions=DEFAULT_MEMBER_PERMISSIONS)
        assert "Manage Server" in refused["content"]
    assert "no digest" in (await digests.show())["description"]
    assert await digests.refresh() == []


async def test_off_stops_the_digest(digests):
    await digests.set("hourly")
    assert (await digests.command("off"))["content"] == "The digest is off."
    assert await digests.refresh() == []
    assert "no digest" in (await digests.show())["description"]
    assert "no digest to turn off" in (await digests.command("off"))["content"]


def game_totals_of(twitch: FakeTwitch) -> dict[str, int]:
    totals: dict[str, int] = {}
    for stream in current_top(twitch, TOP):
        totals[stream.game_id] = totals.get(stream.game_id, 0) + stream.viewer_count
    return totals


def ranks_of(twitch: FakeTwitch) -> dict[str, tuple[int, str]]:
    """Each channel's rank (1 = most viewers, ties by stream id) and login."""
    ranks: dict[str, tuple[int, str]] = {}
    for rank, stream in enumerate(current_top(twitch, TOP), start=1):
        ranks.setdefault(stream.user_id, (rank, stream.user_login))
    return ranks


async def test_the_next_digest_shows_each_change_since_the_previous_one(digests):
    await digests.set("hourly")
    await digests.refresh()
    before_totals, before_ranks = game_totals_of(digests.twitch), ranks_of(digests.twitch)

    renamed = hostile_streams(seed=2)
    renamed[-1]["game_name"] = "Renamed Game"  # the same game id under a new name
    digests.twitch.streams = renamed
    digests.clock.now = at(30, 11, 5)
    [post] = await digests.refresh()

    totals, ranks = game_totals_of(digests.twitch), ranks_of(digests.twitch)
    expected = sorted(totals, key=lambda game: (-totals[game], game))[:5]
    lines = fields_of(post)["Top games by viewers"].splitlines()
    assert lines[0].startswith("`1.` **Renamed Game** — ")
    for line, game in zip(lines, expected, strict=True):
        assert f"— {totals[game]:,} viewers" in line
        if game in before_totals:
            change = totals[game] - before_totals[game]
            assert f" {change:+,}" in line, line
            if before_totals[game]:
                assert f"({100 * change / before_totals[game]:+.1f}%)" in line, line
        else:
            assert line.endswith(" · new"), line

    rises = sorted(
        (
            (before_ranks[user][0] - rank, rank, user)
            for user, (rank, _) in ranks.items()
            if user in before_ranks and before_ranks[user][0] > rank
        ),
        key=lambda item: (-item[0], item[1], item[2]),
    )
    climbers = fields_of(post)["Biggest climbers"].splitlines()
    assert len(climbers) == min(5, len(rises)) > 0
    for line, (rise, rank, user) in zip(climbers, rises, strict=False):
        login = ranks[user][1]
        assert line.startswith(f"`#{rank}` ["), line
        assert f"(https://twitch.tv/{login}) — up {rise:,} place" in line, line
        assert f"(from #{before_ranks[user][0]})" in line, line
    assert "Changes since the previous digest" in post["embeds"][0]["description"]


async def test_without_history_the_next_digest_says_there_is_no_comparison(stopped):
    stopped.env["HISTORY_DAYS"] = "0"
    async with stopped.running():
        await stopped.set("hourly")
        await stopped.refresh()
        stopped.clock.now = at(30, 11, 5)
        [post] = await stopped.refresh()

    assert "no longer keeps the data of the previous digest" in post["embeds"][0]["description"]
    assert fields_of(post)["Biggest climbers"].startswith("Shown once there is a previous")
    assert len(fields_of(post)["Top games by viewers"].splitlines()) == 5


async def test_the_digest_shows_its_chart_of_the_top_games(digests):
    await digests.set("hourly")
    [post] = await digests.refresh()

    attachment = digests.discord.embed_image(post)
    assert attachment is not None, "the embed shows no attachment of the message"
    assert attachment["filename"] == "digest-games.png"
    data = digests.discord.attachment_bytes(attachment)
    width, height = png_dimensions(data)
    assert 400 <= width <= 1600 and 250 <= height <= 1000
    assert len(data) < 500 * 1024
    totals = game_totals_of(digests.twitch)
    busiest = max(totals, key=lambda game: (totals[game], game))
    assert attachment["description"].startswith("Top 15 games by viewers: bar chart of 15 games")
    assert f": {totals[busiest]:,}" in attachment["description"]


async def test_without_its_chart_the_digest_still_goes_out(digests):
    await digests.services.bot.renderer.close()  # the chart worker is gone
    await digests.set("hourly")
    [post] = await digests.refresh()

    assert post["attachments"] == []
    assert "image" not in post["embeds"][0]
    assert len(fields_of(post)["Top games by viewers"].splitlines()) == 5
