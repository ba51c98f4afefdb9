"""The committed migrations build exactly the schema the models describe, and upgrading an
older database keeps what it holds."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from tortoise import Tortoise
from tortoise.migrations.api import migrate

from db import MODELS, close_database, open_database, tortoise_config
from db.models import User


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


async def test_starting_again_applies_nothing_and_keeps_the_users(tmp_path):
    url = f"sqlite://{tmp_path / 'bot.sqlite3'}"
    # A database as the first release left it.
    await migrate(config=tortoise_config(url), target="models.0001_initial")
    await close_database()
    await open_database(url)
    await User.create(
        discord_id="42",
        twitch_id="7",
        twitch_login="viewer",
        twitch_display_name="Viewer",
        linked_at=datetime.now(UTC),
    )
    await close_database()

    await open_database(url)  # the current release: pending migrations, if any, run here
    try:
        assert await User.filter(discord_id="42").exists()
    finally:
        await close_database()
