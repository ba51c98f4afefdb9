"""/following latency through the real discord.py client, the fake Discord and the fake Twitch.

    .venv/bin/python -m bench.following [--rounds 4] [--quick]

For 1, 10 and 50 linked users asking at once, the time from the INTERACTION_CREATE dispatch to
the first message the user sees, for /following cold (the first ask after a new snapshot: one
Get Followed Streams call per user, which the fake Twitch answers after a simulated 50 ms) and
warm (asked again: from the cache), against a no-op command of the same bot in the same run
(the baseline). Every round starts with a new snapshot, then takes no-op, cold and warm in
turn. Prints p50/p99 and their ratios to the no-op's, the REST calls and Twitch calls per
answer, failures, and answers past Discord's 3 seconds. `--quick`: 1 and 5 users, one round.
"""

from __future__ import annotations

import asyncio
import statistics
import sys

import aiohttp

from bench._bot import FIRST_USER, one_call, percentile, running_bot
from bench._support import command_line
from bot.app import Services
from tests.fakes.discord import FakeDiscord
from tests.fakes.twitch import FakeTwitch, random_streams

USERS = (1, 10, 50)
QUICK_USERS = (1, 5)
TWITCH_LATENCY = 0.05  # seconds the fake Twitch takes to answer any call
FOLLOWS = 60  # channels each user follows (of 1,500 live streams, 1,000 of them in the top)
CELLS = ("noop", "following cold", "following warm")


async def link_users(services: Services, twitch: FakeTwitch, count: int) -> None:
    """Link `count` Discord users to Twitch accounts of their own, each following 60 channels."""
    assert services.web_url is not None
    jar = aiohttp.CookieJar(unsafe=True)  # keep our loopback server's cookie, as a browser does
    async with aiohttp.ClientSession(cookie_jar=jar) as browser:
        for user in range(count):
            twitch.authorizing_user_id = twitch.add_user(f"bench_fan{user}")["id"]
            followed = twitch.streams[user % 25 :: 25][:FOLLOWS]
            twitch.follow(twitch.authorizing_user_id, *(s["user_id"] for s in followed))
            url = services.accounts.login_url(str(FIRST_USER + user))
            async with browser.get(url) as reply:
                assert reply.status == 200, await reply.text()


def followed_calls(twitch: FakeTwitch) -> int:
    return sum(1 for _, path, _ in twitch.requests if path == "/helix/streams/followed")


async def crowd(
    fake: FakeDiscord, name: str, users: int
) -> list[tuple[float, int] | BaseException]:
    calls = (one_call(fake, name, user) for user in range(users))
    return await asyncio.gather(*calls, return_exceptions=True)


async def measure(
    fake: FakeDiscord, twitch: FakeTwitch, services: Services, crowds: tuple[int, ...], rounds: int
) -> int:
    """Print the table; the number of commands that got no answer."""
    unanswered = 0
    print(
        f"{'command':<16} {'users':>5} {'p50 ms':>8} {'p99 ms':>8} {'p50 x':>6} {'p99 x':>6}"
        f" {'calls':>5} {'twitch':>6} {'fail':>5}"
    )
    for users in crowds:
        latencies: dict[str, list[float]] = {cell: [] for cell in CELLS}
        rest: dict[str, list[int]] = {cell: [] for cell in CELLS}
        twitch_calls = dict.fromkeys(CELLS, 0)
        failures = dict.fromkeys(CELLS, 0)
        for _ in range(rounds):
            outcome = await services.refresher.refresh()  # a new snapshot: every user is cold
            assert outcome is not None and outcome.ok, outcome
            for cell in CELLS:
                before = followed_calls(twitch)
                results = await crowd(fake, cell.split()[0], users)
                twitch_calls[cell] += followed_calls(twitch) - before
                failures[cell] += sum(isinstance(r, BaseException) for r in results)
                answered = [r for r in results if isinstance(r, tuple)]
                latencies[cell] += [seconds for seconds, _ in answered]
                rest[cell] += [count for _, count in answered]
        base = statistics.median(latencies["noop"]), percentile(latencies["noop"], 0.99)
        for cell in CELLS:
            p50, p99 = statistics.median(latencies[cell]), percentile(latencies[cell], 0.99)
            late = sum(latency > 3.0 for latency in latencies[cell])
            print(
                f"/{cell:<15} {users:>5} {p50 * 1000:8.1f} {p99 * 1000:8.1f}"
                f" {p50 / base[0]:6.2f} {p99 / base[1]:6.2f} {statistics.mean(rest[cell]):5.2f}"
                f" {twitch_calls[cell] / (users * rounds):6.2f} {failures[cell]:>5}"
                + (f"  {late} past 3 s" if late else "")
            )
            unanswered += failures[cell]
    assert not fake.violations, fake.violations
    return unanswered


async def main() -> None:
    parser = command_line(__doc__)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    crowds, rounds = (QUICK_USERS, 1) if args.quick else (USERS, args.rounds)
    async with (
        FakeTwitch(streams=random_streams(1500)) as twitch,
        running_bot(twitch) as (fake, services),
    ):
        await link_users(services, twitch, max(crowds))
        twitch.latency = TWITCH_LATENCY
        unanswered = await measure(fake, twitch, services, crowds, rounds)
    if unanswered:
        sys.exit(f"{unanswered} commands got no answer: the bot is broken, not slow")


if __name__ == "__main__":
    asyncio.run(main())
