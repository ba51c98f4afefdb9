"""History across refreshes of changing data from the fake Twitch, read back as /trends and
/channel read it: deltas, the window's start, a period longer than the history, retention and
renamed games. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot import trend_charts
from bot.errors import NoDataYet
from bot.history import HistoryService
from bot.refresh import RefreshService
from bot.rendering import ChartRenderer, thread_pool
from bot.stats import NO_CATEGORY
from db import history as stored
from tests.fakes.twitch import make_stream

JUST_CHATTING, LOL, ART = "509658", "21779", "509660"


def streams(*games: tuple[str, str, list[int]]) -> list[dict]:
    """Streams of the given (game id, name, viewer counts); stream i is streamer<i>."""
    out, index = [], 0
    for game_id, name, counts in games:
        for viewers in counts:
            out.append(make_stream(index, viewers, game_id=game_id, game_name=name))
            index += 1
    return out


@pytest.fixture
def refresher(database, twitch, stats, clock) -> RefreshService:
    return RefreshService(
        twitch, stats, top_streams=100, history_days=1, history_channels=3, clock=clock
    )


@pytest.fixture
def service(stats) -> HistoryService:
    return HistoryService(stats, top_n=100, history_days=1)


@pytest.fixture
async def renderer() -> AsyncIterator[ChartRenderer]:
    drawing = ChartRenderer(thread_pool)
    drawing.start()
    yield drawing
    await drawing.close()


async def refresh(refresher, fake_twitch, clock, data, minutes=15):
    fake_twitch.streams = data
    outcome = await refresher.refresh()
    assert outcome is not None and outcome.ok, outcome
    clock.advance(minutes=minutes)
    return outcome.snapshot


async def test_trends_compare_the_snapshot_nearest_the_start_with_the_newest(
    refresher, service, fake_twitch, clock
):
    # 30 minutes apart: 0, 30, 60, 90 minutes.
    await refresh(refresher, fake_twitch, clock, streams((LOL, "LoL", [50]), (ART, "Art", [5])), 30)
    start = await refresh(
        refresher, fake_twitch, clock, streams((LOL, "LoL", [60]), (ART, "Art", [5])), 30
    )
    await refresh(refresher, fake_twitch, clock, streams((LOL, "LoL", [1]), (ART, "Art", [5])), 30)
    end = await refresh(
        refresher,
        fake_twitch,
        clock,
        streams((LOL, "LoL", [20, 10]), (JUST_CHATTING, "Just Chatting", [40])),
    )

    trends = await service.trends("1h")  # 90 - 60 = 30: the snapshot taken at 30 minutes

    assert (trends.window.start.snapshot_id, trends.window.end.snapshot_id) == (start.id, end.id)
    assert not trends.window.short
    assert [(c.game_id, c.before, c.after, c.change, c.percent) for c in trends.gainers] == [
        (JUST_CHATTING, 0, 40, 40, None)
    ]
    assert [(c.game_id, c.before, c.after, c.change, c.percent) for c in trends.losers] == [
        (LOL, 60, 30, -30, -50.0),
        (ART, 5, 0, -5, -100.0),
    ]


async def test_a_period_longer_than_the_history_covers_what_there_is(
    refresher, service, fake_twitch, clock
):
    with pytest.raises(NoDataYet):  # before the first snapshot, as every statistic says
        await service.trends("24h")
    first = await refresh(refresher, fake_twitch, clock, streams((LOL, "LoL", [10])), 10)
    only = await service.trends("24h")
    assert only.window.start == only.window.end  # one snapshot: a trend needs two
    assert only.gainers == only.losers == ()

    last = await refresh(refresher, fake_twitch, clock, streams((LOL, "LoL", [25])), 15)
    trends = await service.trends("7d")

    assert trends.window.short
    assert (trends.window.start.snapshot_id, trends.window.end.snapshot_id) == (first.id, last.id)
    assert trends.window.span == timedelta(minutes=10)
    assert [(c.game_id, c.change) for c in trends.gainers] == [(LOL, 15)]


async def test_a_renamed_game_is_one_game_under_its_newest_name(
    refresher, service, fake_twitch, clock
):
    await refresh(refresher, fake_twitch, clock, streams((LOL, "League", [10, 5])))
    await refresh(refresher, fake_twitch, clock, streams((LOL, "League of Legends", [30])))

    assert await service.find_game("league") is None  # the older name no longer finds it
    assert await service.find_game("LEAGUE OF LEGENDS") == LOL
    assert await service.game_suggestions("leag") == [("League of Legends", LOL)]
    trend = await service.game_trend(LOL, "24h")

    assert trend.name == "League of Legends"
    assert [(p.total_viewers, p.streams) for p in trend.points] == [(15, 2), (30, 1)]
    assert (trend.change.before, trend.change.after, trend.change.percent) == (15, 30, 100.0)
    assert trend.peak.total_viewers == 30
    [gainer] = (await service.trends("1h")).gainers
    assert (gainer.game_id, gainer.name, gainer.change) == (LOL, "League of Legends", 15)


async def test_a_channels_record_over_refreshes(refresher, service, fake_twitch, clock):
    # streamer0..2 with changing viewers; only the top 3 channels are kept (HISTORY_CHANNELS).
    first = clock()
    await refresh(refresher, fake_twitch, clock, streams((LOL, "LoL", [100, 50, 10, 1])))
    await refresh(refresher, fake_twitch, clock, streams((LOL, "LoL", [5, 500, 10, 1])))
    last = clock()  # the time of the next refresh
    await refresh(refresher, fake_twitch, clock, streams((LOL, "LoL", [0, 0, 0, 7])))

    record = await service.channel("@Streamer1 ")

    assert record.now is not None
    # streamer3 leads with 7; three tie at 0, in stream id order: streamer1 is third.
    assert (record.now.rank, record.now.viewers) == (3, 0)
    assert (record.best_rank, record.peak_viewers, record.snapshots) == (1, 500, 3)
    assert (record.first_seen, record.last_seen) == (first, last)
    assert [(p.rank, p.viewers) for p in record.points] == [(2, 50), (1, 500), (3, 0)]

    streamer3 = await service.channel("streamer3")
    assert streamer3.now.rank == 1
    assert streamer3.snapshots == 1  # fourth of four twice: outside the 3 channels kept
    assert await service.channel("nobody_like_this") is None
    assert "streamer3" in await service.login_suggestions("STREAMER")


async def test_retention_forgets_history_older_than_history_days(
    refresher, service, fake_twitch, clock
):
    old = await refresh(refresher, fake_twitch, clock, streams((LOL, "LoL", [10])), 60 * 12)
    kept = await refresh(refresher, fake_twitch, clock, streams((LOL, "LoL", [20])), 60 * 13)
    # 25 hours after the first refresh, 13 after the second: HISTORY_DAYS=1 drops the first.
    newest = await refresh(refresher, fake_twitch, clock, streams((LOL, "LoL", [30])))

    assert [s.snapshot_id for s in await stored.snapshots_with_history()] == [kept.id, newest.id]
    assert await stored.game_totals_at(old.id) == {}
    trends = await service.trends("7d")
    assert trends.window.start.snapshot_id == kept.id
    assert [(c.game_id, c.change) for c in trends.gainers] == [(LOL, 10)]


async def test_no_history_days_writes_nothing_and_prunes_what_exists(
    database, twitch, stats, fake_twitch, clock, service
):
    keeping = RefreshService(twitch, stats, top_streams=100, history_days=30, clock=clock)
    await refresh(keeping, fake_twitch, clock, streams((LOL, "LoL", [10])))
    assert len(await stored.snapshots_with_history()) == 1

    off = RefreshService(twitch, stats, top_streams=100, history_days=0, clock=clock)
    await refresh(off, fake_twitch, clock, streams((LOL, "LoL", [20])))

    assert await stored.snapshots_with_history() == []
    assert await service.trends("24h") is None
    record = await service.channel("streamer0")  # still in the top now, without history
    assert (record.now.rank, record.snapshots, record.best_rank) == (1, 0, None)


async def test_streams_without_a_category_are_one_game_named_no_category(
    refresher, service, fake_twitch, clock
):
    await refresh(refresher, fake_twitch, clock, streams(("", "", [10, 5]), (LOL, "LoL", [1])))
    await refresh(refresher, fake_twitch, clock, streams(("", "", [40]), (LOL, "LoL", [1])))

    [(name, game_id)] = await service.game_suggestions("no cat")
    assert (name, game_id) == (NO_CATEGORY, "")
    assert await service.find_game(NO_CATEGORY) == ""  # what the suggestion sends back
    trend = await service.game_trend("", "1h")
    assert [(p.total_viewers, p.streams) for p in trend.points] == [(15, 2), (40, 1)]


async def test_trends_chart_the_biggest_gainers_once_per_snapshot(
    refresher, service, renderer, fake_twitch, clock
):
    games = [(f"{index}", f"Game {index}") for index in range(1, 8)]
    await refresh(refresher, fake_twitch, clock, streams(*((g, n, [1]) for g, n in games)), 30)
    # Game i gains i * 10 viewers: the 5 biggest gainers are games 7 down to 3.
    await refresh(
        refresher, fake_twitch, clock, streams(*((g, n, [10 * int(g)]) for g, n in games))
    )
    result = await service.trends("1h")

    chart = await trend_charts.gainers(renderer, service, result)

    assert chart is not None
    assert chart.description.startswith("Total viewers of the 5 biggest gainers over the last hour")
    charted = [
        f"Game {index}: from 1 to {index * 10}, peak {index * 10}" for index in (7, 6, 5, 4, 3)
    ]
    assert [part in chart.description for part in charted] == [True] * 5
    order = [chart.description.index(part) for part in charted]
    assert order == sorted(order)  # the biggest gain first, as the list shows them
    assert "Game 2" not in chart.description
    assert await trend_charts.gainers(renderer, service, result) == chart
    assert renderer.renders == 1  # once per snapshot, however many ask

    undrawn = await service.trends("6h")
    await refresh(refresher, fake_twitch, clock, streams(*((g, n, [1]) for g, n in games)))
    # A refresh between the list and its chart: no chart rather than one of newer figures.
    assert await trend_charts.gainers(renderer, service, undrawn) is None
    assert await trend_charts.gainers(renderer, service, result) == chart  # still that snapshot's
    newer = await trend_charts.gainers(renderer, service, await service.trends("1h"))
    assert newer is None  # back to the figures of the start: no gainer, no line to draw
    assert renderer.renders == 1


async def test_games_and_a_channel_are_charted_over_the_history(
    refresher, service, renderer, fake_twitch, clock
):
    twin = ("99", "LoL", [1])  # another game of the same name
    await refresh(refresher, fake_twitch, clock, streams((LOL, "LoL", [10, 5]), (ART, "Art", [7])))
    await refresh(
        refresher, fake_twitch, clock, streams((LOL, "LoL", [30]), (ART, "Art", [70]), twin)
    )

    game = await trend_charts.game(renderer, await service.game_trend(LOL, "24h"))
    assert game.description.startswith("LoL: total viewers over the last 24 hours")
    assert "LoL: from 15 to 30, peak 30 (2 points)" in game.description
    gainers = await trend_charts.gainers(renderer, service, await service.trends("24h"))
    assert "Art: from 7 to 70" in gainers.description
    assert "LoL: from 15 to 30" in gainers.description
    assert "LoL (99): from 0 to 1" in gainers.description  # told apart, not one line lost
    rank = await trend_charts.channel(renderer, service, await service.channel("streamer0"))
    assert "Best rank 1, latest 2, over 2 snapshots" in rank.description


async def test_no_chart_without_two_snapshots_of_history(
    database, twitch, stats, renderer, fake_twitch, clock
):
    service = HistoryService(stats, top_n=100, history_days=0)
    off = RefreshService(twitch, stats, top_streams=100, history_days=0, clock=clock)
    await refresh(off, fake_twitch, clock, streams((LOL, "LoL", [10])))
    record = await service.channel("streamer0")  # in the top now, without history
    assert await trend_charts.channel(renderer, service, record) is None

    keeping = RefreshService(twitch, stats, top_streams=100, history_days=1, clock=clock)
    await refresh(keeping, fake_twitch, clock, streams((LOL, "LoL", [10])))
    trend = await service.game_trend(LOL, "24h")  # one snapshot: a trend needs two
    assert await trend_charts.game(renderer, trend) is None
    assert await trend_charts.gainers(renderer, service, await service.trends("24h")) is None
    assert renderer.renders == 0
