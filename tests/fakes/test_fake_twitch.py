"""The fake Twitch itself speaks Twitch's protocol (paths, shapes, headers, errors, switches)."""

import asyncio
import itertools
import json
import re
import time

import aiohttp
import pytest

from tests.fakes.twitch import FakeTwitch, decode_cursor, make_stream, random_streams

JSON = "application/json"


@pytest.fixture
async def twitch():
    async with FakeTwitch(streams=random_streams(250, seed=1)) as fake:
        yield fake


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as client:
        yield client


async def get_token(twitch: FakeTwitch, session: aiohttp.ClientSession) -> str:
    form = {
        "client_id": twitch.client_id,
        "client_secret": twitch.client_secret,
        "grant_type": "client_credentials",
    }
    async with session.post(f"{twitch.auth_url}/token", data=form) as resp:
        assert resp.status == 200
        return (await resp.json())["access_token"]


def auth(twitch: FakeTwitch, token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Client-Id": twitch.client_id}


@pytest.fixture
async def headers(twitch, session) -> dict[str, str]:
    return auth(twitch, await get_token(twitch, session))


async def get_streams(twitch, session, headers, **params):
    async with session.get(f"{twitch.api_url}/streams", headers=headers, params=params) as resp:
        assert resp.headers["Content-Type"] == JSON
        return resp.status, await resp.json(), resp.headers


async def walk(twitch, session, headers, first: int = 100, max_pages: int = 50) -> list[list[dict]]:
    """Follow cursors until there is none (or the page cap), returning the pages."""
    pages, params = [], {"first": str(first)}
    for _ in range(max_pages):
        status, body, _ = await get_streams(twitch, session, headers, **params)
        assert status == 200
        pages.append(body["data"])
        if "cursor" not in body["pagination"]:
            break
        params["after"] = body["pagination"]["cursor"]
    return pages


# --- OAuth ---------------------------------------------------------------------------------------


async def test_client_credentials_token(twitch, session):
    twitch.token_lifetime = 1234
    form = {
        "client_id": twitch.client_id,
        "client_secret": twitch.client_secret,
        "grant_type": "client_credentials",
    }
    async with session.post(f"{twitch.auth_url}/token", data=form) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == JSON
        body = await resp.json()
    assert set(body) == {"access_token", "expires_in", "token_type"}
    assert re.fullmatch(r"[a-z0-9]{30}", body["access_token"])
    assert body["expires_in"] == 1234
    assert body["token_type"] == "bearer"
    assert twitch.token_requests == 1
    assert twitch.requests[-1][:2] == ("POST", "/oauth2/token")


async def test_token_params_in_query_string(twitch, session):
    params = {
        "client_id": twitch.client_id,
        "client_secret": twitch.client_secret,
        "grant_type": "client_credentials",
    }
    async with session.post(f"{twitch.auth_url}/token", params=params) as resp:
        assert resp.status == 200
        token = (await resp.json())["access_token"]
    status, _, _ = await get_streams(twitch, session, auth(twitch, token))
    assert status == 200


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"client_secret": "nope"}, 403, "invalid client secret"),
        ({"client_id": "someone-else"}, 400, "invalid client"),
        ({"grant_type": None}, 400, "invalid grant type"),
        ({"grant_type": "password"}, 400, "invalid grant type"),
    ],
)
async def test_token_errors(twitch, session, change, status, message):
    form = {
        "client_id": twitch.client_id,
        "client_secret": twitch.client_secret,
        "grant_type": "client_credentials",
    }
    form.update(change)
    form = {k: v for k, v in form.items() if v is not None}
    async with session.post(f"{twitch.auth_url}/token", data=form) as resp:
        assert resp.status == status
        assert resp.headers["Content-Type"] == JSON
        assert await resp.json() == {"status": status, "message": message}  # no "error" key
    assert twitch.token_requests == 0


# --- Helix authentication ------------------------------------------------------------------------


