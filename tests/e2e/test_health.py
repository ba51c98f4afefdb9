"""/healthz and /status in a running bot tell the truth about the refresh loop."""

from __future__ import annotations

import asyncio

from bot.supervisor import REFRESH_LOOP


async def health(world) -> tuple[int, dict]:
    async with world.http.get(world.services.web_url + "/healthz") as reply:
        return reply.status, await reply.json()


async def test_a_dead_refresh_loop_turns_health_and_status_red(world):
    status, body = await health(world)
    assert status == 200, body
    assert body["refresh_loop"]["running"] is True
    assert body["refresh_loop"]["next_run"] is not None
    assert body["refresh_lock_held"] is True
    assert body["last_refresh"]["ok"] is True

    # The loop ends in a way the supervisor does not restart (cancelled from outside).
    loop = world.services.bot.get_cog("RefreshCog").refresh_top_streams
    loop.cancel()
    async with asyncio.timeout(5):
        while world.services.bot.supervisor.status(REFRESH_LOOP).running:
            await asyncio.sleep(0.05)
    world.clock.advance(minutes=16)  # past the start-up grace of one interval

    status, body = await health(world)
    assert status == 503
    assert body["status"] == "error"
    assert body["reason"] == "the refresh loop of this process is not running"
    assert body["refresh_loop"] == {"running": False, "next_run": None, "restarts": 0}

    message = await (await world.discord.slash("status")).wait_for_message()
    fields = {field["name"]: field["value"] for field in message["embeds"][0]["fields"]}
    assert not fields["Next refresh"].startswith("<t:")  # no time in the past shown as next
