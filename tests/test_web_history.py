"""GET /api/v1/trends and /api/v1/channels/{login} after refreshes of the fake Twitch: the
figures /trends and /channel show, as JSON, behind the same session check."""

from __future__ import annotations

import pytest

from bot.refresh import RefreshService
from tests.fakes.twitch import make_stream
from tests.test_web_callback import linked_session

LOL, ART = ("21779", "League of Legends"), ("509660", "Art")


def stream(index: int, viewers: int, game: tuple[str, str]) -> dict:
    return make_stream(index, viewers, game_id=game[0], game_name=game[1])


@pytest.fixture
async def bearer(client, twitch, stats, fake_twitch, clock) -> dict[str, str]:
    """Three refreshes 20 minutes apart, and a live session's Authorization header."""
    refresher = RefreshService(twitch, stats, top_streams=100, clock=clock)
    for data in (
        [stream(0, 100, LOL), stream(1, 30, ART)],
        [stream(0, 300, LOL), stream(1, 20, ART)],
        [stream(0, 200, LOL), stream(2, 5, LOL)],
    ):
        fake_twitch.streams = data
        assert (await refresher.refresh()).ok
        clock.advance(minutes=20)
    return {"Authorization": f"Bearer {await linked_session(clock)}"}


async def test_trends_as_json(client, bearer):
    reply = await client.get("/api/v1/trends?period=1h", headers=bearer)
    body = await reply.json()

    assert reply.status == 200
    assert reply.headers["Cache-Control"] == "no-store"
    assert (body["period"], body["span_seconds"], body["shorter_than_period"]) == (
        "1h",
        40 * 60,
        True,
    )
    assert body["gainers"] == [
        {
            "game_id": "21779",
            "game_name": "League of Legends",
            "viewers_before": 100,
            "viewers_after": 205,
            "change": 105,
            "percent": 105.0,
        }
    ]
    assert [(g["game_id"], g["change"], g["percent"]) for g in body["losers"]] == [
        ("509660", -30, -100.0)
    ]


async def test_one_games_trend_as_json(client, bearer):
    reply = await client.get("/api/v1/trends?game=league%20OF%20legends", headers=bearer)
    body = await reply.json()

    assert reply.status == 200
    assert body["period"] == "24h"  # the default
    assert [(p["total_viewers"], p["streams"]) for p in body["series"]] == [
        (100, 1),
        (300, 1),
        (205, 2),
    ]
    assert body["peak"]["total_viewers"] == 300
    assert body["peak"]["at"] == body["series"][1]["at"]
    assert body["change"]["change"] == 105


async def test_a_channel_as_json(client, bearer):
    reply = await client.get("/api/v1/channels/Streamer1", headers=bearer)
    body = await reply.json()

    assert reply.status == 200
    assert body["now"] is None  # streamer1 left the top in the last snapshot
    assert (body["login"], body["best_rank"], body["peak_viewers"], body["snapshots"]) == (
        "streamer1",
        2,
        30,
        2,
    )
    assert body["first_seen"] == body["ranks"][0]["at"]
    assert body["last_seen"] == body["ranks"][-1]["at"]
    now = await (await client.get("/api/v1/channels/streamer0", headers=bearer)).json()
    assert now["now"] == {"rank": 1, "viewers": 200}


@pytest.mark.parametrize(
    ("path", "status", "error"),
    [
        ("/api/v1/trends?period=2h", 400, "period must be one of: 24h, 1h, 6h, 7d"),
        ("/api/v1/trends?game=Tetris", 404, "no game of that id or name"),
        ("/api/v1/channels/nobody", 404, "that channel was not in the top"),
        ("/api/v1/channels/" + "a" * 51, 400, "login must be a Twitch login"),
        ("/api/v1/channels/a%00b", 400, "login must be a Twitch login"),
    ],
)
async def test_bad_or_unknown_requests_get_a_json_error(client, bearer, path, status, error):
    reply = await client.get(path, headers=bearer)

    assert reply.status == status
    assert (await reply.json())["error"].startswith(error)
