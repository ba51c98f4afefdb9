"""The committed migrations build exactly the schema the models describe, and upgrading an
older database keeps what it holds."""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from tortoise import Tortoise, connections
from tortoise.migrations.api import migrate

from bot.trends import ChannelPoint, ChannelRank, GameTotal
from db import MODELS, close_database, history, open_database, queries, tortoise_config
from db.accounts import store_tokens, users_with_tokens
from db.models import RefreshRun
from db.snapshots import replace_snapshot
from tests.bot.test_cache import make_streams
from tests.conftest import service_url


def schema_of(path) -> dict[str, object]:
    with sqlite3.connect(path) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                "AND name NOT LIKE 'tortoise_%' ORDER BY name"
            )
        ]
        return {
            table: (
                sorted(
                    (name, kind.upper(), notnull, pk)
                    for _, name, kind, notnull, _, pk in conn.execute(
                        f'PRAGMA table_info("{table}")'
                    )
                ),
                sorted(
                    tuple(col[2] for col in conn.execute(f'PRAGMA index_info("{index[1]}")'))
                    for index in conn.execute(f'PRAGMA index_list("{table}")')
                ),
            )
            for table in tables
        }


async def test_migrations_build_the_schema_of_the_models(tmp_path):
    migrated, generated = tmp_path / "migrated.sqlite3", tmp_path / "generated.sqlite3"
    await open_database(f"sqlite://{migrated}")
    await close_database()
    await Tortoise.init(db_url=f"sqlite://{generated}", modules={"models": MODELS})
    await Tortoise.generate_schemas()
    await close_database()

    assert schema_of(migrated) == schema_of(generated)
    assert "users" in schema_of(migrated)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def empty_database(request, tmp_path) -> AsyncIterator[str]:
    """The URL of a database with nothing in it yet, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path / 'bot.sqlite3'}"
        return
    server = service_url("TEST_POSTGRES_URL", "PostgreSQL")
    name = f"streamstats_upgrade_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server.rsplit('/', 1)[0]}/{name}"
    finally:
        await close_database()  # a test that failed midway must not leave a pool reconnecting
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_upgrading_keeps_linked_users_and_their_tokens(empty_database):
    url = empty_database
    # A database as the release before token versions left it, holding a linked user.
    await migrate(config=tortoise_config(url), target="models.0002_snapshot_tops")
    connection = connections.get("default")
    values = ["42", "7", "viewer", "Viewer", datetime.now(UTC), "ciphertext-a", "ciphertext-r", ""]
    # Only placeholders are interpolated into the statement; SQLite and asyncpg spell them apart.
    marks = ", ".join(
        "?" if url.startswith("sqlite") else f"${n}" for n in range(1, len(values) + 1)
    )
    columns = "discord_id, twitch_id, twitch_login, twitch_display_name, linked_at, access_token"
    insert = f"INSERT INTO users ({columns}, refresh_token, scopes) VALUES ({marks})"  # noqa: S608
    await connection.execute_query(insert, values)
    await close_database()

    await open_database(url)  # the current release: pending migrations run here
    try:
        [user] = await users_with_tokens()
        assert (user.discord_id, user.access_token, user.refresh_token) == (
            "42",
            "ciphertext-a",
            "ciphertext-r",
        )
        assert await store_tokens("42", user.token_version, "ciphertext-b", "ciphertext-s")
    finally:
        await close_database()


async def test_upgrading_replaces_recorded_raw_errors_with_plain_words(empty_database):
    url = empty_database
    await migrate(config=tortoise_config(url), target="models.0003_token_version")
    raw = "ClientConnectorError(ConnectionKey(host='twitch-egress.corp.internal', port=8443))"
    placeholders = "?, ?, ?" if url.startswith("sqlite") else "$1, $2, $3"
    insert = f"INSERT INTO refresh_runs (finished_at, error, snapshot_id) VALUES ({placeholders})"  # noqa: S608
    connection = connections.get("default")
    await connection.execute_query(insert, [datetime.now(UTC), None, 1])
    await connection.execute_query(insert, [datetime.now(UTC), raw, None])
    await close_database()

    await open_database(url)
    try:
        errors = [run.error for run in await RefreshRun.all().order_by("id")]
    finally:
        await close_database()

    assert errors == [
        None,
        "a failure recorded by an earlier release (the details are in the bot's log)",
    ]


async def test_upgrading_to_the_history_keeps_the_snapshot_and_starts_an_empty_history(
    empty_database,
):
    url = empty_database
    await migrate(config=tortoise_config(url), target="models.0005_plain_refresh_errors")
    connection = connections.get("default")
    marks = "?, ?, ?, ?" if url.startswith("sqlite") else "$1, $2, $3, $4"
    columns = "taken_at, stream_count, pages, duplicates_dropped"
    insert = f"INSERT INTO snapshots ({columns}) VALUES ({marks})"  # noqa: S608
    await connection.execute_query(insert, [datetime.now(UTC), 2, 1, 0])
    await close_database()

    await open_database(url)
    try:
        latest = await queries.latest_snapshot()
        assert latest is not None
        assert (latest.id, latest.stream_count) == (1, 2)
        assert await history.snapshots_with_history() == []
        assert await history.game_totals_at(latest.id) == {}
        assert latest.every_stream is False  # what every snapshot before 0008 covered

        # The next refresh stages its rows and swaps them in over the upgraded table.
        written = await replace_snapshot(
            make_streams(3, 40),
            pages=1,
            duplicates_dropped=0,
            taken_at=datetime.now(UTC),
            history_channels=1000,
        )
        loaded = await queries.load_streams()
        assert written.id == 2 and loaded.snapshot == written and len(loaded.value) == 40
        assert len(await history.channel_ranks_at(written.id)) == 40
    finally:
        await close_database()


async def test_upgrading_packs_the_history_rows_already_kept(empty_database):
    url = empty_database
    await migrate(config=tortoise_config(url), target="models.0008_every_stream")
    connection = connections.get("default")
    sqlite = url.startswith("sqlite")

    async def insert(table: str, columns: str, values: list[object]) -> None:
        marks = ", ".join("?" if sqlite else f"${n}" for n in range(1, len(values) + 1))
        await connection.execute_query(
            f"INSERT INTO {table} ({columns}) VALUES ({marks})",  # noqa: S608
            values,
        )

    taken = [datetime(2026, 11, 1, hour, tzinfo=UTC) for hour in (10, 11)]
    for snapshot_id, taken_at in enumerate(taken, start=1):
        await insert(
            "history_totals",
            "snapshot_id, taken_at, streams, viewers, median",
            [snapshot_id, taken_at, 3, 60 + snapshot_id, 20.0],
        )
    games = "snapshot_id, game_id, name, streams, viewers, highest"
    await insert("history_games", games, [1, "509658", "Just Chatting", 2, 50, 30])
    await insert("history_games", games, [1, "", "", 1, 11, 11])
    await insert("history_games", games, [2, "509658", "Just: Chatting, 100%", 3, 62, 40])
    channels = "snapshot_id, rank, user_id, login, viewers"
    await insert("history_channels", channels, [1, 1, "41", "alpha", 30])
    await insert("history_channels", channels, [1, 2, "42", "b,e:t%a", 20])
    await insert("history_channels", channels, [2, 1, "42", "b,e:t%a", 40])
    await close_database()

    await open_database(url)
    try:
        assert await history.game_totals_at(1) == {
            "509658": GameTotal("Just Chatting", 2, 50, 30),
            "": GameTotal("", 1, 11, 11),
        }
        assert await history.game_history("509658", 1, 2) == {
            1: GameTotal("Just Chatting", 2, 50, 30),
            2: GameTotal("Just: Chatting, 100%", 3, 62, 40),
        }
        assert await history.channel_ranks_at(1) == {
            "41": ChannelRank("alpha", 1, 30),
            "42": ChannelRank("b,e:t%a", 2, 20),
        }
        assert await history.channel_of("b,e:t%a") == "42"
        assert await history.channel_history("42") == [
            ChannelPoint(taken[0], 2, 20),
            ChannelPoint(taken[1], 1, 40),
        ]
        assert [t.total_viewers for t in await history.snapshots_with_history()] == [61, 62]
    finally:
        await close_database()
