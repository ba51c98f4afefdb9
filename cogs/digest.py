"""/digest set|off|show: a digest of the top streams posted in a channel, hourly or daily."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.digest import DEFAULT_HOUR, Every, Schedule
from bot.digest_embeds import digest_status_embed, schedule_text
from bot.errors import UserFacingError
from bot.replies import Reply, Sendable, answer

if TYPE_CHECKING:
    from bot.client import StreamStatsBot

    Interaction = discord.Interaction[StreamStatsBot]

NEEDS_MANAGE_SERVER = "Only members with the Manage Server permission can see or change the digest."
GUILD_ONLY = "Digests are set per server: run this command in a server."


def _managed_guild(interaction: Interaction) -> int:
    """The guild the command runs in, if the member may manage it.

    Discord hides the command from other members by default, but a server's admins can
    override that: the permission is checked here again.
    """
    if interaction.guild_id is None:
        raise UserFacingError(GUILD_ONLY)
    if not interaction.permissions.manage_guild:
        raise UserFacingError(NEEDS_MANAGE_SERVER)
    return interaction.guild_id


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class DigestCog(commands.GroupCog, group_name="digest"):
    """A digest of the top live streams, posted in a channel of the server."""

    def __init__(self, bot: StreamStatsBot) -> None:
        self.bot = bot
        super().__init__()

    async def cog_unload(self) -> None:
        """Stop a round of posting still under way."""
        await self.bot.digests.close()

    @app_commands.command(name="set")
    @app_commands.describe(
        channel="The text channel the digest is posted in",
        every="hourly: at the first refresh of each hour; daily: once a day",
        hour=f"Daily only: the hour (UTC, 0-23) from which it is posted; default {DEFAULT_HOUR}",
    )
    async def set_digest(
        self,
        interaction: Interaction,
        channel: discord.TextChannel,
        every: Every,
        hour: app_commands.Range[int, 0, 23] = DEFAULT_HOUR,
    ) -> None:
        """Post a digest of the top live streams in a channel, every hour or every day."""

        async def work() -> Sendable:
            guild = _managed_guild(interaction)
            schedule = Schedule(every, hour if every == "daily" else DEFAULT_HOUR)
            status = await self.bot.digests.set(
                guild, channel.id, schedule, set_by=interaction.user.id
            )
            first = (
                "The first one is posted after the next refresh."
                if status.due_now
                else "This period's digest was already posted; the next comes "
                f"{discord.utils.format_dt(status.next_period, 'R')}."
            )
            text = f"The digest will be posted in {channel.mention} {schedule_text(schedule)}. "
            return Reply(content=text + first, ephemeral=True)

        await answer(interaction, work, ephemeral=True)

    @app_commands.command(name="off")
    async def digest_off(self, interaction: Interaction) -> None:
        """Stop posting the digest in this server."""

        async def work() -> Sendable:
            removed = await self.bot.digests.off(_managed_guild(interaction))
            text = "The digest is off." if removed else "This server has no digest to turn off."
            return Reply(content=text, ephemeral=True)

        await answer(interaction, work, ephemeral=True)

    @app_commands.command(name="show")
    async def digest_show(self, interaction: Interaction) -> None:
        """Where and how often the digest is posted, how the last one went, or why it is off."""

        async def work() -> Sendable:
            status = await self.bot.digests.show(_managed_guild(interaction))
            return Reply(embed=digest_status_embed(status), ephemeral=True)

        await answer(interaction, work, ephemeral=True)


async def setup(bot: StreamStatsBot) -> None:
    """Extension entry point."""
    await bot.add_cog(DigestCog(bot))
