"""The web app built by `create_app`: error pages, the JSON API's auth and parameters, health."""

from __future__ import annotations

from datetime import UTC, datetime

import jwt
import pytest
import yarl
from aiohttp.test_utils import TestClient, TestServer

from bot.stats import SnapshotInfo
from bot.tokens import TokenSigner
from db import accounts as account_store
from db import snapshots
from db.accounts import SessionRecord
from db.models import User
from tests.bot.test_cache import make_streams
from tests.conftest import TEST_SECRET_KEY, account_service
from web_callback import BROWSER_COOKIE, create_app


async def store_snapshot(stats) -> SnapshotInfo:
    """A committed snapshot of 150 streams, as a refresh would leave it."""
    streams = make_streams(5, 150)
    info = await snapshots.replace_snapshot(
        streams, pages=2, duplicates_dropped=0, taken_at=datetime.now(UTC), history_channels=1000
    )
    await stats.snapshot_committed(info)
    return info


@pytest.fixture
async def snapshot(stats):
    return await store_snapshot(stats)


async def linked_session(clock, discord_id: str = "4242", scopes: str = "user:read:follows") -> str:
    """A stored link and session, as the OAuth callback would leave them."""
    token, claims = TokenSigner(TEST_SECRET_KEY, clock).issue_session(discord_id, "77", "viewer")
    await account_store.save_link(
        discord_id=discord_id,
        twitch_id="77",
        twitch_login="viewer",
        twitch_display_name="Viewer",
        access_token="ciphertext",
        refresh_token="ciphertext",
        scopes=scopes,
        session=SessionRecord(claims.jti, discord_id, claims.issued_at, claims.expires_at),
    )
    return token


@pytest.mark.parametrize(
    ("query", "status", "text"),
    [
        ("error=access_denied&error_description=The+user+denied+you+access&state=x", 400,
         "You declined the link on Twitch"),
        ("error=server_error&state=x", 400, "Twitch reported a problem"),
        ("code=abc", 400, "needs the link from Discord"),
        ("state=abc", 400, "Twitch sent no login code"),
        ("code=abc&state=forged.state.value", 401, "This login link cannot be used"),
        ("", 400, "needs the link from Discord"),
    ],
)  # fmt: skip
async def test_bad_callbacks_get_a_clear_page(client, query, status, text):
    reply = await client.get(f"/callback?{query}")
    body = await reply.text()

    assert reply.status == status
    assert reply.content_type == "text/html"
    assert text in body
    assert "/login" in body  # what to do next
    assert "Traceback" not in body
    assert reply.headers["Referrer-Policy"] == "no-referrer"


def local(url: str) -> str:
    """Our public URL as the test client asks for it: path and query only."""
    return str(yarl.URL(url).relative())


async def test_an_expired_state_is_refused(client, accounts, clock):
    url = accounts.login_url("4242")
    clock.advance(minutes=11)
    reply = await client.get(local(url), allow_redirects=False)

    assert reply.status == 401
    assert "expired" in await reply.text()


async def test_login_sends_a_valid_state_on_to_twitch(client, accounts, fake_twitch):
    url = accounts.login_url("4242")
    reply = await client.get(local(url), allow_redirects=False)

    assert reply.status == 302
    location = yarl.URL(reply.headers["Location"])
    assert str(location.with_query(None)) == f"{fake_twitch.auth_url}/authorize"
    assert location.query["response_type"] == "code"
    assert location.query["scope"] == "user:read:follows"
    assert location.query["redirect_uri"] == "http://127.0.0.1:8080/callback"
    assert location.query["client_id"] == fake_twitch.client_id
    assert location.query["state"] == yarl.URL(url).query["state"]
    assert location.query["force_verify"] == "true"  # Twitch asks every time
    assert reply.headers["Cache-Control"] == "no-store"


async def test_login_binds_the_browser_with_a_cookie_only_the_callback_gets(
    client, accounts, clock
):
    url = accounts.login_url("4242")
    clock.advance(minutes=4)
    reply = await client.get(local(url), allow_redirects=False)

    cookie = reply.cookies[BROWSER_COOKIE]
    state = TokenSigner(TEST_SECRET_KEY, clock).verify_state(yarl.URL(url).query["state"])
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == "/callback"
    assert not cookie["secure"]  # PUBLIC_URL is http here
    assert int(cookie["max-age"]) == int((state.expires_at - clock()).total_seconds())
    assert 350 < int(cookie["max-age"]) <= 360  # what is left of the state's ten minutes
    assert state.nonce not in cookie.value  # anyone holding the link can read the nonce
    assert yarl.URL(url).query["state"] not in cookie.value


@pytest.mark.parametrize(
    ("public_url", "path"),
    [("https://stats.example.org", "/callback"), ("https://example.org/stats", "/stats/callback")],
)
async def test_on_https_the_cookie_is_secure_and_follows_the_callbacks_path(
    database, stats, following, history, http, fake_twitch, clock, health, public_url, path
):
    accounts = account_service(http, fake_twitch, clock, public_url)
    app = create_app(
        accounts=accounts, stats=stats, following=following, history=history, health=health
    )
    async with TestClient(TestServer(app)) as client:
        state = yarl.URL(accounts.login_url("4242")).query["state"]
        reply = await client.get(f"/login?state={state}", allow_redirects=False)
        cookie = reply.cookies[BROWSER_COOKIE]

    assert reply.status == 302
    assert cookie["secure"] is True
    assert cookie["path"] == path


