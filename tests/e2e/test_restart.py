"""/top pages keep turning after the bot restarts: the new process answers the old buttons."""

from __future__ import annotations

import asyncio

from tests.e2e.harness import bot_environment, current_top, run_bot
from tests.fakes.discord import FakeDiscord
from tests.fakes.twitch import FakeTwitch, random_streams

EPHEMERAL = 64
OTHER_USER = 1_100_000_000_000_000_999


def button(message: dict, shown: str) -> str:
    for item in message["components"][0]["components"]:
        if (item.get("emoji") or {}).get("name") == shown or item.get("label") == shown:
            return item["custom_id"]
    raise LookupError(shown)


def logins(message: dict) -> list[str]:
    lines = message["embeds"][0]["description"].splitlines()
    return [line.split("(https://twitch.tv/")[1].split(")")[0] for line in lines]


async def test_pages_turn_after_a_restart_and_expire_cleanly(tmp_path):
    async with FakeDiscord() as discord_fake, FakeTwitch(streams=random_streams(300)) as twitch:
        env = bot_environment(
            discord_fake, twitch, tmp_path, TOP_STREAMS="200", REQUIRE_LOGIN="false",
            VIEW_TIMEOUT="6",
        )  # fmt: skip
        top = current_top(twitch, 200)
        async with run_bot(env, tmp_path) as bot:
            await discord_fake.wait_until_identified(timeout=30)
            await discord_fake.wait_for_commands(timeout=30)
            await bot.wait_for_snapshot()
            message = await (await discord_fake.slash("top")).wait_for_message()
        twitch.streams = random_streams(300, seed=5)  # newer data arrives while it is down

        async with run_bot(env, tmp_path) as bot:
            await discord_fake.wait_until_identified(timeout=30)
            await bot.wait_for_snapshot()
            refused = await discord_fake.click(message, button(message, "▶️"), user_id=OTHER_USER)
            assert (await refused.wait_for_message())["flags"] & EPHEMERAL

            turned = await (
                await discord_fake.click(message, button(message, "▶️"))
            ).wait_for_message()
            assert logins(turned) == [s.user_login for s in top[10:20]]  # the old snapshot
            assert button(turned, "page 2/10")

            # The restarted process now holds the message like any other: it pages on...
            last = await (await discord_fake.click(turned, button(turned, "⏭️"))).wait_for_message()
            assert logins(last) == [s.user_login for s in top[90:100]]
            # ...and greys the buttons out when nobody has pressed them for VIEW_TIMEOUT.
            async with asyncio.timeout(15):
                while not all(
                    item.get("disabled")
                    for item in discord_fake.messages[int(message["id"])]["components"][0][
                        "components"
                    ]
                ):
                    await asyncio.sleep(0.2)
        assert await discord_fake.all_violations() == []


async def test_a_press_after_the_expiry_greys_the_buttons_out(tmp_path):
    async with FakeDiscord() as discord_fake, FakeTwitch(streams=random_streams(300)) as twitch:
        env = bot_environment(
            discord_fake, twitch, tmp_path, TOP_STREAMS="200", REQUIRE_LOGIN="false",
            VIEW_TIMEOUT="1",
        )  # fmt: skip
        async with run_bot(env, tmp_path) as bot:
            await discord_fake.wait_until_identified(timeout=30)
            await discord_fake.wait_for_commands(timeout=30)
            await bot.wait_for_snapshot()
            message = await (await discord_fake.slash("top")).wait_for_message()
        async with run_bot(env, tmp_path) as bot:  # restarted before the buttons were greyed out
            await discord_fake.wait_until_identified(timeout=30)
            await asyncio.sleep(1.5)
            press = await discord_fake.click(message, button(message, "▶️"))
            greyed = await press.wait_for_message()  # the message itself, updated
            async with asyncio.timeout(5):
                while not press.followups:
                    await asyncio.sleep(0.05)
            note = press.followups[-1]

            assert note["flags"] & EPHEMERAL
            assert "expired" in note["content"]
            assert logins(greyed) == logins(message)  # still the page it showed
            assert button(greyed, "page 1/10")
            current = discord_fake.messages[int(message["id"])]
            assert all(item.get("disabled") for item in current["components"][0]["components"])
        assert await discord_fake.all_violations() == []


def command_puts(discord_fake: FakeDiscord) -> list[str]:
    return [path for method, path, _ in discord_fake.requests if method == "PUT"]


async def test_commands_are_published_only_when_they_changed(tmp_path):
    async with FakeDiscord() as discord_fake, FakeTwitch(streams=random_streams(50)) as twitch:
        env = bot_environment(discord_fake, twitch, tmp_path, REQUIRE_LOGIN="false")
        async with run_bot(env, tmp_path) as bot:
            await bot.wait_for_log(" commands to guild ")  # published and recorded
        published = command_puts(discord_fake)
        assert len(published) == 1

        async with run_bot(env, tmp_path) as bot:  # the same commands, the same guild
            await bot.wait_for_log("slash commands are unchanged since the last sync")
            await discord_fake.wait_until_identified(timeout=30)
        assert command_puts(discord_fake) == published

        del env["DISCORD_GUILD_ID"]  # published globally now: a target they are not on yet
        async with run_bot(env, tmp_path) as bot:
            await bot.wait_for_log(" commands globally")
        assert len(command_puts(discord_fake)) == 2
        assert await discord_fake.all_violations() == []
