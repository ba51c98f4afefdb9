"""What the latency benchmarks share: the bot in this process against the fakes, a no-op command
of the same bot as the baseline, one timed command, percentiles.

Not a benchmark itself (`.ci/run` runs every `bench/*.py` except the ones named `_*.py`).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import discord
from discord import app_commands

from bench._support import command_line
from bot.app import Services, running_services
from bot.config import settings_from_env
from tests.e2e.harness import bot_environment
from tests.fakes.discord import FakeDiscord, patched_discord
from tests.fakes.twitch import FakeTwitch

FIRST_USER = 1_100_000_000_000_100_000  # Discord id of user 0; user n is FIRST_USER + n
USERS = (1, 10, 50)
QUICK_USERS = (1, 5)


def crowds_and_rounds(doc: str) -> tuple[tuple[int, ...], int]:
    """The crowd sizes and rounds asked for: `--rounds` (4), `--quick` (1 and 5 users, once)."""
    parser = command_line(doc)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    return (QUICK_USERS, 1) if args.quick else (USERS, args.rounds)


def exit_if_unanswered(unanswered: int) -> None:
    """A command without an answer fails the benchmark: the bot is broken, not slow."""
    if unanswered:
        sys.exit(f"{unanswered} commands got no answer: the bot is broken, not slow")


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


class Crowds:
    """The latencies of some cells (commands, or a command cold and warm) for one crowd size,
    printed as rows of p50/p99 against the no-op cell's, REST calls per answer and failures."""

    def __init__(self, cells: Sequence[str], users: int) -> None:
        self.cells = cells
        self.users = users
        self.latencies: dict[str, list[float]] = {cell: [] for cell in cells}
        self.calls: dict[str, list[int]] = {cell: [] for cell in cells}
        self.failures = dict.fromkeys(cells, 0)

    @staticmethod
    def header(width: int, extra: Sequence[str] = ()) -> str:
        columns = "".join(f" {name:>6}" for name in extra)
        return (
            f"{'command':<{width}} {'users':>5} {'p50 ms':>8} {'p99 ms':>8} {'p50 x':>6}"
            f" {'p99 x':>6} {'calls':>5}{columns} {'fail':>5}"
        )

    async def ask(self, fake: FakeDiscord, cell: str, command: str) -> None:
        """Every user runs `command` at once; the answers count towards `cell`."""
        results = await asyncio.gather(
            *(one_call(fake, command, user) for user in range(self.users)),
            return_exceptions=True,
        )
        self.failures[cell] += sum(isinstance(r, BaseException) for r in results)
        answered = [r for r in results if isinstance(r, tuple)]
        self.latencies[cell] += [seconds for seconds, _ in answered]
        self.calls[cell] += [count for _, count in answered]

    def report(self, width: int, extra: Mapping[str, Sequence[str]] | None = None) -> int:
        """Print a row per cell (the first cell is the baseline); the commands unanswered."""
        base = self.latencies[self.cells[0]]
        base_p50, base_p99 = statistics.median(base), percentile(base, 0.99)
        for cell in self.cells:
            latencies = self.latencies[cell]
            p50, p99 = statistics.median(latencies), percentile(latencies, 0.99)
            late = sum(latency > 3.0 for latency in latencies)
            columns = "".join(f" {value:>6}" for value in (extra or {}).get(cell, ()))
            print(
                f"/{cell:<{width - 1}} {self.users:>5} {p50 * 1000:8.1f} {p99 * 1000:8.1f}"
                f" {p50 / base_p50:6.2f} {p99 / base_p99:6.2f}"
                f" {statistics.mean(self.calls[cell]):5.2f}{columns} {self.failures[cell]:>5}"
                + (f"  {late} past 3 s" if late else "")
            )
        return sum(self.failures.values())
