"""Health for operators (`GET /healthz`): this process does its job, and its data is fresh.

Healthy means: the database answers, the newest snapshot is younger than
`STALE_AFTER_INTERVALS` refresh intervals (or this process started less than one interval ago,
so a first refresh may still be on its way), and this process's refresh loop runs. Anything else
is unhealthy, with the reasons in plain words.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.stats import SnapshotInfo
from bot.supervisor import REFRESH_LOOP, LoopStatus, Supervisor
from bot.tokens import Clock
from db import DATABASE_ERRORS, queries
from db.leader import LeaderLock

log = logging.getLogger(__name__)

STALE_AFTER_INTERVALS = 3


@dataclass(frozen=True)
class HealthReport:
    """The verdict and everything it was based on, as `/healthz` shows it."""

    healthy: bool
    body: dict[str, Any]


def assess(
    *,
    now: datetime,
    started_at: datetime,
    refresh_minutes: float,
    snapshot: SnapshotInfo | None,
    database_ok: bool,
    loop: LoopStatus,
    lock_held: bool,
    last_run: queries.LastRun | None,
) -> HealthReport:
    """Judge the facts; pure, so every rule is tested without a server."""
    interval = timedelta(minutes=refresh_minutes)
    starting = now - started_at < interval
    reasons = []
    if not database_ok:
        reasons.append("the database is unreachable")
    elif snapshot is None:
        if not starting:
            reasons.append("no snapshot has been stored yet")
    elif now - snapshot.taken_at >= STALE_AFTER_INTERVALS * interval and not starting:
        age = (now - snapshot.taken_at).total_seconds() / 60
        reasons.append(
            f"the newest snapshot is {age:.0f} minutes old "
            f"(more than {STALE_AFTER_INTERVALS} refresh intervals)"
        )
    if not loop.running and not (starting and loop.restarts == 0):
        reasons.append("the refresh loop of this process is not running")
    body: dict[str, Any] = {
        "status": "error" if reasons else "ok",
        "database": "ok" if database_ok else "unreachable",
        "snapshot_at": snapshot.taken_at.isoformat() if snapshot else None,
        "snapshot_age_seconds": round((now - snapshot.taken_at).total_seconds(), 1)
        if snapshot
        else None,
        "streams": snapshot.stream_count if snapshot else 0,
        "refresh_loop": {
            "running": loop.running,
            "next_run": loop.next_run.isoformat() if loop.next_run else None,
            "restarts": loop.restarts,
        },
        "refresh_lock_held": lock_held,
        "last_refresh": {
            "finished_at": last_run.finished_at.isoformat(),
            "ok": last_run.error is None,
            "error": last_run.error,
        }
        if last_run
        else None,
    }
    if reasons:
        body["reason"] = "; ".join(reasons)
    return HealthReport(healthy=not reasons, body=body)


class HealthCheck:
    """Gathers the facts of this process for `assess`."""

    def __init__(
        self,
        *,
        supervisor: Supervisor,
        leader: LeaderLock,
        refresh_minutes: float,
        clock: Clock,
    ) -> None:
        self._supervisor = supervisor
        self._leader = leader
        self._refresh_minutes = refresh_minutes
        self._clock = clock
        self._started_at = clock()

    async def report(self) -> HealthReport:
        """Ask the database, the supervisor and the lock; judge."""
        try:
            snapshot = await queries.latest_snapshot()
            last_run = await queries.last_refresh_run()
            database_ok = True
        except DATABASE_ERRORS:
            log.exception("health check: database unreachable")
            snapshot, last_run, database_ok = None, None, False
        return assess(
            now=self._clock(),
            started_at=self._started_at,
            refresh_minutes=self._refresh_minutes,
            snapshot=snapshot,
            database_ok=database_ok,
            loop=self._supervisor.status(REFRESH_LOOP),
            lock_held=self._leader.held,
            last_run=last_run,
        )
