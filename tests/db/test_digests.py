"""Digest settings and period claims, on SQLite and on PostgreSQL: one claim per guild and
period whoever races for it, and the current figures agree with the history's."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from tortoise import connections
from tortoise.migrations.api import migrate

from bot import digest
from bot.digest import Schedule
from bot.trends import ChannelRank
from db import close_database, digests, history, open_database, queries, tortoise_config
from db.models import RefreshRun
from db.snapshots import replace_snapshot
from tests.db.test_migrations import empty_database  # noqa: F401 (a fixture, used by name)
from tests.strategies import snapshots

T0 = datetime(2026, 11, 30, 10, 5, tzinfo=UTC)
GUILD, OTHER_GUILD, CHANNEL, OTHER_CHANNEL = 101, 102, 201, 202


async def claim(guild: int = GUILD, period: str = "hourly 2026-11-30 10:00", at=T0):
    return await digests.claim_period(guild, period, snapshot_id=1, channel_id=CHANNEL, at=at)


async def test_a_period_is_claimed_once_however_many_race_for_it(database):
    claims = await asyncio.gather(*(claim() for _ in range(8)))

    assert len([c for c in claims if c is not None]) == 1
    assert await claim() is None  # later, too (after a restart, in another process)
    assert await claim(OTHER_GUILD) is not None  # another guild's period is its own
    assert await claim(period="hourly 2026-11-30 11:00") is not None


async def test_claimed_periods_are_found_per_guild(database):
    await claim(GUILD, "hourly 2026-11-30 10:00")
    await claim(OTHER_GUILD, "daily 2026-11-29 18:00")

    wanted = {GUILD: "hourly 2026-11-30 10:00", OTHER_GUILD: "hourly 2026-11-30 10:00", 103: "x"}
    assert await digests.posted_periods(wanted) == {GUILD}
    assert await digests.posted_periods({}) == set()


async def test_set_show_switch_off_and_set_again(database):
    assert await digests.digest_of(GUILD) is None
    await digests.set_digest(GUILD, CHANNEL, Schedule("daily", 6), set_by=9, at=T0)
    await digests.set_digest(OTHER_GUILD, CHANNEL, Schedule("hourly"), set_by=9, at=T0)
    assert [d.guild_id for d in await digests.active_digests()] == [GUILD, OTHER_GUILD]

    # A failed post switches it off only while it still posts where the post failed.
    assert not await digests.disable_digest(GUILD, OTHER_CHANNEL, "gone", at=T0)
    assert await digests.disable_digest(GUILD, CHANNEL, "not allowed", at=T0)
    off = await digests.digest_of(GUILD)
    assert (off.disabled_reason, off.disabled_at, off.schedule) == (
        "not allowed",
        T0,
        Schedule("daily", 6),
    )
    assert [d.guild_id for d in await digests.active_digests()] == [OTHER_GUILD]

    again = await digests.set_digest(GUILD, OTHER_CHANNEL, Schedule("hourly"), set_by=9, at=T0)
    assert (again.channel_id, again.disabled_reason) == (OTHER_CHANNEL, None)
    assert await digests.remove_digest(GUILD)
    assert not await digests.remove_digest(GUILD)
    assert await digests.digest_of(GUILD) is None


async def test_the_previous_digest_is_the_last_one_sent(database):
    first = await claim(period="a")
    failed = await claim(period="b")
    current = await claim(period="c")
    await digests.finish_post(first, "sent", message_id=5)
    await digests.finish_post(failed, "failed", error="Discord did not answer")

    previous = await digests.previous_post(GUILD, current)
    assert (previous.id, previous.state) == (first, "sent")
    assert await digests.previous_post(GUILD, first) is None
    last = await digests.last_post(GUILD)
    assert (last.id, last.state, last.error) == (current, "claimed", None)


async def test_old_claims_are_pruned(database):
    await claim(period="old", at=T0 - timedelta(days=40))
    await claim(period="new", at=T0)

    assert await digests.prune_posts(T0 - timedelta(days=31)) == 1
    assert (await digests.last_post(GUILD)).period == "new"
    assert await claim(period="old") is not None  # forgotten: that period is long gone anyway


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(streams=snapshots().filter(bool))  # a refresh never stores an empty snapshot
async def test_the_current_figures_agree_with_the_history(database, streams):
    """Now comes from the rows, then from the history: both must count the same way."""
    snapshot = await replace_snapshot(
        streams, pages=1, duplicates_dropped=0, taken_at=T0, history_channels=1000
    )
    loaded = await queries.load_streams()

    assert digest.game_totals(loaded.value) == await history.game_totals_at(snapshot.id)
    ranks = await history.channel_ranks_at(snapshot.id)
    # A channel ranked where it was before has not climbed: nobody climbs against itself.
    now = digest.channel_ranks(loaded.value)
    assert {user: rank for user, (rank, _) in now.items()} == {
        user: rank.rank for user, rank in ranks.items()
    }
    assert digest.climbers(now, ranks) == ()
    worse = {user: ChannelRank(rank.login, rank.rank + 1, 0) for user, rank in ranks.items()}
    assert {c.stream.user_id for c in digest.climbers(now, worse, limit=10**6)} == set(ranks)


async def test_upgrading_keeps_the_data_and_adds_digests(empty_database):  # noqa: F811
    url = empty_database
    await migrate(config=tortoise_config(url), target="models.0006_history")
    placeholders = "?, ?, ?" if url.startswith("sqlite") else "$1, $2, $3"
    insert = f"INSERT INTO refresh_runs (finished_at, error, snapshot_id) VALUES ({placeholders})"  # noqa: S608
    await connections.get("default").execute_query(insert, [T0, None, 1])
    await close_database()

    await open_database(url)  # the current release: the digests migration runs here
    try:
        assert [run.snapshot_id for run in await RefreshRun.all()] == [1]
        await digests.set_digest(GUILD, CHANNEL, Schedule("hourly"), set_by=9, at=T0)
        assert await claim() is not None
        assert await claim() is None
    finally:
        await close_database()
