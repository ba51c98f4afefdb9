"""/following and GET /api/v1/me/following end to end: the bot in-process, a linked account,
the fake Discord and the fake Twitch, whose follows and failures each test sets."""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter

import pytest

from bot.crypto import TokenCipher
from bot.streams import Stream, by_viewers
from db.models import User
from tests.e2e.conftest import World
from tests.e2e.harness import SECRET_KEY, current_top
from tests.e2e.test_account_flow import EPHEMERAL, api, link_account, link_button, page_token
from tests.fakes.discord import DEFAULT_USER_ID

TOP = 200  # TOP_STREAMS of the world fixture (which has 300 live streams)
FOLLOWING = "/api/v1/me/following"
NOT_ANSWERING = "Twitch is not answering, try again in a minute."
LINE = re.compile(
    r"`(?:#\s*(?P<rank>\d+)|\s*—)` \[(?P<name>.+)\]\(https://twitch\.tv/(?P<login>[^)]+)\) — .+ · "
    r"\*\*(?P<viewers>[\d,]+)\*\* viewers"
    r"(?: · not in the top 200, needs \*\*(?P<needed>[\d,]+)\*\* more)?"
)


def ranked(world: World) -> list[Stream]:
    """Every live stream of the fake, most viewers first; the first TOP are the snapshot."""
    return current_top(world.twitch, len(world.twitch.streams))


def plain_named(streams: list[Stream]) -> list[Stream]:
    """Streams whose display name needs no escaping, so a line can be matched by name."""
    return [s for s in streams if re.fullmatch(r"[A-Za-z0-9]+", s.user_name)]


def follow(world: World, streams: list[Stream]) -> None:
    world.twitch.follow(world.twitch.authorizing_user_id, *(s.user_id for s in streams))


def expected_entries(world: World, followed: list[Stream]) -> list[tuple[Stream, int | None, int]]:
    """(stream, rank, viewers needed) worked out from the fake's data, most viewers first."""
    top = current_top(world.twitch, TOP)
    rank_of = {stream.id: rank for rank, stream in enumerate(top, start=1)}
    last = top[-1].viewer_count
    return [
        (s, rank_of.get(s.id), 0 if s.id in rank_of else max(0, last - s.viewer_count + 1))
        for s in sorted(followed, key=by_viewers)
    ]


def expected_tags(world: World, followed: list[Stream]) -> list[tuple[str, int, int]]:
    top = current_top(world.twitch, TOP)
    in_top = Counter(tag for s in top for tag in {t.casefold() for t in s.tags})
    mine = Counter(tag for s in followed for tag in {t.casefold() for t in s.tags})
    spelled = {t.casefold(): t for s in top for t in s.tags}  # the fake spells each one way
    shared = [(spelled[key], in_top[key], mine[key]) for key in mine if key in in_top]
    return sorted(shared, key=lambda tag: (-tag[1], -tag[2], tag[0].casefold()))


def buttons(message: dict) -> dict[str, dict]:
    row = message["components"][0]["components"]
    return {(b.get("emoji") or {}).get("name") or b.get("label"): b for b in row}


async def following_message(world: World, **kwargs: int) -> dict:
    interaction = await world.discord.slash("following", **kwargs)
    return await interaction.wait_for_message()


def followed_requests(world: World) -> int:
    return sum(1 for _, path, _ in world.twitch.requests if path == "/helix/streams/followed")


async def test_a_user_whose_follows_are_all_offline(world):
    await link_account(world)
    world.twitch.follow(world.twitch.authorizing_user_id, "999999999")  # never live

    message = await following_message(world)

    assert message["flags"] & EPHEMERAL
    embed = message["embeds"][0]
    assert embed["title"] == "Your live channels against the top 200"
    assert embed["description"] == "None of your followed channels is live right now."
    assert not message.get("components")