async def test_helix_requires_a_bearer_token_and_matching_client_id(twitch, session, headers):
    token_only = {"Authorization": headers["Authorization"]}
    cases = [
        ({"Client-Id": twitch.client_id}, "Invalid OAuth token"),
        ({**headers, "Authorization": "Bearer notatoken"}, "Invalid OAuth token"),
        ({**headers, "Authorization": headers["Authorization"].replace("Bearer", "OAuth")}, None),
        (token_only, "Client ID and OAuth token do not match"),
        ({**headers, "Client-Id": "other"}, "Client ID and OAuth token do not match"),
    ]
    for hdrs, message in cases:
        status, body, resp_headers = await get_streams(twitch, session, hdrs)
        assert status == 401
        assert body["error"] == "Unauthorized"
        assert body["status"] == 401
        assert message is None or body["message"] == message
        assert "Ratelimit-Remaining" in resp_headers
    assert (await get_streams(twitch, session, headers))[0] == 200


async def test_revoked_and_expired_tokens_are_rejected(twitch, session, headers):
    twitch.revoke_tokens()
    assert (await get_streams(twitch, session, headers))[0] == 401
    assert (await get_streams(twitch, session, auth(twitch, await get_token(twitch, session))))[
        0
    ] == 200
    twitch.token_lifetime = 0
    expired = auth(twitch, await get_token(twitch, session))
    assert (await get_streams(twitch, session, expired))[0] == 401


# --- Get Streams ---------------------------------------------------------------------------------


async def test_first_defaults_to_20_and_is_bounded(twitch, session, headers):
    status, body, _ = await get_streams(twitch, session, headers)
    assert status == 200
    assert len(body["data"]) == 20
    assert len((await get_streams(twitch, session, headers, first="100"))[1]["data"]) == 100
    status, body, _ = await get_streams(twitch, session, headers, first="101")
    assert (status, body) == (
        400,
        {
            "error": "Bad Request",
            "status": 400,
            "message": 'The parameter "first" was malformed: '
            "the value must be less than or equal to 100",
        },
    )
    for bad in ("0", "-3", "abc"):
        status, body, _ = await get_streams(twitch, session, headers, first=bad)
        assert status == 400
        assert body["message"].startswith('The parameter "first" was malformed')


async def test_pages_cover_all_streams_sorted_by_viewers(twitch, session, headers):
    pages = await walk(twitch, session, headers, first=100)
    assert [len(p) for p in pages] == [100, 100, 50]
    served = [s for page in pages for s in page]
    expected = sorted(twitch.streams, key=lambda s: -s["viewer_count"])  # stable: ties keep order
    assert [s["id"] for s in served] == [s["id"] for s in expected]
    assert served[0] == expected[0]  # full payloads, unchanged


async def test_last_page_has_empty_pagination_and_streams_sort_at_request_time(
    twitch, session, headers
):
    twitch.streams = [make_stream(1, 5), make_stream(2, 50), make_stream(3, 5), make_stream(4, 9)]
    status, body, _ = await get_streams(twitch, session, headers)
    assert status == 200
    assert [s["id"] for s in body["data"]] == [make_stream(i, 0)["id"] for i in (2, 4, 1, 3)]
    assert body["pagination"] == {}
    twitch.streams = []
    assert (await get_streams(twitch, session, headers))[1] == {"data": [], "pagination": {}}


async def test_cursor_is_opaque_base64url_json_and_foreign_cursors_fail(twitch, session, headers):
    _, body, _ = await get_streams(twitch, session, headers, first="10")
    cursor = body["pagination"]["cursor"]
    assert re.fullmatch(r"[A-Za-z0-9_-]+", cursor)
    assert isinstance(decode_cursor(cursor), dict)
    forged = cursor[:-4] + ("AAAA" if not cursor.endswith("AAAA") else "BBBB")
    for bad in (forged, "garbage", "eyJhIjoxfQ"):
        status, body, _ = await get_streams(twitch, session, headers, after=bad)
        assert (status, body) == (
            400,
            {"error": "Bad Request", "status": 400, "message": "Invalid cursor"},
        )


