"""The user-token Helix calls against the fake Twitch: Get Followed Streams and the user bucket."""

from __future__ import annotations

import time

import pytest
import yarl

from bot.errors import TwitchAuthError
from bot.twitch import TwitchClient
from bot.twitch_oauth import TwitchOAuth, UserTokens
from tests.conftest import app_of
from tests.fakes.twitch import make_stream

REDIRECT = "http://127.0.0.1:1/callback"


@pytest.fixture
def oauth(http, fake_twitch) -> TwitchOAuth:
    return TwitchOAuth(http, app_of(fake_twitch), timeout=2.0)


async def user_tokens(fake, http, oauth, login: str | None = None) -> tuple[str, UserTokens]:
    """A Twitch user (new, or the fake's default one) and the tokens they approved us with."""
    if login is not None:
        fake.authorizing_user_id = fake.add_user(login)["id"]
    url = yarl.URL(oauth.authorize_url(REDIRECT, "state"))
    async with http.get(url.with_host("127.0.0.1"), allow_redirects=False) as reply:
        code = yarl.URL(reply.headers["Location"]).query["code"]
    return fake.authorizing_user_id, await oauth.exchange_code(code, REDIRECT)


def ids(streams) -> list[str]:
    return [stream.id for stream in streams]


async def test_every_page_of_followed_streams_most_viewers_first(oauth, fake_twitch, http):
    user_id, tokens = await user_tokens(fake_twitch, http, oauth)
    followed = fake_twitch.streams[:250]
    fake_twitch.follow(user_id, *(s["user_id"] for s in followed))

    streams = await oauth.followed_streams(tokens.access_token, user_id)

    expected = sorted(followed, key=lambda s: (-s["viewer_count"], s["id"]))
    assert ids(streams) == [s["id"] for s in expected]
    pages = [q for _, path, q in fake_twitch.requests if path == "/helix/streams/followed"]
    assert [q["first"] for q in pages] == [["100"]] * 3
    assert all(q["user_id"] == [user_id] for q in pages)


async def test_a_list_that_changes_between_pages_gives_each_stream_once(oauth, fake_twitch, http):
    user_id, tokens = await user_tokens(fake_twitch, http, oauth)
    fake_twitch.streams = [make_stream(index, 1000 - index) for index in range(230)]
    fake_twitch.follow(user_id, *(s["user_id"] for s in fake_twitch.streams))
    fake_twitch.followed_list_changes = True

    streams = await oauth.followed_streams(tokens.access_token, user_id)

    assert len(ids(streams)) == len(set(ids(streams))) == 228  # two moved up past a page's end
    assert [s.viewer_count for s in streams] == sorted(
        (s.viewer_count for s in streams), reverse=True
    )


async def test_a_token_without_the_scope_or_expired_is_refused(oauth, fake_twitch, http):
    user_id, tokens = await user_tokens(fake_twitch, http, oauth)
    fake_twitch.granted_scopes = []
    old_id, scopeless = await user_tokens(fake_twitch, http, oauth, "linked_long_ago")

    with pytest.raises(TwitchAuthError):
        await oauth.followed_streams(scopeless.access_token, old_id)
    fake_twitch.expire_user_tokens()
    with pytest.raises(TwitchAuthError):
        await oauth.followed_streams(tokens.access_token, user_id)


async def test_a_user_whose_bucket_ran_dry_waits_for_its_reset_alone(oauth, fake_twitch, http):
    fake_twitch.ratelimit_limit = 1
    fake_twitch.ratelimit_window = 1.0
    dry_id, dry = await user_tokens(fake_twitch, http, oauth)
    other_id, other = await user_tokens(fake_twitch, http, oauth, "viewer_two")
    app_waits: list[float] = []

    async def note_wait(seconds: float) -> None:
        app_waits.append(seconds)

    app_client = TwitchClient(http, app_of(fake_twitch), sleep=note_wait)
    await oauth.followed_streams(dry.access_token, dry_id)  # the user's only point

    started = time.monotonic()
    await oauth.followed_streams(other.access_token, other_id)
    await app_client.fetch_top_streams(10)
    others_took = time.monotonic() - started
    await oauth.followed_streams(dry.access_token, dry_id)
    dry_took = time.monotonic() - started

    assert fake_twitch.rate_limited == 0  # waited for the reset instead of earning a 429
    assert app_waits == []
    assert others_took < 0.5 < dry_took
