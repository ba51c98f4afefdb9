"""The refresh service: fetch the top N live streams and replace the stored snapshot atomically."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.cache import StatsService
from bot.errors import TwitchError
from bot.stats import SnapshotInfo
from bot.twitch import TwitchClient
from db import DATABASE_ERRORS, guarded, history, queries

log = logging.getLogger(__name__)

# What a failed run says in public (/status, /healthz); the details go to the log only.
NO_STREAMS = "Twitch returned no live streams"
DATABASE_DOWN = "the database was unreachable or failing"
UNEXPECTED = "an unexpected error (the details are in the bot's log)"


@dataclass(frozen=True)
class RefreshOutcome:
    """What one refresh run did; `error` says in plain words why it failed (None on success)."""

    finished_at: datetime
    duration: float
    snapshot: SnapshotInfo | None = None
    pages: int = 0
    duplicates_dropped: int = 0
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the run committed a new snapshot."""
        return self.error is None

    @property
    def summary(self) -> str:
        """The one line that says what the run did (logged, and printed by `streamstats`)."""
        if self.snapshot is None:
            return f"refresh failed, keeping the previous snapshot: {self.error}"
        return (
            f"refresh ok: snapshot {self.snapshot.id}, {self.snapshot.stream_count} streams, "
            f"{self.pages} pages, {self.duplicates_dropped} duplicates dropped, "
            f"{self.duration:.2f} s"
        )


class RefreshService:
    """Runs refreshes one at a time; a failed run leaves the previous snapshot untouched."""

    def __init__(
        self,
        twitch: TwitchClient,
        stats: StatsService,
        *,
        top_streams: int,
        history_days: int = 30,
        history_channels: int = 1000,
        rng: random.Random | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._twitch = twitch
        self._stats = stats
        self._top_streams = top_streams
        self._history_days = history_days
        self._history_channels = history_channels
        self._clock = clock
        self._rng = rng or random.SystemRandom()
        self._lock = asyncio.Lock()
        self.last_outcome: RefreshOutcome | None = None

    @property
    def running(self) -> bool:
        """True while a refresh is in progress."""
        return self._lock.locked()

    async def refresh(self) -> RefreshOutcome | None:
        """Run one refresh unless one is already running (then return None at once).

        Never raises (except cancellation): failures are logged and returned as the outcome.
        """
        if self._lock.locked():
            log.warning("refresh skipped: the previous one is still running")
            return None
        async with self._lock:
            started = time.perf_counter()
            try:
                outcome = await self._refresh(started)
            except TwitchError as error:
                log.error("refresh failed, keeping the previous snapshot: %s", error)
                outcome = self._failed(started, error.public)
            except DATABASE_ERRORS:
                log.exception("refresh failed (database), keeping the previous snapshot")
                outcome = self._failed(started, DATABASE_DOWN)
            except Exception:
                log.exception("refresh failed, keeping the previous snapshot")
                outcome = self._failed(started, UNEXPECTED)
            self.last_outcome = outcome
            await self._record(outcome)
            return outcome

    @staticmethod
    async def _record(outcome: RefreshOutcome) -> None:
        """Log the attempt where every process's /status can read it (best effort)."""
        snapshot_id = outcome.snapshot.id if outcome.snapshot else None
        try:
            await queries.record_refresh_run(outcome.finished_at, outcome.error, snapshot_id)
        except DATABASE_ERRORS:
            log.exception("could not record the refresh attempt")

    async def last_run(self) -> queries.LastRun | None:
        """The latest refresh attempt, whichever process made it."""
        return await guarded(queries.last_refresh_run())

    async def _refresh(self, started: float) -> RefreshOutcome:
        fetched = await self._twitch.fetch_top_streams(self._top_streams)
        if not fetched.streams:
            return self._failed(started, NO_STREAMS, log_it=True)
        streams = list(fetched.streams)
        self._rng.shuffle(streams)  # the specification asks for the rows in random order
        snapshot = await queries.replace_snapshot(
            streams,
            pages=fetched.pages,
            duplicates_dropped=fetched.duplicates_dropped,
            taken_at=self._clock(),
            history_channels=self._history_channels if self._history_days else None,
        )
        try:
            await self._stats.snapshot_committed(snapshot)
        except Exception:
            # The snapshot is committed; the cache pointer expires on its own shortly.
            log.exception("snapshot %d committed but the cache could not be updated", snapshot.id)
        await self._prune_history()
        outcome = RefreshOutcome(
            finished_at=datetime.now(UTC),
            duration=time.perf_counter() - started,
            snapshot=snapshot,
            pages=fetched.pages,
            duplicates_dropped=fetched.duplicates_dropped,
        )
        log.info("%s", outcome.summary)
        return outcome

    async def _prune_history(self) -> None:
        """Forget history older than HISTORY_DAYS (all of it with 0), after the commit."""
        try:
            await history.prune_history(self._clock() - timedelta(days=self._history_days))
        except DATABASE_ERRORS:
            log.exception("could not prune the history; the next refresh tries again")

    @staticmethod
    def _failed(started: float, reason: str, *, log_it: bool = False) -> RefreshOutcome:
        if log_it:
            log.error("refresh failed, keeping the previous snapshot: %s", reason)
        return RefreshOutcome(
            finished_at=datetime.now(UTC), duration=time.perf_counter() - started, error=reason
        )