async def test_filters(twitch, session, headers):
    game_ids = {s["game_id"] for s in twitch.streams if s["game_id"]}
    wanted = sorted(game_ids)[:2]
    async with session.get(
        f"{twitch.api_url}/streams",
        headers=headers,
        params=[
            ("game_id", wanted[0]),
            ("game_id", wanted[1]),
            ("language", "en"),
            ("first", "100"),
        ],
    ) as resp:
        data = (await resp.json())["data"]
    expected = [s for s in twitch.streams if s["game_id"] in wanted and s["language"] == "en"]
    assert data
    assert {s["id"] for s in data} == {s["id"] for s in expected}
    assert twitch.requests[-1] == (
        "GET",
        "/helix/streams",
        {"game_id": wanted, "language": ["en"], "first": ["100"]},
    )


async def test_overlap_duplicates_items_across_pages(twitch, session, headers):
    twitch.overlap = 3
    pages = await walk(twitch, session, headers, first=100)
    ids = [s["id"] for page in pages for s in page]
    assert len(ids) == 250 + 3 * (len(pages) - 1)
    assert set(ids) == {s["id"] for s in twitch.streams}
    for previous, page in itertools.pairwise(pages):
        assert [s["id"] for s in previous[-3:]] == [s["id"] for s in page[:3]]


async def test_cursor_loops_back_to_first_page(twitch, session, headers):
    twitch.cursor_loops_back = True
    pages = await walk(twitch, session, headers, first=100, max_pages=4)
    assert len(pages) == 4
    assert pages[3] == pages[0]


async def test_empty_last_page(twitch, session, headers):
    twitch.empty_last_page = True
    pages = await walk(twitch, session, headers, first=100)
    assert [len(p) for p in pages] == [100, 100, 50, 0]
    twitch.streams = twitch.streams[:100]
    _, body, _ = await get_streams(twitch, session, headers, first="100")
    _, body, _ = await get_streams(twitch, session, headers, after=body["pagination"]["cursor"])
    assert body == {"data": [], "pagination": {}}
    twitch.overlap = 5  # the cursor past the end stays empty even with overlap
    assert [len(p) for p in await walk(twitch, session, headers, first=40)] == [40, 40, 30, 0]


# --- rate limits ---------------------------------------------------------------------------------


async def test_ratelimit_headers_and_429_when_the_bucket_is_empty(twitch, session, headers):
    twitch.ratelimit_limit = 3
    twitch.ratelimit_window = 0.3
    remaining = []
    for _ in range(3):
        status, _, resp_headers = await get_streams(twitch, session, headers)
        assert status == 200
        assert resp_headers["Ratelimit-Limit"] == "3"
        reset = int(resp_headers["Ratelimit-Reset"])
        assert time.time() <= reset <= time.time() + 2
        remaining.append(int(resp_headers["Ratelimit-Remaining"]))
    assert remaining == [2, 1, 0]
    status, body, resp_headers = await get_streams(twitch, session, headers)
    assert status == 429
    assert body["error"] == "Too Many Requests"
    assert body["status"] == 429
    assert resp_headers["Ratelimit-Remaining"] == "0"
    await asyncio.sleep(0.35)
    status, _, resp_headers = await get_streams(twitch, session, headers)
    assert status == 200
    assert resp_headers["Ratelimit-Remaining"] == "2"


async def test_default_bucket_is_800_per_minute(twitch, session, headers):
    _, _, resp_headers = await get_streams(twitch, session, headers)
    assert resp_headers["Ratelimit-Limit"] == "800"
    assert resp_headers["Ratelimit-Remaining"] == "799"
    # One point flows back in 75 ms: the bucket is full again by the next whole second (rounded up).
    assert 0 <= int(resp_headers["Ratelimit-Reset"]) - time.time() < 2


