"""/login, /whoami, /logout, and the hourly validation of stored Twitch tokens."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from cachetools import TTLCache
from discord import app_commands
from discord.ext import commands, tasks

from bot import embeds
from bot.accounts import LinkResult
from bot.replies import Reply, Sendable, answer
from bot.supervisor import HOUSEKEEPING_LOOP, VALIDATION_LOOP
from bot.tokens import STATE_LIFETIME
from bot.views import login_view

if TYPE_CHECKING:
    from bot.client import StreamStatsBot

    Interaction = discord.Interaction[StreamStatsBot]

log = logging.getLogger(__name__)

PENDING_LOGINS = 10_000  # /login interactions kept at most (the oldest go first)
NO_LINK = "You have no active link. Use /login to link your Twitch account."
UNLINKED = "Unlinked. Your Twitch token was revoked and deleted; your session ended."

LINK_HELP = (
    "Press the button to link your Twitch account. The link is yours alone: it works once, "
    "within 10 minutes. The session it starts lasts one hour."
)


class AccountCog(commands.Cog):
    """Linking Discord users to their Twitch accounts."""

    def __init__(self, bot: StreamStatsBot) -> None:
        self.bot = bot
        # Each /login interaction, to answer under it once the link is made: only while its
        # link can still be used, and never more than a bounded number at once.
        self._login_interactions: TTLCache[str, discord.Interaction] = TTLCache(
            maxsize=PENDING_LOGINS,
            ttl=STATE_LIFETIME.total_seconds(),
            timer=lambda: bot.accounts.now().timestamp(),
        )

    @property
    def pending_logins(self) -> int:
        """How many /login interactions this process keeps (for the link notice)."""
        return len(self._login_interactions)

    async def cog_load(self) -> None:
        """Listen for finished links; validate stored tokens now and every hour."""
        self.bot.accounts.on_link(self.tell_user_linked)
        self.bot.supervisor.start(VALIDATION_LOOP, self.validate_linked_tokens)
        self.bot.supervisor.start(HOUSEKEEPING_LOOP, self.forget_expired)

    async def cog_unload(self) -> None:
        """Stop the loops."""
        await self.bot.supervisor.stop(VALIDATION_LOOP)
        await self.bot.supervisor.stop(HOUSEKEEPING_LOOP)

    @tasks.loop(minutes=STATE_LIFETIME.total_seconds() / 60)
    async def forget_expired(self) -> None:
        """Forget what expired: /login interactions here, stored states and sessions (once)."""
        self._login_interactions.expire()
        await self.bot.as_refresher("pruning of expired records", self.bot.accounts.forget_expired)

    @tasks.loop(hours=1)
    async def validate_linked_tokens(self) -> None:
        """Twitch requires apps that keep user tokens to validate them at start-up and hourly."""
        await self.bot.as_refresher("token validation", self.bot.accounts.validate_linked_tokens)

    async def tell_user_linked(self, result: LinkResult) -> None:
        """Say in Discord that the link worked: under /login if still possible, else by DM."""
        text = embeds.linked_notice(result.twitch.display_name, result.expires_at)
        interaction = self._login_interactions.pop(result.discord_id, None)
        if interaction is not None and not interaction.is_expired():
            try:
                await interaction.followup.send(text, ephemeral=True)
                return
            except discord.HTTPException:
                log.info("the /login interaction of %s is gone; sending a DM", result.discord_id)
        user = await self.bot.fetch_user(int(result.discord_id))
        await user.send(text)

    @app_commands.command(name="login")
    async def login(self, interaction: Interaction) -> None:
        """Link your Twitch account to use the statistics (opens Twitch)."""
        discord_id = str(interaction.user.id)
        url = self.bot.accounts.login_url(discord_id)
        self._login_interactions[discord_id] = interaction
        await interaction.response.send_message(LINK_HELP, view=login_view(url), ephemeral=True)

    @app_commands.command(name="whoami")
    async def whoami(self, interaction: Interaction) -> None:
        """Show your linked Twitch account and when your session ends."""

        async def work() -> Sendable:
            found = await self.bot.accounts.session(str(interaction.user.id))
            if found is None:
                return Reply(NO_LINK, ephemeral=True)
            user, session = found
            embed = embeds.whoami_embed(
                user.twitch_display_name,
                user.twitch_login,
                linked_at=user.linked_at,
                session_ends=session.expires_at,
            )
            return Reply(embed=embed, ephemeral=True)

        await answer(interaction, work, ephemeral=True)

    @app_commands.command(name="logout")
    async def logout(self, interaction: Interaction) -> None:
        """Unlink your Twitch account: its token is revoked and deleted, your session ends."""

        async def work() -> Sendable:
            if await self.bot.accounts.logout(str(interaction.user.id)):
                return Reply(UNLINKED, ephemeral=True)
            return Reply("You had no linked Twitch account.", ephemeral=True)

        await answer(interaction, work, ephemeral=True)


async def setup(bot: StreamStatsBot) -> None:
    """Extension entry point."""
    await bot.add_cog(AccountCog(bot))
