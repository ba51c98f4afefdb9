"""SIGTERM stops the bot cleanly whatever it is doing, connecting to Discord included."""

from __future__ import annotations

from tests.e2e.harness import bot_environment, free_port, run_bot
from tests.fakes.discord import FakeDiscord
from tests.fakes.twitch import FakeTwitch, random_streams


async def test_sigterm_stops_a_bot_still_connecting_to_the_gateway(tmp_path):
    async with FakeDiscord() as discord_fake, FakeTwitch(streams=random_streams(20)) as twitch:
        env = bot_environment(discord_fake, twitch, tmp_path, REQUIRE_LOGIN="false")
        env["SHARD_COUNT"] = "1"  # connect to DISCORD_GATEWAY_URL, not the one /gateway/bot names
        env["DISCORD_GATEWAY_URL"] = f"ws://127.0.0.1:{free_port()}/"  # nothing listens there
        # run_bot sends SIGTERM on the way out and fails unless the bot exits 0 within 15 s.
        async with run_bot(env, tmp_path, tracebacks_expected=True) as bot:
            await bot.wait_for_log("Failed to connect for shard_id: 0")
        assert "stopping: SIGTERM received" in bot.log()