async def test_follows_only_outside_the_top_show_what_each_needs(world):
    outside = plain_named(ranked(world)[TOP:])[:3]
    await link_account(world)
    follow(world, outside)

    message = await following_message(world)

    embed = message["embeds"][0]
    head, body = embed["description"].split("\n\n")
    expected = expected_entries(world, outside)
    lowest, _, gap = expected[-1]
    assert head.splitlines() == [
        "**0** of your **3** live channels are in the top **200**.",
        f"Gap to enter: **{gap:,}** more viewers for {lowest.user_name}, your least-watched "
        "live channel.",
    ]
    shown = [LINE.fullmatch(line) for line in body.splitlines()]
    assert all(shown), body
    assert [(m["login"], m["rank"], int(m["needed"].replace(",", ""))) for m in shown] == [
        (stream.user_login, None, needed) for stream, _, needed in expected
    ]
    assert all(needed >= 1 for _, _, needed in expected)  # ties with the last need one more


async def test_more_than_ten_live_follows_come_in_pages_of_ten(world):
    streams = plain_named(ranked(world))
    followed = streams[5:120:10] + streams[-13:]  # 12 in the top, 13 outside it
    await link_account(world)
    follow(world, followed)

    interaction = await world.discord.slash("following")
    message = await interaction.wait_for_message()
    pages = [message]
    while not buttons(message)["▶️"].get("disabled"):
        click = await world.discord.click(message, buttons(message)["▶️"]["custom_id"])
        message = await click.wait_for_message()
        pages.append(message)

    expected = expected_entries(world, followed)
    shown = []
    for page in pages:
        assert page["flags"] & EPHEMERAL
        shown += [
            LINE.fullmatch(line)
            for line in page["embeds"][0]["description"].split("\n\n")[1].splitlines()
        ]
    assert [len(p["embeds"][0]["description"].split("\n\n")[1].splitlines()) for p in pages] == [
        10,
        10,
        5,
    ]
    assert "page 3/3" in buttons(pages[-1])
    assert [(m["login"], m["rank"] and int(m["rank"])) for m in shown] == [
        (stream.user_login, rank) for stream, rank, _ in expected
    ]
    head = pages[0]["embeds"][0]["description"].split("\n\n")[0]
    assert head.startswith("**12** of your **25** live channels are in the top **200**.")
    tags = pages[0]["embeds"][0]["fields"][0]
    assert tags["name"] == "Tags you share with the top"
    assert (
        tags["value"].splitlines()
        == [
            f"{tag} — top {top:,} · yours {mine:,}"
            for tag, top, mine in expected_tags(world, followed)
        ][:10]
    )
    assert await world.discord.all_violations() == []


async def test_the_api_gives_the_comparison_as_json(world):
    streams = ranked(world)
    followed = [streams[0], streams[57], streams[TOP - 1], streams[TOP], streams[-1]]
    page, _ = await link_account(world)
    follow(world, followed)

    status, body = await api(world, page_token(page), FOLLOWING)

    assert status == 200
    snapshot = await world.services.stats.snapshot()
    expected = expected_entries(world, followed)
    lowest, _, gap = expected[-1]
    assert body == {
        "snapshot_at": snapshot.taken_at.isoformat(),
        "top_n": TOP,
        "followed_live": [
            {
                "id": s.id,
                "user_login": s.user_login,
                "user_name": s.user_name,
                "game_name": s.game_name,
                "viewer_count": s.viewer_count,
                "rank": rank,
                "viewers_needed": needed,
            }
            for s, rank, needed in expected
        ],
        "in_top": 3,
        "lowest": {
            "user_login": lowest.user_login,
            "viewer_count": lowest.viewer_count,
            "viewers_needed": gap,
        },
        "shared_tags": [
            {"tag": tag, "top_streams": top, "followed_streams": mine}
            for tag, top, mine in expected_tags(world, followed)
        ],
    }
    assert [entry["rank"] for entry in body["followed_live"]] == [1, 58, 200, None, None]


async def test_a_token_stored_without_the_scope_asks_for_a_new_link(world):
    world.twitch.granted_scopes = []  # linked before StreamStats asked to read follows
    page, _ = await link_account(world)

    status, body = await api(world, page_token(page), FOLLOWING)
    message = await following_message(world)

    assert (status, body) == (409, {"error": "relink"})
    assert message["flags"] & EPHEMERAL
    assert "Your Twitch link needs renewing" in message["content"]
    assert link_button(message).startswith(world.services.settings.public_url + "/login?state=")
    assert followed_requests(world) == 0


