"""What the bot keeps does not grow with use: /login clicks, spent states, ended sessions."""

from __future__ import annotations

from tortoise import connections

from db.models import ApiSession, UsedState
from tests.e2e.test_account_flow import link_account

TABLES = ("users", "sessions", "used_oauth_states", "snapshots", "refresh_runs", "command_syncs")


async def row_counts() -> dict[str, int]:
    conn = connections.get("default")
    counts = {}
    for table in TABLES:
        rows = await conn.execute_query_dict(f"SELECT COUNT(*) AS n FROM {table}")  # noqa: S608
        counts[table] = rows[0]["n"]
    return counts


async def test_login_clicks_add_no_rows_and_are_forgotten_when_their_links_expire(world):
    cog = world.services.bot.get_cog("AccountCog")
    before = await row_counts()

    for user in range(60):
        clicked = await world.discord.slash("login", user_id=1_100_000_000_000_500_000 + user)
        await clicked.wait_for_message()

    assert await row_counts() == before
    assert cog.pending_logins == 60
    world.clock.advance(minutes=11)  # every link's state has expired
    await cog.forget_expired()
    assert cog.pending_logins == 0


async def test_spent_states_and_ended_sessions_are_pruned_after_they_expire(world):
    await link_account(world)
    assert await UsedState.all().count() == 1
    assert await ApiSession.all().count() == 1
    cog = world.services.bot.get_cog("AccountCog")

    await cog.forget_expired()  # nothing has expired yet
    assert await UsedState.all().count() == 1
    assert await ApiSession.all().count() == 1

    world.clock.advance(hours=2, minutes=1)
    await cog.forget_expired()
    assert await UsedState.all().count() == 0
    assert await ApiSession.all().count() == 0
