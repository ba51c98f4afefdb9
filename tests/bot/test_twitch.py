"""The Twitch client against the fake Twitch: paging, dedupe, tokens, rate limits, faults."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from bot.errors import (
    TwitchAuthError,
    TwitchPayloadError,
    TwitchRequestError,
    TwitchUnavailable,
)
from bot.twitch import TwitchClient, max_pages
from tests.conftest import app_of
from tests.fakes.twitch import FakeTwitch, make_stream


def expected_top(fake: FakeTwitch, limit: int) -> list[str]:
    ranked = sorted(fake.streams, key=lambda s: (-s["viewer_count"], s["id"]))
    return [s["id"] for s in ranked[:limit]]


def helix_requests(fake: FakeTwitch) -> list[dict[str, list[str]]]:
    return [query for method, path, query in fake.requests if path == "/helix/streams"]


async def test_fetches_exactly_the_top_n_with_every_field(twitch, fake_twitch):
    result = await twitch.fetch_top_streams(1000)

    assert [s.id for s in result.streams] == expected_top(fake_twitch, 1000)
    assert result.pages == 10
    assert result.duplicates_dropped == 0
    payload = next(s for s in fake_twitch.streams if s["id"] == result.streams[0].id)
    first = result.streams[0]
    assert first.user_login == payload["user_login"]
    assert first.user_name == payload["user_name"]
    assert first.game_id == payload["game_id"]
    assert first.game_name == payload["game_name"]
    assert first.title == payload["title"]
    assert first.viewer_count == payload["viewer_count"]
    assert first.started_at == datetime.fromisoformat(payload["started_at"])
    assert first.language == payload["language"]
    assert first.thumbnail_url == payload["thumbnail_url"]
    assert first.is_mature == payload["is_mature"]
    assert list(first.tags) == (payload["tags"] or [])


async def test_asks_for_small_pages_when_fewer_streams_are_wanted(twitch, fake_twitch):
    result = await twitch.fetch_top_streams(30)

    assert [s.id for s in result.streams] == expected_top(fake_twitch, 30)
    assert helix_requests(fake_twitch)[0]["first"] == ["30"]


async def test_null_tags_and_empty_category_are_kept(twitch, fake_twitch):
    fake_twitch.streams = [
        make_stream(1, 50, game_id="", game_name="", tags=None),
        make_stream(2, 40),
    ]
    result = await twitch.fetch_top_streams(10)

    assert result.streams[0].tags == ()
    assert (result.streams[0].game_id, result.streams[0].game_name) == ("", "")


async def test_overlapping_pages_are_deduplicated_and_more_pages_read(twitch, fake_twitch):
    fake_twitch.overlap = 10
    result = await twitch.fetch_top_streams(1000)

    ids = [s.id for s in result.streams]
    assert ids == expected_top(fake_twitch, 1000)
    assert len(set(ids)) == 1000
    assert result.duplicates_dropped == 10 * (result.pages - 1)
    assert result.pages == 11  # 10 new pages minus the repeats need one page more


async def test_a_cursor_that_loops_back_ends_paging(twitch, fake_twitch):
    fake_twitch.streams = fake_twitch.streams[:250]
    fake_twitch.cursor_loops_back = True
    result = await twitch.fetch_top_streams(1000)

    assert [s.id for s in result.streams] == expected_top(fake_twitch, 250)
    assert result.pages <= max_pages(1000)


async def test_an_empty_last_page_ends_paging(twitch, fake_twitch):
    fake_twitch.streams = fake_twitch.streams[:250]
    fake_twitch.empty_last_page = True
    result = await twitch.fetch_top_streams(1000)

    assert [s.id for s in result.streams] == expected_top(fake_twitch, 250)
    assert result.pages == 4


async def test_page_count_is_capped(twitch, fake_twitch):
    fake_twitch.overlap = 100  # every page repeats the previous one: the cursor never advances
    result = await twitch.fetch_top_streams(1000)

    assert result.pages <= max_pages(1000)
    assert [s.id for s in result.streams] == expected_top(fake_twitch, 100)


async def test_app_token_is_minted_once_and_reused(twitch, fake_twitch):
    await twitch.fetch_top_streams(200)
    await twitch.fetch_top_streams(200)

    assert fake_twitch.token_requests == 1


async def test_a_refused_token_is_minted_again_once(twitch, fake_twitch):
    await twitch.fetch_top_streams(100)
    fake_twitch.revoke_tokens()
    result = await twitch.fetch_top_streams(100)

    assert len(result.streams) == 100
    assert fake_twitch.token_requests == 2


async def test_401_after_a_fresh_token_is_an_auth_error(twitch, fake_twitch):
    fake_twitch.token_lifetime = 0  # every token is already expired when used
    with pytest.raises(TwitchAuthError):
        await twitch.fetch_top_streams(100)
    assert fake_twitch.token_requests == 2


async def test_wrong_client_secret_is_an_auth_error_naming_the_setting(http, fake_twitch):
    client = TwitchClient(http, app_of(fake_twitch, client_secret="not-the-secret"))
    with pytest.raises(TwitchAuthError, match="TWITCH_CLIENT_SECRET") as caught:
        await client.fetch_top_streams(100)
    assert "not-the-secret" not in str(caught.value)


async def test_429_waits_for_the_reset_then_succeeds(twitch, fake_twitch):
    fake_twitch.fail_next(429)
    started = time.time()
    result = await twitch.fetch_top_streams(100)

    assert len(result.streams) == 100
    assert len(helix_requests(fake_twitch)) == 2
    # The fake's Ratelimit-Reset is the next whole second; the retry must not come before it.
    assert time.time() >= int(started) + 1


async def test_an_empty_bucket_is_waited_out_before_the_next_request(twitch, fake_twitch):
    fake_twitch.ratelimit_limit = 2
    fake_twitch.ratelimit_window = 1.0
    result = await twitch.fetch_top_streams(300)

    assert len(result.streams) == 300
    assert len(helix_requests(fake_twitch)) == 3  # no request was spent on a 429


@pytest.mark.parametrize("fault", [500, 502, 503, "drop"])
async def test_server_errors_are_retried_with_backoff(twitch, fake_twitch, fault):
    fake_twitch.fail_next(fault, fault)
    result = await twitch.fetch_top_streams(100)

    assert [s.id for s in result.streams] == expected_top(fake_twitch, 100)


async def test_persistent_server_errors_give_up_after_bounded_attempts(twitch, fake_twitch):
    fake_twitch.fail_next(*[503] * 10)
    with pytest.raises(TwitchUnavailable, match="503"):
        await twitch.fetch_top_streams(100)
    assert len(helix_requests(fake_twitch)) == 4


async def test_slow_replies_time_out_and_are_retried(twitch, fake_twitch):
    fake_twitch.slow_seconds = 2.0  # the client's timeout is 1 s
    fake_twitch.fail_next("slow")
    result = await twitch.fetch_top_streams(100)

    assert len(result.streams) == 100


async def test_twitch_unreachable_is_unavailable(http, fake_twitch):
    unreachable = app_of(
        fake_twitch, api_url="http://127.0.0.1:9/helix", auth_url="http://127.0.0.1:9/oauth2"
    )
    client = TwitchClient(http, unreachable, backoff=0.01, attempts=2)
    with pytest.raises(TwitchUnavailable):
        await client.fetch_top_streams(100)


@pytest.mark.parametrize("fault", ["malformed", "wrong_shape"])
async def test_malformed_replies_are_a_payload_error(twitch, fake_twitch, fault):
    fake_twitch.fail_next(fault)
    with pytest.raises(TwitchPayloadError):
        await twitch.fetch_top_streams(100)


async def test_a_stream_of_the_wrong_shape_is_a_payload_error(twitch, fake_twitch):
    broken = make_stream(1, 10)
    del broken["user_login"]
    fake_twitch.streams = [broken]
    with pytest.raises(TwitchPayloadError, match="user_login"):
        await twitch.fetch_top_streams(100)


async def test_a_bad_request_is_not_retried(twitch, fake_twitch):
    fake_twitch.fail_next(400)
    with pytest.raises(TwitchRequestError, match="Invalid cursor"):
        await twitch.fetch_top_streams(100)
    assert len(helix_requests(fake_twitch)) == 1


@pytest.mark.parametrize(
    ("field", "value"), [("id", "12ab"), ("user_id", "9" * 40), ("game_id", "x")]
)
async def test_ids_that_are_not_twitch_ids_are_a_payload_error(twitch, fake_twitch, field, value):
    broken = make_stream(1, 10)
    broken[field] = value
    fake_twitch.streams = [broken]
    with pytest.raises(TwitchPayloadError, match=field):
        await twitch.fetch_top_streams(100)
