"""The refresh loop: first run at start-up, then every REFRESH_MINUTES, surviving every failure."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from discord.ext import tasks

from bot import embeds
from bot.client import StreamStatsBot
from bot.config import settings_from_env
from bot.digest_service import DigestService
from bot.history import HistoryService
from bot.refresh import RefreshService
from bot.rendering import ChartRenderer
from bot.supervisor import REFRESH_LOOP, Supervisor
from bot.tokens import utc_now
from cogs.refresh import RefreshCog
from db import queries
from db.leader import AlwaysLeader, LeaderLock, PostgresLeaderLock
from tests.conftest import service_url
from tests.db.test_leader import server_of
from tests.fakes.proxy import Proxy

ENV = {
    "DISCORD_TOKEN": "token",
    "TWITCH_CLIENT_ID": "id",
    "TWITCH_CLIENT_SECRET": "secret",
    "SECRET_KEY": "k" * 32,
    "REFRESH_MINUTES": "0.01",  # 0.6 s, so the test sees several runs
}


async def wait_for(condition, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not await condition():
            await asyncio.sleep(0.05)


def make_bot(refresher, stats, accounts, following, leader: LeaderLock) -> StreamStatsBot:
    renderer = ChartRenderer()  # never started: the refresh loop draws no chart
    return StreamStatsBot(
        settings=settings_from_env(ENV),
        stats=stats,
        refresher=refresher,
        accounts=accounts,
        following=following,
        history=HistoryService(stats, top_n=100, history_days=30),
        digests=DigestService(stats=stats, renderer=renderer, clock=utc_now, refresh_minutes=0.01),
        leader=leader,
        supervisor=Supervisor(restart_delay=0.05),
        renderer=renderer,
    )


async def snapshots_after(snapshot_id: int, count: int) -> None:
    """Wait until `count` more snapshots were committed after `snapshot_id`."""

    async def enough() -> bool:
        latest = await queries.latest_snapshot()
        return latest is not None and latest.id >= snapshot_id + count

    await wait_for(enough)


async def test_loop_runs_at_start_up_and_survives_a_failed_run(
    database, twitch, fake_twitch, stats, accounts, following
):
    refresher = RefreshService(twitch, stats, top_streams=100)
    bot = make_bot(refresher, stats, accounts, following, AlwaysLeader())
    fake_twitch.fail_next(*[503] * 4)  # the first run exhausts its retries and fails
    cog = RefreshCog(bot)
    async with bot:  # set up, never connected: the loop needs no Discord
        await bot.add_cog(cog)

        async def failed_once() -> bool:
            return refresher.last_outcome is not None

        await wait_for(failed_once)
        assert not refresher.last_outcome.ok
        assert await queries.latest_snapshot() is None

        async def snapshot_taken() -> bool:
            return await queries.latest_snapshot() is not None

        await wait_for(snapshot_taken)
        assert bot.supervisor.status(REFRESH_LOOP).running
        assert cog.refresh_top_streams.minutes == 0.01
        await snapshots_after((await queries.latest_snapshot()).id, 1)
        await bot.remove_cog(cog.qualified_name)  # awaits the loop's end
    assert not bot.supervisor.status(REFRESH_LOOP).running
    assert not cog.refresh_top_streams.is_running()


async def test_the_loop_keeps_refreshing_when_the_lock_connection_dies_twice(
    postgres_database, twitch, stats, accounts, following
):
    """The holder's backend is killed, then the next connection dies as it asks for the lock
    (InterfaceError inside the lock): that run is skipped and the next ones refresh again."""
    url = service_url("TEST_POSTGRES_URL", "PostgreSQL")
    async with Proxy(*server_of(url)) as proxy:
        leader = PostgresLeaderLock(proxy.url_for(url))
        bot = make_bot(
            RefreshService(twitch, stats, top_streams=100), stats, accounts, following, leader
        )
        async with bot:
            await bot.add_cog(RefreshCog(bot))
            await snapshots_after(0, 1)
            before = (await queries.latest_snapshot()).id

            proxy.cut_all()
            proxy.cut_next_sending(b"pg_try_advisory_lock")

            await snapshots_after(before, 3)
            assert proxy.cuts == 1
            status = bot.supervisor.status(REFRESH_LOOP)
            assert status.running and status.restarts == 0
            assert leader.held
            await bot.remove_cog("RefreshCog")
        await leader.release()


class ExplodingLeader:
    """A lock whose every question fails with an error nobody planned for."""

    held = False
    asked = 0

    async def acquire(self) -> bool:
        self.asked += 1
        raise RuntimeError("an error of a kind nobody planned for")

    async def release(self) -> None:
        """Nothing held."""


async def test_no_exception_from_a_run_ends_the_loop(
    database, twitch, stats, accounts, following, caplog
):
    leader = ExplodingLeader()
    bot = make_bot(
        RefreshService(twitch, stats, top_streams=100), stats, accounts, following, leader
    )
    async with bot:
        await bot.add_cog(RefreshCog(bot))

        async def asked_three_times() -> bool:
            return leader.asked >= 3

        await wait_for(asked_three_times)
        status = bot.supervisor.status(REFRESH_LOOP)
        assert status.running and status.restarts == 0
        await bot.remove_cog("RefreshCog")
    assert "the refresh failed; trying again at the next run" in caplog.text


async def test_a_loop_that_ends_anyway_is_restarted_and_logged(caplog):
    runs = 0

    @tasks.loop(seconds=0.01)
    async def fragile() -> None:
        nonlocal runs
        runs += 1
        if runs == 2:
            raise KeyError("escaped the loop body")  # tasks.loop ends on this for good

    supervisor = Supervisor(restart_delay=0.05)
    with caplog.at_level(logging.ERROR, logger="bot.supervisor"):
        supervisor.start("fragile", fragile)

        async def ran_again() -> bool:
            return runs >= 5

        await wait_for(ran_again)
    status = supervisor.status("fragile")
    assert status.running and status.restarts == 1
    assert "the fragile loop stopped unexpectedly; restarting it" in caplog.text
    await supervisor.stop("fragile")
    assert not supervisor.status("fragile").running
    assert not fragile.is_running()


async def test_a_loop_stopped_while_waiting_to_restart_stays_stopped():
    @tasks.loop(seconds=0.01)
    async def failing() -> None:
        raise KeyError("always")

    supervisor = Supervisor(restart_delay=0.5)
    supervisor.start("failing", failing)

    async def waiting_to_restart() -> bool:
        return supervisor.status("failing").restarts == 1 and not failing.is_running()

    await wait_for(waiting_to_restart)
    await supervisor.stop("failing")
    await asyncio.sleep(0.8)  # well past the restart delay
    assert not failing.is_running()
    assert supervisor.status("failing").restarts == 1


async def test_a_refresh_longer_than_the_interval_skips_the_next_run(
    database, twitch, fake_twitch, stats, accounts, following, caplog
):
    refresher = RefreshService(twitch, stats, top_streams=100)
    await refresher.refresh()  # the app token is minted: later runs take one request each
    fake_twitch.latency = 1.0  # a run takes over a second; the interval is 0.6 s
    bot = make_bot(refresher, stats, accounts, following, AlwaysLeader())
    async with bot:
        await bot.add_cog(RefreshCog(bot))
        before = (await queries.latest_snapshot()).id

        async def skipped() -> bool:
            return refresher.last_skipped is not None

        await wait_for(skipped)
        skip = refresher.last_skipped
        assert skip.previous_took >= 1.0
        assert refresher.last_outcome.finished_at > skip.due  # it ran past the skipped run
        fake_twitch.latency = 0.0
        await snapshots_after(before, 2)  # the schedule goes on after the skip
        await bot.remove_cog("RefreshCog")
    assert "refresh skipped: the one before took" in caplog.text
    assert "refresh skipped: the previous one is still running" not in caplog.text  # no overlap
    status = embeds.status_embed(
        None,
        next_refresh=None,
        last_error=None,
        last_attempt=None,
        refresh_minutes=0.01,
        skipped=(skip.due, skip.previous_took),
    )
    fields = {field.name: field.value for field in status.fields}
    assert "was skipped: the one before took" in fields["Skipped refresh"]
    assert "longer than the 0.01-minute interval" in fields["Skipped refresh"]


async def test_a_loop_that_lost_its_cancellation_is_cancelled_again(caplog):
    started = asyncio.Event()

    @tasks.loop(hours=1)
    async def deaf() -> None:
        started.set()
        # Swallowed, as a library that loses a cancellation does: the loop then sleeps an hour.
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(3600)

    supervisor = Supervisor(stop_grace=0.1)
    supervisor.start("deaf", deaf)
    await started.wait()
    with caplog.at_level(logging.WARNING, logger="bot.supervisor"):
        async with asyncio.timeout(5):
            await supervisor.stop("deaf")
    assert not deaf.is_running()
    assert "the deaf loop went on after it was cancelled; cancelling it again" in caplog.text
