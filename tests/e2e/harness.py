"""Runs the real `python -m bot` as a subprocess against the fake Discord and fake Twitch."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiocache import Cache

from bot import stats
from bot.streams import Stream, by_viewers
from bot.twitch import parse_stream
from tests.conftest import service_url
from tests.fakes.discord import FakeDiscord, png_dimensions
from tests.fakes.twitch import FakeTwitch

REPO = Path(__file__).resolve().parents[2]
SECRET_KEY = "e2e-secret-key-that-is-long-enough-0123456789"
CHART_MAX_BYTES = 500 * 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def current_top(fake_twitch: FakeTwitch, limit: int) -> list[Stream]:
    """What the bot should hold after a refresh: the fake's top `limit` streams."""
    streams = [parse_stream(payload) for payload in fake_twitch.streams]
    return sorted(streams, key=by_viewers)[:limit]


def refreshes_started(twitch: FakeTwitch) -> int:
    """How many refreshes reached Twitch: each one starts with a page without a cursor."""
    return sum(
        1
        for _, path, query in twitch.requests
        if path == "/helix/streams" and not query.get("after")
    )


def expected_summary(fake_twitch: FakeTwitch, limit: int) -> stats.StreamSummary:
    return stats.stream_summary(current_top(fake_twitch, limit))


@dataclass
class RunningBot:
    """A bot process and the addresses to observe it by."""

    process: asyncio.subprocess.Process
    web_url: str
    log_path: Path
    killed: bool = False

    def kill(self) -> None:
        """Die like a crashed process: no clean-up at all."""
        self.killed = True
        self.process.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def wait_for_log(self, text: str, timeout: float = 30) -> None:
        """Wait until the bot has logged `text`."""
        async with asyncio.timeout(timeout):
            while text not in self.log():
                await asyncio.sleep(0.05)

    async def health(self) -> dict[str, Any]:
        async with aiohttp.ClientSession() as http, http.get(f"{self.web_url}/healthz") as reply:
            return await reply.json()

    async def wait_for_fresh_snapshot(self, twitch: FakeTwitch, timeout: float = 20) -> str:
        """Wait for a snapshot fetched wholly after this call (e.g. after the test changed the
        fake's streams): a refresh already under way may still commit pages of the old data."""
        async with asyncio.timeout(timeout):
            started = refreshes_started(twitch)
            while refreshes_started(twitch) == started:
                await asyncio.sleep(0.02)
            # That refresh has started; the snapshot it commits is newer than the current one
            # (or is the current one already, and then the next is fresh too).
            current = (await self.health()).get("snapshot_at")
            return await self.wait_for_snapshot(newer_than=current, timeout=timeout)

    async def wait_for_snapshot(self, newer_than: str | None = None, timeout: float = 20) -> str:
        """Wait until /healthz reports a snapshot (newer than `newer_than`); return its time."""
        async with asyncio.timeout(timeout):
            while True:
                try:
                    taken = (await self.health()).get("snapshot_at")
                except aiohttp.ClientError:
                    taken = None
                if taken and taken != newer_than:
                    return taken
                await asyncio.sleep(0.1)


def bot_environment(
    fake_discord: FakeDiscord, fake_twitch: FakeTwitch, folder: Path, **overrides: str
) -> dict[str, str]:
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(REPO),
        "DISCORD_TOKEN": fake_discord.token,
        "DISCORD_API_URL": fake_discord.api_url,
        "DISCORD_GATEWAY_URL": fake_discord.gateway_url,
        "DISCORD_GUILD_ID": str(fake_discord.guild_id),
        "TWITCH_CLIENT_ID": fake_twitch.client_id,
        "TWITCH_CLIENT_SECRET": fake_twitch.client_secret,
        "TWITCH_API_URL": fake_twitch.api_url,
        "TWITCH_AUTH_URL": fake_twitch.auth_url,
        "SECRET_KEY": SECRET_KEY,
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "WEB_PORT": str(port),
        "DATABASE_URL": f"sqlite://{folder}/streamstats.sqlite3",
    }
    env.update(overrides)
    return env


@asynccontextmanager
async def run_bot(
    env: Mapping[str, str], folder: Path, *, tracebacks_expected: bool = False
) -> AsyncIterator[RunningBot]:
    """Start `python -m bot`; stop it with SIGTERM and check it exits cleanly."""
    log_path = folder / "bot.log"
    with log_path.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", cwd=folder, env=dict(env), stdout=log_file, stderr=log_file
        )
    bot = RunningBot(process, f"http://127.0.0.1:{env['WEB_PORT']}", log_path)
    try:
        yield bot
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()
                raise AssertionError("the bot did not stop on SIGTERM:\n" + bot.log()) from None
    if not bot.killed:
        assert process.returncode == 0, f"bot exited with {process.returncode}:\n{bot.log()}"
    if not tracebacks_expected:
        assert "Traceback" not in bot.log(), bot.log()


BACKENDS = ("embedded", "postgres+redis", "redis-down")


@asynccontextmanager
async def backend(kind: str) -> AsyncIterator[dict[str, str]]:
    """Settings for one way of running: SQLite + in-process cache (the default), a fresh
    PostgreSQL database + Redis, or a Redis that does not answer (the database must)."""
    if kind == "embedded":
        yield {}
        return
    if kind == "redis-down":
        yield {"CACHE_URL": "redis://127.0.0.1:9/0"}
        return
    postgres = service_url("TEST_POSTGRES_URL", "PostgreSQL")
    redis_url = service_url("TEST_REDIS_URL", "Redis").rsplit("/", 1)[0] + "/4"
    name = f"streamstats_e2e_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(postgres)
    await admin.execute(f'CREATE DATABASE "{name}"')
    cache = Cache.from_url(redis_url)
    await cache.clear()
    try:
        yield {"DATABASE_URL": f"{postgres.rsplit('/', 1)[0]}/{name}", "CACHE_URL": redis_url}
    finally:
        await cache.clear()
        await cache.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def assert_one_call_answer(fake: FakeDiscord, command: str, options: Mapping) -> dict:
    """Once warm (as in use), the command's answer is its interaction callback, nothing else.

    Returns that answer's message.
    """
    await (await fake.slash(command, options)).wait_for_message()

    interaction = await fake.slash(command, options)
    message = await interaction.wait_for_message()
    await asyncio.sleep(0.3)  # anything else the bot would send for it arrives by now

    callback = f"/interactions/{interaction.id}/{interaction.token}/callback"
    assert interaction.rest_calls() == [("POST", callback)]
    assert interaction.responses[0]["type"] == 4  # the answer itself, not a deferral
    return message


def shown_chart(discord_fake: FakeDiscord, message: dict) -> tuple[dict, bytes]:
    """The attachment the message's embed shows, and its bytes, checked to be a sane PNG."""
    attachment = discord_fake.embed_image(message)
    assert attachment is not None, "the embed shows no attachment of the message"
    data = discord_fake.attachment_bytes(attachment)
    dimensions = png_dimensions(data)
    assert dimensions is not None, "not a PNG"
    assert dimensions == (attachment["width"], attachment["height"])
    width, height = dimensions
    assert 400 <= width <= 1600 and 250 <= height <= 1000
    assert len(data) < CHART_MAX_BYTES
    assert attachment["description"]
    return attachment, data
