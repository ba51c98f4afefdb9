"""The health verdict: 200 only with a reachable database, fresh data and a running loop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.health import assess
from bot.stats import SnapshotInfo
from bot.supervisor import LoopStatus
from db.queries import LastRun

START = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
RUNNING = LoopStatus("refresh", running=True, next_run=START + timedelta(minutes=15), restarts=0)
NOT_STARTED = LoopStatus("refresh", running=False, next_run=None, restarts=0)
DIED = LoopStatus("refresh", running=False, next_run=None, restarts=1)


def verdict(
    *,
    minutes_up: float,
    snapshot_age: float | None,
    loop: LoopStatus = RUNNING,
    database_ok: bool = True,
    last_run: LastRun | None = None,
):
    now = START + timedelta(minutes=minutes_up)
    snapshot = (
        None
        if snapshot_age is None
        else SnapshotInfo(7, now - timedelta(minutes=snapshot_age), 1000)
    )
    return assess(
        now=now,
        started_at=START,
        refresh_minutes=15,
        snapshot=snapshot,
        database_ok=database_ok,
        loop=loop,
        lock_held=True,
        last_run=last_run,
    )


@pytest.mark.parametrize(
    ("minutes_up", "snapshot_age", "loop"),
    [
        (1, None, NOT_STARTED),  # just started: the first refresh is on its way
        (1, None, RUNNING),
        (60, 0.5, RUNNING),
        (600, 44.9, RUNNING),  # younger than three intervals
        (5, 500, RUNNING),  # an old snapshot right after a restart: the refresh is on its way
    ],
)
def test_healthy(minutes_up, snapshot_age, loop):
    report = verdict(minutes_up=minutes_up, snapshot_age=snapshot_age, loop=loop)

    assert report.healthy
    assert report.body["status"] == "ok"
    assert "reason" not in report.body


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"minutes_up": 15, "snapshot_age": None}, "no snapshot has been stored yet"),
        ({"minutes_up": 600, "snapshot_age": 45}, "the newest snapshot is 45 minutes old"),
        ({"minutes_up": 60, "snapshot_age": 1, "loop": DIED}, "refresh loop of this process is"),
        ({"minutes_up": 16, "snapshot_age": 1, "loop": NOT_STARTED}, "is not running"),
        ({"minutes_up": 1, "snapshot_age": 1, "database_ok": False}, "database is unreachable"),
    ],
)
def test_unhealthy(kwargs, reason):
    report = verdict(**kwargs)

    assert not report.healthy
    assert report.body["status"] == "error"
    assert reason in report.body["reason"]


def test_the_report_says_what_it_was_based_on():
    failed = LastRun(START, "Twitch did not answer")
    body = verdict(minutes_up=20, snapshot_age=5, last_run=failed).body

    assert body["snapshot_at"] == (START + timedelta(minutes=15)).isoformat()
    assert body["snapshot_age_seconds"] == 300
    assert body["streams"] == 1000
    assert body["refresh_loop"] == {
        "running": True,
        "next_run": RUNNING.next_run.isoformat(),
        "restarts": 0,
    }
    assert body["refresh_lock_held"] is True
    assert body["last_refresh"] == {
        "finished_at": START.isoformat(),
        "ok": False,
        "error": "Twitch did not answer",
    }
