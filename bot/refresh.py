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
from bot.twitch import TwitchClient, WalkProgress
from db import DATABASE_ERRORS, guarded, history, queries
from db.snapshots import SnapshotWriter

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
            f"refresh ok: snapshot {self.snapshot.id}, {self.snapshot.stream_count:,} streams, "
            f"{self.pages} pages, {self.duplicates_dropped} seen twice (dropped), "
            f"{self.duration:.2f} s"
        )


ProgressHook = Callable[[WalkProgress, int | None], None]  # (progress, streams expected)


@dataclass(frozen=True)
class SkippedRun:
    """A scheduled run that did not happen: the refresh before it was still running."""

    due: datetime  # when the skipped run should have started
    previous_took: float  # seconds the refresh before it took


class ProgressLog:
    """Logs a walk's progress at every 10% of the streams expected, and at least every 10 s."""

    def __init__(self, expected: int | None, *, every: float = 10.0) -> None:
        self._expected = expected
        self._every = every
        self._next_share = 0.1
        self._last_log = time.monotonic()

    def page(self, progress: WalkProgress) -> None:
        """Note one more page; log if a tenth of the way or `every` seconds have passed."""
        share = progress.streams / self._expected if self._expected else 0.0
        now = time.monotonic()
        if share < self._next_share and now - self._last_log < self._every:
            return
        while self._next_share <= share:
            self._next_share += 0.1
        self._last_log = now
        budget = "unknown" if progress.budget_left is None else str(progress.budget_left)
        done = f" ({min(share, 1.0):.0%} of {self._expected:,})" if self._expected else ""
        log.info(
            "refresh: %d pages, %s streams%s, %d seen twice, rate budget left %s",
            progress.pages,
            f"{progress.streams:,}",
            done,
            progress.duplicates,
            budget,
        )


class RefreshService:
    """Runs refreshes one at a time; a failed run leaves the previous snapshot untouched."""

    def __init__(
        self,
        twitch: TwitchClient,
        stats: StatsService,
        *,
        top_streams: int | None,
        history_days: int = 30,
        history_channels: int = 1000,
        rng: random.Random | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """`top_streams`: how many of the most-watched streams to keep; None keeps every one."""
        self._twitch = twitch
        self._stats = stats
        self._top_streams = top_streams
        self._history_days = history_days
        self._history_channels = history_channels
        self._clock = clock
        self._rng = rng or random.SystemRandom()
        self._lock = asyncio.Lock()
        self._last_count = 0  # streams of the last walk: what "10%" means when walking them all
        self.last_outcome: RefreshOutcome | None = None
        self.last_skipped: SkippedRun | None = None

    async def refresh_on_schedule(self, due: datetime | None) -> RefreshOutcome | None:
        """The refresh of a run scheduled for `due`, unless the refresh before ran past it.

        A refresh that takes longer than the interval delays the next run; that run is skipped
        (never overlapped, never run back to back) and the schedule goes on from there.
        """
        previous = self.last_outcome
        if due is not None and previous is not None and previous.finished_at > due:
            self.last_skipped = SkippedRun(due=due, previous_took=previous.duration)
            log.warning(
                "refresh skipped: the one before took %.1f s and finished after this run was due",
                previous.duration,
            )
            return None
        return await self.refresh()

    @property
    def running(self) -> bool:
        """True while a refresh is in progress."""
        return self._lock.locked()

    async def refresh(self, on_progress: ProgressHook | None = None) -> RefreshOutcome | None:
        """Run one refresh unless one is already running (then return None at once).

        `on_progress` hears of every page the walk over Twitch reads (for a progress bar).

        Never raises (except cancellation): failures are logged and returned as the outcome.
        """
        if self._lock.locked():
            log.warning("refresh skipped: the previous one is still running")
            return None
        async with self._lock:
            started = time.perf_counter()
            try:
                outcome = await self._refresh(started, on_progress)
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

    async def _refresh(self, started: float, on_progress: ProgressHook | None) -> RefreshOutcome:
        """Walk Get Streams, staging each page as it comes, then swap the snapshot in."""
        walk = self._twitch.walk_streams(self._top_streams)
        expected = self._top_streams or (self._last_count or None)
        report = ProgressLog(expected)
        history_channels = self._history_channels if self._history_days else None
        async with SnapshotWriter(
            history_channels=history_channels, shuffle=self._rng.shuffle
        ) as writer:
            async for page in walk:
                await writer.add(page)
                progress = self._twitch.progress(walk)
                report.page(progress)
                if on_progress is not None:
                    on_progress(progress, expected)
            if walk.unique == 0:
                return self._failed(started, NO_STREAMS, log_it=True)
            snapshot = await writer.commit(
                pages=walk.pages,
                duplicates_dropped=walk.duplicates,
                taken_at=self._clock(),
                every_stream=self._top_streams is None,
            )
        self._last_count = snapshot.stream_count
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
            pages=walk.pages,
            duplicates_dropped=walk.duplicates,
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
