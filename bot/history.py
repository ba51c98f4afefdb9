"""HistoryService: /trends, /channel and their API over the stored history.

Results are computed once per snapshot in each process: the history only changes when a
snapshot is committed, and every key below belongs to the current snapshot's id.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Hashable, Iterable
from datetime import timedelta
from typing import Any, TypeVar

from bot.cache import StatsService
from bot.errors import NoDataYet
from bot.stats import NO_CATEGORY
from bot.streams import by_viewers
from bot.trends import (
    PERIODS,
    ChannelRank,
    ChannelRecord,
    GameTrend,
    Period,
    SnapshotTotals,
    Trends,
    channel_record,
    choose_window,
    game_trend,
    rank_changes,
)
from db import guarded, history

T = TypeVar("T")
SUGGESTIONS = 25  # Discord shows at most 25 autocomplete choices
RECENT = timedelta(days=1)  # channels suggested: those in the top within the last day
GAMES_SEEN = max(PERIODS.values())  # games suggested: those seen within the longest period


LOGIN = re.compile(r"[a-z0-9_]{1,50}")  # Twitch logins: 4-25 of these; older ones shorter


def normal_login(text: str) -> str:
    """A login as typed (`@Name`, spaces around) in the form Twitch stores it."""
    return text.strip().lstrip("@").strip().lower()


def is_login(text: str) -> bool:
    """Whether `text` (as typed) could be a Twitch login at all."""
    return LOGIN.fullmatch(normal_login(text)) is not None


def suggestions(names: Iterable[str], typed: str, limit: int = SUGGESTIONS) -> list[str]:
    """Names starting with `typed` (any case) first, then those containing it; A-Z in each."""
    needle = typed.strip().casefold()
    matching = sorted({n for n in names if needle in n.casefold()}, key=str.casefold)
    return sorted(matching, key=lambda n: not n.casefold().startswith(needle))[:limit]


class HistoryService:
    """Trends over the history and a channel's record; None where there is nothing to show."""

    def __init__(self, stats: StatsService, *, top_n: int | None, history_days: int) -> None:
        self._stats = stats
        self.top_n = top_n
        self.history_days = history_days
        self._memo_of = 0
        self._memo: dict[Hashable, Any] = {}

    async def _once(self, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        """`compute()` once per current snapshot in this process."""
        pointer = await self._stats.snapshot()
        if pointer is None:
            raise NoDataYet
        if pointer.id != self._memo_of:
            self._memo_of, self._memo = pointer.id, {}
        if key not in self._memo:
            self._memo[key] = await compute()
        return self._memo[key]

    async def snapshots(self) -> list[SnapshotTotals]:
        """Every snapshot the history holds, oldest first."""
        return await self._once("snapshots", lambda: guarded(history.snapshots_with_history()))

    async def trends(self, period: Period) -> Trends | None:
        """The games that gained and lost most viewers over `period`; None without history."""

        async def compute() -> Trends | None:
            window = choose_window(await self.snapshots(), period)
            if window is None:
                return None
            before = await guarded(history.game_totals_at(window.start.snapshot_id))
            after = await guarded(history.game_totals_at(window.end.snapshot_id))
            gainers, losers = rank_changes(before, after)
            return Trends(window, gainers, losers)

        return await self._once(("trends", period), compute)

    async def game_names(self) -> dict[str, str]:
        """The games seen within the longest period, by game id, with their newest names.

        Streams without a category are one game (id "") named `NO_CATEGORY`, as in /gamestats.
        """

        async def compute() -> dict[str, str]:
            snapshots = await self.snapshots()
            if not snapshots:
                return {}
            since = snapshots[-1].taken_at - GAMES_SEEN
            first = next(s.snapshot_id for s in snapshots if s.taken_at >= since)
            names = await guarded(history.games_since(first))
            return {game_id: name or NO_CATEGORY for game_id, name in names.items()}

        return await self._once("game-names", compute)

    async def find_game(self, wanted: str) -> str | None:
        """The id of the game `wanted` names: its id (what a suggestion sends) or its name."""
        names = await self.game_names()
        key = wanted.strip()
        if key in names:
            return key
        folded = key.casefold()
        return next((gid for gid, name in sorted(names.items()) if name.casefold() == folded), None)

    async def game_suggestions(self, typed: str) -> list[tuple[str, str]]:
        """(name, game id) of the games whose name matches what was typed, prefixes first."""
        names = await self.game_names()
        by_name: dict[str, str] = {}
        for game_id, name in sorted(names.items()):
            by_name.setdefault(name, game_id)
        return [(name, by_name[name]) for name in suggestions(by_name, typed)]

    async def game_trend(self, game_id: str, period: Period) -> GameTrend | None:
        """One game over `period`; None without history or when it was not seen then."""

        async def compute() -> GameTrend | None:
            snapshots = await self.snapshots()
            window = choose_window(snapshots, period)
            if window is None:
                return None
            first, last = window.start.snapshot_id, window.end.snapshot_id
            totals = await guarded(history.game_history(game_id, first, last))
            inside = [s for s in snapshots if first <= s.snapshot_id <= last]
            return game_trend(window, inside, game_id, totals)

        return await self._once(("game", game_id, period), compute)

    async def _top_now(self) -> dict[str, tuple[str, ChannelRank]]:
        """The current snapshot's channels by login: (user id, rank and viewers)."""

        async def compute() -> dict[str, tuple[str, ChannelRank]]:
            rows = await self._stats.rows()
            ordered = sorted(rows.value, key=by_viewers)
            return {
                s.user_login.lower(): (s.user_id, ChannelRank(s.user_login, rank, s.viewer_count))
                for rank, s in enumerate(ordered, start=1)
            }

        return await self._once("top-now", compute)

    async def channel(self, login: str) -> ChannelRecord | None:
        """A channel by login, now and over the history; None if neither knows it.

        Not kept per snapshot: anyone can ask for any login, and a memo of every answer would
        grow with them. The history read searches every snapshot's channels pack: 33 ms on
        SQLite and 54 ms on PostgreSQL at 30 days (docs/PERFORMANCE.md).
        """
        if not is_login(login):
            return None
        wanted = normal_login(login)
        now = (await self._top_now()).get(wanted)
        user_id = now[0] if now else await guarded(history.channel_of(wanted))
        if user_id is None:
            return None
        points = await guarded(history.channel_history(user_id))
        return channel_record(user_id, wanted, now[1] if now else None, points)

    async def login_suggestions(self, typed: str) -> list[str]:
        """Logins in the top now or within the last day that match what was typed."""

        async def compute() -> set[str]:
            logins = set(await self._top_now())
            snapshots = await self.snapshots()
            if snapshots:
                since = snapshots[-1].taken_at - RECENT
                first = next(s.snapshot_id for s in snapshots if s.taken_at >= since)
                logins |= await guarded(history.logins_since(first))
            return logins

        return suggestions(await self._once("logins", compute), normal_login(typed))
