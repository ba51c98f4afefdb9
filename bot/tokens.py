"""Signed tokens: the 1-hour API session JWT and the short-lived OAuth `state` (HS256, PyJWT).

Expiry is checked against an injected clock rather than PyJWT's wall clock, so the whole
product (web API and Discord commands) agrees on "now" and tests can move time.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from bot.errors import InvalidToken

Clock = Callable[[], datetime]
ALGORITHM = "HS256"
SESSION_LIFETIME = timedelta(hours=1)
STATE_LIFETIME = timedelta(minutes=10)
LEEWAY = timedelta(seconds=30)
SESSION_PURPOSE = "api-session"
STATE_PURPOSE = "oauth-state"


def utc_now() -> datetime:
    """The real clock."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class SessionClaims:
    """What a verified session JWT says."""

    discord_id: str
    twitch_id: str
    twitch_login: str
    jti: str
    issued_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class StateClaims:
    """What a verified OAuth state says: who asked to link, and its single-use nonce."""

    discord_id: str
    nonce: str
    expires_at: datetime


class TokenSigner:
    """Issues and verifies both kinds of token with one key; `purpose` keeps them apart."""

    def __init__(self, secret_key: str, clock: Clock = utc_now) -> None:
        self._key = secret_key
        self._clock = clock

    def _encode(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def _decode(self, token: str, purpose: str, required: list[str]) -> dict[str, Any]:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                options={"require": required, "verify_exp": False, "verify_iat": False},
            )
        except jwt.InvalidTokenError as error:
            raise InvalidToken(_describe(error)) from error
        if claims.get("purpose") != purpose:
            raise InvalidToken("it is not meant for this use")
        expires = claims["exp"]
        if isinstance(expires, bool) or not isinstance(expires, int | float):
            raise InvalidToken("its expiry is malformed")
        if datetime.fromtimestamp(expires, UTC) + LEEWAY <= self._clock():
            raise InvalidToken("it has expired")
        return claims

    def issue_session(
        self, discord_id: str, twitch_id: str, twitch_login: str
    ) -> tuple[str, SessionClaims]:
        """A session JWT valid for one hour, with a unique `jti` so it can be revoked."""
        now = self._clock().replace(microsecond=0)
        claims = SessionClaims(
            discord_id=discord_id,
            twitch_id=twitch_id,
            twitch_login=twitch_login,
            jti=secrets.token_urlsafe(16),
            issued_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
        token = self._encode(
            {
                "sub": discord_id,
                "twitch_id": twitch_id,
                "twitch_login": twitch_login,
                "jti": claims.jti,
                "iat": int(now.timestamp()),
                "exp": int(claims.expires_at.timestamp()),
                "purpose": SESSION_PURPOSE,
            }
        )
        return token, claims

    def verify_session(self, token: str) -> SessionClaims:
        """Check signature, algorithm, required claims and expiry (revocation is the caller's)."""
        claims = self._decode(
            token,
            SESSION_PURPOSE,
            ["sub", "twitch_id", "twitch_login", "jti", "iat", "exp", "purpose"],
        )
        return SessionClaims(
            discord_id=str(claims["sub"]),
            twitch_id=str(claims["twitch_id"]),
            twitch_login=str(claims["twitch_login"]),
            jti=str(claims["jti"]),
            issued_at=datetime.fromtimestamp(claims["iat"], UTC),
            expires_at=datetime.fromtimestamp(claims["exp"], UTC),
        )

    def issue_state(self, discord_id: str) -> tuple[str, StateClaims]:
        """An OAuth state bound to `discord_id`, valid ten minutes (single use is the caller's)."""
        now = self._clock().replace(microsecond=0)
        claims = StateClaims(discord_id, secrets.token_urlsafe(16), now + STATE_LIFETIME)
        token = self._encode(
            {
                "sub": discord_id,
                "nonce": claims.nonce,
                "exp": int(claims.expires_at.timestamp()),
                "purpose": STATE_PURPOSE,
            }
        )
        return token, claims

    def verify_state(self, token: str) -> StateClaims:
        """Check a state's signature and expiry."""
        claims = self._decode(token, STATE_PURPOSE, ["sub", "nonce", "exp", "purpose"])
        return StateClaims(
            str(claims["sub"]), str(claims["nonce"]), datetime.fromtimestamp(claims["exp"], UTC)
        )


def _describe(error: jwt.InvalidTokenError) -> str:
    if isinstance(error, jwt.MissingRequiredClaimError):
        return f"it lacks the {error.claim!r} claim"
    if isinstance(error, jwt.InvalidAlgorithmError):
        return "it is signed with an algorithm we do not accept"
    if isinstance(error, jwt.InvalidSignatureError):
        return "its signature does not match"
    return "it is malformed"
