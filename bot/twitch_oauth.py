"""Twitch user OAuth (authorization code): authorize URL, exchange, validate, refresh, revoke.

Also the Helix calls made with a user's token: the linked user, and the live streams of the
channels they follow (which cost that user's own rate-limit bucket, not the app's). No token
ever appears in an exception message or a log line.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp

from bot.errors import TwitchAuthError, TwitchPayloadError, TwitchUnavailable
from bot.streams import Stream
from bot.twitch import (
    PAGE_SIZE,
    RateLimitBucket,
    TwitchApp,
    collect_streams,
    parse_streams_page,
    raise_for_status,
    read_json,
)

FOLLOWS_SCOPE = "user:read:follows"
SCOPES = (FOLLOWS_SCOPE,)
# Live followed channels read at most: 20 full pages. Far more than anyone watches, and a
# bound on what one person's command can cost.
FOLLOWED_PAGES = 20
REFUSED = frozenset({400, 401, 403})  # what id.twitch.tv answers to a bad code or token


@dataclass(frozen=True)
class UserTokens:
    """A user's access and refresh token (never shown in `repr`)."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_in: int
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class TokenInfo:
    """What /validate says about a token."""

    client_id: str
    user_id: str
    login: str
    scopes: tuple[str, ...]
    expires_in: int


@dataclass(frozen=True)
class TwitchUser:
    """The Twitch account being linked."""

    id: str
    login: str
    display_name: str


