"""The web app (aiohttp app factory): OAuth login and callback, JSON API, health check.

`python -m bot` serves it on WEB_HOST:WEB_PORT on the bot's event loop. Every failure becomes
a page or JSON error that says what happened; tokens and secrets never reach a page or a log.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, get_args

import yarl
from aiohttp import web

from bot import pages, payloads
from bot.accounts import AccountService
from bot.cache import Source, StatsService
from bot.errors import (
    InvalidToken,
    LinkFailed,
    LoginRequired,
    NoDataYet,
    RelinkRequired,
    ServiceUnavailable,
    TwitchNotAnswering,
)
from bot.health import HealthCheck
from bot.history import HistoryService, is_login
from bot.personal import FollowingService
from bot.stats import Order
from bot.tokens import SessionClaims
from bot.trends import PERIODS, Period
from db import DATABASE_ERRORS

log = logging.getLogger(__name__)

ACCOUNTS = web.AppKey("accounts", AccountService)
STATS = web.AppKey("stats", StatsService)
FOLLOWING = web.AppKey("following", FollowingService)
HEALTH = web.AppKey("health", HealthCheck)
HISTORY = web.AppKey("history", HistoryService)
T = TypeVar("T", bound=str)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SOURCES: tuple[Source, ...] = get_args(Source)
ORDERS: tuple[Order, ...] = get_args(Order)
TREND_PERIODS: tuple[Period, ...] = ("24h", *(p for p in PERIODS if p != "24h"))  # default first
# Set by /login, read by /callback: binds an OAuth state to the browser that started the link.
BROWSER_COOKIE = "streamstats_link"


def _json(payload: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(payload, status=status, headers={"Cache-Control": "no-store"})


def _api_error(status: int, message: str) -> web.Response:
    return _json({"error": message}, status)


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every failure into a clear page (or JSON under /api/), never a stack trace."""
    api = request.path.startswith("/api/")
    try:
        return await handler(request)
    except web.HTTPException as error:
        if api and error.status >= 400:
            return _api_error(error.status, error.reason)
        raise
    except LinkFailed as error:
        return pages.error_page(error.status, error.title, error.advice)
    except InvalidToken as error:
        return _api_error(401, f"invalid token: {error.reason}")
    except NoDataYet:
        return _api_error(503, "no data yet: the first refresh has not finished")
    except RelinkRequired:
        # The stored token lacks the scope, or Twitch no longer accepts it: link again.
        return _api_error(409, "relink")
    except LoginRequired:
        return _api_error(401, "no linked Twitch account; link it with /login in Discord")
    except TwitchNotAnswering as error:
        return _api_error(503, error.user_message)
    except (*DATABASE_ERRORS, ServiceUnavailable):
        log.exception("database failure on %s %s", request.method, request.path)
        if api:
            return _api_error(503, "the database is unavailable; try again shortly")
        return pages.error_page(
            503, "StreamStats cannot reach its database", "Nothing was changed. Try again shortly."
        )


def _browser_cookie(request: web.Request) -> dict[str, Any]:
    """Where the binding cookie lives: only our callback's path, only over https if we are."""
    redirect = yarl.URL(request.app[ACCOUNTS].redirect_uri)
    return {"path": redirect.path, "secure": redirect.scheme == "https"}


async def login(request: web.Request) -> web.StreamResponse:
    """Our link in Discord leads here: bind this browser to the state, then go to Twitch."""
    state = request.query.get("state", "")
    if not state:
        raise LinkFailed(400, "This login link is incomplete", "Run /login in Discord again.")
    start = request.app[ACCOUNTS].start_link(state)
    response = web.Response(
        status=302, headers={"Location": start.authorize_url, "Cache-Control": "no-store"}
    )
    # Lax: the cookie still comes along when Twitch sends the browser back (a top-level GET).
    response.set_cookie(
        BROWSER_COOKIE,
        start.browser_binding,
        max_age=start.seconds_left,
        httponly=True,
        samesite="Lax",
        **_browser_cookie(request),
    )
    return response


async def callback(request: web.Request) -> web.StreamResponse:
    """Twitch sends the person back here with `code` and `state` (or an `error`)."""
    query = request.query
    if "error" in query:
        if query["error"] == "access_denied":
            raise LinkFailed(
                400,
                "You declined the link on Twitch",
                "Nothing was stored. Run /login in Discord again if you change your mind.",
            )
        raise LinkFailed(
            400, "Twitch reported a problem with the login", "Run /login in Discord again."
        )
    if not query.get("state"):
        raise LinkFailed(
            400, "This page needs the link from Discord", "Start from /login in Discord."
        )
    if not query.get("code"):
        raise LinkFailed(400, "Twitch sent no login code", "Run /login in Discord again.")
    result = await request.app[ACCOUNTS].complete_link(
        code=query["code"],
        state=query["state"],
        browser_binding=request.cookies.get(BROWSER_COOKIE),
    )
    response = pages.linked_page(
        display_name=result.twitch.display_name,
        login=result.twitch.login,
        discord_id=result.discord_id,
        api_token=result.api_token,
        expires_at=result.expires_at,
    )
    response.del_cookie(BROWSER_COOKIE, **_browser_cookie(request))
    return response


