"""Slash-command latency through the real discord.py client and the fake Discord.

    .venv/bin/python -m bench.commands [--rounds 4] [--quick]

For 1, 10 and 50 users pressing at once, it measures the time from the INTERACTION_CREATE
dispatch to the first visible message, for /streamstats, /gamestats and /top (memory engine,
warm cache) and for a no-op command of the same bot in the same run (the baseline: gateway,
REST and discord.py overhead alone). Prints p50/p99 and their ratios to the no-op's, the REST
calls per answer, failures, and whether any answer came past Discord's 3-second window.
`--quick`: 1 and 5 users, one round.
"""

from __future__ import annotations

import asyncio
import statistics
import sys

from bench._bot import one_call, percentile, running_bot
from bench._support import command_line
from tests.fakes.discord import FakeDiscord
from tests.fakes.twitch import FakeTwitch, random_streams

USERS = (1, 10, 50)
QUICK_USERS = (1, 5)
COMMANDS = ("noop", "streamstats", "gamestats", "top")


async def measure(fake: FakeDiscord, crowds: tuple[int, ...], rounds: int) -> int:
    """Print the table; the number of commands that got no answer.

    Rounds take the commands in turn (no-op, /streamstats, /gamestats, /top, no-op, ...), so
    whatever slows the process now and then (a full garbage collection) falls on each alike.
    """
    unanswered = 0
    print(
        f"{'command':<12} {'users':>5} {'p50 ms':>8} {'p99 ms':>8} {'p50 x':>6} {'p99 x':>6}"
        f" {'calls':>5} {'fail':>5}"
    )
    for users in crowds:
        latencies: dict[str, list[float]] = {name: [] for name in COMMANDS}
        calls: dict[str, list[int]] = {name: [] for name in COMMANDS}
        failures = dict.fromkeys(COMMANDS, 0)
        for _ in range(rounds):
            for name in COMMANDS:
                results = await asyncio.gather(
                    *(one_call(fake, name, user) for user in range(users)), return_exceptions=True
                )
                failures[name] += sum(isinstance(r, BaseException) for r in results)
                answered = [r for r in results if isinstance(r, tuple)]
                latencies[name] += [seconds for seconds, _ in answered]
                calls[name] += [count for _, count in answered]
        base = statistics.median(latencies["noop"]), percentile(latencies["noop"], 0.99)
        for name in COMMANDS:
            p50, p99 = statistics.median(latencies[name]), percentile(latencies[name], 0.99)
            late = sum(latency > 3.0 for latency in latencies[name])
            print(
                f"/{name:<11} {users:>5} {p50 * 1000:8.1f} {p99 * 1000:8.1f}"
                f" {p50 / base[0]:6.2f} {p99 / base[1]:6.2f}"
                f" {statistics.mean(calls[name]):5.2f} {failures[name]:>5}"
                + (f"  {late} past 3 s" if late else "")
            )
            unanswered += failures[name]
    assert not fake.violations, fake.violations
    return unanswered


async def main() -> None:
    parser = command_line(__doc__)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    crowds, rounds = (QUICK_USERS, 1) if args.quick else (USERS, args.rounds)
    async with (
        FakeTwitch(streams=random_streams(1500)) as twitch,
        running_bot(twitch, REQUIRE_LOGIN="false") as (fake, _),
    ):
        for name in COMMANDS[1:]:  # warm the cache once, as any first user would
            await one_call(fake, name, 0)
        unanswered = await measure(fake, crowds, rounds)
    if unanswered:
        sys.exit(f"{unanswered} commands got no answer: the bot is broken, not slow")


if __name__ == "__main__":
    asyncio.run(main())
