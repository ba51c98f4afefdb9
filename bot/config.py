"""Settings: one frozen object built once from the environment (and an optional `.env` file)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from dotenv import dotenv_values

from bot.errors import ConfigError

T = TypeVar("T")

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
MIN_SECRET_KEY_LENGTH = 32
DEFAULT_DATABASE_URL = "sqlite://data/streamstats.sqlite3"
MAX_TOP_STREAMS = 500_000  # the walk's hard cap: 5,000 pages of 100


@dataclass(frozen=True)
class Settings:
    """Every setting of the bot and its web server, validated; secrets stay out of `repr`."""

    discord_token: str = field(repr=False)
    twitch_client_id: str
    twitch_client_secret: str = field(repr=False)
    secret_key: str = field(repr=False)
    discord_guild_id: int | None = None
    discord_api_url: str = "https://discord.com/api/v10"
    discord_gateway_url: str = "wss://gateway.discord.gg/"
    twitch_api_url: str = "https://api.twitch.tv/helix"
    twitch_auth_url: str = "https://id.twitch.tv/oauth2"
    public_url: str = "http://localhost:8080"
    web_host: str = "127.0.0.1"
    web_port: int = 8080
    # URLs may carry a password (postgres://user:password@…, redis://:password@…).
    database_url: str = field(default=DEFAULT_DATABASE_URL, repr=False)
    cache_url: str = field(default="memory://", repr=False)
    top_streams: int | None = 1000  # None: every live stream (TOP_STREAMS=all)
    refresh_minutes: float = 15
    history_days: int = 30
    history_channels: int = 1000
    view_timeout: float = 180
    require_login: bool = True
    shard_count: int | None = None
    shard_ids: tuple[int, ...] | None = None
    web_enabled: bool = True
    log_level: str = "INFO"
    ratelimit_headroom: float = 0.10  # share of the app bucket a refresh leaves to other calls

    @property
    def redirect_uri(self) -> str:
        """The OAuth redirect registered with Twitch: web_callback's /callback at PUBLIC_URL."""
        return f"{self.public_url}/callback"

    @property
    def syncs_commands(self) -> bool:
        """One process publishes the slash commands: the one with shard 0 (or no sharding)."""
        return self.shard_ids is None or 0 in self.shard_ids


