"""The Discord bot: services injected by the entry point, cogs loaded in `setup_hook`."""

from __future__ import annotations

import gc
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.accounts import AccountService
from bot.cache import StatsService
from bot.command_sync import sync_if_changed
from bot.config import Settings
from bot.digest_service import DigestService
from bot.errors import LoginRequired, UserFacingError
from bot.history import HistoryService
from bot.personal import FollowingService
from bot.refresh import RefreshService
from bot.rendering import ChartRenderer
from bot.replies import APOLOGY, reply_privately
from bot.supervisor import Supervisor
from bot.views import login_view

if TYPE_CHECKING:
    from db.leader import LeaderLock

log = logging.getLogger(__name__)

EXTENSIONS = (
    "cogs.refresh",
    "cogs.stats",
    "cogs.following",
    "cogs.account",
    "cogs.history",
    "cogs.digest",
)


class StreamStatsTree(app_commands.CommandTree):
    """The one error handler of every slash command."""

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        """Known errors become a short private sentence; others are logged, the user gets sorry."""
        cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        view = None
        if isinstance(cause, LoginRequired):
            client: StreamStatsBot = interaction.client  # type: ignore[assignment]
            view = login_view(client.accounts.login_url(str(interaction.user.id)))
        if isinstance(cause, UserFacingError):
            message = cause.user_message
        elif isinstance(cause, app_commands.CommandOnCooldown):
            message = f"Slow down a little: try again in {cause.retry_after:.0f} s."
        elif isinstance(cause, app_commands.CheckFailure):
            message = "You cannot use this command here."
        else:
            name = interaction.command.qualified_name if interaction.command else "?"
            log.error("command /%s failed", name, exc_info=cause)
            message = APOLOGY
        try:
            await reply_privately(interaction, message, view)
        except discord.HTTPException:
            log.warning("could not tell the user about an error (interaction expired?)")


class StreamStatsBot(commands.AutoShardedBot):
    """The bot (one or more Discord shards); it owns no resources, its services are injected.

    `leader` says whether this process is the one that refreshes and validates tokens;
    `supervisor` keeps the background loops of the cogs running; `renderer` draws charts.
    """

    settings: Settings
    stats: StatsService
    refresher: RefreshService
    accounts: AccountService
    following: FollowingService
    history: HistoryService
    digests: DigestService
    leader: LeaderLock
    supervisor: Supervisor
    renderer: ChartRenderer

    def __init__(
        self,
        *,
        settings: Settings,
        stats: StatsService,
        refresher: RefreshService,
        accounts: AccountService,
        following: FollowingService,
        history: HistoryService,
        digests: DigestService,
        leader: LeaderLock,
        supervisor: Supervisor,
        renderer: ChartRenderer,
    ) -> None:
        super().__init__(
            shard_count=settings.shard_count,
            shard_ids=list(settings.shard_ids) if settings.shard_ids else None,
            command_prefix=commands.when_mentioned,
            intents=discord.Intents(guilds=True),
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            tree_cls=StreamStatsTree,
        )
        self.settings = settings
        self.stats = stats
        self.refresher = refresher
        self.accounts = accounts
        self.following = following
        self.history = history
        self.digests = digests
        self.leader = leader
        self.supervisor = supervisor
        self.renderer = renderer

    async def setup_hook(self) -> None:
        """Load every cog (a cog that fails to load stops the bot) and sync the commands."""
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        if self.settings.syncs_commands:
            await self.sync_commands()
        # What start-up built (modules, clients, services: ~120,000 objects) lives as long as the
        # process. Left to the collector, every full collection walks it all again, stalling
        # every answer in flight by ~25 ms; frozen, it is never walked.
        gc.freeze()

    async def as_refresher(self, what: str, job: Callable[[], Awaitable[object]]) -> None:
        """One run of a loop that only the refresher process does; it never raises.

        Whatever fails (the lock, the job) is logged and the loop tries again at its next run.
        """
        try:
            if await self.leader.acquire():
                await job()
            else:
                log.debug("another process holds the refresh lock; it does the %s", what)
        except Exception:
            log.exception("the %s failed; trying again at the next run", what)

    async def sync_commands(self) -> None:
        """Publish the slash commands, if they changed: to one guild if configured, else globally.

        A guild gets them instantly; global commands may take up to an hour to appear.
        """
        guild_id = self.settings.discord_guild_id
        guild = None if guild_id is None else discord.Object(id=guild_id)
        if guild is not None:
            self.tree.copy_global_to(guild=guild)
        synced = await sync_if_changed(self.tree, guild=guild)
        if synced is not None:
            log.info(
                "synced %d commands %s", synced, f"to guild {guild_id}" if guild else "globally"
            )
