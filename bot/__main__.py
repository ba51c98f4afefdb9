"""`python -m bot` (also `streamstats`): settings, logging, services, web server and bot."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

import aiohttp
import discord
import yarl
from aiohttp import web

import web_callback
from bot.cache import StatsService, open_cache
from bot.client import StreamStatsBot
from bot.config import Settings, load_settings
from bot.errors import ConfigError
from bot.refresh import RefreshService
from bot.twitch import TwitchClient
from db import close_database, open_database

log = logging.getLogger("bot")

EXIT_CONFIG = 2


def configure_logging(level: str) -> None:
    """One handler on the root logger; discord.py's chatter above INFO only when asked."""
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)-8s %(name)s: %(message)s", stream=sys.stderr
    )


def point_discord_at(settings: Settings) -> None:
    """Aim discord.py at the configured REST and gateway URLs (Discord's own by default)."""
    discord.http.Route.BASE = settings.discord_api_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


async def serve(settings: Settings) -> None:
    """Open every service, run the bot and the web server until stopped, close in reverse."""
    await open_database(settings.database_url)
    stats = StatsService(open_cache(settings.cache_url))
    runner = web.AppRunner(web_callback.create_app(), access_log=None)
    try:
        async with aiohttp.ClientSession() as session:
            twitch = TwitchClient.from_settings(session, settings)
            refresher = RefreshService(twitch, stats, top_streams=settings.top_streams)
            point_discord_at(settings)
            bot = StreamStatsBot(settings=settings, stats=stats, refresher=refresher)
            await runner.setup()
            await web.TCPSite(runner, settings.web_host, settings.web_port).start()
            log.info("web server listening on http://%s:%d", settings.web_host, settings.web_port)
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGTERM, lambda: asyncio.ensure_future(bot.close()))
            async with bot:
                await bot.start(settings.discord_token)
    finally:
        await runner.cleanup()
        await stats.close()
        await close_database()


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
    except OSError as error:
        log.error("cannot start: %s", error)
        sys.exit(1)
    except KeyboardInterrupt:
        log.info("stopped")


if __name__ == "__main__":
    main()
