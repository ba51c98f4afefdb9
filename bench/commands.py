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

from bench._bot import Crowds, crowds_and_rounds, exit_if_unanswered, one_call, running_bot
from tests.fakes.discord import FakeDiscord
from tests.fakes.twitch import FakeTwitch, random_streams

COMMANDS = ("noop", "streamstats", "gamestats", "top")
WIDTH = 12  # of the command column


async def measure(fake: FakeDiscord, crowds: tuple[int, ...], rounds: int) -> int:
    """Print the table; the number of commands that got no answer.

    Rounds take the commands in turn (no-op, /streamstats, /gamestats, /top, no-op, ...), so
    whatever slows the process now and then (a full garbage collection) falls on each alike.
    """
    unanswered = 0
    print(Crowds.header(WIDTH))
    for users in crowds:
        crowd = Crowds(COMMANDS, users)
        for _ in range(rounds):
            for name in COMMANDS:
                await crowd.ask(fake, name, name)
        unanswered += crowd.report(WIDTH)
    assert not fake.violations, fake.violations
    return unanswered


async def main() -> None:
    crowds, rounds = crowds_and_rounds(__doc__)
    async with (
        FakeTwitch(streams=random_streams(1500)) as twitch,
        running_bot(twitch, REQUIRE_LOGIN="false") as (fake, _),
    ):
        for name in COMMANDS[1:]:  # warm the cache once, as any first user would
            await one_call(fake, name, 0)
        unanswered = await measure(fake, crowds, rounds)
    exit_if_unanswered(unanswered)


if __name__ == "__main__":
    asyncio.run(main())
