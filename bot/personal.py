"""Personal statistics: one user's followed live channels against the current top.

/following and `GET /api/v1/me/following` both ask `FollowingService.following`. The followed
streams come from Twitch with the user's own token (`AccountService.as_user`), are cached per
Twitch user and snapshot (`StatsService`), and are fetched once however often one user asks at
the same moment: concurrent askers wait for the same fetch (single-flight). Nobody waits for
Twitch longer than `TWITCH_WAIT`; a fetch that outlives its askers still finishes (it may be
storing a refreshed token) and fills the cache for the next ask.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial

from bot import following
from bot.accounts import AccountService
from bot.cache import StatsService
from bot.errors import TwitchError, TwitchNotAnswering
from bot.following import Following
from bot.stats import AsOf
from bot.streams import Stream
from bot.twitch_oauth import FOLLOWS_SCOPE, TwitchOAuth
from db.accounts import LinkedUser

log = logging.getLogger(__name__)

# Seconds an asker waits for Twitch. A command defers after 1.5 s; its answer, or the sentence
# saying Twitch is not answering, then still arrives within Discord's 3 s.
TWITCH_WAIT = 2.0
CLOSE_WAIT = 5.0  # seconds fetches in flight get to finish when the process stops

Fetch = asyncio.Task[tuple[Stream, ...]]


class FollowingService:
    """Compares a linked user's followed live streams with the current snapshot."""

    def __init__(
        self,
        *,
        accounts: AccountService,
        oauth: TwitchOAuth,
        stats: StatsService,
        top_n: int | None,
        twitch_wait: float = TWITCH_WAIT,
    ) -> None:
        self._accounts = accounts
        self._oauth = oauth
        self._stats = stats
        self._top_n = top_n
        self._twitch_wait = twitch_wait
        self._in_flight: dict[tuple[str, int], Fetch] = {}

    async def following(self, discord_id: str) -> AsOf[Following]:
        """The user's followed live streams against the current snapshot.

        Raises `LoginRequired` without a session (whatever REQUIRE_LOGIN says),
        `RelinkRequired` when the link cannot read follows, `NoDataYet` before the first
        snapshot and `TwitchNotAnswering` when Twitch fails or is slow.
        """
        user = await self._accounts.linked_with_scope(discord_id, FOLLOWS_SCOPE)
        top = await self._stats.top_index()
        fetch = self._fetch(user, top.snapshot.id)
        try:
            async with asyncio.timeout(self._twitch_wait):
                followed = await asyncio.shield(fetch)  # an asker who gives up stops nothing
        except (TimeoutError, TwitchError):
            raise TwitchNotAnswering from None
        return AsOf(top.snapshot, following.compare(top.value, followed, self._top_n))

    async def close(self) -> None:
        """Let fetches in flight finish (briefly), then cancel what is left."""
        fetches = list(self._in_flight.values())
        if not fetches:
            return
        _, pending = await asyncio.wait(fetches, timeout=CLOSE_WAIT)
        for fetch in pending:
            fetch.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def _fetch(self, user: LinkedUser, snapshot_id: int) -> Fetch:
        """The fetch in flight for this Twitch user and snapshot, or a new one."""
        key = (user.twitch_id, snapshot_id)
        fetch = self._in_flight.get(key)
        if fetch is None:
            fetch = asyncio.create_task(self._cached_or_fetched(user, snapshot_id))
            self._in_flight[key] = fetch
            fetch.add_done_callback(partial(self._landed, key))
        return fetch

    def _landed(self, key: tuple[str, int], fetch: Fetch) -> None:
        """Forget a finished fetch; report a Twitch failure once, however many waited for it."""
        if self._in_flight.get(key) is fetch:
            del self._in_flight[key]
        if fetch.cancelled():
            return
        error = fetch.exception()  # also marks it retrieved when every asker had given up
        if isinstance(error, TwitchError):
            log.warning("could not read the followed streams of twitch user %s: %s", key[0], error)

    async def _cached_or_fetched(self, user: LinkedUser, snapshot_id: int) -> tuple[Stream, ...]:
        cached = await self._stats.followed_streams(user.twitch_id, snapshot_id)
        if cached is not None:
            return cached
        streams = tuple(
            await self._accounts.as_user(
                user, lambda token: self._oauth.followed_streams(token, user.twitch_id)
            )
        )
        await self._stats.remember_followed_streams(user.twitch_id, snapshot_id, streams)
        return streams