async def healthz(request: web.Request) -> web.Response:
    """For operators: 200 while this process does its job and the data is fresh, else 503."""
    report = await request.app[HEALTH].report()
    return _json(report.body, 200 if report.healthy else 503)


async def _authorized(request: web.Request) -> SessionClaims:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("send the token from the link page as 'Authorization: Bearer <token>'")
    return await request.app[ACCOUNTS].verify_api_token(token.strip())


def _choice(request: web.Request, name: str, allowed: tuple[T, ...]) -> T:
    value = request.query.get(name, allowed[0])
    for choice in allowed:
        if value == choice:
            return choice
    raise web.HTTPBadRequest(reason=f"{name} must be one of: {', '.join(allowed)}")


async def api_stream_stats(request: web.Request) -> web.Response:
    """GET /api/v1/stats/streams?source=memory|database."""
    await _authorized(request)
    source = _choice(request, "source", SOURCES)
    return _json(payloads.stream_summary(await request.app[STATS].stream_summary(source)))


async def api_game_stats(request: web.Request) -> web.Response:
    """GET /api/v1/stats/games?source=memory|database."""
    await _authorized(request)
    source = _choice(request, "source", SOURCES)
    return _json(payloads.game_stats(await request.app[STATS].game_stats(source)))


async def api_start_hours(request: web.Request) -> web.Response:
    """GET /api/v1/stats/hours?source=memory|database."""
    await _authorized(request)
    source = _choice(request, "source", SOURCES)
    return _json(payloads.start_hours(await request.app[STATS].start_hours(source)))


async def api_top_streams(request: web.Request) -> web.Response:
    """GET /api/v1/streams/top?order=desc|asc&source=memory|database."""
    await _authorized(request)
    order = _choice(request, "order", ORDERS)
    source = _choice(request, "source", SOURCES)
    return _json(payloads.top_streams(await request.app[STATS].top_streams(order, source), order))


async def api_following(request: web.Request) -> web.Response:
    """GET /api/v1/me/following: your followed live channels against the top."""
    claims = await _authorized(request)
    result = await request.app[FOLLOWING].following(claims.discord_id)
    return _json(payloads.following(result))


async def api_trends(request: web.Request) -> web.Response:
    """GET /api/v1/trends?period=1h|6h|24h|7d&game=<id or name>: as /trends answers."""
    await _authorized(request)
    history = request.app[HISTORY]
    period = _choice(request, "period", TREND_PERIODS)
    game = request.query.get("game", "").strip()
    if not game:
        result = await history.trends(period)
        if result is None:
            return _api_error(404, "no history yet")
        return _json(payloads.trends(result))
    game_id = await history.find_game(game)
    if game_id is None:
        return _api_error(404, "no game of that id or name in the last 7 days of history")
    trend = await history.game_trend(game_id, period)
    if trend is None:
        return _api_error(404, "that game was not in the top within the period")
    return _json(payloads.game_trend(trend))


async def api_channel(request: web.Request) -> web.Response:
    """GET /api/v1/channels/{login}: as /channel answers."""
    await _authorized(request)
    history = request.app[HISTORY]
    login = request.match_info["login"]
    if not is_login(login):
        return _api_error(400, "login must be a Twitch login: letters, digits and underscores")
    record = await history.channel(login)
    if record is None:
        return _api_error(404, "that channel was not in the top within the kept history")
    return _json(payloads.channel(record, history.top_n))


def create_app(
    *,
    accounts: AccountService,
    stats: StatsService,
    following: FollowingService,
    history: HistoryService,
    health: HealthCheck,
) -> web.Application:
    """Build the web application from the services `python -m bot` (or a test) created."""
    app = web.Application(middlewares=[errors])
    app[ACCOUNTS] = accounts
    app[STATS] = stats
    app[FOLLOWING] = following
    app[HEALTH] = health
    app[HISTORY] = history
    app.router.add_get("/login", login)
    app.router.add_get("/callback", callback)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/api/v1/stats/streams", api_stream_stats)
    app.router.add_get("/api/v1/stats/games", api_game_stats)
    app.router.add_get("/api/v1/stats/hours", api_start_hours)
    app.router.add_get("/api/v1/streams/top", api_top_streams)
    app.router.add_get("/api/v1/me/following", api_following)
    app.router.add_get("/api/v1/trends", api_trends)
    app.router.add_get("/api/v1/channels/{login}", api_channel)
    return app