class _Reader:
    """Reads variables one by one and collects every problem instead of stopping at the first."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def raw(self, name: str) -> str | None:
        value = self.env.get(name, "").strip()
        return value or None

    def required(self, name: str, what: str) -> str:
        value = self.raw(name)
        if value is None:
            self.problems.append(f"{name} is missing: set it to {what}.")
            return ""
        return value

    def parsed(self, name: str, default: T, parse: Callable[[str], T], expected: str) -> T:
        value = self.raw(name)
        if value is None:
            return default
        try:
            return parse(value)
        except ValueError:
            self.problems.append(f"{name} is invalid: it must be {expected}.")
            return default


def _int_between(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        number = int(text)
        if not low <= number <= high:
            raise ValueError(text)
        return number

    return parse


def _positive_number(text: str) -> float:
    number = float(text)
    if not 0 < number < float("inf"):
        raise ValueError(text)
    return int(number) if number.is_integer() else number


def _http_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(text)
    return text.rstrip("/")


def _ws_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("ws", "wss") or not parts.netloc:
        raise ValueError(text)
    return text


def _database_url(text: str) -> str:
    scheme, sep, rest = text.partition("://")
    if not sep or not rest:
        raise ValueError(text)
    if scheme == "postgresql":
        return f"postgres://{rest}"
    if scheme not in ("sqlite", "postgres"):
        raise ValueError(text)
    return text


def _cache_url(text: str) -> str:
    scheme = urlsplit(text).scheme
    if scheme not in ("memory", "redis"):
        raise ValueError(text)
    return text


def _boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise ValueError(text)


def _shard_ids(text: str) -> tuple[int, ...]:
    ids = tuple(int(part) for part in text.split(","))
    if not ids or min(ids) < 0 or len(set(ids)) != len(ids):
        raise ValueError(text)
    return ids


def _top_streams(text: str) -> int | None:
    if text.lower() == "all":
        return None
    return _int_between(1, MAX_TOP_STREAMS)(text)


def _percentage_below(high: int) -> Callable[[str], float]:
    def parse(text: str) -> float:
        number = float(text.removesuffix("%"))
        if not 0 <= number < high:
            raise ValueError(text)
        return number / 100

    return parse


def _log_level(text: str) -> str:
    level = text.upper()
    if level not in LOG_LEVELS:
        raise ValueError(text)
    return level


def settings_from_env(env: Mapping[str, str], *, for_bot: bool = True) -> Settings:
    """Build `Settings` from a mapping of variables; raise `ConfigError` naming every problem.

    `for_bot=False` is for the operator commands that only fetch and read Twitch data
    (`streamstats refresh --once`, `streamstats stats`): they need no Discord token and no
    SECRET_KEY, so someone with only Twitch credentials can run them.
    """
    read = _Reader(env)
    bot_only = read.required if for_bot else _optional(read)
    discord_token = bot_only("DISCORD_TOKEN", "the bot token from the Discord developer portal")
    client_id = read.required("TWITCH_CLIENT_ID", "the client id of your Twitch application")
    client_secret = read.required(
        "TWITCH_CLIENT_SECRET", "the client secret of your Twitch application"
    )
    secret_key = bot_only("SECRET_KEY", f"a random string of {MIN_SECRET_KEY_LENGTH}+ chars")
    if for_bot and secret_key and len(secret_key) < MIN_SECRET_KEY_LENGTH:
        read.problems.append(
            f"SECRET_KEY is too short: it must be at least {MIN_SECRET_KEY_LENGTH} characters "
            "(try: python -c 'import secrets; print(secrets.token_urlsafe(48))')."
        )
    url = "an http(s) URL such as https://example.com/path"
    settings = Settings(
        discord_token=discord_token,
        twitch_client_id=client_id,
        twitch_client_secret=client_secret,
        secret_key=secret_key,
        discord_guild_id=read.parsed(
            "DISCORD_GUILD_ID", None, _int_between(1, 2**64 - 1), "a Discord server id (digits)"
        ),
        discord_api_url=read.parsed("DISCORD_API_URL", Settings.discord_api_url, _http_url, url),
        discord_gateway_url=read.parsed(
            "DISCORD_GATEWAY_URL", Settings.discord_gateway_url, _ws_url, "a ws:// or wss:// URL"
        ),
        twitch_api_url=read.parsed("TWITCH_API_URL", Settings.twitch_api_url, _http_url, url),
        twitch_auth_url=read.parsed("TWITCH_AUTH_URL", Settings.twitch_auth_url, _http_url, url),
        public_url=read.parsed("PUBLIC_URL", Settings.public_url, _http_url, url),
        web_host=read.raw("WEB_HOST") or Settings.web_host,
        web_port=read.parsed(
            "WEB_PORT", Settings.web_port, _int_between(1, 65535), "a port number from 1 to 65535"
        ),
        database_url=read.parsed(
            "DATABASE_URL",
            DEFAULT_DATABASE_URL,
            _database_url,
            "sqlite://path/to/file.sqlite3 or postgres://user:password@host:port/database",
        ),
        cache_url=read.parsed(
            "CACHE_URL", Settings.cache_url, _cache_url, "memory:// or redis://host:port/db"
        ),
        top_streams=read.parsed(
            "TOP_STREAMS",
            Settings.top_streams,
            _top_streams,
            f"all, or a whole number from 1 to {MAX_TOP_STREAMS}",
        ),
        ratelimit_headroom=read.parsed(
            "TWITCH_RATELIMIT_HEADROOM",
            Settings.ratelimit_headroom,
            _percentage_below(100),
            "a percentage from 0 to 99, such as 10%",
        ),
        refresh_minutes=read.parsed(
            "REFRESH_MINUTES", Settings.refresh_minutes, _positive_number, "a number above 0"
        ),
        history_days=read.parsed(
            "HISTORY_DAYS",
            Settings.history_days,
            _int_between(0, 3650),
            "a whole number of days 0-3650 (0 keeps no history)",
        ),
        history_channels=read.parsed(
            "HISTORY_CHANNELS",
            Settings.history_channels,
            _int_between(0, 100_000),
            "a whole number 0-100000",
        ),
        view_timeout=read.parsed(
            "VIEW_TIMEOUT", Settings.view_timeout, _positive_number, "a number of seconds above 0"
        ),
        require_login=read.parsed(
            "REQUIRE_LOGIN", Settings.require_login, _boolean, "true or false"
        ),
        shard_count=read.parsed(
            "SHARD_COUNT", None, _int_between(1, 10_000), "a whole number of shards, 1 or more"
        ),
        shard_ids=read.parsed(
            "SHARD_IDS", None, _shard_ids, "shard numbers separated by commas, e.g. 0,1"
        ),
        web_enabled=read.parsed("WEB_ENABLED", Settings.web_enabled, _boolean, "true or false"),
        log_level=read.parsed(
            "LOG_LEVEL", Settings.log_level, _log_level, "one of " + ", ".join(LOG_LEVELS)
        ),
    )
    if settings.shard_ids is not None and settings.shard_count is None:
        read.problems.append("SHARD_IDS is set without SHARD_COUNT: set both, or neither.")
    elif (
        settings.shard_ids
        and settings.shard_count
        and max(settings.shard_ids) >= settings.shard_count
    ):
        read.problems.append(
            f"SHARD_IDS is invalid: every id must be below SHARD_COUNT ({settings.shard_count})."
        )
    if read.problems:
        raise ConfigError(read.problems)
    return settings


def _optional(read: _Reader) -> Callable[[str, str], str]:
    """`_Reader.required`'s twin for a variable that may be left empty."""
    return lambda name, _: read.raw(name) or ""


def load_settings(env_file: Path = Path(".env"), *, for_bot: bool = True) -> Settings:
    """Read `.env` (if present) under the process environment, which wins, and validate."""
    file_values = {k: v for k, v in dotenv_values(env_file).items() if v is not None}
    return settings_from_env({**file_values, **os.environ}, for_bot=for_bot)
