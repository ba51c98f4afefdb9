"""/trends and /channel renderers: what they say, and that Discord accepts them whatever the
names and figures (the same checks as tests/bot/test_embeds.py, by the fake Discord's rules)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from bot import trend_embeds
from bot.trends import (
    PERIODS,
    ChannelPoint,
    ChannelRank,
    GameChange,
    GamePoint,
    GameTrend,
    SnapshotTotals,
    Trends,
    Window,
    channel_record,
)
from tests.bot.test_embeds import hostile, refused
from tests.fakes.discord import choice_violations, message_violations
from tests.markdown import live_markdown, shown, template
from tests.strategies import game_ids, hostile_names, logins

T0 = datetime(2026, 11, 30, 12, tzinfo=UTC)
viewers = st.integers(0, 10**8)
periods = st.sampled_from(list(PERIODS))


def totals(n: int, at: datetime) -> SnapshotTotals:
    return SnapshotTotals(n, at, streams=1000, total_viewers=10**6, median=12.5)


windows = st.builds(
    lambda period, minutes, short: Window(
        period, totals(1, T0), totals(2, T0 + timedelta(minutes=minutes)), short
    ),
    periods,
    st.integers(0, 7 * 24 * 60),
    st.booleans(),
)


@st.composite
def changes(draw: st.DrawFn, sign: int) -> tuple[GameChange, ...]:
    out = []
    for _ in range(draw(st.integers(0, 10))):
        before, delta = draw(viewers), draw(st.integers(1, 10**8))
        after = max(0, before + sign * delta)
        out.append(
            GameChange(
                game_id=draw(game_ids | st.just("")),
                name=draw(hostile_names),
                before=before,
                after=after,
                change=after - before,
                percent=(after - before) * 100 / before if before else None,
            )
        )
    return tuple(out)


CHANGE_LINE = template(r"\d+\. \*\*{}\*\* [+-][\d,]+ \((new|-|[+-][\d,]+\.\d%)\)")


@hostile
@given(window=windows, gainers=changes(1), losers=changes(-1))
def test_trends_embed_passes_discord_whatever_the_names(window, gainers, losers):
    embed = trend_embeds.trends_embed(Trends(window, gainers, losers), 15)

    assert refused(embed) == []
    for field in embed.fields:
        for line in field.value.splitlines():
            assert CHANGE_LINE.fullmatch(line) or line.startswith("No game"), line


def test_trends_embed_says_how_much_history_it_is_based_on():
    window = Window("24h", totals(1, T0), totals(2, T0 + timedelta(minutes=25)), short=True)
    gainer = GameChange("1", "Chess", 100, 150, 50, 50.0)
    newcomer = GameChange("2", "Art", 0, 40, 40, None)
    loser = GameChange("3", "", 80, 0, -80, -100.0)

    embed = trend_embeds.trends_embed(Trends(window, (gainer, newcomer), (loser,)), 15)

    assert "based on the last 25 minutes" in embed.description
    assert "less than the last 24 hours" in embed.description
    assert [f.value for f in embed.fields] == [
        "1. **Chess** +50 (+50.0%)\n2. **Art** +40 (new)",
        "1. **No category** -80 (-100.0%)",
    ]
    single = Window("1h", totals(2, T0), totals(2, T0), short=True)
    lonely = trend_embeds.trends_embed(Trends(single, (), ()), 15)
    assert "Only one snapshot" in lonely.description
    assert lonely.fields == []


@hostile
@given(
    name=hostile_names,
    window=windows,
    points=st.lists(st.builds(GamePoint, st.just(T0), viewers, viewers), min_size=1, max_size=700),
)
def test_game_trend_embed_passes_discord_whatever_the_name_and_series(name, window, points):
    change = GameChange("1", name, points[0].total_viewers, points[-1].total_viewers, 0, None)
    trend = GameTrend(
        window, "1", name, tuple(points), change, max(points, key=lambda p: p.total_viewers)
    )

    embed = trend_embeds.game_trend_embed(trend, 15)

    assert refused(embed) == []
    title = template(r"{} over the last (hour|6 hours|24 hours|7 days)").fullmatch(embed.title)
    assert title, embed.title  # the name escaped once, as it reads
    assert live_markdown(title[1], line_start=True) == []
    assert len(embed.fields[-1].value.splitlines()) == min(len(points), 12)


@hostile
@given(
    login=logins,
    now=st.none() | st.builds(ChannelRank, st.just("x"), st.integers(1, 10**5), viewers),
    points=st.lists(
        st.builds(ChannelPoint, st.just(T0), st.integers(1, 10**5), viewers), max_size=50
    ),
    days=st.integers(0, 3650),
    top_n=st.sampled_from([1000, None]),  # None: TOP_STREAMS=all
)
def test_channel_embed_passes_discord_whatever_the_login(login, now, points, days, top_n):
    record = channel_record("7", login, now, points)

    embed = trend_embeds.channel_embed(record, top_n=top_n, history_days=days, refresh_minutes=15)

    assert refused(embed) == []
    assert live_markdown(embed.title, line_start=True) == []
    absent = "not live now" if top_n is None else "not in the top 1,000 now"
    assert (embed.fields[0].value == absent) == (now is None)


@hostile
@given(typed=hostile_names, period=periods)
def test_sentences_pass_discord_whatever_was_typed(typed, period):
    for text in (
        trend_embeds.unknown_channel(typed, 1000, 30),
        trend_embeds.unknown_trend_game(typed),
        trend_embeds.game_not_in_period(typed, period),
    ):
        assert message_violations({"content": text}) == []
    match = template(r"“{}” has not been in the top 1,000 .*").fullmatch(
        trend_embeds.unknown_channel(typed, 1000, 30)
    )
    assert match
    everything = trend_embeds.unknown_channel(typed, None, 30)
    assert message_violations({"content": everything}) == []
    assert template(r"“{}” is not live now and not among the channels .*").fullmatch(everything)


@hostile
@given(pairs=st.lists(st.tuples(hostile_names, game_ids | st.just("")), max_size=25))
def test_suggestions_pass_discord_whatever_the_names(pairs):
    choices = trend_embeds.choices(pairs)

    assert choice_violations([choice.to_dict() for choice in choices]) == []


def test_durations_read_in_the_largest_whole_unit():
    assert [
        trend_embeds.duration(timedelta(seconds=s)) for s in (30, 60, 25 * 60, 7200, 86400 * 3)
    ] == ["less than a minute", "1 minute", "25 minutes", "2 hours", "3 days"]


def test_a_games_trend_title_shows_the_name_as_written():
    window = Window("1h", totals(1, T0), totals(2, T0 + timedelta(hours=1)), short=False)
    point = GamePoint(T0, 10, 1)
    change = GameChange("1", "a_b *c*", 10, 10, 0, 0.0)
    trend = GameTrend(window, "1", "a_b *c*", (point,), change, point)

    embed = trend_embeds.game_trend_embed(trend, 15)

    assert embed.title == r"a\_b \*c\* over the last hour"
    assert shown(embed.title) == "a_b *c* over the last hour"
