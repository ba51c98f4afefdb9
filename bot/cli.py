"""`streamstats` (also `python -m bot`): run the bot, or an operator command.

    streamstats                      run the bot and its web server (the default)
    streamstats check                check settings, database, cache, Twitch and Discord
    streamstats refresh --once       fetch the top streams once and store them (progress bar)
    streamstats stats [--source memory|database] [--json]
                                     today's figures in the terminal

`refresh` and `stats` need only the Twitch credentials: no Discord token, no SECRET_KEY.
Every command builds its services through the composition root (`bot/app.py`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TextIO, get_args

import aiohttp
import discord

from bot import payloads
from bot.app import core_services, point_discord_at, serve
from bot.cache import Source, StatsService, open_cache, within_budget
from bot.config import Settings, load_settings
from bot.errors import ConfigError, NoDataYet, TwitchError, UserFacingError
from bot.stats import NO_CATEGORY, ranked
from bot.twitch import TwitchApp, TwitchClient, WalkProgress
from db import DATABASE_ERRORS, check_database

log = logging.getLogger("bot")

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
GAMES_SHOWN = 15
STREAMS_SHOWN = 10


def build_parser() -> argparse.ArgumentParser:
    """The command line: no command runs the bot."""
    parser = argparse.ArgumentParser(
        prog="streamstats",
        description="StreamStats: the Discord bot that tells a community what is live on Twitch. "
        "Without a command, it runs the bot and its web server. Settings come from the "
        "environment and ./.env (see .env.example).",
    )
    commands = parser.add_subparsers(dest="command", metavar="command")
    commands.add_parser(
        "check",
        help="check the settings, the database, the cache, the Twitch app credentials and the "
        "Discord token; exit 0 if all are ok, 1 otherwise",
    )
    refresh = commands.add_parser(
        "refresh", help="fetch the top live streams from Twitch and store them (needs --once)"
    )
    refresh.add_argument(
        "--once", action="store_true", help="one refresh now, then exit (prints its summary)"
    )
    stats = commands.add_parser("stats", help="show the current statistics in the terminal")
    stats.add_argument("--source", choices=get_args(Source), default="memory")
    stats.add_argument("--json", action="store_true", help="print JSON instead of tables")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point. Exit codes: 0 ok, 1 failed, 2 bad settings or arguments."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "refresh" and not args.once:
        parser.error("refresh needs --once (the running bot refreshes by itself)")
    if args.command == "check":
        sys.exit(asyncio.run(check()))
    settings = settings_or_exit(for_bot=args.command is None)
    if args.command is None:
        run_bot(settings)
        return
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "refresh":
        sys.exit(asyncio.run(guarded(refresh_once, settings)))
    sys.exit(asyncio.run(guarded(show_stats, settings, args.source, args.json)))


def settings_or_exit(*, for_bot: bool) -> Settings:
    """The settings, or every problem on stderr and exit code 2."""
    try:
        return load_settings(for_bot=for_bot)
    except ConfigError as error:
        print("StreamStats cannot start; fix these settings:", file=sys.stderr)  # noqa: T201
        for problem in error.problems:
            print(f"  - {problem}", file=sys.stderr)  # noqa: T201
        sys.exit(EXIT_CONFIG)


def run_bot(settings: Settings) -> None:
    """The bot and its web server, until SIGTERM or Discord ends the session."""
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)-8s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        asyncio.run(serve(settings))
    except discord.LoginFailure:
        log.error("Discord refused DISCORD_TOKEN: check the bot token in the developer portal")
        sys.exit(EXIT_CONFIG)
    except (OSError, *DATABASE_ERRORS) as error:
        log.error("cannot start: %s", error)
        sys.exit(EXIT_FAILED)
    except KeyboardInterrupt:
        log.info("stopped")


async def guarded(command: Callable[..., Awaitable[int]], *args: object) -> int:
    """Run an operator command; an unreachable database is a one-line error, not a traceback."""
    try:
        return await command(*args)
    except (OSError, *DATABASE_ERRORS) as error:
        print(f"error: the database is unreachable ({error})", file=sys.stderr)  # noqa: T201
        return EXIT_FAILED


class ProgressBar:
    """`refresh --once`'s progress on stderr: redrawn in place on a terminal, else a line a tenth.

    A walk over every live stream takes a minute or more; the operator sees pages, streams,
    streams seen twice and the rate budget left. The share is of the streams expected (the
    number asked for, or the last walk's size); a first walk of everything has none to go by.
    """

    WIDTH = 30

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._terminal = stream.isatty()
        self._shown: int | None = None
        self._drawn = False

    def __call__(self, progress: WalkProgress, expected: int | None) -> None:
        """Show where the walk is (on a terminal every page, else at each tenth)."""
        share = min(progress.streams / expected, 1.0) if expected else None
        step = int(share * 10) if share is not None else progress.pages // 100
        if not self._terminal and step == self._shown:
            return
        self._shown = step
        filled = round(share * self.WIDTH) if share is not None else 0
        bar = "#" * filled + "." * (self.WIDTH - filled)
        done = f"{share:4.0%}" if share is not None else "   ?"
        budget = "?" if progress.budget_left is None else str(progress.budget_left)
        line = (
            f"[{bar}] {done}  {progress.pages} pages, {progress.streams:,} streams, "
            f"{progress.duplicates} seen twice, rate budget left {budget}"
        )
        self._stream.write(f"\r{line}" if self._terminal else f"{line}\n")
        self._stream.flush()
        self._drawn = True

    def close(self) -> None:
        """End the redrawn line, so that what follows starts on its own."""
        if self._terminal and self._drawn:
            self._stream.write("\n")


async def refresh_once(settings: Settings) -> int:
    """One refresh with a progress bar on stderr; its summary line on stdout; exit 1 if failed."""
    bar = ProgressBar(sys.stderr)
    async with core_services(settings) as core:
        outcome = await core.refresher.refresh(on_progress=bar)
    bar.close()
    if outcome is None:  # pragma: no cover - a fresh service never has one running
        return EXIT_FAILED
    print(outcome.summary)  # noqa: T201
    return EXIT_OK if outcome.ok else EXIT_FAILED


async def show_stats(settings: Settings, source: Source, as_json: bool) -> int:
    """Today's figures from the stored snapshot, as tables or JSON."""
    async with core_services(settings) as core:
        try:
            text = await render_stats(core.stats, source, as_json=as_json)
        except NoDataYet:
            print(  # noqa: T201
                "No snapshot yet: run `streamstats refresh --once` (or start the bot) first.",
                file=sys.stderr,
            )
            return EXIT_FAILED
        except UserFacingError as error:
            print(f"error: {error.user_message}", file=sys.stderr)  # noqa: T201
            return EXIT_FAILED
    print(text)  # noqa: T201
    return EXIT_OK


async def render_stats(stats: StatsService, source: Source, *, as_json: bool) -> str:
    """The three statistics of the current snapshot from one engine."""
    summary = await stats.stream_summary(source)
    games = await stats.game_stats(source)
    top = await stats.top_streams("desc", source)
    if as_json:
        document = {
            "source": source,
            "snapshot_at": summary.snapshot.taken_at.isoformat(),
            "streams": payloads.stream_summary(summary),
            "games": payloads.game_stats(games)["games"],
            "top": payloads.top_streams(top, "desc")["streams"],
        }
        return json.dumps(document, indent=2, ensure_ascii=False)
    figures = summary.value
    median = "-" if figures.median is None else f"{figures.median:,.1f}".removesuffix(".0")
    taken = summary.snapshot.taken_at.strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Snapshot {summary.snapshot.id}, taken {taken}: {figures.total:,} live streams "
        f"({source} engine)",
        "",
        *table(
            ["median viewers", "odd viewer count", "even viewer count", "duplicates"],
            [median, f"{figures.odd:,}", f"{figures.even:,}", f"{figures.duplicates:,}"],
        ),
        "",
        f"{'game':<40} {'streams':>8} {'top viewers':>12}",
    ]
    for game in games.value[:GAMES_SHOWN]:
        lines.append(f"{clip(game.label):<40} {game.streams:>8,} {game.max_viewers:>12,}")
    lines += ["", f"{'rank':>4}  {'channel':<30} {'game':<30} {'viewers':>10}"]
    for rank, stream in ranked(top.value[:STREAMS_SHOWN], "desc"):
        game_name = clip(stream.game_name or NO_CATEGORY, 30)
        lines.append(f"{rank:>4}  {clip(stream.user_name, 30):<30} {game_name:<30} "
                     f"{stream.viewer_count:>10,}")  # fmt: skip
    return "\n".join(lines)


