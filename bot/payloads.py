"""The JSON shapes of the statistics: the web API and `streamstats stats --json` give the same."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.following import Following
from bot.stats import AsOf, GameStat, HourCount, Order, StreamSummary, ranked
from bot.streams import Stream
from bot.trends import ChannelRecord, GameChange, GameTrend, Trends, Window


def stream_summary(result: AsOf[StreamSummary]) -> dict[str, Any]:
    """Median, odd/even and duplicate figures, and when the data was taken."""
    summary = result.value
    return {
        "total": summary.total,
        "median": summary.median,
        "odd": summary.odd,
        "even": summary.even,
        "duplicates": summary.duplicates,
        "shared_counts": summary.shared_counts,
        "snapshot_at": result.snapshot.taken_at.isoformat(),
    }


def game_stats(result: AsOf[Sequence[GameStat]]) -> dict[str, Any]:
    """Every game in ranking order."""
    games = [
        {
            "game_id": game.game_id,
            "game_name": game.game_name,
            "streams": game.streams,
            "max_viewers": game.max_viewers,
        }
        for game in result.value
    ]
    return {"games": games, "snapshot_at": result.snapshot.taken_at.isoformat()}


def top_streams(result: AsOf[Sequence[Stream]], order: Order) -> dict[str, Any]:
    """The top 100 with their ranks (1 = most viewers), in the order asked for."""
    streams = [
        {
            "rank": rank,
            "id": stream.id,
            "user_login": stream.user_login,
            "user_name": stream.user_name,
            "game_name": stream.game_name,
            "viewer_count": stream.viewer_count,
            "started_at": stream.started_at.isoformat(),
        }
        for rank, stream in ranked(result.value, order)
    ]
    return {"streams": streams, "snapshot_at": result.snapshot.taken_at.isoformat()}


def start_hours(result: AsOf[Sequence[HourCount]]) -> dict[str, Any]:
    """Streams per rounded start hour, newest first; hours in UTC as `2026-11-30T14:00:00Z`."""
    hours = [
        {"hour": entry.hour.strftime("%Y-%m-%dT%H:%M:%SZ"), "streams": entry.streams}
        for entry in result.value
    ]
    return {"snapshot_at": result.snapshot.taken_at.isoformat(), "hours": hours}


def following(result: AsOf[Following]) -> dict[str, Any]:
    """Your followed live channels against the top: ranks (null outside), the gap, shared tags."""
    compared = result.value
    lowest = compared.lowest
    return {
        "snapshot_at": result.snapshot.taken_at.isoformat(),
        "top_n": compared.top_n,
        "followed_live": [
            {
                "id": entry.stream.id,
                "user_login": entry.stream.user_login,
                "user_name": entry.stream.user_name,
                "game_name": entry.stream.game_name,
                "viewer_count": entry.stream.viewer_count,
                "rank": entry.rank,
                "viewers_needed": entry.viewers_needed,
            }
            for entry in compared.followed_live
        ],
        "in_top": compared.in_top,
        "lowest": None
        if lowest is None
        else {
            "user_login": lowest.stream.user_login,
            "viewer_count": lowest.stream.viewer_count,
            "viewers_needed": lowest.viewers_needed,
        },
        "shared_tags": [
            {
                "tag": tag.tag,
                "top_streams": tag.top_streams,
                "followed_streams": tag.followed_streams,
            }
            for tag in compared.shared_tags
        ],
    }


def _window(window: Window) -> dict[str, Any]:
    return {
        "period": window.period,
        "start_at": window.start.taken_at.isoformat(),
        "end_at": window.end.taken_at.isoformat(),
        "span_seconds": int(window.span.total_seconds()),
        "shorter_than_period": window.short,
        "snapshot_at": window.end.taken_at.isoformat(),
    }


def _change(change: GameChange) -> dict[str, Any]:
    return {
        "game_id": change.game_id,
        "game_name": change.name,
        "viewers_before": change.before,
        "viewers_after": change.after,
        "change": change.change,
        "percent": change.percent,  # null: the game was not in the top at the start ("new")
    }


def trends(result: Trends) -> dict[str, Any]:
    """The games that gained and lost most total viewers over the period, as /trends shows."""
    return {
        **_window(result.window),
        "gainers": [_change(change) for change in result.gainers],
        "losers": [_change(change) for change in result.losers],
    }


def game_trend(result: GameTrend) -> dict[str, Any]:
    """One game over the period: its series, change and peak, as /trends game:<name> shows."""
    return {
        **_window(result.window),
        "game_id": result.game_id,
        "game_name": result.name,
        "change": _change(result.change),
        "peak": {
            "at": result.peak.taken_at.isoformat(),
            "total_viewers": result.peak.total_viewers,
        },
        "series": [
            {"at": p.taken_at.isoformat(), "total_viewers": p.total_viewers, "streams": p.streams}
            for p in result.points
        ],
    }


def channel(record: ChannelRecord, top_n: int | None) -> dict[str, Any]:
    """A channel now (null outside the top) and over the history, as /channel shows."""
    now = record.now
    return {
        "user_id": record.user_id,
        "login": record.login,
        "top_n": top_n,
        "now": None if now is None else {"rank": now.rank, "viewers": now.viewers},
        "best_rank": record.best_rank,
        "peak_viewers": record.peak_viewers,
        "snapshots": record.snapshots,
        "first_seen": record.first_seen.isoformat() if record.first_seen else None,
        "last_seen": record.last_seen.isoformat() if record.last_seen else None,
        "ranks": [
            {"at": p.taken_at.isoformat(), "rank": p.rank, "viewers": p.viewers}
            for p in record.points
        ],
    }