async def test_the_bucket_refills_evenly_and_reset_says_when_it_is_full(twitch, session, headers):
    twitch.ratelimit_limit = 100
    twitch.ratelimit_window = 2.0  # 50 points a second
    started = time.monotonic()
    for _ in range(60):
        status, _, resp_headers = await get_streams(twitch, session, headers)
        assert status == 200
    flowed_back = (time.monotonic() - started) * 50
    left = int(resp_headers["Ratelimit-Remaining"])
    assert 40 <= left <= min(99, 40 + flowed_back + 1)
    assert int(resp_headers["Ratelimit-Reset"]) - time.time() <= (100 - left) / 50 + 1
    await asyncio.sleep(0.2)  # ten points flow back
    _, _, resp_headers = await get_streams(twitch, session, headers)
    assert int(resp_headers["Ratelimit-Remaining"]) >= left + 10 - 1


# --- faults --------------------------------------------------------------------------------------


async def test_fail_next_status_faults_in_order(twitch, session, headers):
    twitch.fail_next(429, 500, 503, 400, 404)
    status, body, resp_headers = await get_streams(twitch, session, headers)
    assert status == 429
    assert body == {"error": "Too Many Requests", "status": 429, "message": body["message"]}
    assert resp_headers["Ratelimit-Remaining"] == "0"
    assert time.time() < int(resp_headers["Ratelimit-Reset"]) <= time.time() + 1.5
    for expected_status, error in (
        (500, "Internal Server Error"),
        (503, "Service Unavailable"),
        (400, "Bad Request"),
        (404, "Not Found"),
    ):
        status, body, resp_headers = await get_streams(twitch, session, headers)
        assert (status, body["error"], body["status"]) == (expected_status, error, expected_status)
        assert isinstance(body["message"], str)
        assert "Ratelimit-Limit" in resp_headers
    assert body == {"error": "Not Found", "status": 404, "message": "Not Found"}
    assert (await get_streams(twitch, session, headers))[0] == 200


async def test_fail_next_400_is_invalid_cursor(twitch, session, headers):
    twitch.fail_next(400)
    assert (await get_streams(twitch, session, headers))[1]["message"] == "Invalid cursor"


async def test_fail_next_401_forgets_the_token(twitch, session, headers):
    twitch.fail_next(401)
    for _ in range(2):
        status, body, _ = await get_streams(twitch, session, headers)
        assert (status, body) == (
            401,
            {"error": "Unauthorized", "status": 401, "message": "Invalid OAuth token"},
        )
    assert (await get_streams(twitch, session, auth(twitch, await get_token(twitch, session))))[
        0
    ] == 200


async def test_fail_next_malformed_and_wrong_shape(twitch, session, headers):
    twitch.fail_next("malformed", "wrong_shape")
    async with session.get(f"{twitch.api_url}/streams", headers=headers) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == JSON
        with pytest.raises(json.JSONDecodeError):
            json.loads(await resp.text())
    assert (await get_streams(twitch, session, headers))[:2] == (200, {"data": {"oops": 1}})


async def test_fail_next_slow_and_drop(twitch, session, headers):
    twitch.slow_seconds = 0.3
    twitch.fail_next("slow", "slow", "drop")
    with pytest.raises(asyncio.TimeoutError):
        async with session.get(
            f"{twitch.api_url}/streams", headers=headers, timeout=aiohttp.ClientTimeout(total=0.05)
        ):
            pass
    started = time.monotonic()
    assert (await get_streams(twitch, session, headers))[0] == 200
    assert time.monotonic() - started >= 0.3
    # aiohttp retries an idempotent request once when the connection closes without a reply:
    # one "drop" is absorbed by that retry, two reach the caller.
    seen = len(twitch.requests)
    assert (await get_streams(twitch, session, headers))[0] == 200
    assert len(twitch.requests) == seen + 2
    twitch.fail_next("drop", "drop")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await get_streams(twitch, session, headers)
    assert len(twitch.requests) == seen + 4
    assert (await get_streams(twitch, session, headers))[0] == 200


