"""FollowingService against the fake Twitch, on SQLite and PostgreSQL: the user's token through
refreshes and races, the per-user cache, and askers that give up before Twitch answers."""

from __future__ import annotations

import asyncio

import pytest

from bot.errors import LoginRequired, RelinkRequired, TwitchNotAnswering
from bot.personal import FollowingService
from bot.twitch_oauth import TwitchOAuth
from db.models import User
from tests.bot.test_accounts import DISCORD_ID, honoured, link, stored_tokens
from tests.bot.test_cache import commit
from tests.conftest import app_of


def followed_requests(fake) -> int:
    return sum(1 for _, path, _ in fake.requests if path == "/helix/streams/followed")


@pytest.fixture
async def linked(database, accounts, stats, fake_twitch, http):
    """A snapshot, and DISCORD_ID linked to a Twitch user who follows five live channels."""
    snapshot = await commit(stats, seed=1)
    result = await link(accounts, fake_twitch, http)
    fake_twitch.follow(result.twitch.id, *(s["user_id"] for s in fake_twitch.streams[:5]))
    return result, snapshot


def patient(accounts, stats, fake_twitch, http, wait: float) -> FollowingService:
    return FollowingService(
        accounts=accounts,
        oauth=TwitchOAuth(http, app_of(fake_twitch)),
        stats=stats,
        top_n=100,
        twitch_wait=wait,
    )


async def test_a_logout_while_the_token_is_refreshed_leaves_no_live_tokens(
    linked, accounts, stats, fake_twitch, http
):
    result, _ = linked
    following = patient(accounts, stats, fake_twitch, http, wait=10)
    fake_twitch.expire_user_tokens()
    hold = fake_twitch.hold_next_refresh()  # Twitch rotates the pair; its reply is slow

    async with asyncio.timeout(10):
        asked = asyncio.create_task(following.following(DISCORD_ID))
        await hold.reached.wait()
        (rotated,) = honoured(fake_twitch, result.twitch.id)
        assert await accounts.logout(DISCORD_ID)
        hold.release()
        with pytest.raises(LoginRequired):
            await asked

    assert await stored_tokens() == (None, None)
    assert rotated in fake_twitch.revoked
    assert honoured(fake_twitch, result.twitch.id) == []


async def test_a_new_link_while_the_token_is_refreshed_is_used_and_kept(
    linked, accounts, stats, fake_twitch, http
):
    result, _ = linked
    following = patient(accounts, stats, fake_twitch, http, wait=10)
    fake_twitch.expire_user_tokens()
    hold = fake_twitch.hold_next_refresh()

    async with asyncio.timeout(10):
        asked = asyncio.create_task(following.following(DISCORD_ID))
        await hold.reached.wait()
        (rotated,) = honoured(fake_twitch, result.twitch.id)
        await link(accounts, fake_twitch, http)  # the same person links again meanwhile
        new_pair = await stored_tokens()
        hold.release()
        answer = await asked

    assert len(answer.value.followed_live) == 5
    assert await stored_tokens() == new_pair
    assert rotated in fake_twitch.revoked
    assert honoured(fake_twitch, result.twitch.id) == [new_pair[0]]


async def test_an_undecryptable_stored_token_ends_the_link_and_asks_for_a_new_one(
    linked, following, fake_twitch
):
    await User.filter(discord_id=DISCORD_ID).update(access_token="not a ciphertext")

    with pytest.raises(RelinkRequired):
        await following.following(DISCORD_ID)

    assert await stored_tokens() == (None, None)
    assert followed_requests(fake_twitch) == 0


async def test_followed_streams_are_fetched_once_per_snapshot(
    linked, following, stats, fake_twitch
):
    first = await following.following(DISCORD_ID)
    again = await following.following(DISCORD_ID)
    assert followed_requests(fake_twitch) == 1
    assert again == first

    newer = await commit(stats, seed=2)
    fresh = await following.following(DISCORD_ID)

    assert followed_requests(fake_twitch) == 2
    assert fresh.snapshot == newer


async def test_a_failed_fetch_is_not_remembered(linked, following, fake_twitch):
    fake_twitch.fail_next(503)
    with pytest.raises(TwitchNotAnswering):
        await following.following(DISCORD_ID)

    answer = await following.following(DISCORD_ID)

    assert len(answer.value.followed_live) == 5
    assert followed_requests(fake_twitch) == 2


async def test_a_fetch_outlives_an_asker_who_gave_up_and_serves_the_next(
    linked, accounts, stats, fake_twitch, http
):
    result, snapshot = linked
    following = patient(accounts, stats, fake_twitch, http, wait=0.2)
    fake_twitch.slow_seconds = 0.6
    fake_twitch.fail_next("slow")

    with pytest.raises(TwitchNotAnswering):
        await following.following(DISCORD_ID)
    async with asyncio.timeout(5):
        while await stats.followed_streams(result.twitch.id, snapshot.id) is None:
            await asyncio.sleep(0.02)
    answer = await following.following(DISCORD_ID)

    assert len(answer.value.followed_live) == 5
    assert followed_requests(fake_twitch) == 1


async def test_a_refreshed_token_still_refused_asks_for_a_new_link_and_keeps_the_link(
    database, accounts, stats, following, fake_twitch, http
):
    await commit(stats, seed=1)
    fake_twitch.granted_scopes = []  # Twitch's token cannot read follows...
    await link(accounts, fake_twitch, http)
    await User.filter(discord_id=DISCORD_ID).update(scopes="user:read:follows")  # ...ours says so

    with pytest.raises(RelinkRequired):
        await following.following(DISCORD_ID)

    assert fake_twitch.refresh_requests == 1
    assert followed_requests(fake_twitch) == 2
    access, refresh = await stored_tokens()
    assert fake_twitch.user_tokens[access]["refresh_token"] == refresh  # the refreshed pair, kept


async def test_an_ended_session_needs_a_new_link_even_when_login_is_optional(
    linked, accounts, following, clock, fake_twitch
):
    accounts.require_login = False  # the statistics are open to everyone; this answer is not
    assert len((await following.following(DISCORD_ID)).value.followed_live) == 5

    clock.advance(hours=1, minutes=1)

    with pytest.raises(LoginRequired):
        await following.following(DISCORD_ID)
    assert followed_requests(fake_twitch) == 1
