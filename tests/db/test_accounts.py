"""The account store: every write of a user's tokens is conditional on the version its writer read
(except a new link, which always wins and hands back what it replaced)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from db import accounts as store
from db.accounts import SessionRecord
from db.models import ApiSession, UsedState

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


async def save(access: str, jti: str) -> store.LinkedUser | None:
    return await store.save_link(
        discord_id="42",
        twitch_id="7",
        twitch_login="viewer",
        twitch_display_name="Viewer",
        access_token=access,
        refresh_token=f"refresh-{access}",
        scopes="user:read:follows",
        session=SessionRecord(jti, "42", NOW, NOW + timedelta(hours=1)),
    )


async def version() -> int:
    user = await store.linked_user("42")
    assert user is not None
    return user.token_version


async def test_a_writer_that_read_an_older_version_changes_nothing(database):
    assert await save("a1", "s1") is None
    read = await version()

    assert await store.store_tokens("42", read, "a2", "r2")
    assert not await store.store_tokens("42", read, "a3", "r3")
    assert not await store.end_link("42", read, NOW)

    user = await store.linked_user("42")
    assert (user.access_token, user.refresh_token) == ("a2", "r2")
    assert await store.active_session("42", NOW) is not None


async def test_a_new_link_always_wins_and_returns_the_tokens_it_replaced(database):
    await save("a1", "s1")
    read = await version()

    replaced = await save("a2", "s2")

    assert replaced is not None and replaced.access_token == "a1"
    assert replaced.refresh_token == "refresh-a1"
    assert not await store.store_tokens("42", read, "stale", "stale")
    assert (await store.linked_user("42")).access_token == "a2"


async def test_ending_a_link_at_its_current_version_deletes_tokens_and_sessions(database):
    await save("a1", "s1")

    assert await store.end_link("42", await version(), NOW)

    user = await store.linked_user("42")
    assert (user.access_token, user.refresh_token) == (None, None)
    assert await store.unrevoked_session("s1") is None
    assert await store.users_with_tokens() == []
    replaced = await save("a2", "s2")  # linking again after a logout
    assert replaced is not None and replaced.access_token is None


async def test_forgetting_what_expired_keeps_what_still_counts(database):
    await save("a1", "expired-long-ago")
    await save("a2", "live-but-revoked")  # a new link: the first session is revoked, not gone
    await store.end_link("42", await version(), NOW)  # logout revokes the second one too
    await ApiSession.filter(jti="expired-long-ago").update(expires_at=NOW - timedelta(hours=2))
    assert await store.spend_state("old-state", NOW - timedelta(hours=2))
    assert await store.spend_state("fresh-state", NOW + timedelta(minutes=5))

    forgotten = await store.forget_expired(NOW - timedelta(hours=1))

    assert forgotten == (1, 1)
    assert [s.jti for s in await ApiSession.all()] == ["live-but-revoked"]
    assert await store.unrevoked_session("live-but-revoked") is None  # still revoked
    assert not await store.spend_state("fresh-state", NOW + timedelta(minutes=5))  # still spent
    assert await UsedState.filter(nonce="old-state").count() == 0
