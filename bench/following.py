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

import aiohttp

from bench._bot import FIRST_USER, Crowds, crowds_and_rounds, exit_if_unanswered, running_bot
from bot.app import Services
from tests.fakes.discord import FakeDiscord
from tests.fakes.twitch import FakeTwitch, random_streams

TWITCH_LATENCY = 0.05  # seconds the fake Twitch takes to answer any call
FOLLOWS = 60  # channels each user follows (of 1,500 live streams, 1,000 of them in the top)
CELLS = ("noop", "following cold", "following warm")
WIDTH = 16  # of the command column


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


async def measure(
    fake: FakeDiscord, twitch: FakeTwitch, services: Services, crowds: tuple[int, ...], rounds: int
) -> int:
    """Print the table; the number of commands that got no answer."""
    unanswered = 0
    print(Crowds.header(WIDTH, ["twitch"]))
    for users in crowds:
        crowd = Crowds(CELLS, users)
        twitch_calls = dict.fromkeys(CELLS, 0)
        for _ in range(rounds):
            outcome = await services.refresher.refresh()  # a new snapshot: every user is cold
            assert outcome is not None and outcome.ok, outcome
            for cell in CELLS:
                before = followed_calls(twitch)
                await crowd.ask(fake, cell, cell.split()[0])
                twitch_calls[cell] += followed_calls(twitch) - before
        per_answer = {
            cell: [f"{calls / (users * rounds):.2f}"] for cell, calls in twitch_calls.items()
        }
        unanswered += crowd.report(WIDTH, per_answer)
    assert not fake.violations, fake.violations
    return unanswered


async def main() -> None:
    crowds, rounds = crowds_and_rounds(__doc__)
    async with (
        FakeTwitch(streams=random_streams(1500)) as twitch,
        running_bot(twitch) as (fake, services),
    ):
        await link_users(services, twitch, max(crowds))
        twitch.latency = TWITCH_LATENCY
        unanswered = await measure(fake, twitch, services, crowds, rounds)
    exit_if_unanswered(unanswered)


if __name__ == "__main__":
    asyncio.run(main())
