"""Twitch client: app access token, Get Streams paging with dedupe, rate limits and retries."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from bot.config import Settings
from bot.errors import (
    TwitchAuthError,
    TwitchError,
    TwitchPayloadError,
    TwitchRateLimited,
    TwitchRequestError,
    TwitchUnavailable,
)
from bot.streams import Stream, by_viewers

log = logging.getLogger(__name__)

PAGE_SIZE = 100
MAX_ID_LENGTH = 32  # the width of the id columns
TOKEN_RENEW_MARGIN = 300.0  # seconds before expiry at which an app token is minted again


def max_pages(limit: int) -> int:
    """Pages we may read for `limit` streams: the exact need plus half again for duplicates."""
    needed = math.ceil(limit / PAGE_SIZE)
    return needed + needed // 2 + 1


@dataclass(frozen=True)
class TwitchApp:
    """Our Twitch application: its credentials and the base URLs of Helix and of OAuth."""

    client_id: str
    client_secret: str = field(repr=False)
    api_url: str
    auth_url: str

    @classmethod
    def from_settings(cls, settings: Settings) -> TwitchApp:
        """The application named in the settings."""
        return cls(
            client_id=settings.twitch_client_id,
            client_secret=settings.twitch_client_secret,
            api_url=settings.twitch_api_url.rstrip("/"),
            auth_url=settings.twitch_auth_url.rstrip("/"),
        )


@dataclass(frozen=True)
class TopStreams:
    """The result of one paging run over Get Streams."""

    streams: list[Stream]  # unique by id, most viewers first, at most the limit asked for
    pages: int
    duplicates_dropped: int


PageFetcher = Callable[[str | None], Awaitable[tuple[list[Stream], str | None]]]


async def collect_streams(fetch_page: PageFetcher, *, limit: int, page_cap: int) -> TopStreams:
    """Follow cursors until `limit` unique streams, the last page, or `page_cap` pages.

    `fetch_page(cursor)` returns one page and the next cursor (None on the first call). Twitch
    warns that pages may repeat or skip streams while viewer counts change, so streams are
    deduplicated by id (first seen wins) and re-sorted here; a repeated cursor or an empty page
    ends the walk (known Twitch cursor bugs).
    """
    found: dict[str, Stream] = {}
    seen_cursors: set[str] = set()
    cursor: str | None = None
    pages = duplicates = 0
    while len(found) < limit and pages < page_cap:
        streams, cursor = await fetch_page(cursor)
        pages += 1
        for stream in streams:
            if stream.id in found:
                duplicates += 1
            else:
                found[stream.id] = stream
        log.debug("page %d: %d streams, %d unique so far", pages, len(streams), len(found))
        if not streams or cursor is None or cursor in seen_cursors:
            break
        seen_cursors.add(cursor)
    ranked = sorted(found.values(), key=by_viewers)[:limit]
    return TopStreams(streams=ranked, pages=pages, duplicates_dropped=duplicates)


@dataclass
class RateLimitBucket:
    """One Twitch rate-limit bucket, as the `Ratelimit-*` headers of its calls describe it.

    Twitch keeps a bucket for the app (per client id) and one per user token; whoever makes
    the calls notes their headers here and, once Twitch says the bucket is empty, waits for its
    reset instead of earning a 429.
    """

    name: str
    empty_until: float = 0.0  # Unix time; set when Ratelimit-Remaining reaches 0

    def note(self, headers: Mapping[str, str]) -> None:
        """Read the headers of a reply that this bucket paid for."""
        remaining, reset = headers.get("Ratelimit-Remaining"), headers.get("Ratelimit-Reset", "")
        if remaining == "0" and reset.isdigit():
            self.empty_until = float(reset)

    @property
    def empty(self) -> bool:
        """Whether Twitch said the bucket is empty and its reset has not come yet."""
        return self.empty_until > time.time()

    async def wait(self, sleep: Callable[[float], Awaitable[None]], max_wait: float) -> None:
        """Wait for the reset if the bucket is empty (at most `max_wait` seconds)."""
        delay = min(self.empty_until - time.time(), max_wait)
        if delay > 0:
            log.info(
                "Twitch rate-limit bucket %s is empty; waiting %.1f s for the reset",
                self.name,
                delay,
            )
            await sleep(delay)


class _Unauthorized(Exception):
    """A 401 from Helix: the app token is no longer valid."""


def _text(item: Mapping[str, Any], key: str) -> str:
    value = item[key]
    if not isinstance(value, str):
        raise TypeError(f"{key} is not a string")
    return value


def _twitch_id(item: Mapping[str, Any], key: str, *, optional: bool = False) -> str:
    """Twitch ids are short strings of digits (a game id may be empty: no category)."""
    value = _text(item, key)
    if not (value.isdigit() and len(value) <= MAX_ID_LENGTH) and not (optional and value == ""):
        raise ValueError(f"{key} is not a Twitch id")
    return value


def parse_stream(item: object) -> Stream:
    """Turn one Helix stream object into a `Stream`; raise `TwitchPayloadError` if malformed."""
    try:
        if not isinstance(item, dict):
            raise TypeError("stream is not an object")
        viewers = item["viewer_count"]
        if isinstance(viewers, bool) or not isinstance(viewers, int) or viewers < 0:
            raise TypeError("viewer_count is not a count")
        tags = item.get("tags") or []
        if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
            raise TypeError("tags is not a list of strings")
        started_at = datetime.fromisoformat(_text(item, "started_at"))
        if started_at.tzinfo is None:
            raise ValueError("started_at has no time zone")
        return Stream(
            id=_twitch_id(item, "id"),
            user_id=_twitch_id(item, "user_id"),
            user_login=_text(item, "user_login"),
            user_name=_text(item, "user_name"),
            game_id=_twitch_id(item, "game_id", optional=True),
            game_name=_text(item, "game_name"),
            title=_text(item, "title"),
            viewer_count=viewers,
            started_at=started_at,
            language=_text(item, "language"),
            tags=tuple(tags),
            thumbnail_url=_text(item, "thumbnail_url"),
            is_mature=bool(item.get("is_mature", False)),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise TwitchPayloadError(f"unexpected stream object from Twitch: {error}") from error


def parse_streams_page(body: object) -> tuple[list[Stream], str | None]:
    """Split a Get Streams reply into its streams and the cursor of the next page (if any)."""
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise TwitchPayloadError("Get Streams reply has no data list")
    pagination = body.get("pagination") or {}
    cursor = pagination.get("cursor") if isinstance(pagination, dict) else None
    if cursor is not None and not isinstance(cursor, str):
        raise TwitchPayloadError("Get Streams reply has a cursor that is not a string")
    return [parse_stream(item) for item in body["data"]], cursor or None


async def _error_message(response: aiohttp.ClientResponse) -> str:
    """Twitch's own explanation from an error body, if it sent one."""
    try:
        body = await response.json(content_type=None)
    except (ValueError, aiohttp.ClientError):
        return response.reason or ""
    return str(body.get("message", "")) if isinstance(body, dict) else ""


