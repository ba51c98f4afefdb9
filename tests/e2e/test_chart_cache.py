"""A chart is drawn once per snapshot, however many ask at once, and never holds an answer up:
the bot in-process."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from bot import charts
from bot.charts import Chart
from tests.e2e.conftest import World
from tests.e2e.test_account_flow import link_account


async def test_a_burst_shares_one_render_and_a_new_snapshot_draws_again(world: World):
    await link_account(world)
    renderer = world.services.bot.renderer
    drawn_before = renderer.renders
    burst = [await world.discord.slash("streamstats") for _ in range(5)]  # all in flight
    messages = [await interaction.wait_for_message() for interaction in burst]
    shown = [world.discord.embed_image(message) for message in messages]
    assert all(attachment is not None for attachment in shown)
    assert len({world.discord.attachment_bytes(attachment) for attachment in shown}) == 1
    assert renderer.renders == drawn_before + 1

    outcome = await world.services.refresher.refresh()
    assert outcome is not None
    later = await (await world.discord.slash("streamstats")).wait_for_message()
    assert world.discord.embed_image(later) is not None
    assert renderer.renders == drawn_before + 2


def gated_chart(gate: str) -> Chart:
    """A chart that holds the worker until the test creates the file `gate`."""
    while not Path(gate).exists():
        time.sleep(0.01)
    return charts.games_bar([("held", 1)])


async def test_a_chart_late_for_the_answer_is_left_out_then_served(world: World, tmp_path):
    await link_account(world)
    await world.services.refresher.refresh()  # a new snapshot: its charts are not drawn yet
    snapshot = await world.services.stats.snapshot()
    assert snapshot is not None
    renderer = world.services.bot.renderer
    gate = tmp_path / "open"
    held = asyncio.ensure_future(renderer.chart("held", gated_chart, str(gate), budget=30))

    try:
        interaction = await world.discord.slash("streamstats")  # its chart waits behind `held`
        message = await interaction.wait_for_message()
        callback = f"/interactions/{interaction.id}/{interaction.token}/callback"
        assert interaction.rest_calls() == [("POST", callback)]  # in time, in one call
        assert message["attachments"] == [] and "image" not in message["embeds"][0]
        fields = {field["name"]: field["value"] for field in message["embeds"][0]["fields"]}
        assert fields["Streams covered"] == f"{snapshot.stream_count:,}"
    finally:
        gate.touch()  # whatever happens, let the worker go: the bot's shutdown waits for it
    assert await held is not None
    async with asyncio.timeout(10):  # the late chart is finished and kept for the next ask
        while renderer.cached(("viewers", snapshot.id)) is None:
            await asyncio.sleep(0.02)
    drawn = renderer.renders
    later = await (await world.discord.slash("streamstats")).wait_for_message()
    assert world.discord.embed_image(later) is not None
    assert renderer.renders == drawn
