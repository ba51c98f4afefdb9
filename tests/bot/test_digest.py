"""Digests, pure: periods against the calendar, and the content against brute force."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bot import digest
from bot.digest import DigestContent, DigestSetting, DigestStatus, PostRecord, Schedule
from bot.digest_embeds import digest_embed, digest_status_embed
from bot.stats import AsOf, SnapshotInfo, stream_summary
from bot.streams import Stream
from bot.trends import ChannelRank, GameTotal
from tests.fakes.discord import message_violations
from tests.markdown import live_markdown
from tests.strategies import GAMES, hostile_names, logins, snapshots

moments = st.datetimes(
    min_value=datetime(2024, 1, 1),  # noqa: DTZ001
    max_value=datetime(2030, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)
schedules = st.builds(Schedule, st.sampled_from(["hourly", "daily"]), st.integers(0, 23))
SNAPSHOT = SnapshotInfo(7, datetime(2026, 11, 30, 12, tzinfo=UTC), 0)


def brute_period(schedule: Schedule, now: datetime) -> tuple:
    """The calendar hour (hourly), or the day that began at `hour`:00 UTC (daily)."""
    if schedule.every == "hourly":
        return (now.year, now.month, now.day, now.hour)
    return (now - timedelta(hours=schedule.hour)).date()


@given(schedule=schedules, now=moments)
def test_a_period_holds_now_and_starts_at_the_hour_it_should(schedule, now):
    start = digest.period_start(schedule, now)
    following = digest.next_period_start(schedule, now)

    assert start <= now < following
    assert (start.minute, start.second, start.microsecond) == (0, 0, 0)
    if schedule.every == "hourly":
        assert following - start == timedelta(hours=1)
    else:
        assert start.hour == schedule.hour
        assert following - start == timedelta(days=1)


@given(schedule=schedules, first=moments, second=moments)
def test_two_moments_share_a_period_exactly_when_the_calendar_says_so(schedule, first, second):
    same = digest.period_key(schedule, first) == digest.period_key(schedule, second)
    assert same == (brute_period(schedule, first) == brute_period(schedule, second))


def test_periods_at_the_edges():
    daily = Schedule("daily", 18)
    before = datetime(2026, 11, 30, 17, 59, 59, 999_999, tzinfo=UTC)
    assert digest.period_key(daily, before) == "daily 2026-11-29 18:00"
    assert digest.period_key(daily, before + timedelta(microseconds=1)) == "daily 2026-11-30 18:00"
    midnight = Schedule("daily", 0)
    new_year = datetime(2027, 1, 1, tzinfo=UTC)
    assert digest.period_key(midnight, new_year - timedelta(seconds=1)) == "daily 2026-12-31 00:00"
    assert digest.period_key(midnight, new_year) == "daily 2027-01-01 00:00"
    hourly = Schedule("hourly")
    assert digest.period_key(hourly, new_year - timedelta(seconds=1)) == "hourly 2026-12-31 23:00"


previous_totals = st.dictionaries(
    st.sampled_from(GAMES),
    st.builds(GameTotal, st.just("old name"), st.integers(1, 9), st.integers(0, 10**6), st.just(0)),
)


def brute_top_games(streams: list[Stream], previous: dict[str, GameTotal] | None) -> list:
    totals = {
        game: sum(s.viewer_count for s in streams if s.game_id == game)
        for game in {s.game_id for s in streams}
    }
    ranked = sorted(sorted(totals), key=lambda game: totals[game], reverse=True)[:5]
    before = previous or {}
    return [
        (game, totals[game], before[game].total_viewers if game in before else None)
        for game in ranked
    ]


@settings(max_examples=100)
@given(streams=snapshots(), previous=st.one_of(st.none(), previous_totals))
def test_top_games_and_their_changes_match_brute_force(streams, previous):
    lines = digest.top_games(digest.game_totals(streams), previous)

    assert [(g.game_id, g.total_viewers, g.previous) for g in lines] == brute_top_games(
        streams, previous
    )
    for line in lines:
        if line.previous is None:
            assert line.change is None and line.percent is None
        else:
            assert line.change == line.total_viewers - line.previous
            if line.previous:
                assert line.percent == 100 * line.change / line.previous
        members = [s for s in streams if s.game_id == line.game_id]
        assert line.streams == len(members)
        most_watched = min(members, key=lambda s: (-s.viewer_count, s.id))
        assert line.name == most_watched.game_name


@st.composite
def channel_moves(draw):
    """A snapshot whose channels may have several streams, and ranks some had before."""
    streams = draw(snapshots(max_size=120))
    owners = draw(st.integers(1, 150))
    streams = [dataclasses.replace(s, user_id=str(int(s.id) % owners)) for s in streams]
    users = sorted({s.user_id for s in streams})
    before = draw(
        st.dictionaries(
            st.sampled_from(users or ["0"]),
            st.builds(ChannelRank, st.just("old"), st.integers(1, 200), st.integers(0, 99)),
        )
    )
    return streams, before


def brute_rank(streams: list[Stream], user: str) -> int:
    """1 + how many streams are ahead of the channel's best one (more viewers, or a tie broken
    by the lower stream id)."""
    best = min((s for s in streams if s.user_id == user), key=lambda s: (-s.viewer_count, s.id))
    return 1 + sum(
        1
        for s in streams
        if s.viewer_count > best.viewer_count
        or (s.viewer_count == best.viewer_count and s.id < best.id)
    )


@settings(max_examples=100)
@given(moves=channel_moves())
def test_the_biggest_climbers_match_brute_force(moves):
    streams, before = moves
    rises = []
    for user in {s.user_id for s in streams} & set(before):
        now = brute_rank(streams, user)
        if before[user].rank > now:
            rises.append((before[user].rank - now, now, user))
    rises.sort(key=lambda item: (-item[0], item[1], item[2]))

    found = digest.climbers(digest.channel_ranks(streams), before)
    assert [(c.rise, c.rank, c.stream.user_id) for c in found] == rises[:5]
    assert all(c.previous_rank == before[c.stream.user_id].rank for c in found)


def test_compose_says_what_the_changes_are_against():
    streams = (
        Stream(
            "1", "u1", "one", "One", "10", "Ten", "", 50, SNAPSHOT.taken_at, "en", (), "", False
        ),
        Stream(
            "2", "u2", "two", "Two", "20", "Twenty", "", 70, SNAPSHOT.taken_at, "en", (), "", False
        ),
    )
    rows = digest.current_figures(AsOf(SNAPSHOT, streams))
    since = datetime(2026, 11, 30, 11, tzinfo=UTC)
    old = {"10": GameTotal("Ten", 1, 40, 40)}
    ranks = {"u1": ChannelRank("one", 5, 1)}

    first = digest.compose(rows, since=None, previous_totals=None, previous_ranks=None)
    assert (first.comparison, first.climbers) == ("first", ())
    assert [g.change for g in first.games] == [None, None]
    gone = digest.compose(rows, since=since, previous_totals=None, previous_ranks=None)
    assert (gone.comparison, gone.since, gone.climbers) == ("no history", since, ())
    compared = digest.compose(rows, since=since, previous_totals=old, previous_ranks=ranks)
    assert compared.comparison == "compared"
    assert [(g.game_id, g.change) for g in compared.games] == [("20", None), ("10", 10)]
    assert [(c.stream.user_id, c.rise) for c in compared.climbers] == [("u1", 3)]
    assert compared.summary == stream_summary(streams)


@st.composite
def hostile_content(draw):
    streams = draw(snapshots(max_size=40))
    streams = [
        dataclasses.replace(
            s, game_name=draw(hostile_names), user_name=draw(hostile_names), user_login=draw(logins)
        )
        for s in streams
    ]
    before = {s.user_id: ChannelRank(s.user_login, draw(st.integers(1, 100)), 0) for s in streams}
    totals = {s.game_id: GameTotal("x", 1, draw(st.integers(0, 10**6)), 0) for s in streams}
    comparison = draw(st.sampled_from(["first", "no history", "compared"]))
    return digest.compose(
        digest.current_figures(AsOf(SNAPSHOT, tuple(streams))),
        since=None if comparison == "first" else SNAPSHOT.taken_at,
        previous_totals=totals if comparison == "compared" else None,
        previous_ranks=before if comparison == "compared" else None,
    )


@settings(max_examples=50, deadline=None)
@given(content=hostile_content())
def test_a_digest_passes_discord_whatever_the_names(content: DigestContent):
    embed = digest_embed(content, 15).to_dict()

    assert message_violations({"embeds": [embed]}) == []
    fields = {field["name"]: field["value"] for field in embed["fields"]}
    games = fields["Top games by viewers"].splitlines()
    assert len(games) == max(1, len(content.games[:5]))  # "No live streams." when there are none
    for line, game in zip(games, content.games, strict=False):
        name = line.split("** — ")[0].removeprefix(line.split("**")[0] + "**")
        assert live_markdown(name) == [], (line, game.name)
    assert "@everyone" not in str(embed) and "@here" not in str(embed)


@given(reason=hostile_names)
def test_show_passes_discord_whatever_is_stored(reason):
    setting = DigestSetting(
        1, 2, Schedule("daily", 7), SNAPSHOT.taken_at, reason, SNAPSHOT.taken_at
    )
    post = PostRecord(3, "daily 2026-11-30 07:00", 7, SNAPSHOT.taken_at, "failed", reason)
    status = DigestStatus(setting, post, due_now=False, next_period=SNAPSHOT.taken_at)

    embed = digest_status_embed(status).to_dict()
    assert message_violations({"embeds": [embed]}) == []
    assert "**Off**" in embed["description"]
    assert "@everyone" not in str(embed)
