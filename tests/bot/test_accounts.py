"""AccountService against the fake Twitch, on SQLite and PostgreSQL: links, logouts and the hourly
validation, including the exact interleavings where they race one another."""

from __future__ import annotations

import asyncio

import aiohttp
import yarl

from bot.accounts import AccountService, LinkResult
from bot.crypto import TokenCipher
from db.models import User
from tests.conftest import TEST_SECRET_KEY
from tests.fakes.twitch import FakeTwitch

DISCORD_ID = "1100000000000000300"
cipher = TokenCipher(TEST_SECRET_KEY)


async def link(
    accounts: AccountService, twitch: FakeTwitch, http: aiohttp.ClientSession
) -> LinkResult:
    """Link DISCORD_ID to whichever Twitch account the fake authorizes as, like a browser would."""
    state = yarl.URL(accounts.login_url(DISCORD_ID)).query["state"]
    start = accounts.start_link(state)
    async with http.get(start.authorize_url, allow_redirects=False) as reply:
        code = yarl.URL(reply.headers["Location"]).query["code"]
    return await accounts.complete_link(
        code=code, state=state, browser_binding=start.browser_binding
    )


def honoured(twitch: FakeTwitch, twitch_id: str) -> list[str]:
    """The access tokens of a Twitch user whose pair Twitch still honours (live or refreshable)."""
    return [token for token, info in twitch.user_tokens.items() if info["user_id"] == twitch_id]


async def stored_tokens() -> tuple[str | None, str | None]:
    user = await User.get(discord_id=DISCORD_ID)
    if user.access_token is None or user.refresh_token is None:
        return user.access_token, user.refresh_token
    return cipher.decrypt(user.access_token), cipher.decrypt(user.refresh_token)


async def test_a_logout_while_a_refresh_is_answered_leaves_no_live_tokens(
    database, accounts, fake_twitch, http
):
    first = await link(accounts, fake_twitch, http)
    fake_twitch.expire_user_tokens()
    hold = fake_twitch.hold_next_refresh()  # Twitch rotates the tokens; its reply is slow

    async with asyncio.timeout(10):
        validation = asyncio.create_task(accounts.validate_linked_tokens())
        await hold.reached.wait()
        (rotated,) = honoured(fake_twitch, first.twitch.id)
        assert await accounts.logout(DISCORD_ID)
        hold.release()
        report = await validation

    assert await stored_tokens() == (None, None)
    assert rotated in fake_twitch.revoked
    assert honoured(fake_twitch, first.twitch.id) == []
    assert await accounts.session(DISCORD_ID) is None
    assert (await accounts.validate_linked_tokens()).checked == 0  # nothing left to revalidate
    assert (report.refreshed, report.superseded) == (0, 1)


async def test_a_new_link_while_a_refresh_is_answered_keeps_the_new_accounts_tokens(
    database, accounts, fake_twitch, http
):
    first = await link(accounts, fake_twitch, http)
    fake_twitch.expire_user_tokens()
    hold = fake_twitch.hold_next_refresh()

    async with asyncio.timeout(10):
        validation = asyncio.create_task(accounts.validate_linked_tokens())
        await hold.reached.wait()
        (rotated,) = honoured(fake_twitch, first.twitch.id)
        fake_twitch.authorizing_user_id = fake_twitch.add_user("viewer_two")["id"]
        second = await link(accounts, fake_twitch, http)
        hold.release()
        report = await validation

    access, refresh = await stored_tokens()
    assert (await User.get(discord_id=DISCORD_ID)).twitch_id == second.twitch.id
    assert fake_twitch.user_tokens[access]["user_id"] == second.twitch.id
    assert fake_twitch.user_tokens[access]["refresh_token"] == refresh
    assert rotated in fake_twitch.revoked
    assert honoured(fake_twitch, first.twitch.id) == []
    assert await accounts.session(DISCORD_ID) is not None
    again = await accounts.validate_linked_tokens()
    assert (again.checked, again.refreshed, again.ended) == (1, 0, 0)  # the new link is valid
    assert report.superseded == 1


async def test_a_link_made_while_validation_finds_the_old_one_dead_survives(
    database, accounts, fake_twitch, http
):
    first = await link(accounts, fake_twitch, http)
    fake_twitch.expire_user_tokens()
    hold = fake_twitch.hold_next_refresh(after_rotation=False)

    async with asyncio.timeout(10):
        validation = asyncio.create_task(accounts.validate_linked_tokens())
        await hold.reached.wait()
        fake_twitch.revoke_user(first.twitch.id)  # the old refresh token will be refused
        await link(accounts, fake_twitch, http)
        new_tokens = await stored_tokens()
        hold.release()
        report = await validation

    assert await stored_tokens() == new_tokens
    assert await accounts.session(DISCORD_ID) is not None
    assert (report.ended, report.superseded) == (0, 1)


async def test_a_link_made_while_a_logout_revokes_at_twitch_stays_linked(
    database, accounts, fake_twitch, http
):
    first = await link(accounts, fake_twitch, http)
    hold = fake_twitch.hold_next_revoke()

    async with asyncio.timeout(10):
        logout = asyncio.create_task(accounts.logout(DISCORD_ID))
        await hold.reached.wait()
        fake_twitch.authorizing_user_id = fake_twitch.add_user("viewer_two")["id"]
        second = await link(accounts, fake_twitch, http)
        hold.release()
        assert await logout

    access, refresh = await stored_tokens()
    assert honoured(fake_twitch, second.twitch.id) == [access]
    assert fake_twitch.user_tokens[access]["refresh_token"] == refresh
    assert honoured(fake_twitch, first.twitch.id) == []
    assert await accounts.session(DISCORD_ID) is not None


async def test_a_new_link_revokes_the_tokens_it_replaces(database, accounts, fake_twitch, http):
    first = await link(accounts, fake_twitch, http)
    (old_access,) = honoured(fake_twitch, first.twitch.id)

    await link(accounts, fake_twitch, http)

    assert old_access in fake_twitch.revoked
    (new_access,) = honoured(fake_twitch, first.twitch.id)
    assert (await stored_tokens())[0] == new_access


async def test_logout_revokes_and_deletes_the_tokens(database, accounts, fake_twitch, http):
    first = await link(accounts, fake_twitch, http)
    (access,) = honoured(fake_twitch, first.twitch.id)

    assert await accounts.logout(DISCORD_ID)
    assert not await accounts.logout(DISCORD_ID)

    assert fake_twitch.revoked == [access]
    assert await stored_tokens() == (None, None)
    assert await accounts.session(DISCORD_ID) is None
