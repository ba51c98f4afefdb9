"""Account linking: the OAuth flow, sessions, logout, and the hourly token validation."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from bot.crypto import DecryptionError, TokenCipher
from bot.errors import (
    InvalidToken,
    LinkFailed,
    LoginRequired,
    TwitchAuthError,
    TwitchError,
)
from bot.tokens import Clock, SessionClaims, TokenSigner, utc_now
from bot.twitch_oauth import TwitchOAuth, TwitchUser, UserTokens
from db import accounts as store
from db import guarded
from db.accounts import LinkedUser, SessionRecord

log = logging.getLogger(__name__)

START_AGAIN = "Run /login in Discord again to get a fresh link."


@dataclass(frozen=True)
class LinkResult:
    """A finished link: who, and the API token (JWT) issued for the session."""

    discord_id: str
    twitch: TwitchUser
    api_token: str
    expires_at: datetime


@dataclass(frozen=True)
class ValidationReport:
    """What one hourly validation pass did."""

    checked: int = 0
    refreshed: int = 0
    ended: int = 0
    skipped: int = 0


LinkListener = Callable[[LinkResult], Awaitable[None]]


class AccountService:
    """Everything about linked accounts; the web app and the Discord cogs both use it."""

    def __init__(
        self,
        *,
        oauth: TwitchOAuth,
        signer: TokenSigner,
        cipher: TokenCipher,
        public_url: str,
        redirect_uri: str,
        require_login: bool,
        clock: Clock = utc_now,
    ) -> None:
        self._oauth = oauth
        self._signer = signer
        self._cipher = cipher
        self._public_url = public_url
        self.redirect_uri = redirect_uri
        self.require_login = require_login
        self._clock = clock
        self._listeners: list[LinkListener] = []

    def on_link(self, listener: LinkListener) -> None:
        """Call `listener` after every successful link (the bot tells the user in Discord)."""
        self._listeners.append(listener)

    def login_url(self, discord_id: str) -> str:
        """A personal link (valid ten minutes, once) that starts the Twitch authorization."""
        state, _ = self._signer.issue_state(discord_id)
        return f"{self._public_url}/login?{urlencode({'state': state})}"

    def authorize_url(self, state: str) -> str:
        """Twitch's authorize page for a state we issued; forged or expired states stop here."""
        try:
            self._signer.verify_state(state)
        except InvalidToken as error:
            raise _bad_state(error.reason) from error
        return self._oauth.authorize_url(self.redirect_uri, state)

    async def complete_link(self, *, code: str, state: str) -> LinkResult:
        """The callback: verify and spend the state, exchange the code, store, issue a JWT."""
        try:
            claims = self._signer.verify_state(state)
        except InvalidToken as error:
            raise _bad_state(error.reason) from error
        if not await store.spend_state(claims.nonce, claims.expires_at, self._clock()):
            raise _bad_state("it was already used once")
        tokens, user = await self._twitch_account(code)
        api_token, session = self._signer.issue_session(claims.discord_id, user.id, user.login)
        await store.save_link(
            discord_id=claims.discord_id,
            twitch_id=user.id,
            twitch_login=user.login,
            twitch_display_name=user.display_name,
            access_token=self._cipher.encrypt(tokens.access_token),
            refresh_token=self._cipher.encrypt(tokens.refresh_token),
            scopes=" ".join(tokens.scopes),
            session=_record(session),
        )
        log.info("discord user %s linked twitch account %s", claims.discord_id, user.login)
        result = LinkResult(claims.discord_id, user, api_token, session.expires_at)
        for listener in self._listeners:
            try:
                await listener(result)
            except Exception:
                log.exception("could not tell discord user %s about the link", claims.discord_id)
        return result

    async def _twitch_account(self, code: str) -> tuple[UserTokens, TwitchUser]:
        try:
            tokens = await self._oauth.exchange_code(code, self.redirect_uri)
        except TwitchAuthError as error:
            raise LinkFailed(
                400, "Twitch did not accept this login", "The code may be used up. " + START_AGAIN
            ) from error
        except TwitchError as error:
            log.warning("link failed: %s", error)
            raise _twitch_down() from error
        try:
            info = await self._oauth.validate(tokens.access_token)
            user = await self._oauth.get_user(tokens.access_token)
        except TwitchError as error:
            log.warning("link failed: %s", error)
            raise _twitch_down() from error
        if info.client_id != self._oauth.client_id or info.user_id != user.id:
            log.warning("link refused: the token Twitch returned belongs to another application")
            raise LinkFailed(502, "Twitch returned a token for another application", START_AGAIN)
        return tokens, user

    async def session(self, discord_id: str) -> tuple[LinkedUser, SessionRecord] | None:
        """The user's link and current session, or None when there is no valid session."""
        record = await store.active_session(discord_id, self._clock())
        user = await store.linked_user(discord_id) if record else None
        return (user, record) if user and record else None

    async def require_session(self, discord_id: str) -> None:
        """Raise `LoginRequired` unless login is optional or the user has a valid session."""
        if not self.require_login:
            return
        if await guarded(store.active_session(discord_id, self._clock())) is None:
            raise LoginRequired

    async def verify_api_token(self, token: str) -> SessionClaims:
        """A session JWT that verifies and was not revoked; `InvalidToken` otherwise."""
        claims = self._signer.verify_session(token)
        if await store.session_revoked(claims.jti):
            raise InvalidToken("its session has ended; link your account again with /login")
        return claims

    async def logout(self, discord_id: str) -> bool:
        """End the link: revoke the Twitch token, delete stored tokens, end every session."""
        user = await store.linked_user(discord_id)
        if user is None or user.access_token is None:
            return False
        try:
            await self._oauth.revoke(self._cipher.decrypt(user.access_token))
        except (TwitchError, DecryptionError) as error:
            log.warning(
                "logout of discord user %s: revoking at Twitch failed: %s", discord_id, error
            )
        await store.end_link(discord_id, self._clock())
        log.info("discord user %s unlinked", discord_id)
        return True

    async def validate_linked_tokens(self) -> ValidationReport:
        """Twitch's rule for apps that keep user tokens: validate each one, refresh on 401."""
        checked = refreshed = ended = skipped = 0
        for user in await store.users_with_tokens():
            checked += 1
            outcome = await self._validate(user)
            refreshed += outcome == "refreshed"
            ended += outcome == "ended"
            skipped += outcome == "skipped"
        report = ValidationReport(checked, refreshed, ended, skipped)
        log.info(
            "validated %d linked tokens: %d refreshed, %d links ended, %d skipped",
            checked,
            refreshed,
            ended,
            skipped,
        )
        return report

    async def _validate(self, user: LinkedUser) -> str:
        try:
            access = self._cipher.decrypt(user.access_token or "")
            refresh = self._cipher.decrypt(user.refresh_token or "")
        except DecryptionError:
            return await self._end(user, "its stored token cannot be decrypted")
        try:
            await self._oauth.validate(access)
            return "valid"
        except TwitchAuthError:
            pass
        except TwitchError as error:
            log.warning(
                "could not validate the token of discord user %s: %s", user.discord_id, error
            )
            return "skipped"
        try:
            tokens = await self._oauth.refresh(refresh)
        except TwitchAuthError:
            return await self._end(user, "Twitch no longer accepts its token")
        except TwitchError as error:
            log.warning(
                "could not refresh the token of discord user %s: %s", user.discord_id, error
            )
            return "skipped"
        await store.store_tokens(
            user.discord_id,
            self._cipher.encrypt(tokens.access_token),
            self._cipher.encrypt(tokens.refresh_token),
        )
        return "refreshed"

    async def _end(self, user: LinkedUser, why: str) -> str:
        await store.end_link(user.discord_id, self._clock())
        log.warning("ended the link of discord user %s: %s", user.discord_id, why)
        return "ended"


def _record(claims: SessionClaims) -> SessionRecord:
    return SessionRecord(claims.jti, claims.discord_id, claims.issued_at, claims.expires_at)


def _bad_state(reason: str) -> LinkFailed:
    return LinkFailed(401, "This login link cannot be used", f"Reason: {reason}. {START_AGAIN}")


def _twitch_down() -> LinkFailed:
    return LinkFailed(
        502,
        "Twitch did not answer properly",
        "Wait a minute, then run /login in Discord again to get a fresh link.",
    )
