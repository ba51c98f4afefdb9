"""Account linking: the OAuth flow, sessions, logout, the hourly token validation.

Also the calls made with a user's own token: decrypted for the call only, refreshed once when
Twitch refuses it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, TypeVar
from urllib.parse import urlencode

from bot.crypto import DecryptionError, TokenCipher
from bot.errors import (
    InvalidToken,
    LinkFailed,
    LoginRequired,
    RelinkRequired,
    TwitchAuthError,
    TwitchError,
)
from bot.tokens import Clock, SessionClaims, StateClaims, TokenSigner, utc_now
from bot.twitch_oauth import TwitchOAuth, TwitchUser, UserTokens
from db import DATABASE_ERRORS, guarded
from db import accounts as store
from db.accounts import LinkedUser, SessionRecord

log = logging.getLogger(__name__)

EXPIRED_MARGIN = timedelta(hours=1)
T = TypeVar("T")
Outcome = Literal["valid", "refreshed", "ended", "skipped", "superseded"]

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
    """What one hourly validation pass did.

    `superseded` counts links that changed while they were being checked (a logout or a new
    link won): nothing was written for them, and tokens a refresh returned were revoked.
    """

    checked: int = 0
    refreshed: int = 0
    ended: int = 0
    skipped: int = 0
    superseded: int = 0


@dataclass(frozen=True)
class LinkStart:
    """Where our /login sends a browser, and what that browser must present at the callback."""

    authorize_url: str
    browser_binding: str = field(repr=False)
    seconds_left: int  # the state's remaining life: the binding is useless after it


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

    def now(self) -> datetime:
        """The product's clock (tests move it)."""
        return self._clock()

    async def forget_expired(self) -> None:
        """Delete spent OAuth states and ended sessions once their tokens have expired.

        A margin past the tokens' own leeway keeps a row as long as a token could still be
        accepted for a moment.
        """
        states, sessions = await store.forget_expired(self._clock() - EXPIRED_MARGIN)
        log.info("forgot %d spent login states and %d expired sessions", states, sessions)

    def on_link(self, listener: LinkListener) -> None:
        """Call `listener` after every successful link (the bot tells the user in Discord)."""
        self._listeners.append(listener)

    def login_url(self, discord_id: str) -> str:
        """A personal link (valid ten minutes, once) that starts the Twitch authorization."""
        state, _ = self._signer.issue_state(discord_id)
        return f"{self._public_url}/login?{urlencode({'state': state})}"

    def start_link(self, state: str) -> LinkStart:
        """Our /login: Twitch's authorize page for a state we issued, and the browser binding.

        Forged or expired states stop here.
        """
        claims = self._state(state)
        left = (claims.expires_at - self._clock()).total_seconds()
        return LinkStart(
            authorize_url=self._oauth.authorize_url(self.redirect_uri, state),
            browser_binding=self._signer.browser_binding(claims),
            seconds_left=max(1, int(left)),
        )

    async def complete_link(
        self, *, code: str, state: str, browser_binding: str | None
    ) -> LinkResult:
        """The callback: check the state and its browser, spend the state, store, issue a JWT.

        A callback in a browser that did not open our /login for this state is refused, and the
        state stays unspent: whoever sends someone Twitch's authorize page for their own state
        cannot get that person's Twitch account linked to their own Discord account.
        """
        claims = self._state(state)
        if not self._signer.binds_browser(claims, browser_binding):
            if await store.state_spent(claims.nonce):  # e.g. the finished link, reloaded
                raise _bad_state("it was already used once")
            raise LinkFailed(
                401,
                "This link was not started in this browser",
                "A Twitch link only completes in the browser that opened the link from Discord. "
                "Nothing was stored. Press the button under /login in Discord, and approve on "
                "Twitch in the browser that opens.",
            )
        if not await store.spend_state(claims.nonce, claims.expires_at):
            raise _bad_state("it was already used once")
        tokens, user = await self._twitch_account(code)
        api_token, session = self._signer.issue_session(claims.discord_id, user.id, user.login)
        replaced = await self._stored_or_revoked(
            tokens,
            claims.discord_id,
            store.save_link(
                discord_id=claims.discord_id,
                twitch_id=user.id,
                twitch_login=user.login,
                twitch_display_name=user.display_name,
                access_token=self._cipher.encrypt(tokens.access_token),
                refresh_token=self._cipher.encrypt(tokens.refresh_token),
                scopes=" ".join(tokens.scopes),
                session=_record(session),
            ),
        )
        log.info("discord user %s linked twitch account %s", claims.discord_id, user.login)
        if replaced is not None:
            await self._revoke_stored(replaced)
        result = LinkResult(claims.discord_id, user, api_token, session.expires_at)
        for listener in self._listeners:
            try:
                await listener(result)
            except Exception:
                log.exception("could not tell discord user %s about the link", claims.discord_id)
        return result

    def _state(self, state: str) -> StateClaims:
        try:
            return self._signer.verify_state(state)
        except InvalidToken as error:
            raise _bad_state(error.reason) from error

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

    async def linked_with_scope(self, discord_id: str, scope: str) -> LinkedUser:
        """The link of a user with a valid session, whatever REQUIRE_LOGIN says.

        For answers about the user's own Twitch account: `LoginRequired` without a session,
        `RelinkRequired` when the token was stored without `scope` (linked before it was asked).
        """
        user = await guarded(store.linked_in_session(discord_id, self._clock()))
        if user is None:
            raise LoginRequired
        if scope not in user.scopes:
            raise RelinkRequired
        return user

    async def as_user(self, user: LinkedUser, call: Callable[[str], Awaitable[T]]) -> T:
        """`call` with the user's access token, decrypted for this call only.

        When Twitch refuses the token (`TwitchAuthError`), it is refreshed once, the rotated
        pair is stored (only if the link is still the one read) and the call made again. If
        Twitch refuses the refresh too, the link ends as the hourly validation ends it and
        `RelinkRequired` asks the user to link again; a refreshed token that is refused as well
        (it lacks the scope) also asks for a new link. Other Twitch errors propagate.
        """
        try:
            access, refresh = self._decrypted(user)
        except DecryptionError:
            await self._end(user, "its stored token cannot be decrypted")
            raise RelinkRequired from None
        try:
            return await call(access)
        except TwitchAuthError:
            log.info("Twitch refused the token of discord user %s; refreshing it", user.discord_id)
        try:
            tokens = await self._refresh_stored(user, refresh)
        except TwitchAuthError as error:
            await self._end(user, "Twitch no longer accepts its token")
            raise RelinkRequired from error
        if tokens is not None:
            access = tokens.access_token
        else:  # a logout, a new link or another refresh won: use what is stored now
            current = await guarded(store.linked_user(user.discord_id))
            if current is None or current.access_token is None:
                raise LoginRequired
            access, _ = self._decrypted(current)
        try:
            return await call(access)
        except TwitchAuthError as error:
            raise RelinkRequired from error

    async def verify_api_token(self, token: str) -> SessionClaims:
        """A session JWT that verifies and was not revoked; `InvalidToken` otherwise."""
        claims = self._signer.verify_session(token)
        record = await store.unrevoked_session(claims.jti)
        if record is None:
            raise InvalidToken("its session has ended; link your account again with /login")
        if record != _record(claims):
            # Only we sign tokens; one that names a session but says otherwise about it is
            # refused all the same.
            raise InvalidToken("it does not match the session it names")
        return claims

    async def logout(self, discord_id: str) -> bool:
        """End the link: delete the stored tokens, end every session, revoke the tokens.

        The delete is conditional on the link read just before it, and the tokens revoked are
        exactly the ones deleted. If a refresh or a new link wrote in between, the link is read
        again, so /logout never leaves tokens stored or live that it did not revoke.
        """
        while (user := await store.linked_user(discord_id)) and user.access_token is not None:
            if await store.end_link(discord_id, user.token_version, self._clock()):
                await self._revoke_stored(user)
                log.info("discord user %s unlinked", discord_id)
                return True
        return False

    async def validate_linked_tokens(self) -> ValidationReport:
        """Twitch's rule for apps that keep user tokens: validate each one, refresh on 401."""
        outcomes = [await self._validate(user) for user in await store.users_with_tokens()]
        report = ValidationReport(
            checked=len(outcomes),
            refreshed=outcomes.count("refreshed"),
            ended=outcomes.count("ended"),
            skipped=outcomes.count("skipped"),
            superseded=outcomes.count("superseded"),
        )
        log.info(
            "validated %d linked tokens: %d refreshed, %d links ended, %d skipped, "
            "%d changed meanwhile",
            report.checked,
            report.refreshed,
            report.ended,
            report.skipped,
            report.superseded,
        )
        return report

    async def _validate(self, user: LinkedUser) -> Outcome:
        try:
            access, refresh = self._decrypted(user)
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
            tokens = await self._refresh_stored(user, refresh)
        except TwitchAuthError:
            return await self._end(user, "Twitch no longer accepts its token")
        except TwitchError as error:
            log.warning(
                "could not refresh the token of discord user %s: %s", user.discord_id, error
            )
            return "skipped"
        return "superseded" if tokens is None else "refreshed"

    def _decrypted(self, user: LinkedUser) -> tuple[str, str]:
        """The user's access and refresh token in clear; `DecryptionError` if they cannot be."""
        return (
            self._cipher.decrypt(user.access_token or ""),
            self._cipher.decrypt(user.refresh_token or ""),
        )

    async def _refresh_stored(self, user: LinkedUser, refresh_token: str) -> UserTokens | None:
        """New tokens from Twitch, stored only if the link is still the one read as `user`.

        None when the link changed meanwhile (a logout, a new link, another refresh won): the
        tokens this refresh returned are then revoked. `TwitchAuthError` when Twitch refuses
        the refresh token; other Twitch errors when it does not answer.
        """
        tokens = await self._oauth.refresh(refresh_token)
        stored = await self._stored_or_revoked(
            tokens,
            user.discord_id,
            store.store_tokens(
                user.discord_id,
                user.token_version,
                self._cipher.encrypt(tokens.access_token),
                self._cipher.encrypt(tokens.refresh_token),
            ),
        )
        if stored:
            return tokens
        log.info(
            "the link of discord user %s changed while its token was refreshed; "
            "revoked the tokens the refresh returned",
            user.discord_id,
        )
        await self._revoke(tokens.access_token, tokens.refresh_token, user.discord_id)
        return None

    async def _end(self, user: LinkedUser, why: str) -> Outcome:
        if not await store.end_link(user.discord_id, user.token_version, self._clock()):
            log.info(
                "the link of discord user %s changed meanwhile; left it alone", user.discord_id
            )
            return "superseded"
        log.warning("ended the link of discord user %s: %s", user.discord_id, why)
        return "ended"

    async def _stored_or_revoked(
        self, tokens: UserTokens, discord_id: str, write: Awaitable[T]
    ) -> T:
        """Await the write that stores `tokens`; if the database fails, revoke them and re-raise.

        Tokens Twitch issued but we do not keep would otherwise stay live with nobody to revoke
        or validate them.
        """
        try:
            return await write
        except DATABASE_ERRORS:
            await self._revoke(tokens.access_token, tokens.refresh_token, discord_id)
            raise

    async def _revoke_stored(self, user: LinkedUser) -> None:
        """Revoke the tokens of a link that is no longer stored (logged out or replaced)."""
        if user.access_token is None or user.refresh_token is None:
            return  # the link had already ended: its tokens were revoked then
        try:
            access, refresh = self._decrypted(user)
        except DecryptionError:
            log.warning(
                "could not revoke the old tokens of discord user %s: undecryptable", user.discord_id
            )
            return
        await self._revoke(access, refresh, user.discord_id)

    async def _revoke(self, access_token: str, refresh_token: str, discord_id: str) -> None:
        """Revoke both tokens at Twitch; a failure is logged, as nobody could act on it."""
        for token in (access_token, refresh_token):
            try:
                await self._oauth.revoke(token)
            except TwitchError as error:
                log.warning(
                    "could not revoke a token of discord user %s at Twitch: %s", discord_id, error
                )


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
