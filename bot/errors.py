"""The exception hierarchy: what can go wrong, and the sentence a user sees when it does."""

from __future__ import annotations


class StreamStatsError(Exception):
    """Base class of every error StreamStats raises on purpose."""


class ConfigError(StreamStatsError):
    """One or more settings are missing or invalid; each problem names its variable."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


class UserFacingError(StreamStatsError):
    """An error whose message is a short sentence meant for the person who asked."""

    def __init__(self, user_message: str) -> None:
        self.user_message = user_message
        super().__init__(user_message)


class NoDataYet(UserFacingError):
    """No snapshot has been committed yet (the first refresh has not finished)."""

    def __init__(self) -> None:
        super().__init__(
            "StreamStats is still loading the first batch of live streams. Try again in a minute."
        )


class TwitchError(StreamStatsError):
    """Base class of Twitch client failures; the message never contains a credential.

    The message has the details for the log; `public` says what failed in plain words, for
    places anyone can read (/status, /healthz).
    """

    public = "Twitch did not answer properly"


class TwitchUnavailable(TwitchError):
    """Twitch did not answer usefully: 5xx, timeout or connection error (retried, then raised)."""

    public = "Twitch did not answer"


class TwitchRateLimited(TwitchUnavailable):
    """Twitch answered 429; `reset_at` is the Unix time when the bucket refills."""

    public = "Twitch kept refusing requests for going too fast (rate limit)"

    def __init__(self, message: str, reset_at: float | None) -> None:
        super().__init__(message)
        self.reset_at = reset_at


class TwitchAuthError(TwitchError):
    """Twitch refused our credentials (token request failed, or 401 after a fresh token)."""

    public = "Twitch refused the app credentials"


class TwitchRequestError(TwitchError):
    """Twitch rejected a request as invalid (4xx other than 401 and 429)."""

    public = "Twitch rejected a request"


class TwitchPayloadError(TwitchError):
    """Twitch answered with malformed JSON or a shape we do not understand."""

    public = "Twitch sent data that could not be read"


class InvalidToken(StreamStatsError):
    """A JWT or OAuth state failed verification; `reason` is safe to show (no token in it)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class LoginRequired(UserFacingError):
    """The command needs a linked Twitch account with a valid session."""

    def __init__(self, user_message: str = "") -> None:
        super().__init__(
            user_message
            or "Link your Twitch account first: press the button below, approve on Twitch, "
            "then run the command again. Links last one hour."
        )


class RelinkRequired(LoginRequired):
    """The stored link cannot make a call: its token lacks the scope, or Twitch refused it."""

    def __init__(self) -> None:
        super().__init__(
            "Your Twitch link needs renewing for this: press the button below, approve on "
            "Twitch, then run the command again."
        )


class TwitchNotAnswering(UserFacingError):
    """A call made for a user (with their token) failed or took too long."""

    def __init__(self) -> None:
        super().__init__("Twitch is not answering, try again in a minute.")


class LinkFailed(StreamStatsError):
    """Linking a Twitch account failed; carries what the web page tells the person."""

    def __init__(self, status: int, title: str, advice: str) -> None:
        self.status = status
        self.title = title
        self.advice = advice
        super().__init__(f"{title} ({status})")


class ServiceUnavailable(UserFacingError):
    """The database does not answer; the user is asked to try again shortly."""

    def __init__(self) -> None:
        super().__init__("StreamStats cannot reach its database right now. Try again in a minute.")
