"""Linking end to end, in-process with a clock the test moves: /login in the fake Discord,
the link through our server and the fake Twitch, the JSON API, expiry, logout."""

from __future__ import annotations

import sqlite3

import aiohttp
import pytest
import yarl

from bot.crypto import TokenCipher
from db.models import ApiSession, User
from tests.e2e.conftest import World
from tests.e2e.harness import SECRET_KEY

EPHEMERAL = 64
LINK_BUTTON = 5


def link_button(message: dict) -> str:
    button = message["components"][0]["components"][0]
    assert button["style"] == LINK_BUTTON
    return button["url"]


async def link_account(world: World) -> tuple[str, object]:
    """Run /login and follow its link like a browser would; return the final page and /login."""
    login = await world.discord.slash("login")
    message = await login.wait_for_message()
    assert message["flags"] & EPHEMERAL
    url = link_button(message)
    assert url.startswith(world.services.settings.public_url + "/login?state=")
    async with world.http.get(url) as reply:
        assert reply.status == 200, await reply.text()
        return await reply.text(), login


async def api(world: World, token: str, path: str = "/api/v1/stats/streams") -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}"}
    async with world.http.get(world.services.web_url + path, headers=headers) as reply:
        return reply.status, await reply.json()


def page_token(page: str) -> str:
    return page.split('id="api-token"')[1].split(">", 1)[1].split("</textarea>")[0]


async def test_link_use_expire_and_logout(world, caplog):
    before = await world.discord.slash("streamstats")
    refused = await before.wait_for_message()
    assert refused["flags"] & EPHEMERAL
    assert "Link your Twitch account first" in refused["content"]
    assert link_button(refused).startswith(world.services.settings.public_url + "/login?state=")

    page, login = await link_account(world)

    assert "Twitch account linked" in page
    assert "Viewer_One" in page and "viewer_one" in page
    assert "You can return to Discord" in page
    token = page_token(page)
    notice = login.followups[-1]
    assert "Linked to Twitch account **Viewer\\_One**" in notice["content"]
    assert notice["flags"] & EPHEMERAL

    user = await User.get(discord_id=str(login.user_id))
    issued = [
        t for t, info in world.twitch.user_tokens.items() if info["user_id"] == user.twitch_id
    ]
    assert len(issued) == 1
    cipher = TokenCipher(SECRET_KEY)
    assert issued[0] not in (user.access_token or "")
    assert cipher.decrypt(user.access_token) == issued[0]
    assert (
        cipher.decrypt(user.refresh_token) == world.twitch.user_tokens[issued[0]]["refresh_token"]
    )
    assert user.twitch_login == "viewer_one"

    status, figures = await api(world, token)
    summary = (await world.services.stats.stream_summary("memory")).value
    assert status == 200
    assert figures["total"] == summary.total == 200
    assert figures["median"] == summary.median

    stats = await world.discord.slash("streamstats")
    assert not (await stats.wait_for_message()).get("flags", 0) & EPHEMERAL
    whoami = await (await world.discord.slash("whoami")).wait_for_message()
    fields = {f["name"]: f["value"] for f in whoami["embeds"][0]["fields"]}
    assert fields["Twitch account"] == "Viewer\\_One (viewer\\_one)"
    assert fields["Session ends"].startswith("<t:")

    world.clock.advance(hours=1, minutes=1)
    status, error = await api(world, token)
    assert status == 401
    assert "expired" in error["error"]
    again = await (await world.discord.slash("top")).wait_for_message()
    assert "Link your Twitch account first" in again["content"]

    logout = await (await world.discord.slash("logout")).wait_for_message()
    assert "revoked and deleted" in logout["content"]
    assert issued[0] in world.twitch.revoked
    user = await User.get(discord_id=str(login.user_id))
    assert user.access_token is None and user.refresh_token is None
    assert not await ApiSession.filter(discord_id=user.discord_id, revoked_at__isnull=True).exists()

    secrets = [world.twitch.client_secret, SECRET_KEY, *world.twitch.user_tokens, issued[0]]
    secrets += [info["refresh_token"] for info in world.twitch.user_tokens.values()]
    for record in caplog.records:
        line = record.getMessage()
        assert not any(secret in line for secret in secrets), line
    assert not any(secret in page for secret in secrets if secret != token)


async def test_a_state_works_once_and_a_declined_link_stores_nothing(world):
    login = await (await world.discord.slash("login")).wait_for_message()
    url = link_button(login)
    async with world.http.get(url, allow_redirects=False) as to_twitch:
        authorize = to_twitch.headers["Location"]
    async with world.http.get(authorize, allow_redirects=False) as back:
        callback = back.headers["Location"]
    async with world.http.get(callback) as first:
        assert first.status == 200
    async with world.http.get(callback) as replay:
        assert replay.status == 401
        assert "already used" in await replay.text()

    world.twitch.deny_next_authorization = True
    other = await (
        await world.discord.slash("login", user_id=1_100_000_000_000_000_777)
    ).wait_for_message()
    async with world.http.get(link_button(other)) as declined:
        assert declined.status == 400
        assert "You declined the link on Twitch" in await declined.text()
    assert not await User.filter(discord_id="1100000000000000777").exists()