async def test_fail_next_rejects_unknown_faults(twitch):
    with pytest.raises(ValueError, match="unknown fault"):
        twitch.fail_next("explode")
    with pytest.raises(ValueError, match="4xx or 5xx"):
        twitch.fail_next(200)


async def test_latency_applies_to_oauth_and_helix(twitch, session):
    twitch.latency = 0.1
    started = time.monotonic()
    headers = auth(twitch, await get_token(twitch, session))
    await get_streams(twitch, session, headers)
    assert time.monotonic() - started >= 0.2


async def test_unknown_helix_path_is_a_twitch_404(twitch, session, headers):
    async with session.get(f"{twitch.api_url}/nothing-here", headers=headers) as resp:
        assert resp.status == 404
        assert resp.headers["Content-Type"] == JSON
        assert (await resp.json())["error"] == "Not Found"


# --- payload builders ----------------------------------------------------------------------------


def test_make_stream_has_every_helix_field():
    stream = make_stream(7, 123, user_login="alice", tags=None)
    assert set(stream) == {
        "id", "user_id", "user_login", "user_name", "game_id", "game_name", "type", "title",
        "viewer_count", "started_at", "language", "thumbnail_url", "tag_ids", "tags", "is_mature",
    }  # fmt: skip
    assert stream["id"].isdigit() and stream["user_id"].isdigit()
    assert stream["id"] != make_stream(8, 123)["id"]
    assert stream["type"] == "live"
    assert stream["started_at"] == "2026-11-28T12:00:00Z"
    assert stream["thumbnail_url"] == (
        "https://static-cdn.jtvnw.net/previews-ttv/live_user_alice-{width}x{height}.jpg"
    )
    assert stream["tag_ids"] == []
    assert stream["tags"] is None
    assert make_stream(1, 1)["tags"] == ["English"]


