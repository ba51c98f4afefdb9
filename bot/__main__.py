"""`python -m bot` (also `streamstats`): settings, logging, services, web server and bot.

`running_services` is the one composition root: it builds every service once, in order, and
closes them in reverse. Tests use it too, with a clock of their own.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
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
from bot.config import Settings, load_settings
from bot.crypto import TokenCipher
from bot.errors import ConfigError
from bot.refresh import RefreshService
from bot.supervisor import Supervisor
from bot.tokens import Clock, TokenSigner, utc_now
from bot.twitch import TwitchApp, TwitchClient
from bot.twitch_oauth import TwitchOAuth
from db import DATABASE_ERRORS, close_database, open_database
from db.leader import leader_lock

log = logging.getLogger("bot")

EXIT_CONFIG = 2


@dataclass(frozen=True)
class Services:
    """Everything `running_services` built, for the entry point or a test to drive."""

    settings: Settings
    stats: StatsService
    refresher: RefreshService
    accounts: AccountService
    bot: StreamStatsBot
    web_url: str | None


def configure_logging(level: str) -> None:
    """One handler on the root logger."""
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)-8s %(name)s: %(message)s", stream=sys.stderr
    )


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
async def running_services(
    settings: Settings, *, clock: Clock = utc_now
) -> AsyncIterator[Services]:
    """Open the database, cache, HTTP session and web server, and build the bot (not started)."""
    try:
        await open_database(settings.database_url)
    except BaseException:
        await close_database()  # what migrating opened; an open connection keeps the process up
        raise
    stats = StatsService(open_cache(settings.cache_url))
    leader = leader_lock(settings.database_url)
    try:
        async with aiohttp.ClientSession() as session:
            twitch_app = TwitchApp.from_settings(settings)
            refresher = RefreshService(
                TwitchClient(session, twitch_app),
                stats,
                top_streams=settings.top_streams,
            )
            accounts = AccountService(
                oauth=TwitchOAuth(session, twitch_app),
                signer=TokenSigner(settings.secret_key, clock),
                cipher=TokenCipher(settings.secret_key),
                public_url=settings.public_url,
                redirect_uri=settings.redirect_uri,
                require_login=settings.require_login,
                clock=clock,
            )
            point_discord_at(settings)
            bot = StreamStatsBot(
                settings=settings,
                stats=stats,
                refresher=refresher,
                accounts=accounts,
                leader=leader,
                supervisor=Supervisor(),
            )
            runner = web.AppRunner(
                web_callback.create_app(accounts=accounts, stats=stats), access_log=None
            )
            await runner.setup()
            try:
                web_url = await start_web(runner, settings)
                async with bot:
                    yield Services(settings, stats, refresher, accounts, bot, web_url)
            finally:
                await runner.cleanup()
    finally:
        await leader.release()
        await stats.close()
        await close_database()


async def serve(settings: Settings) -> None:
    """Run the bot and the web server until Discord disconnects for good or SIGTERM arrives."""
    async with running_services(settings) as services:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, lambda: asyncio.ensure_future(services.bot.close()))
        await services.bot.start(settings.discord_token)


def main() -> None:
    """Console entry point; exit code 2 for configuration problems."""
    try:
        settings = load_settings()
    except ConfigError as error:
        print("StreamStats cannot start; fix these settings:", file=sys.stderr)  # noqa: T201
        for problem in error.problems:
            print(f"  - {problem}", file=sys.stderr)  # noqa: T201
        sys.exit(EXIT_CONFIG)
    configure_logging(settings.log_level)
    try:
        asyncio.run(serve(settings))
    except discord.LoginFailure:
        log.error("Discord refused DISCORD_TOKEN: check the bot token in the developer portal")
        sys.exit(EXIT_CONFIG)
    except (OSError, *DATABASE_ERRORS) as error:
        log.error("cannot start: %s", error)
        sys.exit(1)
    except KeyboardInterrupt:
        log.info("stopped")


if __name__ == "__main__":
    main()
