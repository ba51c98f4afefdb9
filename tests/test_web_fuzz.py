"""Whatever arrives in a query string, a header or a token, the web app answers without a 500.

Tokens signed with the app's real key get past the signature check, so their claims reach the
code behind it: the session API checks them against the stored session, and the OAuth state
reaches the spent-state table and the browser binding.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any
from urllib.parse import quote

import jwt
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from bot.tokens import SESSION_PURPOSE, STATE_PURPOSE, TokenSigner
from tests.conftest import TEST_SECRET_KEY
from tests.test_web_callback import linked_session, store_snapshot
from web_callback import BROWSER_COOKIE

fuzz = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
PATHS = [
    "/callback",
    "/login",
    "/healthz",
    "/api/v1/stats/streams",
    "/api/v1/stats/games",
    "/api/v1/streams/top",
    "/api/v1/stats/hours",
    "/api/v1/trends",
    "/api/v1/channels/streamer0",
    "/api/v1/channels/%00%20%F0%9F%98%80",
]
AUTHENTICATED = PATHS[3:]
# History answers 404 for a game or channel it does not know.
MAY_BE_UNKNOWN = {"/api/v1/trends", *(path for path in PATHS if "/channels/" in path)}
# Answers for a linked user from Twitch: fuzzed without a valid session only (a session's stored
# tokens would end up refused by the fake Twitch and the link ended mid-test).
PERSONAL = ["/api/v1/me/following"]
KEYS = ["code", "state", "error", "error_description", "scope", "source", "order", "x", "period"]
values = st.one_of(
    st.text(max_size=300),
    st.sampled_from(["", "memory", "database", "asc", "desc", "access_denied", "a.b.c", "%00"]),
    st.from_regex(r"[A-Za-z0-9_-]{10,60}\.[A-Za-z0-9_-]{10,200}\.[A-Za-z0-9_-]{0,60}"),
)
queries = st.lists(st.tuples(st.sampled_from(KEYS), values), max_size=6)
authorizations = st.one_of(
    st.none(),
    st.text(max_size=200).filter(lambda s: "\n" not in s and "\r" not in s),
    st.from_regex(r"Bearer [ -~]{0,300}", fullmatch=True),
)
# Query strings for the authenticated routes: their own parameters, repeated, odd and hostile,
# kept under aiohttp's 8 KiB request-line limit (beyond it aiohttp answers 400 before our app).
api_queries = st.lists(
    st.tuples(
        st.sampled_from(["source", "order", "Source", "source[]", "x", "", "period", "game"]),
        st.one_of(
            st.sampled_from(["memory", "database", "asc", "desc", "MEMORY", " memory", "", "\x00"]),
            st.sampled_from(["1h", "6h", "24h", "7d", "1H", "30d", "Game 1", "1", "game 1"]),
            st.text(max_size=60),
        ),
    ),
    max_size=5,
)
# Claim values no token we issue ever carries.
hostile = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**80), max_value=2**80),
        st.floats(),  # NaN and the infinities included
        st.text(max_size=40),
        st.sampled_from(["", "\x00", "4242\x00", "a" * 3000, "9" * 400, "ṡ̷͉ü̶b̸", "-1", "NaN"]),
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=4,
)


def encode(query: list[tuple[str, str]]) -> str:
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in query)


@st.composite
def variations(draw: st.DrawFn, genuine: dict[str, Any], purposes: list[str]) -> dict[str, Any]:
    """`genuine` claims with some dropped, some replaced (plausibly or with hostile values) and
    some added, including the registered claims PyJWT looks at."""
    claims = {k: v for k, v in genuine.items() if not draw(st.booleans()) or draw(st.booleans())}
    for name in draw(st.lists(st.sampled_from(sorted(genuine)), max_size=3)):
        plausible: list[Any] = [genuine[name], str(genuine[name]), [genuine[name]]]
        if isinstance(genuine[name], str):  # well-formed, but names another session or user
            plausible += [genuine[name][::-1], genuine[name] + "0"]
        if isinstance(genuine[name], int):
            plausible += [genuine[name] + 1, genuine[name] - 7200, float(genuine[name]), 2**62]
        if name == "purpose":
            plausible += purposes
        claims[name] = draw(st.sampled_from(plausible) | hostile)
    extra = st.sampled_from(["aud", "nbf", "iss", "nonce", "sub ", "x"])
    claims.update(draw(st.dictionaries(extra, hostile, max_size=2)))
    return claims


headers = st.one_of(
    st.none(),
    st.fixed_dictionaries({"kid": hostile}),
    st.just({"typ": "at+jwt"}),
    st.just({"crit": ["exp"]}),
)


def sign(claims: dict[str, Any], header: dict[str, Any] | None) -> str:
    """HS256 with the app's key, by hand: PyJWT would refuse to encode some hostile claims.

    Tokens stay under 6,000 characters: aiohttp itself answers 400 to a request line or header
    over 8 KiB, before our app sees it.
    """

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = json.dumps({"alg": "HS256", "typ": "JWT", **(header or {})}).encode()
    signing_input = f"{part(head)}.{part(json.dumps(claims).encode())}"
    mac = hmac.new(TEST_SECRET_KEY.encode(), signing_input.encode(), hashlib.sha256)
    token = f"{signing_input}.{part(mac.digest())}"
    assume(len(token) <= 6000)
    return token


def unknown(path: str) -> set[int]:
    """404 where the API may not know what was asked for (a game or channel of the history)."""
    return {404} if path in MAY_BE_UNKNOWN else set()


@fuzz
@given(login=st.text(max_size=120))
async def test_any_channel_login_in_the_path_gets_json_and_no_5xx(client, session, login):
    authorization = {"Authorization": f"Bearer {sign(session, None)}"}

    reply = await client.get(f"/api/v1/channels/{quote(login, safe='')}", headers=authorization)
    body = await reply.json()

    assert reply.status in {200, 400, 404}, (reply.status, body)
    assert ("error" in body) == (reply.status != 200)


def who(claims: dict[str, Any]) -> tuple[Any, ...]:
    """What names a session: whose it is, which one, and when it was issued and ends."""
    return tuple((name, type(claims.get(name)), claims.get(name)) for name in IDENTITY)


IDENTITY = ("sub", "jti", "iat", "exp", "purpose")


@pytest.fixture
async def session(client, stats, clock) -> dict[str, Any]:
    """A snapshot exists and a real session is live; its claims, as issued."""
    await store_snapshot(stats)
    token = await linked_session(clock)
    return jwt.decode(token, options={"verify_signature": False})


@fuzz
@given(path=st.sampled_from(PATHS + PERSONAL), query=queries, authorization=authorizations)
async def test_no_query_string_or_header_causes_a_server_error(client, path, query, authorization):
    headers = {"Authorization": authorization} if authorization is not None else {}
    try:
        reply = await client.get(f"{path}?{encode(query)}", headers=headers, allow_redirects=False)
    except ValueError:
        return  # a header the HTTP client itself refuses to send
    body = await reply.text()

    assert reply.status < 500 or reply.status == 503, (reply.status, body[:300])
    assert "Traceback" not in body


@fuzz
@given(data=st.data(), path=st.sampled_from(AUTHENTICATED), query=api_queries, header=headers)
async def test_validly_signed_session_tokens_with_hostile_claims_get_json_and_no_5xx(
    client, session, data, path, query, header
):
    claims = data.draw(variations(session, [STATE_PURPOSE, SESSION_PURPOSE.upper()]))
    authorization = {"Authorization": f"Bearer {sign(claims, header)}"}

    reply = await client.get(f"{path}?{encode(query)}", headers=authorization)
    body = await reply.json()  # fails unless the answer is JSON
    event(f"status {reply.status}")  # `--hypothesis-show-statistics`: every branch is reached

    assert reply.status in {200, 400, 401} | unknown(path), (reply.status, body, claims)
    if reply.status != 401:  # past authentication: only the session as it was issued
        assert who(claims) == who(session), (reply.status, claims)


@fuzz
@given(path=st.sampled_from(AUTHENTICATED), query=api_queries)
async def test_hostile_query_strings_with_a_valid_session_get_json_and_no_5xx(
    client, session, path, query
):
    authorization = {"Authorization": f"Bearer {sign(session, None)}"}

    reply = await client.get(f"{path}?{encode(query)}", headers=authorization)
    body = await reply.json()

    assert reply.status in {200, 400} | unknown(path), (reply.status, body)
    assert ("error" in body) == (reply.status != 200)


@fuzz
@given(data=st.data(), path=st.sampled_from(["/login", "/callback"]), header=headers)
async def test_validly_signed_states_with_hostile_claims_get_a_page_and_no_5xx(
    client, accounts, clock, data, path, header
):
    _, issued = TokenSigner(TEST_SECRET_KEY, clock).issue_state("4242")
    genuine = {
        "sub": issued.discord_id,
        "nonce": issued.nonce,
        "exp": int(issued.expires_at.timestamp()),
        "purpose": STATE_PURPOSE,
    }
    claims = data.draw(variations(genuine, [SESSION_PURPOSE, STATE_PURPOSE.upper()]))
    state = sign(claims, header)
    cookies = {}
    if isinstance(claims.get("nonce"), str) and data.draw(st.booleans()):
        # The browser that opened /login for this state: its cookie holds the matching binding.
        cookies[BROWSER_COOKIE] = TokenSigner(TEST_SECRET_KEY, clock).browser_binding(
            issued.__class__(issued.discord_id, claims["nonce"], issued.expires_at)
        )
    query = {"state": state, "code": data.draw(st.sampled_from(["abc", "", "\x00"]))}

    reply = await client.get(path, params=query, cookies=cookies, allow_redirects=False)
    page = await reply.text()
    event(f"{path} {reply.status}")

    assert reply.status in {302, 400, 401} if path == "/login" else {400, 401}, (
        reply.status,
        page[:500],
        claims,
    )
    if reply.status != 302:
        assert reply.content_type == "text/html"
        assert "Traceback" not in page
