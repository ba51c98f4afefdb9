"""A fake Twitch for tests: id.twitch.tv/oauth2 and api.twitch.tv/helix on 127.0.0.1.

This module owns the fake's protocol: the real paths, JSON shapes, headers and error bodies of
the OAuth server (`/authorize` approving instantly as a chosen user and noting when Twitch would
have shown its consent page, `/token` for the
client-credentials, authorization-code and refresh-token grants, `/validate`, `/revoke`),
`GET /helix/users`, `GET /helix/streams` (bearer token + Client-Id, `first`/`after` paging
with opaque cursors, viewer-sorted data, filters, the per-client-id rate-limit bucket) and
`GET /helix/streams/followed` (a user token with `user:read:follows` for its own `user_id`,
the same paging, the live streams of the channels the test says that user follows, a bucket
per user), plus switches that reproduce Twitch's known misbehaviour (duplicate items across
pages, cursors that loop back, empty last pages, a followed list that changes between pages,
queued faults, latency, revoked tokens, tokens granted without the scope asked for) and
holds that keep a refresh or a revocation waiting until the test releases it (for exact
interleavings).
It also builds realistic Helix stream payloads (`make_stream`, `random_streams`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import math
import random
import secrets
import string
import time
import urllib.parse
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from http import HTTPStatus
from types import EllipsisType
from typing import Any

from aiohttp import web

from tests.fakes import LoopbackServer

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

STARTED_AT = "2026-11-28T12:00:00Z"
FAULTS = frozenset({"malformed", "wrong_shape", "slow", "drop"})
PASS = "pass"  # a queued request answered normally (for faults further down a walk)
_TOKEN_ALPHABET = string.ascii_lowercase + string.digits
_LANGUAGE_TAGS = {
    "en": "English",
    "de": "Deutsch",
    "es": "Español",
    "fr": "Français",
    "ja": "日本語",
    "ko": "한국어",
    "pt": "Português",
    "ru": "Русский",
}
_ERROR_MESSAGES = {
    400: "Invalid cursor",
    401: "Invalid OAuth token",
    403: "Missing required scope",
    404: "Not Found",
    429: "Too Many Requests",
}


def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON reply with `Content-Type` exactly `application/json`, UTF-8 like Twitch's."""
    body = json.dumps(payload, ensure_ascii=False).encode()
    return web.Response(
        status=status, body=body, headers={"Content-Type": "application/json", **(headers or {})}
    )


def helix_error(status: int, message: str | None = None) -> web.Response:
    """A Helix error reply: `{"error": <reason phrase>, "status": n, "message": "…"}`."""
    phrase = HTTPStatus(status).phrase
    text = message if message is not None else _ERROR_MESSAGES.get(status, phrase)
    return _json(status, {"error": phrase, "status": status, "message": text})


def oauth_error(status: int, message: str) -> web.Response:
    """An id.twitch.tv error reply: `{"status": n, "message": "…"}` (no `error` key)."""
    return _json(status, {"status": status, "message": message})


class Hold:
    """A request the fake keeps waiting at one point until the test calls `release()`."""

    def __init__(self) -> None:
        self.reached = asyncio.Event()  # set once the request waits at the hold
        self._released = asyncio.Event()

    def release(self) -> None:
        """Let the held request go on."""
        self._released.set()

    async def wait(self) -> None:
        """Called by the fake where the request is held."""
        self.reached.set()
        await self._released.wait()


