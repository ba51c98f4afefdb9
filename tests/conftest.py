"""Shared fixtures: databases (SQLite always, PostgreSQL when available), caches, fake Twitch."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace

import aiohttp
import pytest
from aiocache.base import BaseCache
from aiohttp.test_utils import TestClient, TestServer
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.contrib.test import tortoise_test_context

from bot.accounts import AccountService
from bot.cache import StatsService, open_cache
from bot.crypto import TokenCipher
from bot.health import HealthCheck
from bot.history import HistoryService
from bot.personal import FollowingService
from bot.supervisor import Supervisor
from bot.tokens import TokenSigner
from bot.twitch import TwitchApp, TwitchClient
from bot.twitch_oauth import TwitchOAuth
from db import MODELS
from db.leader import AlwaysLeader
from tests.fakes.twitch import FakeTwitch, random_streams
from web_callback import create_app

REQUIRE_SERVICES = os.environ.get("STREAMSTATS_REQUIRE_SERVICES") == "1"
TEST_TIME_LIMIT = 180.0  # seconds; no test comes near it: one that does is stuck


def _report_stuck_test(test: str, capture: pytest.CaptureManager | None) -> None:
    """Show where every unfinished task waits, then stop the run: a stuck test must fail the
    suite with its cause, not hang CI until someone kills it."""
    if capture is not None:
        capture.suspend_global_capture()  # the report must reach CI's log
    sys.stderr.write(f"\n{test} is still running after {TEST_TIME_LIMIT:.0f} s; its tasks:\n")
    for task in [t for t in gc.get_objects() if isinstance(t, asyncio.Task) and not t.done()]:
        task.print_stack(file=sys.stderr)
    os.kill(os.getpid(), signal.SIGINT)  # wakes the event loop's wait, unlike interrupt_main


@pytest.fixture(autouse=True)
def stuck_test_guard(request: pytest.FixtureRequest) -> Iterator[None]:
    """Stop the run with a report if this test outlives TEST_TIME_LIMIT."""
    capture = request.config.pluginmanager.getplugin("capturemanager")
    timer = threading.Timer(
        TEST_TIME_LIMIT, _report_stuck_test, args=(request.node.nodeid, capture)
    )
    timer.daemon = True
    timer.start()
    yield
    timer.cancel()


def service_url(variable: str, service: str) -> str:
    """The URL of an external test service, or a loud skip (a failure in CI) when it is absent."""
    url = os.environ.get(variable)
    if url:
        return url
    message = f"{service} not available: set {variable} (bash .ci/run starts one) to run this test"
    if REQUIRE_SERVICES:
        pytest.fail(message + " — STREAMSTATS_REQUIRE_SERVICES=1 demands it")
    pytest.skip(message)


def postgres_test_url() -> str:
    """A fresh database name (created and dropped by Tortoise) on the test PostgreSQL server."""
    base = service_url("TEST_POSTGRES_URL", "PostgreSQL")
    server, _, _ = base.rpartition("/")
    return f"{server}/streamstats_test_{{}}"


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
async def database(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """An empty StreamStats database with the schema, on SQLite and on PostgreSQL."""
    url = "sqlite://:memory:" if request.param == "sqlite" else postgres_test_url()
    # Tortoise caches each model's INSERT statement by connection name, not by dialect; one
    # process of the product uses one database, but this suite switches between two.
    EXECUTOR_CACHE.clear()
    async with tortoise_test_context(MODELS, db_url=url):
        yield request.param


@pytest.fixture
async def postgres_database() -> AsyncIterator[str]:
    """An empty StreamStats database on PostgreSQL only (for PostgreSQL's own faults)."""
    EXECUTOR_CACHE.clear()
    async with tortoise_test_context(MODELS, db_url=postgres_test_url()):
        yield "postgres"


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def cache(request: pytest.FixtureRequest) -> AsyncIterator[BaseCache]:
    """An empty cache: in-process, and Redis when available."""
    url = "memory://" if request.param == "memory" else service_url("TEST_REDIS_URL", "Redis")
    backend = open_cache(url)
    await backend.clear()
    yield backend
    await backend.clear()
    await backend.close()


@pytest.fixture
async def stats() -> AsyncIterator[StatsService]:
    """The stats service with an in-process cache (over whichever database the test asks for)."""
    service = StatsService(open_cache("memory://"))
    yield service
    await service.close()


@pytest.fixture
async def fake_twitch() -> AsyncIterator[FakeTwitch]:
    """A fake Twitch on 127.0.0.1, serving 1000 random live streams."""
    async with FakeTwitch(streams=random_streams(1000, seed=1)) as fake:
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """One HTTP session per test, as the product shares one per process."""
    async with aiohttp.ClientSession() as session:
        yield session


def app_of(fake: FakeTwitch, **changes: str) -> TwitchApp:
    """Our Twitch application as registered with the fake (fields overridable)."""
    app = TwitchApp(fake.client_id, fake.client_secret, fake.api_url, fake.auth_url)
    return replace(app, **changes)


@pytest.fixture
def twitch(http: aiohttp.ClientSession, fake_twitch: FakeTwitch) -> TwitchClient:
    """Our Twitch client aimed at the fake, with short back-offs so retries stay fast."""
    return TwitchClient(
        http,
        app_of(fake_twitch),
        backoff=0.01,
        max_wait=3.0,
        timeout=1.0,
    )


TEST_SECRET_KEY = "test-secret-key-0123456789-abcdefghijklmnop"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        from datetime import UTC, datetime

        self.now = datetime.now(UTC)

    def __call__(self):
        return self.now

    def advance(self, **delta: float) -> None:
        from datetime import timedelta

        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def account_service(
    http: aiohttp.ClientSession,
    fake: FakeTwitch,
    clock: Clock,
    public_url: str = "http://127.0.0.1:8080",
) -> AccountService:
    """The account service against the fake Twitch, served at `public_url`."""
    return AccountService(
        oauth=TwitchOAuth(http, app_of(fake)),
        signer=TokenSigner(TEST_SECRET_KEY, clock),
        cipher=TokenCipher(TEST_SECRET_KEY),
        public_url=public_url,
        redirect_uri=f"{public_url}/callback",
        require_login=True,
        clock=clock,
    )


@pytest.fixture
def accounts(http: aiohttp.ClientSession, fake_twitch: FakeTwitch, clock: Clock) -> AccountService:
    """The account service against the fake Twitch, with a clock the test controls."""
    return account_service(http, fake_twitch, clock)


@pytest.fixture
def following(
    http: aiohttp.ClientSession,
    fake_twitch: FakeTwitch,
    accounts: AccountService,
    stats: StatsService,
) -> FollowingService:
    """/following's service over the test's accounts and stats, the top being 100 streams."""
    return FollowingService(
        accounts=accounts, oauth=TwitchOAuth(http, app_of(fake_twitch)), stats=stats, top_n=100
    )


@pytest.fixture
def history(stats: StatsService) -> HistoryService:
    """The history service over the test's stats: the top is 1000 streams, kept 30 days."""
    return HistoryService(stats, top_n=1000, history_days=30)


@pytest.fixture
def health(clock: Clock) -> HealthCheck:
    """The health check of a process whose refresh loop has not started yet."""
    return HealthCheck(
        supervisor=Supervisor(), leader=AlwaysLeader(), refresh_minutes=15, clock=clock
    )


@pytest.fixture
async def client(
    database, accounts, stats, following, history, health
) -> AsyncIterator[TestClient]:
    """The web app as `create_app` builds it, over the test database and services."""
    app = create_app(
        accounts=accounts, stats=stats, following=following, history=history, health=health
    )
    async with TestClient(TestServer(app)) as client:
        yield client