async def back_from_twitch(client, accounts, http) -> str:
    """Open our /login in the test client's browser and approve on (fake) Twitch; return where
    Twitch sends that browser back to."""
    reply = await client.get(local(accounts.login_url("4242")), allow_redirects=False)
    async with http.get(reply.headers["Location"], allow_redirects=False) as approved:
        return local(approved.headers["Location"])


def browser_cookie(client) -> str:
    return client.session.cookie_jar.filter_cookies(client.make_url("/callback"))[BROWSER_COOKIE]


@pytest.mark.parametrize("presented", ["none", "empty", "another state's", "the state's nonce"])
async def test_a_callback_in_a_browser_that_did_not_open_our_login_is_refused(
    client, accounts, http, clock, presented
):
    callback = await back_from_twitch(client, accounts, http)
    binding = browser_cookie(client).value
    client.session.cookie_jar.clear()  # a different browser from here on
    signer = TokenSigner(TEST_SECRET_KEY, clock)
    state = signer.verify_state(yarl.URL(callback).query["state"])
    another = signer.verify_state(yarl.URL(accounts.login_url("4242")).query["state"])
    value = {
        "none": None,
        "empty": "",
        "another state's": signer.browser_binding(another),
        "the state's nonce": state.nonce,
    }[presented]
    headers = {"Cookie": f"{BROWSER_COOKIE}={value}"} if value is not None else {}

    reply = await client.get(callback, headers=headers)
    page = await reply.text()

    assert reply.status == 401
    assert reply.content_type == "text/html"
    assert "This link was not started in this browser" in page
    assert "Nothing was stored" in page
    assert not await User.exists()
    # The state was not spent: the browser that opened /login still finishes the link.
    client.session.cookie_jar.update_cookies({BROWSER_COOKIE: binding}, client.make_url("/"))
    finished = await client.get(callback)
    assert finished.status == 200
    assert "Twitch account linked" in await finished.text()


async def test_a_finished_link_clears_the_cookie(client, accounts, http):
    callback = await back_from_twitch(client, accounts, http)
    assert browser_cookie(client).value

    reply = await client.get(callback)

    assert reply.status == 200
    cleared = reply.cookies[BROWSER_COOKIE]
    assert (cleared.value, cleared["max-age"], cleared["path"]) == ("", "0", "/callback")
    assert BROWSER_COOKIE not in client.session.cookie_jar.filter_cookies(
        client.make_url("/callback")
    )


async def test_health_reports_the_database_and_the_snapshot(client, snapshot, clock):
    clock.now = snapshot.taken_at
    reply = await client.get("/healthz")
    assert reply.status == 200
    body = await reply.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["snapshot_at"] == snapshot.taken_at.isoformat()
    assert body["streams"] == 150
    assert body["refresh_loop"] == {"running": False, "next_run": None, "restarts": 0}
    assert body["refresh_lock_held"] is True
    assert "reason" not in body


async def test_health_is_503_once_the_snapshot_is_three_intervals_old(client, snapshot, clock):
    clock.now = snapshot.taken_at
    clock.advance(minutes=45)
    reply = await client.get("/healthz")

    assert reply.status == 503
    body = await reply.json()
    assert body["status"] == "error"
    assert "the newest snapshot is 45 minutes old" in body["reason"]
    assert "the refresh loop of this process is not running" in body["reason"]


API = [
    "/api/v1/stats/streams",
    "/api/v1/stats/games",
    "/api/v1/streams/top",
    "/api/v1/stats/hours",
    "/api/v1/me/following",
    "/api/v1/trends",
    "/api/v1/channels/streamer0",
]


@pytest.mark.parametrize("path", API)
async def test_the_api_needs_a_bearer_token(client, path):
    reply = await client.get(path)
    assert reply.status == 401
    assert "Authorization: Bearer" in (await reply.json())["error"]


@pytest.mark.parametrize("path", API)
async def test_the_api_refuses_tampered_tokens(client, clock, path):
    token = await linked_session(clock)
    claims = jwt.decode(token, options={"verify_signature": False})
    for forged in (
        jwt.encode(claims, "a-different-key-long-enough-for-hs256-xx", algorithm="HS256"),
        jwt.encode(claims, None, algorithm="none"),
        token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1],
    ):
        reply = await client.get(path, headers={"Authorization": f"Bearer {forged}"})
        assert reply.status == 401, forged
        assert (await reply.json())["error"].startswith("invalid token")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda c: {"iat": str(c["iat"])}, "malformed"),
        (lambda c: {"exp": [c["exp"]]}, "malformed"),
        (lambda c: {"jti": c["jti"] + "\x00"}, "malformed"),
        (lambda c: {"iat": c["iat"] + 1}, "does not match"),
        (lambda c: {"exp": c["exp"] + 86_400}, "does not match"),
        (lambda c: {"sub": "999"}, "does not match"),
    ],
    ids=["iat-text", "exp-list", "jti-nul", "iat-moved", "exp-extended", "someone-else"],
)  # fmt: skip
async def test_a_validly_signed_token_that_misstates_its_session_gets_401_json(
    client, clock, snapshot, change, reason
):
    token = await linked_session(clock)
    claims = jwt.decode(token, options={"verify_signature": False})
    forged = jwt.encode({**claims, **change(claims)}, TEST_SECRET_KEY, algorithm="HS256")

    reply = await client.get(API[0], headers={"Authorization": f"Bearer {forged}"})

    assert reply.status == 401
    assert reason in (await reply.json())["error"]