def test_random_streams_are_deterministic_and_realistic():
    streams = random_streams(500, seed=3)
    assert streams == random_streams(500, seed=3)
    assert streams != random_streams(500, seed=4)
    assert len({s["id"] for s in streams}) == 500
    names: dict[str, set[str]] = {}
    for s in streams:
        names.setdefault(s["game_id"], set()).add(s["game_name"])
    assert all(len(v) == 1 for v in names.values())
    assert names.get("") == {""}
    assert any(s["tags"] is None for s in streams)
    assert any(not s["user_name"].isascii() for s in streams)
    viewers = sorted((s["viewer_count"] for s in streams), reverse=True)
    assert len(set(viewers)) < len(viewers)  # ties
    assert viewers[0] > 20 * viewers[len(viewers) // 2]  # skew


async def test_non_ascii_round_trips(twitch, session, headers):
    twitch.streams = [make_stream(1, 10, user_name="ゆうき", game_name="Pokémon")]
    _, body, _ = await get_streams(twitch, session, headers)
    assert body["data"][0]["user_name"] == "ゆうき"
    assert body["data"][0]["game_name"] == "Pokémon"


# --- the user side of OAuth ------------------------------------------------------------------


async def authorize(
    twitch, session, state="s1", redirect="http://127.0.0.1:1/callback", **extra: str
):
    params = {
        "client_id": twitch.client_id,
        "redirect_uri": redirect,
        "response_type": "code",
        "scope": "user:read:follows",
        "state": state,
        **extra,
    }
    async with session.get(
        f"{twitch.auth_url}/authorize", params=params, allow_redirects=False
    ) as reply:
        assert reply.status == 302
        return reply.headers["Location"]


async def exchange(twitch, session, code, redirect="http://127.0.0.1:1/callback", secret=None):
    form = {
        "client_id": twitch.client_id,
        "client_secret": secret or twitch.client_secret,
        "code": code,
        "grant_type": "authorization_code",
        "redirect_uri": redirect,
    }
    async with session.post(f"{twitch.auth_url}/token", data=form) as reply:
        return reply.status, await reply.json()


async def test_authorize_redirects_back_with_code_scope_and_state(twitch, session):
    location = await authorize(twitch, session)
    back = aiohttp.client.URL(location)

    assert str(back.with_query(None)) == "http://127.0.0.1:1/callback"
    assert back.query["state"] == "s1"
    assert back.query["scope"] == "user:read:follows"
    status, tokens = await exchange(twitch, session, back.query["code"])
    assert status == 200
    assert set(tokens) == {"access_token", "expires_in", "refresh_token", "scope", "token_type"}
    assert tokens["scope"] == ["user:read:follows"]


async def test_consent_is_asked_the_first_time_and_whenever_force_verify_says_so(twitch, session):
    me = twitch.authorizing_user_id
    await authorize(twitch, session)
    await authorize(twitch, session)  # approved before: straight back, no page
    assert twitch.prompted == [me]

    back = aiohttp.client.URL(await authorize(twitch, session, force_verify="true"))
    assert twitch.prompted == [me, me]
    assert back.query["state"] == "s1" and back.query["code"]


async def test_a_denied_authorization_says_access_denied(twitch, session):
    twitch.deny_next_authorization = True
    back = aiohttp.client.URL(await authorize(twitch, session))
    assert back.query["error"] == "access_denied"
    assert back.query["state"] == "s1"
    assert "code" not in back.query


async def test_codes_work_once_and_only_with_the_secret(twitch, session):
    code = aiohttp.client.URL(await authorize(twitch, session)).query["code"]
    assert await exchange(twitch, session, code, secret="wrong") == (
        403,
        {"status": 403, "message": "invalid client secret"},
    )
    assert (await exchange(twitch, session, code))[0] == 200
    assert await exchange(twitch, session, code) == (
        400,
        {"status": 400, "message": "Invalid authorization code"},
    )


async def test_validate_refresh_revoke_and_get_users(twitch, session):
    code = aiohttp.client.URL(await authorize(twitch, session)).query["code"]
    _, tokens = await exchange(twitch, session, code)
    access = tokens["access_token"]

    async with session.get(
        f"{twitch.auth_url}/validate", headers={"Authorization": f"OAuth {access}"}
    ) as reply:
        info = await reply.json()
    assert info["client_id"] == twitch.client_id
    assert info["login"] == "viewer_one"
    assert info["scopes"] == ["user:read:follows"]

    headers = {"Authorization": f"Bearer {access}", "Client-Id": twitch.client_id}
    async with session.get(f"{twitch.api_url}/users", headers=headers) as reply:
        assert (await reply.json())["data"][0]["display_name"] == "Viewer_One"

    twitch.expire_user_tokens()
    async with session.get(
        f"{twitch.auth_url}/validate", headers={"Authorization": f"OAuth {access}"}
    ) as reply:
        assert reply.status == 401
        assert await reply.json() == {"status": 401, "message": "invalid access token"}

    form = {
        "client_id": twitch.client_id,
        "client_secret": twitch.client_secret,
        "grant_type": "refresh_token",
        "refresh_token": tokens["refresh_token"],
    }
    async with session.post(f"{twitch.auth_url}/token", data=form) as reply:
        fresh = await reply.json()
    assert fresh["refresh_token"] != tokens["refresh_token"]
    async with session.post(f"{twitch.auth_url}/token", data=form) as reply:
        assert reply.status == 400  # the old refresh token was rotated away

    revoke = {"client_id": twitch.client_id, "token": fresh["access_token"]}
    async with session.post(f"{twitch.auth_url}/revoke", data=revoke) as reply:
        assert reply.status == 200
    async with session.post(f"{twitch.auth_url}/revoke", data=revoke) as reply:
        assert await reply.json() == {"status": 400, "message": "Invalid token"}
    assert twitch.revoked == [fresh["access_token"]]


async def refresh_with(twitch, session, refresh_token):
    form = {
        "client_id": twitch.client_id,
        "client_secret": twitch.client_secret,
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
    }
    async with session.post(f"{twitch.auth_url}/token", data=form) as reply:
        return reply.status, await reply.json()


async def linked_tokens(twitch, session) -> dict:
    code = aiohttp.client.URL(await authorize(twitch, session)).query["code"]
    return (await exchange(twitch, session, code))[1]


async def test_a_refresh_held_after_rotation_has_swapped_the_tokens_before_it_answers(
    twitch, session
):
    tokens = await linked_tokens(twitch, session)
    hold = twitch.hold_next_refresh()
    async with asyncio.timeout(5):
        reply = asyncio.create_task(refresh_with(twitch, session, tokens["refresh_token"]))
        await hold.reached.wait()
        assert tokens["access_token"] not in twitch.user_tokens  # rotated away already
        (new_access,) = twitch.user_tokens
        assert not reply.done()
        hold.release()
        status, fresh = await reply
    assert status == 200
    assert fresh["access_token"] == new_access


async def test_a_refresh_held_before_rotation_sees_what_happened_meanwhile(twitch, session):
    tokens = await linked_tokens(twitch, session)
    hold = twitch.hold_next_refresh(after_rotation=False)
    async with asyncio.timeout(5):
        reply = asyncio.create_task(refresh_with(twitch, session, tokens["refresh_token"]))
        await hold.reached.wait()
        assert list(twitch.user_tokens) == [tokens["access_token"]]  # not rotated yet
        twitch.revoke_user(twitch.authorizing_user_id)
        hold.release()
        assert await reply == (400, {"status": 400, "message": "Invalid refresh token"})


async def test_a_held_revoke_keeps_the_token_live_until_released(twitch, session):
    tokens = await linked_tokens(twitch, session)
    hold = twitch.hold_next_revoke()
    form = {"client_id": twitch.client_id, "token": tokens["access_token"]}
    async with asyncio.timeout(5):
        reply = asyncio.create_task(session.post(f"{twitch.auth_url}/revoke", data=form))
        await hold.reached.wait()
        assert tokens["access_token"] in twitch.user_tokens
        hold.release()
        async with await reply as revoked:
            assert revoked.status == 200
    assert twitch.revoked == [tokens["access_token"]]
    assert twitch.user_tokens == {}


# --- Get Followed Streams ------------------------------------------------------------------------


async def follower_tokens(twitch, session, login: str | None = None) -> tuple[str, dict]:
    """A new (or the default) Twitch user's id and the tokens they linked with."""
    if login is not None:
        twitch.authorizing_user_id = twitch.add_user(login)["id"]
    return twitch.authorizing_user_id, await linked_tokens(twitch, session)


async def get_followed(twitch, session, access: str, **params):
    headers = auth(twitch, access)
    async with session.get(
        f"{twitch.api_url}/streams/followed", headers=headers, params=params
    ) as reply:
        assert reply.headers["Content-Type"] == JSON
        return reply.status, await reply.json(), reply.headers


async def walk_followed(twitch, session, access: str, user_id: str, first: int) -> list[list[dict]]:
    pages, params = [], {"user_id": user_id, "first": str(first)}
    for _ in range(50):
        status, body, _ = await get_followed(twitch, session, access, **params)
        assert status == 200, body
        pages.append(body["data"])
        if "cursor" not in body["pagination"]:
            return pages
        params["after"] = body["pagination"]["cursor"]
    raise AssertionError("the pages never ended")


async def test_followed_streams_are_the_live_follows_sorted_and_paged(twitch, session):
    user_id, tokens = await follower_tokens(twitch, session)
    followed = twitch.streams[:150]
    twitch.follow(user_id, *(s["user_id"] for s in followed), "999999999")  # one is offline

    pages = await walk_followed(twitch, session, tokens["access_token"], user_id, first=100)

    assert [len(page) for page in pages] == [100, 50]
    served = [stream for page in pages for stream in page]
    expected = sorted(followed, key=lambda s: -s["viewer_count"])
    assert [s["id"] for s in served] == [s["id"] for s in expected]
    assert served[0] == expected[0]  # the same full stream objects as Get Streams
    status, body, _ = await get_followed(twitch, session, tokens["access_token"], user_id=user_id)
    assert (status, len(body["data"])) == (200, 100)  # `first` defaults to 100


async def test_followed_streams_of_someone_who_follows_nobody_live(twitch, session):
    user_id, tokens = await follower_tokens(twitch, session)
    status, body, _ = await get_followed(twitch, session, tokens["access_token"], user_id=user_id)
    assert (status, body) == (200, {"data": [], "pagination": {}})


async def test_followed_streams_need_the_users_own_token_with_the_scope(twitch, session, headers):
    user_id, tokens = await follower_tokens(twitch, session)
    other, _ = await follower_tokens(twitch, session, "someone_else")
    twitch.granted_scopes = []
    _, scopeless = await follower_tokens(twitch, session, "linked_long_ago")
    access = tokens["access_token"]

    async with session.get(
        f"{twitch.api_url}/streams/followed", headers=headers, params={"user_id": user_id}
    ) as reply:  # the app token
        assert (reply.status, (await reply.json())["message"]) == (401, "Missing User OAUTH Token")
    status, body, _ = await get_followed(
        twitch, session, scopeless["access_token"], user_id=twitch.authorizing_user_id
    )
    assert (status, body["message"]) == (401, "Missing scope: user:read:follows")
    status, body, _ = await get_followed(twitch, session, access, user_id=other)
    assert status == 400
    assert body["message"].startswith("The ID in user_id must match")
    status, body, _ = await get_followed(twitch, session, access)
    assert (status, body["message"]) == (400, 'Missing required parameter "user_id"')
    status, body, _ = await get_followed(twitch, session, access, user_id=user_id, first="101")
    assert status == 400
    assert body["message"].startswith('The parameter "first" was malformed')
    twitch.expire_user_tokens()
    status, body, _ = await get_followed(twitch, session, access, user_id=user_id)
    assert (status, body["message"]) == (401, "Invalid OAuth token")


async def test_each_user_token_has_its_own_bucket_apart_from_the_apps(twitch, session, headers):
    twitch.ratelimit_limit = 2
    first_id, first = await follower_tokens(twitch, session)
    second_id, second = await follower_tokens(twitch, session, "viewer_two")

    remaining = []
    for _ in range(2):
        status, _, reply_headers = await get_followed(
            twitch, session, first["access_token"], user_id=first_id
        )
        assert status == 200
        remaining.append(reply_headers["Ratelimit-Remaining"])
    status, body, reply_headers = await get_followed(
        twitch, session, first["access_token"], user_id=first_id
    )

    assert remaining == ["1", "0"]
    assert (status, body["error"], reply_headers["Ratelimit-Remaining"]) == (
        429,
        "Too Many Requests",
        "0",
    )
    assert twitch.rate_limited == 1
    status, _, reply_headers = await get_followed(
        twitch, session, second["access_token"], user_id=second_id
    )
    assert (status, reply_headers["Ratelimit-Remaining"]) == (200, "1")
    status, _, reply_headers = await get_streams(twitch, session, headers)
    assert (status, reply_headers["Ratelimit-Remaining"]) == (200, "1")


async def test_the_followed_list_can_change_between_pages(twitch, session):
    user_id, tokens = await follower_tokens(twitch, session)
    twitch.streams = [make_stream(index, 100 - index) for index in range(6)]
    twitch.follow(user_id, *(s["user_id"] for s in twitch.streams))
    twitch.followed_list_changes = True

    pages = await walk_followed(twitch, session, tokens["access_token"], user_id, first=2)

    served = [s["id"] for page in pages for s in page]
    ids = [make_stream(index, 0)["id"] for index in range(6)]
    # After each page its last stream and the next one swap places: the next page starts
    # with the stream just served, and the one that moved up is never served.
    assert served == [ids[0], ids[1], ids[1], ids[3], ids[3], ids[5]]
    assert len(set(served)) < len(ids)