async def test_twitchs_page_forwarded_to_someone_else_links_nobody(world):
    """Someone runs /login, opens our link and forwards the Twitch page it leads to. Whoever
    approves there comes back in a browser our /login never bound to that state: refused."""
    owner = 1_100_000_000_000_000_555
    login = await (await world.discord.slash("login", user_id=owner)).wait_for_message()
    async with world.http.get(link_button(login), allow_redirects=False) as ours:
        twitch_page = ours.headers["Location"]
    victim = world.twitch.add_user("victim")["id"]
    world.twitch.approved_users.add(victim)  # they approved StreamStats before
    world.twitch.authorizing_user_id = victim

    async with (
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as victims_browser,
        victims_browser.get(twitch_page) as reply,
    ):
        page = await reply.text()

    assert reply.status == 401
    assert "This link was not started in this browser" in page
    assert world.twitch.prompted == [victim]  # and Twitch asked them first (force_verify)
    assert not await User.filter(discord_id=str(owner)).exists()
    assert not await User.filter(twitch_id=victim).exists()
    assert not [t for t, info in world.twitch.user_tokens.items() if info["user_id"] == victim]


async def test_someone_elses_login_link_makes_twitch_ask_even_after_an_earlier_approval(world):
    """What stays open: a person who opens someone else's /login link in their own browser and
    approves on Twitch links their Twitch account to that someone. Twitch asks them every time
    (force_verify), so it takes a conscious approval, never a mere click."""
    login = await (
        await world.discord.slash("login", user_id=1_100_000_000_000_000_555)
    ).wait_for_message()
    clicker = world.twitch.add_user("clicker")["id"]
    world.twitch.approved_users.add(clicker)
    world.twitch.authorizing_user_id = clicker

    async with world.http.get(link_button(login), allow_redirects=False) as ours:
        twitch_page = yarl.URL(ours.headers["Location"])
    async with world.http.get(twitch_page, allow_redirects=False) as approved:
        assert approved.status == 302

    assert twitch_page.query["force_verify"] == "true"
    assert world.twitch.prompted == [clicker]


async def test_hourly_validation_refreshes_and_ends_links(world, caplog):
    await link_account(world)
    accounts = world.services.accounts
    user = await User.get(discord_id="1100000000000000300")

    world.twitch.expire_user_tokens()
    report = await accounts.validate_linked_tokens()
    assert (report.checked, report.refreshed, report.ended) == (1, 1, 0)
    refreshed = await User.get(discord_id=user.discord_id)
    cipher = TokenCipher(SECRET_KEY)
    new_access = cipher.decrypt(refreshed.access_token)
    assert new_access != cipher.decrypt(user.access_token)
    assert (
        cipher.decrypt(refreshed.refresh_token)
        == world.twitch.user_tokens[new_access]["refresh_token"]
    )

    world.twitch.revoke_user(user.twitch_id)
    report = await accounts.validate_linked_tokens()
    assert report.ended == 1
    ended = await User.get(discord_id=user.discord_id)
    assert ended.access_token is None
    gated = await (await world.discord.slash("gamestats")).wait_for_message()
    assert "Link your Twitch account first" in gated["content"]
    assert "ended the link of discord user" in caplog.text
    assert new_access not in caplog.text


async def test_without_the_login_interaction_the_notice_comes_by_dm(world):
    """E.g. after a restart: the link still completes and the user hears of it in a DM."""
    url = world.services.accounts.login_url("1100000000000000300")
    since = len(world.discord.channel_messages)
    async with world.http.get(url) as reply:
        assert reply.status == 200

    dm = await world.discord.wait_for_channel_message(since=since)
    assert "Linked to Twitch account **Viewer\\_One**" in dm["content"]
    assert dm["guild_id"] is None


@pytest.mark.parametrize("status", [500, 503])
async def test_twitch_failing_during_the_exchange_gives_a_502_page(world, status):
    login = await (await world.discord.slash("login")).wait_for_message()
    world.twitch.fail_next_token(status)
    async with world.http.get(link_button(login)) as reply:
        page = await reply.text()

    assert reply.status == 502
    assert "Twitch did not answer properly" in page
    assert "run /login in Discord again" in page
    assert not await User.exists()


async def test_a_database_failure_during_the_callback_gives_a_503_page(world, tmp_path):
    login = await (await world.discord.slash("login")).wait_for_message()
    database = tmp_path / "streamstats.sqlite3"
    with sqlite3.connect(database) as conn:
        conn.execute("ALTER TABLE users RENAME TO users_gone")
    try:
        async with world.http.get(link_button(login)) as reply:
            page = await reply.text()
    finally:
        with sqlite3.connect(database) as conn:
            conn.execute("ALTER TABLE users_gone RENAME TO users")

    assert reply.status == 503
    assert "cannot reach its database" in page
    assert "Traceback" not in page
    # The tokens Twitch issued for this link were not stored, so they must not stay live.
    issued = [t for t, info in world.twitch.user_tokens.items() if info["scopes"]]
    assert issued == []
    assert len(world.twitch.revoked) == 1