async def test_a_token_that_can_no_longer_be_refreshed_ends_the_link(world):
    page, _ = await link_account(world)
    token = page_token(page)
    world.twitch.revoke_user(world.twitch.authorizing_user_id)  # access and refresh token dead

    status, body = await api(world, token, FOLLOWING)

    assert (status, body) == (409, {"error": "relink"})
    user = await User.get(discord_id=str(DEFAULT_USER_ID))
    assert user.access_token is None and user.refresh_token is None
    assert (await api(world, token, FOLLOWING))[0] == 401  # the session ended with the link
    message = await following_message(world)
    assert "Link your Twitch account first" in message["content"]
    assert link_button(message)


async def test_a_refused_token_is_refreshed_once_and_the_new_pair_stored(world, caplog):
    outside = ranked(world)[TOP:][:2]
    await link_account(world)
    follow(world, outside)
    world.twitch.expire_user_tokens()
    expired = {token: info["refresh_token"] for token, info in world.twitch.user_tokens.items()}

    message = await following_message(world)

    assert message["embeds"][0]["description"].startswith("**0** of your **2** live channels")
    assert world.twitch.refresh_requests == 1
    assert followed_requests(world) == 2  # refused, then answered with the new token
    user = await User.get(discord_id=str(DEFAULT_USER_ID))
    cipher = TokenCipher(SECRET_KEY)
    access = cipher.decrypt(user.access_token)
    assert world.twitch.user_tokens[access]["refresh_token"] == cipher.decrypt(user.refresh_token)
    secrets = [*expired, *expired.values(), access, cipher.decrypt(user.refresh_token)]
    assert "refreshing it" in caplog.text
    assert not [line for line in caplog.messages if any(secret in line for secret in secrets)]


async def test_a_burst_from_one_user_makes_one_twitch_call(world):
    await link_account(world)
    follow(world, ranked(world)[:30])
    world.twitch.latency = 0.3  # every ask arrives while the first call is under way

    burst = await asyncio.gather(*(world.discord.slash("following") for _ in range(8)))
    messages = [await interaction.wait_for_message() for interaction in burst]

    assert followed_requests(world) == 1
    assert {m["embeds"][0]["description"].split("\n")[0] for m in messages} == {
        "**30** of your **30** live channels are in the top **200**."
    }
    again = await following_message(world)  # cached: no call at all
    assert again["embeds"][0]["description"] == messages[0]["embeds"][0]["description"]
    assert followed_requests(world) == 1


async def test_fifty_users_at_once_get_no_429(world):
    users = []
    for index in range(50):
        discord_id = 1_100_000_000_000_010_000 + index
        world.twitch.authorizing_user_id = world.twitch.add_user(f"fan{index}")["id"]
        world.twitch.follow(
            world.twitch.authorizing_user_id, *(s.user_id for s in ranked(world)[index::50])
        )
        async with world.http.get(world.services.accounts.login_url(str(discord_id))) as reply:
            assert reply.status == 200
        users.append(discord_id)
    world.twitch.ratelimit_limit = 10  # a shared bucket would run dry five times over

    asked = await asyncio.gather(*(world.discord.slash("following", user_id=u) for u in users))
    messages = [await interaction.wait_for_message() for interaction in asked]

    assert world.twitch.rate_limited == 0
    assert followed_requests(world) == 50
    assert all(m["embeds"][0]["description"].startswith("**") for m in messages)
    assert await world.discord.all_violations() == []


async def test_the_api_says_twitch_is_not_answering_with_a_503(world):
    page, _ = await link_account(world)
    world.twitch.fail_next(503)

    status, body = await api(world, page_token(page), FOLLOWING)

    assert (status, body) == (503, {"error": NOT_ANSWERING})


@pytest.mark.parametrize("fault", [503, "slow"])
async def test_twitch_down_or_slow_gets_a_short_private_sentence_in_time(world, fault):
    await link_account(world)
    follow(world, ranked(world)[:3])
    world.twitch.slow_seconds = 3.0
    world.twitch.fail_next(fault)

    started = time.monotonic()
    message = await following_message(world)
    took = time.monotonic() - started

    assert message["content"] == NOT_ANSWERING
    assert message["flags"] & EPHEMERAL
    assert took < 3.0
    assert await world.discord.all_violations() == []
