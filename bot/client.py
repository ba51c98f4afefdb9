"""The Discord bot: services injected by the entry point, cogs loaded in `setup_hook`."""

from __future__ import annotations

import logging

import discord
from discord.ext import commands

from bot.cache import StatsService
from bot.config import Settings
from bot.refresh import RefreshService

log = logging.getLogger(__name__)

EXTENSIONS = ("cogs.refresh",)


class StreamStatsBot(commands.Bot):
    """The bot; it owns no resources, so closing it leaves the services to their owner."""

    settings: Settings
    stats: StatsService
    refresher: RefreshService

    def __init__(
        self, *, settings: Settings, stats: StatsService, refresher: RefreshService
    ) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents(guilds=True),
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
        )
        self.settings = settings
        self.stats = stats
        self.refresher = refresher

    async def setup_hook(self) -> None:
        """Load every cog (a cog that fails to load stops the bot) and sync the commands."""
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        await self.sync_commands()

    async def sync_commands(self) -> None:
        """Publish the slash commands: instantly to one guild if configured, else globally."""
        guild_id = self.settings.discord_guild_id
        if guild_id is None:
            synced = await self.tree.sync()
            log.info("synced %d commands globally (may take up to an hour to appear)", len(synced))
            return
        guild = discord.Object(id=guild_id)
        self.tree.copy_global_to(guild=guild)
        synced = await self.tree.sync(guild=guild)
        log.info("synced %d commands to guild %d", len(synced), guild_id)
