"""The web app (aiohttp app factory): health check now; OAuth callback and JSON API build on it."""

from __future__ import annotations

import logging

from aiohttp import web

from db import queries

log = logging.getLogger(__name__)


async def healthz(request: web.Request) -> web.Response:
    """For operators: is the database reachable, and when was the last snapshot taken."""
    try:
        snapshot = await queries.latest_snapshot()
    except Exception:
        log.exception("health check: database unreachable")
        return web.json_response({"status": "error", "database": "unreachable"}, status=503)
    return web.json_response(
        {
            "status": "ok",
            "database": "ok",
            "snapshot_at": snapshot.taken_at.isoformat() if snapshot else None,
            "streams": snapshot.stream_count if snapshot else 0,
        }
    )


def create_app() -> web.Application:
    """Build the web application; `python -m bot` serves it on WEB_HOST:WEB_PORT."""
    app = web.Application()
    app.router.add_get("/healthz", healthz)
    return app
