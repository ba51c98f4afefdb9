"""The composition root: every service built once, in order, and closed in reverse.

`core_services` opens what every mode needs (database, cache, HTTP session, the Twitch client,
the stats and refresh services); `running_services` adds the bot, account linking and the web
server on top of it. The bot, the operator commands (`bot/cli.py`) and the tests all start here,
tests with a clock of their own.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
import discord
import yarl
from aiohttp import web

import web_callback
from bot.accounts import AccountService
from bot.cache import StatsService, open_cache
from bot.client import StreamStatsBot
from bot.config import Settings
from bot.crypto import TokenCipher
from bot.digest_service import DigestService
from bot.health import HealthCheck
from bot.history import HistoryService
from bot.personal import FollowingService
from bot.refresh import RefreshService
from bot.rendering import ChartRenderer
from bot.supervisor import Supervisor
from bot.tokens import Clock, TokenSigner, utc_now
from bot.twitch import TwitchApp, TwitchClient
from bot.twitch_oauth import TwitchOAuth
from db import close_database, open_database
from db.leader import leader_lock

log = logging.getLogger("bot")


@dataclass(frozen=True)
class Core:
    """What every mode needs: the data path, without Discord."""

    settings: Settings
    stats: StatsService
    twitch: TwitchClient
    refresher: RefreshService
    http: aiohttp.ClientSession


@dataclass(frozen=True)
class Services:
    """Everything `running_services` built, for the entry point or a test to drive."""

    settings: Settings
    stats: StatsService
    refresher: RefreshService
    accounts: AccountService
    bot: StreamStatsBot
    web_url: str | None


def point_discord_at(settings: Settings) -> None:
    """Aim discord.py at the configured REST and gateway URLs (Discord's own by default)."""
    discord.http.Route.BASE = settings.discord_api_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


async def start_web(runner: web.AppRunner, settings: Settings) -> str | None:
    """Serve the web app if this process is the one that does (WEB_ENABLED); its URL."""
    if not settings.web_enabled:
        log.info("web server disabled (WEB_ENABLED=false): another process serves it")
        return None
    await web.TCPSite(runner, settings.web_host, settings.web_port).start()
    url = f"http://{settings.web_host}:{settings.web_port}"
    log.info("web server listening on %s", url)
    return url


@asynccontextmanager
async def core_services(settings: Settings) -> AsyncIterator[Core]:
    """Open the database (applying migrations), the cache and the HTTP session."""
    await open_database(settings.database_url)  # closes what it opened if it fails
    stats = StatsService(open_cache(settings.cache_url))
    try:
        async with aiohttp.ClientSession() as http:
            twitch = TwitchClient(
                http, TwitchApp.from_settings(settings), headroom=settings.ratelimit_headroom
            )
            refresher = RefreshService(
                twitch,
                stats,
                top_streams=settings.top_streams,
                history_days=settings.history_days,
                history_channels=settings.history_channels,
            )
            yield Core(settings, stats, twitch, refresher, http)
    finally:
        await stats.close()
        await close_database()


@asynccontextmanager
async def running_services(
    settings: Settings, *, clock: Clock = utc_now
) -> AsyncIterator[Services]:
    """The core, plus account linking, the web server and the bot (built, not started)."""
    async with core_services(settings) as core:
        leader = leader_lock(settings.database_url)
        oauth = TwitchOAuth(core.http, TwitchApp.from_settings(settings))
        try:
            accounts = AccountService(
                oauth=oauth,
                signer=TokenSigner(settings.secret_key, clock),
                cipher=TokenCipher(settings.secret_key),
                public_url=settings.public_url,
                redirect_uri=settings.redirect_uri,
                require_login=settings.require_login,
                clock=clock,
            )
            following = FollowingService(
                accounts=accounts, oauth=oauth, stats=core.stats, top_n=settings.top_streams
            )
            history = HistoryService(
                core.stats, top_n=settings.top_streams, history_days=settings.history_days
            )
            supervisor = Supervisor()
            renderer = ChartRenderer()
            point_discord_at(settings)
            bot = StreamStatsBot(
                settings=settings,
                stats=core.stats,
                refresher=core.refresher,
                accounts=accounts,
                following=following,
                history=history,
                digests=DigestService(
                    stats=core.stats,
                    renderer=renderer,
                    clock=clock,
                    refresh_minutes=settings.refresh_minutes,
                ),
                leader=leader,
                supervisor=supervisor,
                renderer=renderer,
            )
            health = HealthCheck(
                supervisor=supervisor,
                leader=leader,
                refresh_minutes=settings.refresh_minutes,
                clock=clock,
            )
            app = web_callback.create_app(
                accounts=accounts,
                stats=core.stats,
                following=following,
                history=history,
                health=health,
            )
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            renderer.start()
            try:
                web_url = await start_web(runner, settings)
                async with bot:
                    yield Services(settings, core.stats, core.refresher, accounts, bot, web_url)
            finally:
                await runner.cleanup()
                await following.close()
                await renderer.close()
        finally:
            await leader.release()


async def serve(settings: Settings) -> None:
    """Run the bot and the web server until Discord disconnects for good or SIGTERM arrives.

    SIGTERM lets start-up finish (seconds at most), then ends the Discord session and closes
    every service in turn.
    """
    stop_requested = asyncio.Event()

    def on_sigterm() -> None:
        log.info("stopping: SIGTERM received")
        stop_requested.set()

    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, on_sigterm)
    async with running_services(settings) as services:
        await run_session(services.bot, settings.discord_token, stop_requested)
    log.info("stopped")


async def run_session(bot: StreamStatsBot, token: str, stop_requested: asyncio.Event) -> None:
    """The bot's Discord session until Discord ends it (raising its reason) or stop is asked.

    Asked to stop, the session is cancelled, then the bot closed (its loops, then the
    gateway). `close()` alone does not end a session still connecting: discord.py retries a
    shard that failed to connect every 5 s, forever, and every retry fails once the bot is
    closed. A cancellation that arrives as a shard finishes connecting can be lost (Python
    3.11's `wait_for`); the session then ends when `close()` queues its end, as a connected
    session does.
    """
    session = asyncio.ensure_future(bot.start(token))
    stop = asyncio.ensure_future(stop_requested.wait())
    await asyncio.wait([session, stop], return_when=asyncio.FIRST_COMPLETED)
    stop.cancel()
    if not stop_requested.is_set():
        session.result()
        return
    session.cancel()
    await bot.close()
    await asyncio.wait([session])
    if not session.cancelled() and (error := session.exception()) is not None:
        log.info("the Discord session ended while stopping: %r", error)