def _text(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise TwitchPayloadError(f"Twitch reply lacks {key}")
    return value


def _scopes(value: object) -> tuple[str, ...]:
    """Twitch sends `scope` as an array, sometimes as a space-separated string."""
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    return ()


class TwitchOAuth:
    """The id.twitch.tv endpoints a linked account needs, sharing the injected session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        app: TwitchApp,
        *,
        timeout: float = 10.0,
        max_wait: float = 60.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._session = session
        self._app = app
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._max_wait = max_wait
        self._sleep = sleep
        # The buckets Twitch said are empty, by Twitch user id (a user's bucket is dropped as
        # soon as a reply says it has points left, so this holds only users who ran dry).
        self._user_buckets: dict[str, RateLimitBucket] = {}

    @property
    def client_id(self) -> str:
        """Our application's client id (a token must have been issued to it)."""
        return self._app.client_id

    def authorize_url(self, redirect_uri: str, state: str) -> str:
        """Where to send a person to approve the link.

        `force_verify=true`: Twitch asks every time, even someone who approved StreamStats
        before, so nobody is linked by merely opening a link someone else posted.
        """
        query = urlencode(
            {
                "client_id": self._app.client_id,
                "redirect_uri": redirect_uri,
                "response_type": "code",
                "scope": " ".join(SCOPES),
                "state": state,
                "force_verify": "true",
            }
        )
        return f"{self._app.auth_url}/authorize?{query}"

    async def exchange_code(self, code: str, redirect_uri: str) -> UserTokens:
        """Trade the code from the callback for the user's tokens."""
        body = await self._token_request(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        )
        return self._user_tokens(body)

    async def refresh(self, refresh_token: str) -> UserTokens:
        """New tokens from a refresh token (Twitch rotates the refresh token too)."""
        body = await self._token_request(
            {"grant_type": "refresh_token", "refresh_token": refresh_token}
        )
        return self._user_tokens(body)

    async def validate(self, access_token: str) -> TokenInfo:
        """Ask Twitch whether a user token is still good; `TwitchAuthError` if not."""
        headers = {"Authorization": f"OAuth {access_token}"}
        body = await self._request(
            "GET", f"{self._app.auth_url}/validate", "/validate", headers=headers
        )
        return TokenInfo(
            client_id=_text(body, "client_id"),
            user_id=_text(body, "user_id"),
            login=_text(body, "login"),
            scopes=_scopes(body.get("scopes")),
            expires_in=int(body.get("expires_in") or 0),
        )

    async def revoke(self, token: str) -> None:
        """Revoke a token at Twitch; one Twitch already forgot (400) counts as revoked."""
        form = {"client_id": self._app.client_id, "token": token}
        try:
            async with self._session.post(
                f"{self._app.auth_url}/revoke", data=form, timeout=self._timeout
            ) as response:
                if response.status == 400:
                    return
                await raise_for_status(response, "/revoke")
        except (aiohttp.ClientError, TimeoutError) as error:
            raise TwitchUnavailable(f"Twitch unreachable on /revoke: {error!r}") from error

    async def get_user(self, access_token: str) -> TwitchUser:
        """The Twitch account that owns `access_token` (Get Users without parameters)."""
        headers = {"Authorization": f"Bearer {access_token}", "Client-Id": self._app.client_id}
        body = await self._request("GET", f"{self._app.api_url}/users", "/users", headers=headers)
        users = body.get("data")
        if not isinstance(users, list) or len(users) != 1 or not isinstance(users[0], dict):
            raise TwitchPayloadError("Get Users did not return exactly one user")
        user = users[0]
        return TwitchUser(
            id=_text(user, "id"),
            login=_text(user, "login"),
            display_name=str(user.get("display_name") or user["login"]),
        )

    async def followed_streams(self, access_token: str, user_id: str) -> list[Stream]:
        """The live streams of the channels `user_id` follows, most viewers first.

        Get Followed Streams with the user's own token (scope `user:read:follows`), every page
        (at most `FOLLOWED_PAGES`), deduplicated by stream id. `TwitchAuthError` when Twitch
        refuses the token (401: expired, revoked or without the scope).
        """
        bucket = self._user_buckets.get(user_id) or RateLimitBucket(f"of Twitch user {user_id}")
        headers = {"Authorization": f"Bearer {access_token}", "Client-Id": self._app.client_id}
        url, what = f"{self._app.api_url}/streams/followed", "/streams/followed"

        async def page(cursor: str | None) -> tuple[list[Stream], str | None]:
            params = {"user_id": user_id, "first": str(PAGE_SIZE)}
            if cursor:
                params["after"] = cursor
            await bucket.wait(self._sleep, self._max_wait)
            body = await self._request(
                "GET",
                url,
                what,
                headers=headers,
                params=params,
                refused=frozenset({401}),  # a 400 is our request's fault, not the token's
                bucket=bucket,
            )
            return parse_streams_page(body)

        try:
            found = await collect_streams(
                page, limit=FOLLOWED_PAGES * PAGE_SIZE, page_cap=FOLLOWED_PAGES
            )
        finally:
            self._keep_if_empty(user_id, bucket)
        return found.streams

    def _keep_if_empty(self, user_id: str, bucket: RateLimitBucket) -> None:
        if bucket.empty:
            self._user_buckets[user_id] = bucket
        else:
            self._user_buckets.pop(user_id, None)

    async def _token_request(self, form: dict[str, str]) -> dict[str, Any]:
        form = {"client_id": self._app.client_id, "client_secret": self._app.client_secret, **form}
        return await self._request("POST", f"{self._app.auth_url}/token", "/token", data=form)

    async def _request(
        self,
        method: str,
        url: str,
        what: str,
        *,
        headers: dict[str, str] | None = None,
        data: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        refused: frozenset[int] = REFUSED,
        bucket: RateLimitBucket | None = None,
    ) -> dict[str, Any]:
        """One call; `refused` statuses mean the token or code was refused (`TwitchAuthError`).

        `bucket`: the rate-limit bucket that pays for the call, which notes the reply's headers.
        """
        try:
            async with self._session.request(
                method, url, headers=headers, data=data, params=params, timeout=self._timeout
            ) as response:
                if bucket is not None:
                    bucket.note(response.headers)
                if response.status in refused:
                    raise TwitchAuthError(f"Twitch refused {what} ({response.status})")
                await raise_for_status(response, what)
                body = await read_json(response, what)
        except (aiohttp.ClientError, TimeoutError) as error:
            raise TwitchUnavailable(f"Twitch unreachable on {what}: {error!r}") from error
        if not isinstance(body, dict):
            raise TwitchPayloadError(f"Twitch reply on {what} is not an object")
        return body

    @staticmethod
    def _user_tokens(body: dict[str, Any]) -> UserTokens:
        return UserTokens(
            access_token=_text(body, "access_token"),
            refresh_token=_text(body, "refresh_token"),
            expires_in=int(body.get("expires_in") or 0),
            scopes=_scopes(body.get("scope")),
        )
