"""The refresh loop: first run at start-up, then every REFRESH_MINUTES, surviving failures."""

from __future__ import annotations

import asyncio

from bot.client import StreamStatsBot
from bot.config import settings_from_env
from bot.refresh import RefreshService
from cogs.refresh import RefreshCog
from db import queries
from db.leader import AlwaysLeader

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


async def test_loop_runs_at_start_up_and_survives_a_failed_run(
    database, twitch, fake_twitch, stats, accounts
):
    refresher = RefreshService(twitch, stats, top_streams=100)
    bot = StreamStatsBot(
        settings=settings_from_env(ENV),
        stats=stats,
        refresher=refresher,
        accounts=accounts,
        leader=AlwaysLeader(),
    )
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
        assert cog.refresh_top_streams.is_running()
        assert cog.refresh_top_streams.minutes == 0.01
        first = await queries.latest_snapshot()

        async def refreshed_again() -> bool:
            latest = await queries.latest_snapshot()
            return latest.id > first.id

        await wait_for(refreshed_again)
        await bot.remove_cog(cog.qualified_name)
    assert not cog.refresh_top_streams.is_running()