async def raise_for_status(response: aiohttp.ClientResponse, what: str) -> None:
    """Map an error status to our exceptions: 429 rate limit, 5xx unavailable, 4xx rejected."""
    if response.status < 400:
        return
    detail = await _error_message(response)
    if response.status == 429:
        reset = response.headers.get("Ratelimit-Reset", "")
        reset_at = float(reset) if reset.isdigit() else None
        raise TwitchRateLimited(f"Twitch rate limit reached on {what}", reset_at)
    if response.status >= 500:
        raise TwitchUnavailable(f"Twitch answered {response.status} on {what}: {detail}")
    raise TwitchRequestError(f"Twitch rejected {what} ({response.status}): {detail}")


async def read_json(response: aiohttp.ClientResponse, what: str) -> Any:
    """The reply's JSON; `TwitchPayloadError` if it is not JSON."""
    try:
        return await response.json(content_type=None)
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise TwitchPayloadError(f"Twitch sent malformed JSON on {what}") from error


class TwitchClient:
    """One client for Helix and id.twitch.tv, sharing the injected `ClientSession`."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        app: TwitchApp,
        *,
        attempts: int = 4,
        backoff: float = 0.5,
        max_wait: float = 60.0,
        timeout: float = 10.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._session = session
        self._app = app
        self._attempts = attempts
        self._backoff = wait_exponential_jitter(
            multiplier=backoff, max=backoff * 16, jitter=backoff
        )
        self._max_wait = max_wait
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._sleep = sleep
        self._token: str | None = None
        self._token_renew_at = 0.0
        self._token_lock = asyncio.Lock()
        self._bucket = RateLimitBucket("of the app")

    async def fetch_top_streams(self, limit: int) -> TopStreams:
        """Page through Get Streams until `limit` unique streams, the last page or the page cap."""
        first = str(min(PAGE_SIZE, limit))

        async def page(cursor: str | None) -> tuple[list[Stream], str | None]:
            params = {"first": first, **({"after": cursor} if cursor else {})}
            return parse_streams_page(await self._helix_get("/streams", params))

        return await collect_streams(page, limit=limit, page_cap=max_pages(limit))

    async def _helix_get(self, path: str, params: Mapping[str, str]) -> Any:
        """GET a Helix path with retries: 429 waits for the reset, 5xx/network back off."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._attempts),
            retry=retry_if_exception_type(TwitchUnavailable),
            wait=self._retry_wait,
            sleep=self._sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._helix_get_authorized(path, params)
        raise AssertionError("unreachable: tenacity reraises the last error")  # pragma: no cover

    async def _helix_get_authorized(self, path: str, params: Mapping[str, str]) -> Any:
        """One attempt; a 401 mints a new app token and tries once more."""
        token = await self.app_token()
        try:
            return await self._helix_get_once(path, params, token)
        except _Unauthorized:
            log.info("Twitch app token was refused; minting a new one")
            self._forget_token(token)
        try:
            return await self._helix_get_once(path, params, await self.app_token())
        except _Unauthorized as error:
            raise TwitchAuthError(f"Twitch refused a freshly minted app token on {path}") from error

    async def _helix_get_once(self, path: str, params: Mapping[str, str], token: str) -> Any:
        await self._bucket.wait(self._sleep, self._max_wait)
        headers = {"Authorization": f"Bearer {token}", "Client-Id": self._app.client_id}
        try:
            async with self._session.get(
                self._app.api_url + path, params=params, headers=headers, timeout=self._timeout
            ) as response:
                self._bucket.note(response.headers)
                if response.status == 401:
                    raise _Unauthorized
                await raise_for_status(response, path)
                return await read_json(response, path)
        except (aiohttp.ClientError, TimeoutError) as error:
            raise TwitchUnavailable(f"Twitch unreachable on {path}: {error!r}") from error

    def _retry_wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, TwitchRateLimited) and error.reset_at is not None:
            return min(max(error.reset_at - time.time(), 0.0) + 0.1, self._max_wait)
        return min(self._backoff(state), self._max_wait)

    @staticmethod
    def _log_retry(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning("%s; retry %d in %.1f s", error, state.attempt_number, wait)

    async def app_token(self) -> str:
        """The current app access token, minted by client credentials when missing or old."""
        async with self._token_lock:
            if self._token is None or time.monotonic() >= self._token_renew_at:
                self._token, lifetime = await self._mint_app_token()
                self._token_renew_at = time.monotonic() + max(lifetime - TOKEN_RENEW_MARGIN, 0)
            return self._token

    def _forget_token(self, token: str) -> None:
        if self._token == token:
            self._token = None

    async def _mint_app_token(self) -> tuple[str, float]:
        form = {
            "client_id": self._app.client_id,
            "client_secret": self._app.client_secret,
            "grant_type": "client_credentials",
        }
        try:
            async with self._session.post(
                self._app.auth_url + "/token", data=form, timeout=self._timeout
            ) as response:
                if response.status in (400, 401, 403):
                    detail = await _error_message(response)
                    raise TwitchAuthError(
                        f"Twitch refused the app credentials ({response.status}: {detail}); "
                        "check TWITCH_CLIENT_ID and TWITCH_CLIENT_SECRET"
                    )
                await raise_for_status(response, "/token")
                body = await read_json(response, "/token")
        except (aiohttp.ClientError, TimeoutError) as error:
            raise TwitchUnavailable(f"Twitch unreachable on /token: {error!r}") from error
        token = body.get("access_token") if isinstance(body, dict) else None
        lifetime = body.get("expires_in") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token or not isinstance(lifetime, int | float):
            raise TwitchPayloadError("Twitch token reply has no access_token/expires_in")
        return token, float(lifetime)


__all__ = [
    "RateLimitBucket",
    "TopStreams",
    "TwitchApp",
    "TwitchClient",
    "TwitchError",
    "collect_streams",
    "parse_stream",
    "parse_streams_page",
]
