"""Linked accounts, sessions and spent OAuth states (ORM queries; tokens arrive encrypted).

Every write of a user's tokens (link, refresh, end) bumps `token_version`, and every writer but
a new link writes only if the row still has the version it read: a writer that loses learns it
(False) and can revoke the tokens it was about to store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F

from db import atomically
from db.models import ApiSession, UsedState, User


@dataclass(frozen=True)
class LinkedUser:
    """A stored link; the token fields hold ciphertext (or None once the link ended)."""

    discord_id: str
    twitch_id: str
    twitch_login: str
    twitch_display_name: str
    linked_at: datetime
    token_version: int
    scopes: tuple[str, ...]  # what the user approved when linking
    access_token: str | None = field(repr=False)
    refresh_token: str | None = field(repr=False)


@dataclass(frozen=True)
class SessionRecord:
    """A session as stored: valid while not revoked and not expired."""

    jti: str
    discord_id: str
    issued_at: datetime
    expires_at: datetime


def _linked(user: User) -> LinkedUser:
    return LinkedUser(
        discord_id=user.discord_id,
        twitch_id=user.twitch_id,
        twitch_login=user.twitch_login,
        twitch_display_name=user.twitch_display_name,
        linked_at=user.linked_at,
        token_version=user.token_version,
        scopes=tuple(user.scopes.split()),
        access_token=user.access_token,
        refresh_token=user.refresh_token,
    )


async def spend_state(nonce: str, expires_at: datetime) -> bool:
    """Mark an OAuth state as used; False if it was used before."""
    try:
        await UsedState.create(nonce=nonce, expires_at=expires_at)
    except IntegrityError:
        return False
    return True


async def state_spent(nonce: str) -> bool:
    """True if the OAuth state with this nonce was used (and not yet forgotten)."""
    return await UsedState.filter(nonce=nonce).exists()


async def save_link(
    *,
    discord_id: str,
    twitch_id: str,
    twitch_login: str,
    twitch_display_name: str,
    access_token: str,
    refresh_token: str,
    scopes: str,
    session: SessionRecord,
) -> LinkedUser | None:
    """Store a new link (it replaces any older one) and its session, in one transaction.

    Returns the link it replaced, whose tokens are no longer stored anywhere: revoke them.
    """
    link = {
        "twitch_id": twitch_id,
        "twitch_login": twitch_login,
        "twitch_display_name": twitch_display_name,
        "linked_at": session.issued_at,
        "access_token": access_token,
        "refresh_token": refresh_token,
        "scopes": scopes,
    }
    try:
        return await _replace_link(discord_id, link, session)
    except IntegrityError:
        # Another write to this person's row won a race (e.g. their first link was stored a
        # moment ago): try once more against the row as it is now.
        return await _replace_link(discord_id, link, session)


async def _replace_link(
    discord_id: str, link: dict[str, object], session: SessionRecord
) -> LinkedUser | None:
    async def replace(_: BaseDBAsyncClient) -> User | None:
        # Locked (PostgreSQL) or alone (SQLite's transactions take the connection): the tokens
        # read here are exactly the ones the write below replaces.
        previous = await User.select_for_update().get_or_none(discord_id=discord_id)
        if previous is None:
            await User.create(discord_id=discord_id, **link)
        elif not await _write_tokens(discord_id, previous.token_version, **link):
            raise IntegrityError(f"the link of discord user {discord_id} changed meanwhile")
        await ApiSession.create(
            jti=session.jti,
            discord_id=discord_id,
            issued_at=session.issued_at,
            expires_at=session.expires_at,
        )
        return previous

    previous = await atomically(replace)
    return _linked(previous) if previous is not None else None


async def linked_user(discord_id: str) -> LinkedUser | None:
    """The stored link of a Discord user, if any."""
    user = await User.get_or_none(discord_id=discord_id)
    return _linked(user) if user else None


async def users_with_tokens() -> list[LinkedUser]:
    """Every link that still holds Twitch tokens (the hourly validation walks these)."""
    return [_linked(user) for user in await User.filter(access_token__isnull=False)]


async def _write_tokens(discord_id: str, version: int, **values: object) -> bool:
    """The one way stored tokens change: only while the row still has `version`, bumping it."""
    written = await User.filter(discord_id=discord_id, token_version=version).update(
        **values, token_version=F("token_version") + 1
    )
    return written == 1


async def store_tokens(
    discord_id: str, version: int, access_token: str, refresh_token: str
) -> bool:
    """Store refreshed (encrypted) tokens, unless the link changed since it was read at `version`.

    False means another write won (a logout, a new link, another refresh): the caller's tokens
    were not stored.
    """
    return await _write_tokens(
        discord_id, version, access_token=access_token, refresh_token=refresh_token
    )


async def end_link(discord_id: str, version: int, now: datetime) -> bool:
    """Delete the user's Twitch tokens and revoke every session; the user row stays.

    Only if the link is still the one read at `version`; False (nothing changed) otherwise.
    """

    async def end(_: BaseDBAsyncClient) -> bool:
        if not await _write_tokens(discord_id, version, access_token=None, refresh_token=None):
            return False
        await ApiSession.filter(discord_id=discord_id, revoked_at__isnull=True).update(
            revoked_at=now
        )
        return True

    return await atomically(end)


async def active_session(discord_id: str, now: datetime) -> SessionRecord | None:
    """The newest unrevoked, unexpired session of a Discord user whose link holds tokens."""
    if not await User.filter(discord_id=discord_id, access_token__isnull=False).exists():
        return None
    row = (
        await ApiSession.filter(discord_id=discord_id, revoked_at__isnull=True, expires_at__gt=now)
        .order_by("-expires_at")
        .first()
    )
    if row is None:
        return None
    return SessionRecord(row.jti, row.discord_id, row.issued_at, row.expires_at)


async def linked_in_session(discord_id: str, now: datetime) -> LinkedUser | None:
    """The link of a Discord user, if it holds tokens and has an unrevoked, unexpired session."""
    user = await User.get_or_none(discord_id=discord_id, access_token__isnull=False)
    if user is None:
        return None
    if not await ApiSession.filter(
        discord_id=discord_id, revoked_at__isnull=True, expires_at__gt=now
    ).exists():
        return None
    return _linked(user)


async def unrevoked_session(jti: str) -> SessionRecord | None:
    """The session with this id as recorded, unless it was revoked (or never recorded)."""
    row = await ApiSession.get_or_none(jti=jti, revoked_at__isnull=True)
    if row is None:
        return None
    return SessionRecord(row.jti, row.discord_id, row.issued_at, row.expires_at)


async def forget_expired(before: datetime) -> tuple[int, int]:
    """Delete spent OAuth states and sessions that expired before `before`; how many of each.

    An expired state or session token is refused for its expiry alone: the rows no longer matter.
    """
    states = await UsedState.filter(expires_at__lt=before).delete()
    sessions = await ApiSession.filter(expires_at__lt=before).delete()
    return states, sessions