class FakeTwitch(LoopbackServer):
    """Twitch's OAuth and Helix servers in one aiohttp app; see the module docstring."""

    def __init__(
        self,
        *,
        client_id: str = "fake-client-id",
        client_secret: str = "fake-client-secret",  # noqa: S107 - a fake credential
        streams: list[dict] | None = None,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.streams: list[dict] = streams if streams is not None else []
        # Switches a test may set at any time.
        self.latency = 0.0
        self.overlap = 0
        self.cursor_loops_back = False
        self.empty_last_page = False
        self.ratelimit_limit = 800
        self.ratelimit_window = 60.0  # seconds in which an empty bucket fills up again
        self.slow_seconds = 5.0
        # Between two pages of Get Followed Streams, the last stream of the page just served and
        # the first of the next swap viewer counts: the next page repeats one and one is missed.
        self.followed_list_changes = False
        # The same for Get Streams, `drift` pairs at a time: after each page the last `drift`
        # streams served and the first `drift` of the next page swap viewer counts, so the next
        # page repeats `drift` streams and `drift` are never served.
        self.drift = 0
        self.token_lifetime = 5011200
        # The user side of OAuth.
        self.users: dict[str, dict] = {}
        self.authorizing_user_id = self.add_user("viewer_one", display_name="Viewer_One")["id"]
        self.deny_next_authorization = False
        # Scopes the next authorizations grant; None: what the authorize URL asked for. [] is a
        # token linked before StreamStats asked for `user:read:follows`.
        self.granted_scopes: list[str] | None = None
        self.follows: dict[str, set[str]] = {}  # user id -> broadcaster user ids they follow
        # Twitch shows its consent page to someone approving for the first time, and to everyone
        # when the authorize URL says `force_verify=true`; others go straight back with a code.
        self.approved_users: set[str] = set()
        self.prompted: list[str] = []  # user ids the consent page was shown to, in order
        self.redirect_uris: set[str] = set()  # empty: any http(s) redirect URI is accepted
        self.code_lifetime = 600.0
        self.user_token_lifetime = 14400
        self.user_tokens: dict[str, dict] = {}  # access token -> user_id, scopes, expires_at, ...
        self.revoked: list[str] = []
        self.validate_requests = 0
        self.refresh_requests = 0  # refresh-token grants asked for, granted or not
        # What happened, for assertions.
        self.requests: list[tuple[str, str, dict[str, list[str]]]] = []
        self.token_requests = 0
        self.rate_limited = 0  # 429s a bucket gave (queued faults are not counted)
        # Internal state.
        self._faults: deque[int | str] = deque()
        self._tokens: dict[str, tuple[str, float]] = {}  # token -> (client id, monotonic expiry)
        self._cursors: dict[str, int] = {}  # issued cursor -> offset into the sorted streams
        # Bucket ("<client id>" or "user:<user id>") -> (points left, when that was counted).
        self._buckets: dict[str, tuple[float, float]] = {}
        self._codes: dict[str, dict] = {}  # authorization code -> what it was issued for
        self._refresh_tokens: dict[str, str] = {}  # refresh token -> its current access token
        self._token_failures: deque[int] = deque()
        self._refresh_holds: deque[tuple[Hold, bool]] = deque()  # (hold, after rotation?)
        self._revoke_holds: deque[Hold] = deque()
        self._runner: web.AppRunner | None = None
        self._port = 0

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Serve on 127.0.0.1 on a free port."""
        app = web.Application(middlewares=[self._middleware])
        app.router.add_post("/oauth2/token", self._token)
        app.router.add_get("/oauth2/authorize", self._authorize)
        app.router.add_get("/oauth2/validate", self._validate)
        app.router.add_post("/oauth2/revoke", self._revoke)
        app.router.add_get("/helix/streams", self._get_streams)
        app.router.add_get("/helix/streams/followed", self._get_followed_streams)
        app.router.add_get("/helix/users", self._get_users)
        app.router.add_route("*", "/helix/{tail:.*}", self._not_found)
        # handler_cancellation: a client that gives up on a "slow" reply does not keep close() busy.
        self._runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=0.1, access_log=None
        )
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self._port = self._runner.addresses[0][1]

    async def close(self) -> None:
        """Stop serving; safe to call twice."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def api_url(self) -> str:
        """Base URL standing in for `https://api.twitch.tv/helix`."""
        return f"http://127.0.0.1:{self._port}/helix"

    @property
    def auth_url(self) -> str:
        """Base URL standing in for `https://id.twitch.tv/oauth2`."""
        return f"http://127.0.0.1:{self._port}/oauth2"

    # --- test controls -----------------------------------------------------------------------

    def fail_next(self, *replies: int | str, after: int = 0) -> None:
        """Queue faults for the next Helix requests (past the next `after` ones), in order.

        Statuses 4xx/5xx answer with Twitch's error body (a 401 also forgets the presented token;
        a 429 says `Ratelimit-Remaining: 0` and a reset about 1 s ahead); "malformed" is a 200
        whose JSON body is cut short; "wrong_shape" is `{"data": {"oops": 1}}`; "slow" answers
        normally after `slow_seconds`; "drop" closes the connection without a reply. Faults
        bypass authentication and the rate-limit bucket. Note that aiohttp's client retries an
        idempotent request (GET) once when the connection closes with no reply: queue "drop"
        twice for the caller to see `ServerDisconnectedError`.
        """
        self._faults.extend([PASS] * after)
        for reply in replies:
            if isinstance(reply, int) and not 400 <= reply <= 599:
                raise ValueError(f"fault status must be 4xx or 5xx, not {reply}")
            if isinstance(reply, str) and reply not in FAULTS:
                raise ValueError(f"unknown fault {reply!r}; expected one of {sorted(FAULTS)}")
            self._faults.append(reply)

    def revoke_tokens(self) -> None:
        """Invalidate every issued token: the next Helix request with one gets a 401."""
        self._tokens.clear()

    def add_user(
        self, login: str, *, display_name: str | None = None, user_id: str | None = None
    ) -> dict:
        """A Twitch account the fake knows (and can authorize as); returns its Helix object."""
        user_id = user_id or str(200_000_000 + len(self.users))
        user = {
            "id": user_id,
            "login": login,
            "display_name": display_name or login,
            "type": "",
            "broadcaster_type": "",
            "description": "",
            "profile_image_url": f"https://static-cdn.jtvnw.net/jtv_user_pictures/{login}.png",
            "offline_image_url": "",
            "view_count": 0,
            "created_at": "2020-02-02T02:02:02Z",
        }
        self.users[user_id] = user
        return user

    def fail_next_token(self, *statuses: int) -> None:
        """Queue failures (e.g. 500, 503) for the next `/oauth2/token` requests, any grant."""
        self._token_failures.extend(statuses)

    def hold_next_refresh(self, *, after_rotation: bool = True) -> Hold:
        """Keep the next refresh-token grant waiting until the test releases the returned hold.

        With `after_rotation` the fake has already rotated the tokens (the old pair is dead, the
        new one live) and holds only the reply, as when Twitch's answer is slow to arrive;
        otherwise the request waits before the fake looks at its refresh token.
        """
        hold = Hold()
        self._refresh_holds.append((hold, after_rotation))
        return hold

    def hold_next_revoke(self) -> Hold:
        """Keep the next `/revoke` waiting, its token still live, until the test releases it."""
        hold = Hold()
        self._revoke_holds.append(hold)
        return hold

    def expire_user_tokens(self) -> None:
        """Every user access token stops working (401); refresh tokens still do."""
        for info in self.user_tokens.values():
            info["expires_at"] = 0.0

    def revoke_user(self, user_id: str) -> None:
        """The user disconnected the app: all their access and refresh tokens stop working."""
        for token in [t for t, info in self.user_tokens.items() if info["user_id"] == user_id]:
            self._forget_user_token(token)

    def follow(self, user_id: str, *broadcaster_ids: str) -> None:
        """`user_id` follows these channels (their streams show when they are live)."""
        self.follows.setdefault(user_id, set()).update(broadcaster_ids)

    def issue_token(self) -> str:
        """Mint an app token directly (not counted in `token_requests`)."""
        token = "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(30))
        self._tokens[token] = (self.client_id, time.monotonic() + self.token_lifetime)
        return token

    # --- plumbing ----------------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        query = {key: request.query.getall(key) for key in dict.fromkeys(request.query.keys())}
        self.requests.append((request.method, request.path, query))
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        if request.path.startswith("/helix/"):
            return await self._helix(request, handler)
        return await handler(request)

    async def _helix(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Faults, then authentication, then the rate-limit bucket, then the endpoint."""
        fault = self._faults.popleft() if self._faults else None
        if fault == "drop":
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=204)  # never reaches the client
        if fault == "slow":
            await asyncio.sleep(self.slow_seconds)
            fault = None
        if fault == PASS:
            fault = None
        token = self._bearer(request)
        token_client = self._token_client(token)
        user = self._live_user_token(token) if token is not None else None
        # Twitch keeps a bucket per client id for app tokens and one per user for user tokens.
        bucket = (
            f"user:{user['user_id']}"
            if user is not None
            else token_client or request.headers.get("Client-Id") or self.client_id
        )
        response: web.StreamResponse
        if fault is not None:
            if fault == 401 and token is not None:
                self._tokens.pop(token, None)
            response = self._fault_reply(fault)
            self._add_ratelimit_headers(response, bucket, exhausted=fault == 429)
            return response
        if token_client is None:
            response = helix_error(401, "Invalid OAuth token")
        elif request.headers.get("Client-Id") != token_client:
            response = helix_error(401, "Client ID and OAuth token do not match")
        elif not self._take_point(bucket):
            self.rate_limited += 1
            response = helix_error(429)
        else:
            response = await handler(request)
        self._add_ratelimit_headers(response, bucket)
        return response

    @staticmethod
    def _fault_reply(fault: int | str) -> web.Response:
        if fault == "malformed":
            return web.Response(
                status=200,
                body=b'{"data": [{"id": "1", "user_',
                headers={"Content-Type": "application/json"},
            )
        if fault == "wrong_shape":
            return _json(200, {"data": {"oops": 1}})
        assert isinstance(fault, int)
        return helix_error(fault)

    @staticmethod
    def _bearer(request: web.Request) -> str | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return token.strip()

    def _token_client(self, token: str | None) -> str | None:
        """The client id a live token was issued to, or None (unknown, revoked or expired)."""
        if token is not None and self._live_user_token(token) is not None:
            return self.client_id
        if token is None or token not in self._tokens:
            return None
        client, expires = self._tokens[token]
        if time.monotonic() >= expires:
            del self._tokens[token]
            return None
        return client

    def _points(self, client: str) -> float:
        """A token bucket: `ratelimit_limit` points that flow back evenly over the window."""
        now = time.time()
        points, counted_at = self._buckets.get(client, (float(self.ratelimit_limit), now))
        rate = self.ratelimit_limit / self.ratelimit_window
        points = min(float(self.ratelimit_limit), points + (now - counted_at) * rate)
        self._buckets[client] = (points, now)
        return points

    def _take_point(self, client: str) -> bool:
        points = self._points(client)
        if points < 1:
            return False
        self._buckets[client] = (points - 1, time.time())
        return True

    def _add_ratelimit_headers(
        self, response: web.StreamResponse, client: str, *, exhausted: bool = False
    ) -> None:
        """`Ratelimit-Reset` is when the bucket is full again, in whole Unix seconds."""
        points = 0.0 if exhausted else self._points(client)
        rate = self.ratelimit_limit / self.ratelimit_window
        full_at = time.time() + (self.ratelimit_limit - points) / rate
        reset = int(time.time()) + 1 if exhausted else math.ceil(full_at)
        response.headers["Ratelimit-Limit"] = str(self.ratelimit_limit)
        response.headers["Ratelimit-Remaining"] = str(math.floor(points))
        response.headers["Ratelimit-Reset"] = str(reset)

    # --- id.twitch.tv/oauth2 -----------------------------------------------------------------

    async def _token(self, request: web.Request) -> web.Response:
        """`POST /oauth2/token`: parameters from the query string and/or the form body."""
        params: dict[str, str] = dict(request.query)
        params.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
        client_id = params.get("client_id")
        if not client_id:
            return oauth_error(400, "missing client id")
        if client_id != self.client_id:
            return oauth_error(400, "invalid client")
        if self._token_failures:
            return oauth_error(self._token_failures.popleft(), "Internal Server Error")
        grants = {
            "client_credentials": self._client_credentials,
            "authorization_code": self._authorization_code,
            "refresh_token": self._refresh_token,
        }
        grant = grants.get(params.get("grant_type", ""))
        if grant is None:
            return oauth_error(400, "invalid grant type")
        if grant != self._client_credentials and params.get("client_secret") != self.client_secret:
            return oauth_error(403, "invalid client secret")
        return await grant(params)

    async def _authorize(self, request: web.Request) -> web.StreamResponse:
        """`GET /oauth2/authorize`: the user approves at once and is sent back with a code."""
        query = request.query
        if query.get("client_id") != self.client_id:
            return oauth_error(400, "invalid client")
        if query.get("response_type") != "code":
            return oauth_error(400, "unsupported response_type")
        redirect_uri = query.get("redirect_uri", "")
        allowed = (
            redirect_uri in self.redirect_uris
            if self.redirect_uris
            else (urllib.parse.urlsplit(redirect_uri).scheme in ("http", "https"))
        )
        if not allowed:
            return oauth_error(400, "Parameter redirect_uri does not match registered URI")
        back: dict[str, str] = {}
        if self.deny_next_authorization:
            self.deny_next_authorization = False
            back = {"error": "access_denied", "error_description": "The user denied you access"}
        else:
            user_id = self.authorizing_user_id
            if query.get("force_verify") == "true" or user_id not in self.approved_users:
                self.prompted.append(user_id)
            self.approved_users.add(user_id)
            code = secrets.token_hex(15)
            scopes = (
                list(self.granted_scopes)
                if self.granted_scopes is not None
                else query.get("scope", "").split()
            )
            self._codes[code] = {
                "redirect_uri": redirect_uri,
                "scopes": scopes,
                "user_id": user_id,
                "expires_at": time.monotonic() + self.code_lifetime,
            }
            back = {"code": code, "scope": " ".join(scopes)}
        if "state" in query:
            back["state"] = query["state"]
        raise web.HTTPFound(f"{redirect_uri}?{urllib.parse.urlencode(back)}")

    async def _authorization_code(self, params: dict[str, str]) -> web.Response:
        grant = self._codes.pop(params.get("code", ""), None)
        if (
            grant is None
            or time.monotonic() >= grant["expires_at"]
            or grant["redirect_uri"] != params.get("redirect_uri")
        ):
            return oauth_error(400, "Invalid authorization code")
        return self._user_token_reply(grant["user_id"], grant["scopes"])

    async def _refresh_token(self, params: dict[str, str]) -> web.Response:
        self.refresh_requests += 1
        hold, after_rotation = (
            self._refresh_holds.popleft() if self._refresh_holds else (None, False)
        )
        if hold is not None and not after_rotation:
            await hold.wait()
        old_access = self._refresh_tokens.get(params.get("refresh_token", ""))
        if old_access is None:
            return oauth_error(400, "Invalid refresh token")
        info = self.user_tokens[old_access]
        self._forget_user_token(old_access)  # Twitch rotates both tokens
        reply = self._user_token_reply(info["user_id"], info["scopes"])
        if hold is not None and after_rotation:
            await hold.wait()
        return reply

    def _user_token_reply(self, user_id: str, scopes: list[str]) -> web.Response:
        access, refresh = secrets.token_hex(15), secrets.token_hex(25)
        self.user_tokens[access] = {
            "user_id": user_id,
            "scopes": scopes,
            "expires_at": time.monotonic() + self.user_token_lifetime,
            "refresh_token": refresh,
        }
        self._refresh_tokens[refresh] = access
        return _json(
            200,
            {
                "access_token": access,
                "expires_in": self.user_token_lifetime,
                "refresh_token": refresh,
                "scope": scopes,
                "token_type": "bearer",
            },
        )

    def _live_user_token(self, token: str) -> dict | None:
        info = self.user_tokens.get(token)
        if info is None or time.monotonic() >= info["expires_at"]:
            return None
        return info

    def _forget_user_token(self, token: str) -> None:
        info = self.user_tokens.pop(token, None)
        if info is not None:
            self._refresh_tokens.pop(info["refresh_token"], None)

    async def _validate(self, request: web.Request) -> web.Response:
        """`GET /oauth2/validate` with `Authorization: OAuth <token>`."""
        self.validate_requests += 1
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        token = token.strip() if scheme.lower() in ("oauth", "bearer") else ""
        info = self._live_user_token(token)
        if info is not None:
            user = self.users[info["user_id"]]
            remaining = int(info["expires_at"] - time.monotonic())
            return _json(
                200,
                {
                    "client_id": self.client_id,
                    "login": user["login"],
                    "scopes": info["scopes"],
                    "user_id": user["id"],
                    "expires_in": remaining,
                },
            )
        client = self._token_client(token or None)
        if client is None:
            return oauth_error(401, "invalid access token")
        remaining = int(self._tokens[token][1] - time.monotonic())
        return _json(200, {"client_id": client, "scopes": [], "expires_in": remaining})

    async def _revoke(self, request: web.Request) -> web.Response:
        """`POST /oauth2/revoke` (form: client_id, token)."""
        if self._revoke_holds:
            await self._revoke_holds.popleft().wait()
        form = await request.post()
        if form.get("client_id") != self.client_id:
            return oauth_error(404, "client does not exist")
        token = str(form.get("token", ""))
        if token in self.user_tokens:
            self._forget_user_token(token)
        elif self._tokens.pop(token, None) is None:
            return oauth_error(400, "Invalid token")
        self.revoked.append(token)
        return web.Response(status=200)

    async def _client_credentials(self, params: dict[str, str]) -> web.Response:
        if not params.get("client_secret"):
            return oauth_error(400, "missing client secret")
        if params["client_secret"] != self.client_secret:
            return oauth_error(403, "invalid client secret")
        self.token_requests += 1
        token = self.issue_token()
        return _json(
            200, {"access_token": token, "expires_in": self.token_lifetime, "token_type": "bearer"}
        )

    # --- api.twitch.tv/helix -----------------------------------------------------------------

    async def _not_found(self, request: web.Request) -> web.Response:
        return helix_error(404, "")

    async def _get_users(self, request: web.Request) -> web.Response:
        """`GET /helix/users`: the token's own user, or the users named by `id`/`login`."""
        ids, logins = request.query.getall("id", []), request.query.getall("login", [])
        if ids or logins:
            found = [u for u in self.users.values() if u["id"] in ids or u["login"] in logins]
            return _json(200, {"data": found})
        info = self._live_user_token(self._bearer(request) or "")
        if info is None:
            return helix_error(401, "Missing User OAUTH Token")
        return _json(200, {"data": [self.users[info["user_id"]]]})

    async def _get_streams(self, request: web.Request) -> web.Response:
        """`GET /helix/streams`: viewer-sorted, filtered, paged by `first` and `after`."""
        return self._page(request, self._filtered(request), default_first=20, drift=self.drift)

    async def _get_followed_streams(self, request: web.Request) -> web.Response:
        """`GET /helix/streams/followed`: the token's user's followed channels that are live."""
        user = self._live_user_token(self._bearer(request) or "")
        if user is None:  # an app token
            return helix_error(401, "Missing User OAUTH Token")
        if "user:read:follows" not in user["scopes"]:
            return helix_error(401, "Missing scope: user:read:follows")
        user_id = request.query.get("user_id")
        if not user_id:
            return helix_error(400, 'Missing required parameter "user_id"')
        if user_id != user["user_id"]:
            return helix_error(
                400, "The ID in user_id must match the user ID found in the request's OAuth token."
            )
        followed = self.follows.get(user_id, set())
        live = [stream for stream in self.streams if stream["user_id"] in followed]
        return self._page(request, live, default_first=100, changes=self.followed_list_changes)

    def _page(
        self,
        request: web.Request,
        streams: list[dict],
        *,
        default_first: int,
        changes: bool = False,
        drift: int = 0,
    ) -> web.Response:
        """One page of `streams`, most viewers first, by `first` and the `after` cursor.

        With `changes` (one pair) or `drift` (that many pairs), the viewer counts of the streams
        either side of the page's end swap once it is served, as when viewers come and go
        between two requests.
        """
        first_raw = request.query.get("first", str(default_first))
        try:
            first = int(first_raw)
        except ValueError:
            return helix_error(
                400, 'The parameter "first" was malformed: the value must be a valid int'
            )
        if first > 100:
            return helix_error(
                400,
                'The parameter "first" was malformed: the value must be less than or equal to 100',
            )
        if first < 1:
            return helix_error(
                400,
                'The parameter "first" was malformed: the value must be greater than or equal to 1',
            )
        if request.query.get("before"):
            return helix_error(400, 'The fake does not implement "before"')
        after = request.query.get("after")
        if after and after not in self._cursors:
            return helix_error(400, "Invalid cursor")
        streams.sort(key=_most_viewers_first)  # stable; nearly sorted lists sort in linear time
        start = self._cursors[after] if after else 0
        if 0 < start < len(streams):  # pages after the first repeat `overlap` items
            start = max(0, start - self.overlap)
        page = streams[start : start + first]
        end = start + len(page)
        if not page:
            pagination: dict[str, str] = {}
        elif end < len(streams) or self.empty_last_page:
            pagination = {"cursor": self._cursor(end)}
        elif self.cursor_loops_back:
            pagination = {"cursor": self._cursor(0)}
        else:
            pagination = {}
        reply = _json(200, {"data": page, "pagination": pagination})
        pairs = max(drift, 1 if changes else 0)
        for offset in range(min(pairs, end, len(streams) - end)):
            # Swap places too, so that streams with equal counts (most of the tail) move as well.
            above, below = end - 1 - offset, end + offset
            last, following = streams[above], streams[below]
            last["viewer_count"], following["viewer_count"] = (
                following["viewer_count"],
                last["viewer_count"],
            )
            streams[above], streams[below] = following, last
        return reply

    def _filtered(self, request: web.Request) -> list[dict]:
        """Apply the repeatable filters `user_id`, `user_login`, `game_id` and `language`.

        Without filters this is the fake's own list (sorted in place, page after page).
        """
        streams = self.streams
        for name in ("user_id", "user_login", "game_id", "language"):
            wanted = set(request.query.getall(name, []))
            if wanted:
                streams = [s for s in streams if s.get(name) in wanted]
        return streams

    def _cursor(self, offset: int) -> str:
        """An opaque cursor like Twitch's: unpadded base64url of a small JSON document."""
        inner = base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode()
        doc = json.dumps({"b": None, "a": {"Cursor": inner}}, separators=(",", ":"))
        cursor = base64.urlsafe_b64encode(doc.encode()).decode().rstrip("=")
        self._cursors[cursor] = offset
        return cursor


def _most_viewers_first(stream: dict) -> int:
    return -stream["viewer_count"]


def decode_cursor(cursor: str) -> dict[str, Any]:
    """Decode a cursor issued by the fake (for tests that want to look inside)."""
    try:
        return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"not a fake Twitch cursor: {cursor!r}") from exc


# --- payload builders --------------------------------------------------------------------------


def make_stream(
    index: int,
    viewer_count: int,
    *,
    game_id: str = "509658",
    game_name: str = "Just Chatting",
    user_login: str | None = None,
    user_name: str | None = None,
    title: str | None = None,
    language: str = "en",
    tags: list[str] | EllipsisType | None = ...,
    is_mature: bool = False,
    started_at: str = STARTED_AT,
) -> dict:
    """A full Helix stream object; ids derive from `index`, so equal indexes mean equal ids."""
    login = user_login if user_login is not None else f"streamer{index}"
    return {
        "id": str(40_000_000_000 + index),
        "user_id": str(100_000_000 + index),
        "user_login": login,
        "user_name": user_name if user_name is not None else login.capitalize(),
        "game_id": game_id,
        "game_name": game_name,
        "type": "live",
        "title": title if title is not None else f"Stream number {index}",
        "viewer_count": viewer_count,
        "started_at": started_at,
        "language": language,
        "thumbnail_url": (
            f"https://static-cdn.jtvnw.net/previews-ttv/live_user_{login}-{{width}}x{{height}}.jpg"
        ),
        "tag_ids": [],
        "tags": [_LANGUAGE_TAGS.get(language, language.upper())] if tags is ... else tags,
        "is_mature": is_mature,
    }


_REAL_GAMES = [
    ("509658", "Just Chatting"),
    ("21779", "League of Legends"),
    ("32982", "Grand Theft Auto V"),
    ("516575", "VALORANT"),
    ("33214", "Fortnite"),
    ("27471", "Minecraft"),
    ("32399", "Counter-Strike"),
    ("29595", "Dota 2"),
    ("511224", "Apex Legends"),
    ("18122", "World of Warcraft"),
    ("509660", "Art"),
    ("26936", "Music"),
    ("490100", "LOST ARK"),
    ("512710", "Call of Duty: Warzone"),
    ("1469308723", "Pokémon Scarlet and Violet"),
]
_NON_ASCII_NAMES = [
    ("yuuki_live", "ゆうき"),
    ("senor_pixel", "SeñorPixel"),
    ("mueller", "Müller"),
    ("dmitry", "Дмитрий"),
    ("minsu", "김민수"),
    ("zoe", "Zoë"),
    ("xiaoming", "小明"),
    ("joao", "João"),
]


def random_streams(count: int, *, seed: int = 0, games: int = 20) -> list[dict]:
    """Deterministic live streams with skewed viewers, ties, uncategorised and non-ASCII ones."""
    rng = random.Random(seed)
    catalogue = [
        _REAL_GAMES[i] if i < len(_REAL_GAMES) else (str(600_000 + i), f"Game {i}")
        for i in range(games)
    ]
    languages = ["en"] * 6 + ["de", "es", "fr", "ja", "ko", "pt", "ru"]
    streams = []
    for index in range(count):
        game_id, game_name = ("", "") if rng.random() < 0.05 else rng.choice(catalogue)
        language = rng.choice(languages)
        login, name = f"streamer{index}", None
        if rng.random() < 0.1:
            base, name = rng.choice(_NON_ASCII_NAMES)
            login = f"{base}{index}"
        tags: list[str] | EllipsisType | None = None if rng.random() < 0.03 else ...
        streams.append(
            make_stream(
                index,
                min(int(rng.paretovariate(1.1) * 3) - 3, 400_000),  # mostly tiny, a few huge
                game_id=game_id,
                game_name=game_name,
                user_login=login,
                user_name=name,
                language=language,
                tags=tags,
                is_mature=rng.random() < 0.1,
                started_at=_started_before(index),
            )
        )
    return streams


def _started_before(index: int) -> str:
    """A start time within the two days before STARTED_AT, spread over the hours."""
    latest = datetime.fromisoformat(STARTED_AT)
    return (latest - timedelta(seconds=index * 1_777 % 172_800)).strftime("%Y-%m-%dT%H:%M:%SZ")
