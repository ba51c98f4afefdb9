"""In-process world for end-to-end tests that need to move the clock: fakes + running services."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest_asyncio

from bot.app import Services, running_services
from bot.config import settings_from_env
from tests.conftest import Clock
from tests.e2e.harness import bot_environment
from tests.fakes.discord import FakeDiscord, patched_discord
from tests.fakes.twitch import FakeTwitch, random_streams


@dataclass
class World:
    discord: FakeDiscord
    twitch: FakeTwitch
    services: Services
    clock: Clock
    http: aiohttp.ClientSession


@pytest_asyncio.fixture
async def world(tmp_path, caplog) -> AsyncIterator[World]:
    caplog.set_level(logging.DEBUG)
    clock = Clock()
    async with (
        FakeDiscord() as discord_fake,
        FakeTwitch(streams=random_streams(300)) as twitch,
        # Like a browser on our loopback server: keep cookies set by 127.0.0.1 (aiohttp's
        # default jar drops cookies from IP addresses).
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http,
    ):
        env = bot_environment(discord_fake, twitch, tmp_path, TOP_STREAMS="200")
        twitch.redirect_uris = {f"{env['PUBLIC_URL']}/callback"}
        settings = settings_from_env(env)
        with patched_discord(discord_fake):
            async with running_services(settings, clock=clock) as services:
                bot_task = asyncio.create_task(services.bot.start(settings.discord_token))
                await discord_fake.wait_until_identified(timeout=30)
                await discord_fake.wait_for_commands(timeout=30)
                async with asyncio.timeout(20):
                    while await services.stats.snapshot() is None:
                        await asyncio.sleep(0.05)
                yield World(discord_fake, twitch, services, clock, http)
                await services.bot.close()
                await bot_task
        assert await discord_fake.all_violations() == []
