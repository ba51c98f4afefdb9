"""A chart is drawn once per snapshot, however many ask at once: the bot in-process."""

from __future__ import annotations

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