async def test_following_with_a_token_stored_without_the_scope_gets_409_relink(
    client, clock, snapshot, fake_twitch
):
    token = await linked_session(clock, scopes="")

    reply = await client.get("/api/v1/me/following", headers={"Authorization": f"Bearer {token}"})

    assert reply.status == 409
    assert await reply.json() == {"error": "relink"}
    assert reply.headers["Cache-Control"] == "no-store"
    assert not [path for _, path, _ in fake_twitch.requests if path.startswith("/helix")]


async def test_an_expired_session_gets_401(client, clock, snapshot):
    token = await linked_session(clock)
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.get(API[0], headers=headers)).status == 200

    clock.advance(hours=1, minutes=1)
    reply = await client.get(API[0], headers=headers)
    assert reply.status == 401
    assert "expired" in (await reply.json())["error"]


async def test_a_revoked_session_gets_401(client, clock, snapshot):
    token = await linked_session(clock)
    user = await account_store.linked_user("4242")
    assert await account_store.end_link("4242", user.token_version, clock())

    reply = await client.get(API[0], headers={"Authorization": f"Bearer {token}"})
    assert reply.status == 401
    assert "ended" in (await reply.json())["error"]


@pytest.mark.parametrize(
    ("path", "query"),
    [(API[0], "source=disk"), (API[1], "source="), (API[2], "order=sideways")],
)
async def test_bad_parameters_get_400_json(client, clock, snapshot, path, query):
    token = await linked_session(clock)
    reply = await client.get(f"{path}?{query}", headers={"Authorization": f"Bearer {token}"})
    assert reply.status == 400
    assert "must be one of" in (await reply.json())["error"]


async def test_before_the_first_snapshot_the_api_says_so(client, clock):
    token = await linked_session(clock)
    reply = await client.get(API[0], headers={"Authorization": f"Bearer {token}"})
    assert reply.status == 503
    assert "no data yet" in (await reply.json())["error"]


@pytest.mark.parametrize("source", ["memory", "database"])
async def test_the_api_returns_exactly_the_engines_numbers(client, clock, stats, snapshot, source):
    headers = {"Authorization": f"Bearer {await linked_session(clock)}"}

    streams = await (await client.get(f"{API[0]}?source={source}", headers=headers)).json()
    summary = (await stats.stream_summary(source)).value
    assert streams == {
        "total": summary.total,
        "median": summary.median,
        "odd": summary.odd,
        "even": summary.even,
        "duplicates": summary.duplicates,
        "shared_counts": summary.shared_counts,
        "snapshot_at": snapshot.taken_at.isoformat(),
    }

    games = await (await client.get(f"{API[1]}?source={source}", headers=headers)).json()
    expected_games = (await stats.game_stats(source)).value
    assert [g["game_id"] for g in games["games"]] == [g.game_id for g in expected_games]
    assert games["games"][0] == {
        "game_id": expected_games[0].game_id,
        "game_name": expected_games[0].game_name,
        "streams": expected_games[0].streams,
        "max_viewers": expected_games[0].max_viewers,
    }

    for order in ("desc", "asc"):
        top = await (
            await client.get(f"{API[2]}?order={order}&source={source}", headers=headers)
        ).json()
        expected = (await stats.top_streams(order, source)).value
        assert len(top["streams"]) == 100
        assert [s["id"] for s in top["streams"]] == [s.id for s in expected]
        ranks = [s["rank"] for s in top["streams"]]
        assert ranks == (list(range(1, 101)) if order == "desc" else list(range(100, 0, -1)))
        assert top["streams"][0]["started_at"] == expected[0].started_at.isoformat()


@pytest.mark.parametrize("source", ["memory", "database"])
async def test_the_hours_api_returns_the_engines_hours(client, clock, stats, snapshot, source):
    headers = {"Authorization": f"Bearer {await linked_session(clock)}"}

    reply = await client.get(f"/api/v1/stats/hours?source={source}", headers=headers)

    assert reply.status == 200
    expected = (await stats.start_hours(source)).value
    assert await reply.json() == {
        "snapshot_at": snapshot.taken_at.isoformat(),
        "hours": [
            {"hour": entry.hour.strftime("%Y-%m-%dT%H:00:00Z"), "streams": entry.streams}
            for entry in expected
        ],
    }
    assert sum(entry.streams for entry in expected) == 150
