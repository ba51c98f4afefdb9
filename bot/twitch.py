"""Twitch client: app access token, Get Streams paging with dedupe, rate limits and retries."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
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


MAX_PAGES = 5_000  # a walk's hard cap, whatever it was asked for


def max_pages(limit: int) -> int:
    """Pages we may read for `limit` streams: the exact need plus half again for duplicates."""
    needed = math.ceil(limit / PAGE_SIZE)
    return min(needed + needed // 2 + 1, MAX_PAGES)


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


@dataclass(frozen=True)
class WalkProgress:
    """How far a walk over Get Streams has come (for progress logs and bars)."""

    pages: int
    streams: int  # unique streams so far
    duplicates: int  # streams seen twice: they moved between pages while the walk ran
    budget_left: int | None  # points left in the app's rate-limit bucket, if Twitch said


class StreamWalk:
    """Follows Get Streams cursors and yields each page's streams not seen before.

    Twitch warns that pages may repeat or skip streams while viewer counts change: streams are
    deduplicated by id (first seen wins) and the repeats counted, not "fixed". The walk ends at
    `limit` unique streams, an empty page, the last page, a repeated cursor (a known Twitch
    cursor bug) or `page_cap` pages.
    """

    def __init__(self, fetch_page: PageFetcher, *, limit: int, page_cap: int) -> None:
        self._fetch_page = fetch_page
        self._limit = limit
        self._page_cap = page_cap
        self._seen: set[str] = set()
        self.pages = 0
        self.duplicates = 0

    @property
    def unique(self) -> int:
        """Unique streams yielded so far."""
        return len(self._seen)

    async def __aiter__(self) -> AsyncIterator[list[Stream]]:
        seen_cursors: set[str] = set()
        cursor: str | None = None
        while self.unique < self._limit and self.pages < self._page_cap:
            streams, cursor = await self._fetch_page(cursor)
            self.pages += 1
            fresh = []
            for stream in streams:
                if stream.id in self._seen:
                    self.duplicates += 1
                elif len(self._seen) < self._limit:
                    self._seen.add(stream.id)
                    fresh.append(stream)
            log.debug(
                "page %d: %d streams, %d unique so far", self.pages, len(streams), self.unique
            )
            yield fresh
            if not streams or cursor is None or cursor in seen_cursors:
                break
            seen_cursors.add(cursor)


async def ranked(walk: StreamWalk) -> TopStreams:
    """Walk every page and rank what was found, most viewers first."""
    found = [stream async for page in walk for stream in page]
    found.sort(key=by_viewers)
    return TopStreams(streams=found, pages=walk.pages, duplicates_dropped=walk.duplicates)


async def collect_streams(fetch_page: PageFetcher, *, limit: int, page_cap: int) -> TopStreams:
    """Follow `fetch_page`'s cursors (see `StreamWalk`) and rank what was found."""
    return await ranked(StreamWalk(fetch_page, limit=limit, page_cap=page_cap))


@dataclass
class RateLimitBucket:
    """One Twitch rate-limit bucket, as the `Ratelimit-*` headers of its calls describe it.

    Twitch keeps a bucket for the app (per client id) and one per user token. It is a token
    bucket: each call takes a point, points flow back at `Ratelimit-Limit` a minute, and
    `Ratelimit-Reset` says when the bucket will be full again. Whoever makes the calls notes
    their headers here, waits for the reset once Twitch says the bucket is empty, and may keep
    a share of it untouched (`pace`) for other callers instead of earning a 429.
    """

    name: str
    empty_until: float = 0.0  # Unix time; set when Ratelimit-Remaining reaches 0
    limit: int | None = None
    remaining: int | None = None
    full_at: float = 0.0  # Unix time at which the bucket is full again

    def note(self, headers: Mapping[str, str]) -> None:
        """Read the headers of a reply that this bucket paid for."""
        limit, remaining, reset = (
            headers.get(name, "")
            for name in ("Ratelimit-Limit", "Ratelimit-Remaining", "Ratelimit-Reset")
        )
        if not (remaining.isdigit() and reset.isdigit()):
            return
        self.remaining, self.full_at = int(remaining), float(reset)
        if limit.isdigit():
            self.limit = int(limit)
        if self.remaining == 0:
            self.empty_until = self.full_at  # the safe reading, whatever the refill rate

    @property
    def empty(self) -> bool:
        """Whether Twitch said the bucket is empty and its reset has not come yet."""
        return self.empty_until > time.time()

    def headroom_delay(self, headroom: float) -> float:
        """Seconds to wait so that the next point spent leaves `headroom` of the bucket to others.

        0 while the bucket holds more than that share, or before Twitch has said anything.
        Points flow back evenly until `full_at`, so the wait is that share of the time to full.
        """
        if self.limit is None or self.remaining is None or self.remaining >= self.limit:
            return 0.0
        short = math.ceil(self.limit * headroom) + 1 - self.remaining
        if short <= 0:
            return 0.0
        seconds_to_full = max(self.full_at - time.time(), 0.0)
        return seconds_to_full * min(short, self.limit) / (self.limit - self.remaining)

    async def wait(
        self, sleep: Callable[[float], Awaitable[None]], max_wait: float, headroom: float = 0.0
    ) -> None:
        """Wait until a point may be spent: the bucket is not empty and keeps `headroom`."""
        delay = min(max(self.empty_until - time.time(), self.headroom_delay(headroom)), max_wait)
        if delay <= 0:
            return
        if self.empty:
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
        headroom: float = 0.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """`headroom`: the share of the app's rate-limit bucket left untouched for others."""
        self._session = session
        self._app = app
        self._attempts = attempts
        self._backoff = wait_exponential_jitter(
            multiplier=backoff, max=backoff * 16, jitter=backoff
        )
        self._max_wait = max_wait
        self._headroom = headroom
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._sleep = sleep
        self._token: str | None = None
        self._token_renew_at = 0.0
        self._token_lock = asyncio.Lock()
        self._bucket = RateLimitBucket("of the app")

    def walk_streams(self, limit: int | None) -> StreamWalk:
        """A walk over Get Streams: the top `limit` live streams, or every one (None)."""
        wanted = MAX_PAGES * PAGE_SIZE if limit is None else limit
        first = str(min(PAGE_SIZE, wanted))

        async def page(cursor: str | None) -> tuple[list[Stream], str | None]:
            params = {"first": first, **({"after": cursor} if cursor else {})}
            return parse_streams_page(await self._helix_get("/streams", params))

        return StreamWalk(page, limit=wanted, page_cap=max_pages(wanted))

    async def fetch_top_streams(self, limit: int | None) -> TopStreams:
        """The top `limit` live streams (every one for None), ranked, most viewers first."""
        return await ranked(self.walk_streams(limit))

    def progress(self, walk: StreamWalk) -> WalkProgress:
        """Where `walk` is, and what is left of the app's rate-limit bucket."""
        return WalkProgress(walk.pages, walk.unique, walk.duplicates, self._bucket.remaining)

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
        await self._bucket.wait(self._sleep, self._max_wait, self._headroom)
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
    "StreamWalk",
    "TopStreams",
    "TwitchApp",
    "TwitchClient",
    "TwitchError",
    "WalkProgress",
    "collect_streams",
    "parse_stream",
    "parse_streams_page",
]
