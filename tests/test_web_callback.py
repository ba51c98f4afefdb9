"""The web app built by `create_app`: error pages, the JSON API's auth and parameters, health."""

from __future__ import annotations

from datetime import UTC, datetime

import jwt
import pytest
import yarl
from aiohttp.test_utils import TestClient, TestServer

from bot.tokens import TokenSigner
from db import accounts as account_store
from db import queries
from db.accounts import SessionRecord
from tests.bot.test_cache import make_streams
from tests.conftest import TEST_SECRET_KEY
from web_callback import create_app


@pytest.fixture
async def client(database, accounts, stats):
    async with TestClient(TestServer(create_app(accounts=accounts, stats=stats))) as client:
        yield client


@pytest.fixture
async def snapshot(stats):
    streams = make_streams(5, 150)
    info = await queries.replace_snapshot(
        streams, pages=2, duplicates_dropped=0, taken_at=datetime.now(UTC)
    )
    await stats.snapshot_committed(info)
    return info


async def linked_session(clock, discord_id: str = "4242") -> str:
    """A stored link and session, as the OAuth callback would leave them."""
    token, claims = TokenSigner(TEST_SECRET_KEY, clock).issue_session(discord_id, "77", "viewer")
    await account_store.save_link(
        discord_id=discord_id,
        twitch_id="77",
        twitch_login="viewer",
        twitch_display_name="Viewer",
        access_token="ciphertext",
        refresh_token="ciphertext",
        scopes="user:read:follows",
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


async def test_an_expired_state_is_refused(client, accounts, clock):
    url = accounts.login_url("4242")
    clock.advance(minutes=11)
    reply = await client.get(url.replace("http://127.0.0.1:8080", ""), allow_redirects=False)

    assert reply.status == 401
    assert "expired" in await reply.text()


async def test_login_sends_a_valid_state_on_to_twitch(client, accounts, fake_twitch):
    path = accounts.login_url("4242").replace("http://127.0.0.1:8080", "")
    reply = await client.get(path, allow_redirects=False)

    assert reply.status == 302
    location = yarl.URL(reply.headers["Location"])
    assert str(location.with_query(None)) == f"{fake_twitch.auth_url}/authorize"
    assert location.query["response_type"] == "code"
    assert location.query["scope"] == "user:read:follows"
    assert location.query["redirect_uri"] == "http://127.0.0.1:8080/callback"
    assert location.query["client_id"] == fake_twitch.client_id
    assert accounts.authorize_url(location.query["state"])


async def test_health_reports_the_database_and_the_snapshot(client, snapshot):
    reply = await client.get("/healthz")
    assert reply.status == 200
    assert await reply.json() == {
        "status": "ok",
        "database": "ok",
        "snapshot_at": snapshot.taken_at.isoformat(),
        "streams": 150,
    }


API = ["/api/v1/stats/streams", "/api/v1/stats/games", "/api/v1/streams/top"]


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
