"""Embed renderers and page builders: content, escaping of strangers' text, Discord's limits."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import discord
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import embeds, following, stats
from bot.stats import (
    NO_CATEGORY,
    AsOf,
    GameStat,
    HourCount,
    SnapshotInfo,
    StreamSummary,
    top_streams,
)
from tests.bot.test_stats import stream
from tests.fakes.discord import choice_violations, message_violations
from tests.markdown import live_markdown, shown, template
from tests.strategies import game_ids, hostile_names, logins

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


def test_footer_says_what_it_covers_when_and_how_often():
    assert embeds.footer(SNAPSHOT, 15) == (
        "the top 100 · data as of 2026-11-28 17:45 UTC · refreshes every 15 min"
    )
    everything = replace(SNAPSHOT, stream_count=97_412, every_stream=True)
    assert embeds.footer(everything, 15) == (
        "all 97,412 live streams · data as of 2026-11-28 17:45 UTC · refreshes every 15 min"
    )


def test_figures_over_every_live_stream_say_so():
    everything = replace(SNAPSHOT, stream_count=97_412, every_stream=True)
    three = [stream(i, 10 * i, "1", "Chess") for i in range(3)]
    summary = stats.stream_summary(three)
    embed = embeds.stream_summary_embed(AsOf(replace(everything, stream_count=3), summary), 15)
    assert embed.description == "Over **all 3** live streams on Twitch."
    status = embeds.status_embed(
        everything, next_refresh=None, last_error=None, last_attempt=None, refresh_minutes=15
    )
    assert {field.name: field.value for field in status.fields}["Streams"] == (
        "all 97,412 live streams"
    )
    assert embeds.unknown_game("Chess", everything).startswith(
        "No live stream among all 97,412 live streams is playing “Chess”."
    )


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
    assert fields["Streams"] == "the top 100"
    assert "failed" in fields["Last refresh"] and "503" in fields["Last refresh"]
    assert fields["Next refresh"].startswith("<t:")


def test_status_embed_before_the_first_snapshot():
    embed = embeds.status_embed(
        None, next_refresh=None, last_error=None, last_attempt=None, refresh_minutes=15
    )
    fields = {field.name: field.value for field in embed.fields}
    assert "none yet" in fields["Snapshot"]
    assert fields["Last refresh"] == "no refresh has finished yet"


# --- Strangers' text against Discord's rules, as the fake Discord checks every message ---

WHEN = datetime(2026, 11, 28, 18, 0, tzinfo=UTC)
hostile = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
games = st.one_of(
    st.builds(
        GameStat,
        game_id=game_ids,
        game_name=hostile_names,
        streams=st.integers(1, 10**6),
        max_viewers=st.integers(0, 10**8),
    ),
    st.builds(GameStat, st.just(""), st.just(""), st.integers(1, 10**6), st.integers(0, 10**8)),
)


@st.composite
def hostile_streams(draw: st.DrawFn) -> list:
    """Up to 120 live streams (more than /top shows) whose every text field is hostile."""
    count = draw(st.integers(1, 120))
    return [
        replace(
            stream(index, draw(st.integers(0, 10**8))),
            user_login=draw(logins),
            user_name=draw(hostile_names),
            game_name=draw(hostile_names),
            title=draw(hostile_names),
        )
        for index in range(count)
    ]


def refused(embed: discord.Embed) -> list[str]:
    """What Discord would refuse in a message carrying this embed ([] when it accepts it)."""
    return message_violations({"embeds": [embed.to_dict()]})


def assert_clipped(clipped: str, whole: str, limit: int, read=str) -> None:
    """`clipped` is `whole` when that fits `limit`, else how `whole` begins and an ellipsis."""
    assert len(clipped) <= limit
    if len(whole) <= limit:
        assert clipped == whole
    else:
        assert clipped.endswith("…")
        assert read(whole).startswith(read(clipped.removesuffix("…")))


@pytest.mark.parametrize(
    "name",
    [
        "[a](https://evil.example) **bold** [c](https://evil.example)",  # one escape for all
        "*\u200d*bold*\u200d*",
        "1. a list",
        "-# subtext",
        "\u200b# a heading behind a zero-width space",
        "<#110000000000000032> <@&110000000000000031> </top:110000000000000033> <t:1:R>",
        "@everyone @here",
    ],
)
def test_markdown_and_mentions_stay_inert_where_escape_markdown_leaves_them(name):
    assert live_markdown(embeds.safe(name, 200), line_start=True) == []


def test_a_name_of_underscores_is_clipped_after_escaping_never_inside_an_escape():
    title = embeds.game_embed(GameStat("1", "_" * 200, 3, 9), SNAPSHOT, 15).title

    assert title == "\\_" * 127 + "…"
    assert embeds.safe("ab" + "_" * 10, 6) == "ab\\_…"


@hostile
@given(text=hostile_names, limit=st.integers(1, 300))
def test_safe_text_is_inert_and_fits_its_limit_after_escaping(text, limit):
    clipped = embeds.safe(text, limit)

    assert live_markdown(clipped, line_start=True) == []
    assert_clipped(clipped, embeds.safe(text, 100_000), limit, read=shown)


@given(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=200))
def test_escaping_shows_the_text_as_it_was_written(text):
    assert shown(embeds.safe(text, 1_000)).replace("@\u200b", "@") == text.strip()


@hostile
@given(text=hostile_names, limit=st.integers(1, 300))
def test_plain_text_is_one_line_and_fits_its_limit(text, limit):
    clipped = embeds.plain(text, limit)

    assert not any(char in clipped for char in "\r\n\x85\u2028\u2029")
    assert_clipped(clipped, embeds.plain(text, 100_000), limit)


@hostile
@given(game=games)
def test_one_game_embed_passes_discord_whatever_the_name(game):
    embed = embeds.game_embed(game, SNAPSHOT, 15)

    assert refused(embed) == []
    assert live_markdown(embed.title, line_start=True) == []


GAME_LINE = template(r"` *\d+\.` \*\*{}\*\* — [\d,]+ streams · top [\d,]+ viewers")


@hostile
@given(ranking=st.lists(games, min_size=1, max_size=40))
def test_game_pages_pass_discord_whatever_the_names(ranking):
    for page in embeds.game_pages(AsOf(SNAPSHOT, ranking), 15):
        assert refused(page) == []
        for line in page.description.splitlines():
            match = GAME_LINE.fullmatch(line)
            assert match, line
            assert live_markdown(match[1]) == []


TOP_LINE = template(
    r"` *\d+\.` (?:\[{}\]\(https://twitch\.tv/[\w%.~-]*\)|{}) — {} · \*\*[\d,]+\*\*"
)


@hostile
@given(streams=hostile_streams(), order=st.sampled_from(["desc", "asc"]))
def test_top_pages_pass_discord_whatever_the_names(streams, order):
    for page in embeds.top_pages(AsOf(SNAPSHOT, top_streams(streams, order)), order, 15):
        assert refused(page) == []
        for line in page.description.splitlines():
            match = TOP_LINE.fullmatch(line)
            assert match, line
            assert all(live_markdown(slot) == [] for slot in match.groups() if slot)


@hostile
@given(error=hostile_names)
def test_status_embed_passes_discord_whatever_the_error_says(error):
    embed = embeds.status_embed(
        SNAPSHOT, next_refresh=WHEN, last_error=error, last_attempt=WHEN, refresh_minutes=15
    )

    assert refused(embed) == []
    last = {field.name: field.value for field in embed.fields}["Last refresh"]
    match = template(r"failed <t:\d+:R>: {}").fullmatch(last)
    assert match, last
    assert live_markdown(match[1]) == []


@given(
    figures=st.builds(
        StreamSummary,
        total=st.integers(0, 10**12),
        median=st.one_of(st.none(), st.floats(0, 10**12)),
        odd=st.integers(0, 10**12),
        even=st.integers(0, 10**12),
        duplicates=st.integers(0, 10**12),
        shared_counts=st.integers(0, 10**12),
    )
)
def test_stream_summary_embed_passes_discord_whatever_the_figures(figures):
    assert refused(embeds.stream_summary_embed(AsOf(SNAPSHOT, figures), 15)) == []


@hostile
@given(display_name=hostile_names, login=logins)
def test_whoami_embed_passes_discord_whatever_the_twitch_names(display_name, login):
    embed = embeds.whoami_embed(display_name, login, linked_at=WHEN, session_ends=WHEN)

    assert refused(embed) == []
    account = {field.name: field.value for field in embed.fields}["Twitch account"]
    match = template(r"{} \({}\)").fullmatch(account)
    assert match, account
    assert live_markdown(match[1], line_start=True) == [] and live_markdown(match[2]) == []


def test_whoami_shows_the_display_name_and_the_login_escaped():
    embed = embeds.whoami_embed("Viewer_One", "the_real_one", linked_at=WHEN, session_ends=WHEN)
    fields = {field.name: field.value for field in embed.fields}

    assert fields["Twitch account"] == "Viewer\\_One (the\\_real\\_one)"
    assert fields["Session ends"] == discord.utils.format_dt(WHEN, "R")


@hostile
@given(display_name=hostile_names)
def test_linked_notice_passes_discord_whatever_the_display_name(display_name):
    text = embeds.linked_notice(display_name, WHEN)

    assert message_violations({"content": text}) == []
    match = template(
        r"Linked to Twitch account \*\*{}\*\*\. Your session ends <t:\d+:R>\."
    ).fullmatch(text)
    assert match, text
    assert live_markdown(match[1]) == []


@hostile
@given(typed=hostile_names, streams=st.integers(0, 10**6))
def test_unknown_game_sentence_passes_discord_whatever_was_typed(typed, streams):
    text = embeds.unknown_game(typed, replace(SNAPSHOT, stream_count=streams))

    assert message_violations({"content": text}) == []
    match = template(r"No live stream in the current top [\d,]+ is playing “{}”\. .*").fullmatch(
        text
    )
    assert match, text
    assert live_markdown(match[1]) == []


@hostile
@given(suggested=st.lists(games, max_size=25))
def test_game_choices_pass_discord_whatever_the_names(suggested):
    choices = embeds.game_choices(suggested)

    assert choice_violations([choice.to_dict() for choice in choices]) == []
    assert [choice.value for choice in choices] == [g.game_id or NO_CATEGORY for g in suggested]


def test_a_long_game_name_is_suggested_clipped_with_an_ellipsis():
    (choice,) = embeds.game_choices([GameStat("1", "Ä" * 99 + "\u0308" + "x" * 50, 3, 9)])

    assert choice.name == "Ä" * 98 + "…"


@settings(max_examples=40, deadline=None)
@given(
    counts=st.lists(st.integers(1, 10**6), max_size=200),
    taken_at=st.datetimes(
        min_value=datetime(2020, 1, 1),  # noqa: DTZ001 - hypothesis attaches the time zone
        max_value=datetime(2035, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
)
def test_hour_pages_pass_discord_and_list_every_hour_newest_first(counts, taken_at):
    top = taken_at.replace(minute=0, second=0, microsecond=0)
    hours = tuple(
        HourCount(top - timedelta(hours=index), count) for index, count in enumerate(counts)
    )
    snapshot = SnapshotInfo(3, taken_at, sum(counts))
    pages = embeds.hour_pages(AsOf(snapshot, hours), 15)

    assert len(pages) == max(1, -(-len(hours) // embeds.HOURS_PER_PAGE))
    lines = []
    for page in pages:
        assert refused(page) == []
        lines += page.description.splitlines()
    if hours:
        assert lines == [
            f"<t:{int(h.hour.timestamp())}:t> · <t:{int(h.hour.timestamp())}:R> — "
            f"**{h.streams:,}** {'stream' if h.streams == 1 else 'streams'}"
            for h in hours
        ]


FOLLOWED_LINE = template(
    r"`(?:# *\d+| *—)` (?:\[{}\]\(https://twitch\.tv/[\w%.~-]*\)|{}) — {} · \*\*[\d,]+\*\* "
    r"viewers(?: · not in the top [\d,]+, (?:needs \*\*[\d,]+\*\* more|would get in now))?"
)
GAP_LINE = template(
    r"Gap to enter: \*\*[\d,]+\*\*(?: more viewers for {}, your least-watched live channel\."
    r"|\. Your least-watched live channel, {}, (?:is in the top|now has more viewers than the "
    r"last stream of the top)\.|\. The top holds only [\d,]+ streams right now: every live "
    r"channel fits\.)"
)
TAG_LINE = template(r"{} — top [\d,]+ · yours [\d,]+|… and [\d,]+ more")


@hostile
@given(
    top=hostile_streams(),
    followed=hostile_streams(),
    tags=st.lists(st.lists(hostile_names, max_size=3), min_size=1),
    top_n=st.integers(1, 150),
)
def test_following_pages_pass_discord_whatever_the_names_and_tags(top, followed, tags, top_n):
    """Followed streams overlap the top (same ids); every stream carries hostile tags."""
    tagged = [replace(s, tags=tuple(tags[i % len(tags)])) for i, s in enumerate(top + followed)]
    top, followed = tagged[: len(top)], tagged[len(top) :]
    snapshot = replace(SNAPSHOT, stream_count=len(top))
    result = following.compare(following.index_top(top), followed, top_n)

    pages = embeds.following_pages(AsOf(snapshot, result), 15)

    assert len(pages) == -(-len(result.followed_live) // 10)
    for page in pages:
        assert refused(page) == []
        head, body = page.description.split("\n\n")
        assert GAP_LINE.fullmatch(head.splitlines()[1]), head
        for line in body.splitlines():
            assert FOLLOWED_LINE.fullmatch(line), line
        (tags_field,) = page.fields
        if result.shared_tags:
            assert all(TAG_LINE.fullmatch(line) for line in tags_field.value.splitlines())


def test_following_says_when_nothing_followed_is_live():
    result = following.compare(following.index_top([stream(1, 5)]), [], 100)
    (page,) = embeds.following_pages(AsOf(SNAPSHOT, result), 15)
    assert page.description == "None of your followed channels is live right now."
    assert page.fields == []


@pytest.mark.parametrize(
    ("top_n", "followed", "gap"),
    [
        (2, [stream(1, 50)], "**0**. Your least-watched live channel, User 1, is in the top."),
        (3, [stream(9, 1)], "**0**. The top holds only 2 streams right now: every live channel "
         "fits."),
        (2, [stream(9, 31)], "**0**. Your least-watched live channel, User 9, now has more viewers "
         "than the last stream of the top."),
        (2, [stream(9, 30)], "**1** more viewers for User 9, your least-watched live channel."),
    ],
)  # fmt: skip
def test_following_headline_and_gap(top_n, followed, gap):
    top = [stream(1, 50), stream(2, 30)]
    result = following.compare(following.index_top(top), followed, top_n)
    snapshot = replace(SNAPSHOT, stream_count=2)

    head = embeds.following_pages(AsOf(snapshot, result), 15)[0].description.split("\n\n")[0]

    inside = "1" if followed[0].id == "1" else "0"
    verb = "is" if inside == "1" else "are"
    assert head.splitlines() == [
        f"**{inside}** of your **1** live channel {verb} in the top **{top_n}**.",
        f"Gap to enter: {gap}",
    ]
