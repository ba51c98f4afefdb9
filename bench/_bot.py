"""What the latency benchmarks share: the bot in this process against the fakes, a no-op command
of the same bot as the baseline, one timed command, percentiles.

Not a benchmark itself (`.ci/run` runs every `bench/*.py` except the ones named `_*.py`).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import discord
from discord import app_commands

from bot.app import Services, running_services
from bot.config import settings_from_env
from tests.e2e.harness import bot_environment
from tests.fakes.discord import FakeDiscord, patched_discord
from tests.fakes.twitch import FakeTwitch

FIRST_USER = 1_100_000_000_000_100_000  # Discord id of user 0; user n is FIRST_USER + n


@asynccontextmanager
async def running_bot(
    twitch: FakeTwitch, **env: str
) -> AsyncIterator[tuple[FakeDiscord, Services]]:
    """The bot, started against the fake Discord and `twitch`, synced and holding a snapshot.

    It also has `/noop`, which answers at once: gateway, REST and discord.py overhead alone.
    """
    with tempfile.TemporaryDirectory() as folder:
        async with FakeDiscord() as fake:
            settings = settings_from_env(bot_environment(fake, twitch, Path(folder), **env))
            with patched_discord(fake):
                async with running_services(settings) as services:
                    bot = services.bot

                    @app_commands.command(name="noop", description="Answers at once")
                    async def noop(interaction: discord.Interaction) -> None:
                        await interaction.response.send_message("ok")

                    bot.tree.add_command(noop)
                    task = asyncio.create_task(bot.start(settings.discord_token))
                    try:
                        await fake.wait_until_identified(timeout=30)
                        await fake.wait_for_commands(timeout=30)
                        while await services.stats.snapshot() is None:
                            await asyncio.sleep(0.05)
                        yield fake, services
                    finally:
                        await bot.close()
                        await task


async def one_call(fake: FakeDiscord, name: str, user: int) -> tuple[float, int]:
    """Seconds until the user saw the answer, and the REST calls the bot made for it."""
    started = time.perf_counter()
    interaction = await fake.slash(name, user_id=FIRST_USER + user)
    await interaction.wait_for_message(timeout=10)
    return time.perf_counter() - started, len(interaction.rest_calls())


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]
