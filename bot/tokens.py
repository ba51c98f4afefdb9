"""Signed tokens: the API session JWT, the OAuth `state`, and a state's browser binding.

The JWTs are HS256 (PyJWT): the session lasts an hour, the state ten minutes.

Expiry is checked against an injected clock rather than PyJWT's wall clock, so the whole
product (web API and Discord commands) agrees on "now" and tests can move time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
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
BROWSER_PURPOSE = b"oauth-browser-binding:"
# The shapes of what we put in tokens. Only we sign them, but a claim is checked before it
# reaches a database column, a clock or a page: a mistake in signing must not become a 500.
DISCORD_ID = re.compile(r"[0-9]{1,20}")
TWITCH_ID = re.compile(r"[0-9]{1,32}")
TWITCH_LOGIN = re.compile(r"[^\x00-\x1f\x7f]{1,64}")
RANDOM_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")  # jti and nonce: secrets.token_urlsafe(16)


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
        return claims

    def _unexpired(self, expires_at: datetime) -> datetime:
        if expires_at + LEEWAY <= self._clock():
            raise InvalidToken("it has expired")
        return expires_at

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
            discord_id=_text(claims, "sub", DISCORD_ID),
            twitch_id=_text(claims, "twitch_id", TWITCH_ID),
            twitch_login=_text(claims, "twitch_login", TWITCH_LOGIN),
            jti=_text(claims, "jti", RANDOM_ID),
            issued_at=_instant(claims, "iat"),
            expires_at=self._unexpired(_instant(claims, "exp")),
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
            discord_id=_text(claims, "sub", DISCORD_ID),
            nonce=_text(claims, "nonce", RANDOM_ID),
            expires_at=self._unexpired(_instant(claims, "exp")),
        )

    def browser_binding(self, state: StateClaims) -> str:
        """What the browser that opened our /login for `state` keeps until the callback.

        A keyed hash of the state's nonce: it names this one state, and nobody without our key
        can compute it from the state (whose nonce anyone holding the link can read).
        """
        digest = hmac.new(
            self._key.encode(), BROWSER_PURPOSE + state.nonce.encode(), hashlib.sha256
        ).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def binds_browser(self, state: StateClaims, presented: str | None) -> bool:
        """True if `presented` (the browser's cookie, if any) is the binding of `state`."""
        return hmac.compare_digest((presented or "").encode(), self.browser_binding(state).encode())


def _text(claims: dict[str, Any], name: str, shape: re.Pattern[str]) -> str:
    value = claims[name]
    if not isinstance(value, str) or not shape.fullmatch(value):
        raise InvalidToken(f"its {name!r} claim is malformed")
    return value


def _instant(claims: dict[str, Any], name: str) -> datetime:
    """A NumericDate claim; ours are whole seconds, within what a datetime can hold."""
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidToken(f"its {name!r} claim is malformed")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError) as error:
        raise InvalidToken(f"its {name!r} claim is malformed") from error


def _describe(error: jwt.InvalidTokenError) -> str:
    if isinstance(error, jwt.MissingRequiredClaimError):
        return f"it lacks the {error.claim!r} claim"
    if isinstance(error, jwt.InvalidAlgorithmError):
        return "it is signed with an algorithm we do not accept"
    if isinstance(error, jwt.InvalidSignatureError):
        return "its signature does not match"
    return "it is malformed"
