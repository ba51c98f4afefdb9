"""Embed renderers and page builders: content, escaping of strangers' text, Discord's limits."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import discord
import pytest

from bot import embeds
from bot.stats import AsOf, GameStat, SnapshotInfo, StreamSummary, top_streams
from tests.bot.test_stats import stream

SNAPSHOT = SnapshotInfo(id=3, taken_at=datetime(2026, 11, 28, 17, 45, tzinfo=UTC), stream_count=100)
HOSTILE = (
    "**bold** __u__ ~~s~~ `code` ||spoiler|| [click](https://evil.example) @everyone @here\n# big"
)


def within_discord_limits(embed: discord.Embed) -> None:
    assert len(embed.title or "") <= 256
    assert len(embed.description or "") <= 4096
    assert len(embed.fields) <= 25
    for field in embed.fields:
        assert len(field.name) <= 256
        assert len(field.value) <= 1024
    assert len(embed.footer.text or "") <= 2048
    assert len(embed.author.name or "") <= 256
    assert len(embed) <= 6000


def test_safe_text_is_inert_on_one_line():
    text = embeds.safe(HOSTILE, 200)
    assert "\n" not in text
    assert "@everyone" not in text and "@here" not in text
    for raw in ("**bold**", "__u__", "~~s~~", "`code`", "||spoiler||", "[click]"):
        assert raw not in text
    assert "\\*\\*bold\\*\\*" in text


def test_safe_text_is_clipped():
    assert embeds.safe("x" * 500, 40) == "x" * 39 + "…"


def test_footer_says_when_and_how_often():
    assert embeds.footer(SNAPSHOT, 15) == "data as of 2026-11-28 17:45 UTC · refreshes every 15 min"


def hundred_streams(**overrides):
    return [replace(stream(i, 1000 - i), **overrides) for i in range(100)]


@pytest.mark.parametrize("order", ["desc", "asc"])
def test_top_has_ten_pages_of_ten_with_rank_channel_game_viewers(order):
    ranked = top_streams(hundred_streams(), order)
    pages = embeds.top_pages(AsOf(SNAPSHOT, ranked), order, 15)

    assert len(pages) == 10
    first_lines = pages[0].description.splitlines()
    assert len(first_lines) == 10
    if order == "desc":
        assert first_lines[0] == ("`  1.` [User 0](https://twitch.tv/user0) — Chess · **1,000**")
    else:
        assert first_lines[0] == "`100.` [User 99](https://twitch.tv/user99) — Chess · **901**"
        assert pages[0].title.endswith("(ascending)")
    assert pages[-1].footer.text == embeds.footer(SNAPSHOT, 15)
    assert pages[-1].timestamp == SNAPSHOT.taken_at


def test_hostile_and_oversized_names_stay_inert_and_within_limits():
    huge = HOSTILE * 40
    streams = hundred_streams(user_name=huge, game_name=huge, title=huge, user_login="a)b](x")
    for page in embeds.top_pages(AsOf(SNAPSHOT, top_streams(streams)), "desc", 15):
        within_discord_limits(page)
        assert "@everyone" not in page.description
        assert "(https://twitch.tv/a%29b%5D%28x)" in page.description
    games = [GameStat(str(i), huge, 100 - i, 5) for i in range(60)]
    for page in embeds.game_pages(AsOf(SNAPSHOT, games), 15):
        within_discord_limits(page)
    within_discord_limits(embeds.game_embed(games[0], SNAPSHOT, 15))


def test_games_are_ranked_fifteen_per_page():
    games = [GameStat(str(i), f"Game {i}", 100 - i, 50) for i in range(40)]
    pages = embeds.game_pages(AsOf(SNAPSHOT, games), 15)

    assert len(pages) == 3
    assert pages[0].author.name == "40 games · page 1/3"
    assert pages[2].description.splitlines()[0].startswith("` 31.` **Game 30** — 70 streams")
    assert len(pages[2].description.splitlines()) == 10


def test_the_no_category_entry_is_named():
    pages = embeds.game_pages(AsOf(SNAPSHOT, [GameStat("", "", 4, 9)]), 15)
    assert "**No category** — 4 streams · top 9 viewers" in pages[0].description


def test_stream_summary_embed_shows_every_figure_and_explains_duplicates():
    summary = StreamSummary(
        total=1000, median=12.5, odd=480, even=520, duplicates=830, shared_counts=95
    )
    embed = embeds.stream_summary_embed(AsOf(SNAPSHOT, summary), 15)
    fields = {field.name: field.value for field in embed.fields}

    assert fields["Median viewers"] == "12.5"
    assert fields["Odd viewer count"] == "480"
    assert fields["Even viewer count"] == "520"
    assert fields["Duplicates"] == "830"
    assert fields["Shared counts"] == "95"
    assert fields["Streams covered"] == "1,000"
    assert "shared with at least one other stream" in fields["What duplicates means"]
    within_discord_limits(embed)


def test_status_embed_reports_a_failed_refresh():
    embed = embeds.status_embed(
        SNAPSHOT,
        next_refresh=datetime(2026, 11, 28, 18, 0, tzinfo=UTC),
        last_error="Twitch: Twitch answered 503 on /streams",
        last_attempt=datetime(2026, 11, 28, 17, 46, tzinfo=UTC),
        refresh_minutes=15,
    )
    fields = {field.name: field.value for field in embed.fields}
    assert fields["Streams"] == "100"
    assert "failed" in fields["Last refresh"] and "503" in fields["Last refresh"]
    assert fields["Next refresh"].startswith("<t:")


def test_status_embed_before_the_first_snapshot():
    embed = embeds.status_embed(
        None, next_refresh=None, last_error=None, last_attempt=None, refresh_minutes=15
    )
    fields = {field.name: field.value for field in embed.fields}
    assert "none yet" in fields["Snapshot"]
    assert fields["Last refresh"] == "no refresh has finished yet"