def table(names: list[str], values: list[str]) -> list[str]:
    """Name/value pairs in two aligned columns."""
    width = max(len(name) for name in names)
    return [f"{name:<{width}}  {value:>12}" for name, value in zip(names, values, strict=True)]


def clip(text: str, width: int = 40) -> str:
    """One line of at most `width` characters (names come from strangers)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


async def check() -> int:
    """Each dependency: ok, or failed with a plain reason. Exit 0 only if all are ok."""
    results: list[tuple[str, str | None]] = []
    try:
        settings = load_settings()
        results.append(("settings", None))
    except ConfigError as error:
        results.append(("settings", "; ".join(error.problems)))
        try:
            settings = load_settings(for_bot=False)
        except ConfigError:
            return report(results)
    results.append(("database", await failure_of(check_database(settings.database_url))))
    results.append(("cache", await failure_of(check_cache(settings.cache_url))))
    results.append(("twitch", await failure_of(check_twitch(settings))))
    if settings.discord_token:
        results.append(("discord", await failure_of(check_discord(settings))))
    else:
        results.append(("discord", "DISCORD_TOKEN is not set"))
    return report(results)


def report(results: list[tuple[str, str | None]]) -> int:
    """Print one line per check; the exit code."""
    for name, problem in results:
        print(f"{name:<9} {'ok' if problem is None else 'failed: ' + problem}")  # noqa: T201
    return EXIT_OK if all(problem is None for _, problem in results) else EXIT_FAILED


async def failure_of(probe: Awaitable[None]) -> str | None:
    """None if the probe passed, else why it failed in plain words."""
    try:
        await probe
    except discord.LoginFailure:
        return "Discord refused DISCORD_TOKEN"
    except TwitchError as error:
        return error.public
    except (discord.HTTPException, aiohttp.ClientError, TimeoutError) as error:
        return f"did not answer ({type(error).__name__})"
    except Exception as error:  # a check reports every failure; none may end the command
        return f"{type(error).__name__}: {error}"
    return None


async def check_cache(url: str) -> None:
    """Write, read back and delete a short-lived value."""
    cache = open_cache(url)
    try:
        await within_budget(cache.set("check", "ok", ttl=10))
        if await within_budget(cache.get("check")) != "ok":
            raise LookupError("the cache did not return what was stored")
        await within_budget(cache.delete("check"))
    finally:
        await cache.close()


async def check_twitch(settings: Settings) -> None:
    """Mint an app access token with the client credentials."""
    async with aiohttp.ClientSession() as http:
        await TwitchClient(http, TwitchApp.from_settings(settings), attempts=1).app_token()


async def check_discord(settings: Settings) -> None:
    """Log in with the bot token (`GET /users/@me`), without connecting to the gateway."""
    point_discord_at(settings)
    client = discord.Client(intents=discord.Intents.none())
    try:
        await client.login(settings.discord_token)
    finally:
        await client.close()
