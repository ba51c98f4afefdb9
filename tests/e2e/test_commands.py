"""The slash commands as a Discord user sees them: the real bot process, fake Discord and Twitch."""

from __future__ import annotations

import re

import pytest
import pytest_asyncio

from bot import stats
from tests.bot.test_embeds import TOP_LINE
from tests.e2e.harness import (
    assert_one_call_answer,
    backend,
    bot_environment,
    current_top,
    expected_summary,
    run_bot,
)
from tests.fakes.discord import FakeDiscord
from tests.fakes.twitch import FakeTwitch, make_stream, random_streams
from tests.markdown import live_markdown, template

pytestmark = pytest.mark.asyncio(loop_scope="module")

TOP = 300
EPHEMERAL = 64
OTHER_USER = 1_100_000_000_000_000_999
HOSTILE_NAME = "@everyone **bold** [x](https://evil.example) <@1100000000000000300>"
# 4,800 characters that all need a backslash (or a zero-width space), far past every limit.
OVERSIZED = ("_\\*`~|<@everyone" * 400)[:4800]
UNDERSCORES = "_" * 200  # 400 characters once escaped: more than an embed title holds


def fake_streams() -> list[dict]:
    streams = random_streams(400, seed=21)
    # A hostile channel with the most viewers, so it is on the first page of /top.
    streams.append(
        make_stream(9999, 10**7, user_name=HOSTILE_NAME, game_name="`code` ||spoiler|| @here")
    )
    # A game whose name doubles in length when escaped, watched enough to be in the top.
    streams.append(make_stream(9998, 10**5, game_id="9998", game_name=UNDERSCORES))
    for index in range(9990, 9995):
        streams.append(
            make_stream(
                index,
                10**6 + index,
                user_name=OVERSIZED,
                title=OVERSIZED,
                game_id=str(index),
                game_name=OVERSIZED,
            )
        )
    return streams


@pytest_asyncio.fixture(
    scope="module",
    loop_scope="module",
    params=[
        "embedded",
        pytest.param("postgres+redis", marks=[pytest.mark.postgres, pytest.mark.redis]),
        "redis-down",
    ],
)
async def world(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("bot")
    async with (
        backend(request.param) as settings,
        FakeDiscord() as discord_fake,
        FakeTwitch(streams=fake_streams()) as twitch_fake,
    ):
        env = bot_environment(
            discord_fake,
            twitch_fake,
            folder,
            TOP_STREAMS=str(TOP),
            VIEW_TIMEOUT="4",
            REQUIRE_LOGIN="false",
            **settings,
        )
        async with run_bot(env, folder) as bot:
            await discord_fake.wait_until_identified(timeout=30)
            await discord_fake.wait_for_commands(timeout=30)
            await bot.wait_for_snapshot()
            yield discord_fake, twitch_fake, bot
        assert await discord_fake.all_violations() == []


@pytest.fixture
def discord_fake(world) -> FakeDiscord:
    return world[0]


@pytest.fixture
def twitch_fake(world) -> FakeTwitch:
    return world[1]


def fields_of(message: dict) -> dict[str, str]:
    return {field["name"]: field["value"] for field in message["embeds"][0]["fields"]}


def button_ids(message: dict) -> dict[str, str]:
    """Buttons by what they show (emoji or label) -> custom_id."""
    buttons = message["components"][0]["components"]
    return {(b.get("emoji") or {}).get("name") or b.get("label"): b["custom_id"] for b in buttons}


def disabled(message: dict) -> dict[str, bool]:
    buttons = message["components"][0]["components"]
    return {
        (b.get("emoji") or {}).get("name") or b.get("label"): b.get("disabled", False)
        for b in buttons
    }


async def test_commands_are_synced_to_the_guild_with_descriptions(discord_fake):
    commands = discord_fake.commands
    assert {"gamestats", "streamstats", "top", "status"} <= set(commands)
    assert discord_fake.guild_id in discord_fake.synced_guild_ids
    assert commands["top"]["description"] == "The top 100 live streams by viewers, 10 per page."
    for command in commands.values():
        assert command["description"]
        for option in command.get("options", []):
            assert option["description"], (command["name"], option["name"])
    top_options = {o["name"]: o for o in commands["top"]["options"]}
    assert [c["value"] for c in top_options["order"]["choices"]] == ["desc", "asc"]
    assert [c["value"] for c in top_options["source"]["choices"]] == ["memory", "database"]


@pytest.mark.parametrize("source", ["memory", "database"])
async def test_streamstats_shows_the_engines_numbers(discord_fake, twitch_fake, source):
    interaction = await discord_fake.slash("streamstats", {"source": source})
    message = await interaction.wait_for_message()

    expected = expected_summary(twitch_fake, TOP)
    fields = fields_of(message)
    assert fields["Median viewers"] == f"{expected.median:,.1f}".removesuffix(".0")
    assert fields["Odd viewer count"] == f"{expected.odd:,}"
    assert fields["Even viewer count"] == f"{expected.even:,}"
    assert fields["Duplicates"] == f"{expected.duplicates:,}"
    assert fields["Shared counts"] == f"{expected.shared_counts:,}"
    assert fields["Streams covered"] == f"{TOP:,}"
    assert "shared with at least one other stream" in fields["What duplicates means"]
    assert re.fullmatch(
        rf"the top {TOP:,} · data as of \d{{4}}-\d\d-\d\d \d\d:\d\d UTC · refreshes every 15 min",
        message["embeds"][0]["footer"]["text"],
    )
    assert not message.get("flags", 0) & EPHEMERAL


@pytest.mark.parametrize("source", ["memory", "database"])
async def test_gamestats_for_one_game(discord_fake, twitch_fake, source):
    games = stats.game_stats(current_top(twitch_fake, TOP))
    game = next(g for g in games if g.game_id)
    interaction = await discord_fake.slash(
        "gamestats", {"game": game.label.upper(), "source": source}
    )
    message = await interaction.wait_for_message()

    assert message["embeds"][0]["title"] == game.label
    assert fields_of(message) == {
        "Live streams": f"{game.streams:,}",
        "Highest viewer count": f"{game.max_viewers:,}",
    }


async def test_gamestats_ranks_every_game(discord_fake, twitch_fake):
    games = stats.game_stats(current_top(twitch_fake, TOP))
    interaction = await discord_fake.slash("gamestats")
    message = await interaction.wait_for_message()

    lines = message["embeds"][0]["description"].splitlines()
    assert len(lines) == min(15, len(games))
    first = games[0]
    assert lines[0].startswith(f"`  1.` **{first.label}** — {first.streams} streams")
    assert message["embeds"][0]["author"]["name"].startswith(f"{len(games)} games · page 1/")


async def test_an_unknown_game_gets_a_short_private_answer(discord_fake):
    interaction = await discord_fake.slash("gamestats", {"game": "Definitely Not A Game"})
    message = await interaction.wait_for_message()

    assert message["flags"] & EPHEMERAL
    assert "Definitely Not A Game" in message["content"]
    assert "suggestions" in message["content"]


async def test_autocomplete_suggests_matching_games(discord_fake, twitch_fake):
    games = stats.game_stats(current_top(twitch_fake, TOP))
    interaction = await discord_fake.autocomplete("gamestats", "game", "A")
    response = await interaction.wait_for_response()

    assert response["type"] == 8
    names = [choice["name"] for choice in response["data"]["choices"]]
    assert names == [g.label for g in games if "a" in g.label.casefold()][:25]
    values = [choice["value"] for choice in response["data"]["choices"]]
    assert values == [g.game_id or g.label for g in games if "a" in g.label.casefold()][:25]


@pytest.mark.parametrize("order", ["desc", "asc"])
async def test_top_pages_through_all_ten_pages(discord_fake, twitch_fake, order):
    top = current_top(twitch_fake, TOP)[:100]
    if order == "asc":
        top.reverse()
    interaction = await discord_fake.slash("top", {"order": order})
    message = await interaction.wait_for_message()

    assert disabled(message) == {"⏮️": True, "◀️": True, "page 1/10": True, "▶️": False, "⏭️": False}
    seen = []
    for page in range(10):
        lines = message["embeds"][0]["description"].splitlines()
        assert len(lines) == 10
        for line, stream in zip(lines, top[page * 10 : page * 10 + 10], strict=True):
            assert f"(https://twitch.tv/{stream.user_login})" in line
            assert line.endswith(f"**{stream.viewer_count:,}**")
        seen.extend(lines)
        if page < 9:
            click = await discord_fake.click(message, button_ids(message)["▶️"])
            message = await click.wait_for_message()
            assert button_ids(message)[f"page {page + 2}/10"]
    assert disabled(message)["▶️"] and disabled(message)["⏭️"]
    ranks = [int(line[1:4]) for line in seen]
    assert ranks == (list(range(1, 101)) if order == "desc" else list(range(100, 0, -1)))

    click = await discord_fake.click(message, button_ids(message)["⏮️"])
    message = await click.wait_for_message()
    assert "page 1/10" in button_ids(message)
    click = await discord_fake.click(message, button_ids(message)["⏭️"])
    message = await click.wait_for_message()
    assert "page 10/10" in button_ids(message)


async def test_only_the_invoker_may_turn_pages(discord_fake):
    interaction = await discord_fake.slash("top")
    message = await interaction.wait_for_message()

    click = await discord_fake.click(message, button_ids(message)["▶️"], user_id=OTHER_USER)
    reply = await click.wait_for_message()

    assert reply["flags"] & EPHEMERAL
    assert "Only the person who ran this command" in reply["content"]
    assert "page 1/10" in button_ids(interaction.message())


async def test_buttons_are_disabled_when_the_view_times_out(discord_fake):
    interaction = await discord_fake.slash("top")
    message = await interaction.wait_for_message()
    assert not disabled(message)["▶️"]

    edited = await interaction.wait_for_edit(timeout=10)

    assert all(disabled(edited).values())


async def test_hostile_names_are_rendered_inert(discord_fake):
    interaction = await discord_fake.slash("top")
    message = await interaction.wait_for_message()

    first_line = message["embeds"][0]["description"].splitlines()[0]
    assert "@everyone" not in first_line
    assert "**bold**" not in first_line and "\\*\\*bold\\*\\*" in first_line
    assert "||spoiler||" not in first_line
    assert "[x](https://evil.example)" not in first_line
    match = TOP_LINE.fullmatch(first_line)
    assert match, first_line
    assert all(live_markdown(slot) == [] for slot in match.groups() if slot)
    messages = [r["data"] for r in interaction.responses if r["type"] == 4]
    messages += interaction.followups
    assert messages
    assert all(body["allowed_mentions"] == {"parse": []} for body in messages)


async def test_what_a_user_typed_is_echoed_inert(discord_fake):
    typed = "[a](https://evil.example) **bold** [c](https://evil.example) <#1100000000000000100>"
    interaction = await discord_fake.slash("gamestats", {"game": typed})
    message = await interaction.wait_for_message()

    assert message["flags"] & EPHEMERAL
    sentence = template(r"No live stream in the current top 300 is playing “{}”\. .*")
    match = sentence.fullmatch(message["content"])
    assert match, message["content"]
    assert live_markdown(match[1]) == []
    assert discord_fake.violations == []


async def test_a_game_named_with_200_underscores_gets_its_embed(discord_fake, twitch_fake):
    games = stats.game_stats(current_top(twitch_fake, TOP))
    game = next(g for g in games if g.game_name == UNDERSCORES)
    interaction = await discord_fake.slash("gamestats", {"game": UNDERSCORES})
    message = await interaction.wait_for_message()

    assert not message.get("flags", 0) & EPHEMERAL, message.get("content")
    assert message["embeds"][0]["title"] == "\\_" * 127 + "…"
    assert fields_of(message) == {
        "Live streams": f"{game.streams:,}",
        "Highest viewer count": f"{game.max_viewers:,}",
    }
    assert discord_fake.violations == []


async def test_oversized_names_stay_within_discord_limits(discord_fake):
    top = await discord_fake.slash("top")
    games = await discord_fake.slash("gamestats")
    choices = await discord_fake.autocomplete("gamestats", "game", OVERSIZED[:4])
    suggested = (await choices.wait_for_response())["data"]["choices"]
    one_game = await discord_fake.slash("gamestats", {"game": suggested[0]["value"]})

    for interaction in (top, games, one_game):
        message = await interaction.wait_for_message()
        assert message["embeds"], message
    assert len(suggested) == 5
    assert "…" in (await top.wait_for_message())["embeds"][0]["description"]
    assert await discord_fake.all_violations() == []


async def test_status_reports_the_snapshot_and_the_next_refresh(discord_fake):
    interaction = await discord_fake.slash("status")
    message = await interaction.wait_for_message()

    fields = fields_of(message)
    assert fields["Streams"] == f"the top {TOP:,}"
    assert fields["Snapshot taken"].startswith("<t:")
    assert fields["Next refresh"].startswith("<t:")
    assert fields["Last refresh"].startswith("succeeded")


ONE_CALL = [
    ("streamstats", {}),
    ("streamstats", {"source": "database"}),
    ("gamestats", {}),
    ("top", {"order": "asc"}),
    ("top", {"source": "database"}),
    ("status", {}),
    ("whoami", {}),
]


@pytest.mark.parametrize(("command", "options"), ONE_CALL, ids=lambda v: str(v))
async def test_an_answer_at_hand_is_one_rest_call(discord_fake, command, options):
    await assert_one_call_answer(discord_fake, command, options)


@pytest.mark.parametrize("source", ["memory", "database"])
async def test_hours_counts_streams_by_rounded_start_hour(discord_fake, twitch_fake, source):
    expected = stats.start_hours(current_top(twitch_fake, TOP))
    assert len(expected) > 24  # the fake's streams started over two days: several pages

    interaction = await discord_fake.slash("hours", {"source": source})
    message = await interaction.wait_for_message()
    shown = []
    while True:
        embed = message["embeds"][0]
        for line in embed["description"].splitlines():
            hour = re.fullmatch(r"<t:(\d+):t> · <t:\1:R> — \*\*([\d,]+)\*\* streams?", line)
            assert hour, line
            shown.append((int(hour[1]), int(hour[2].replace(",", ""))))
        if disabled(message)["▶️"]:
            break
        click = await discord_fake.click(message, button_ids(message)["▶️"])
        message = await click.wait_for_message()

    assert shown == [(int(entry.hour.timestamp()), entry.streams) for entry in expected]
    assert embed["author"]["name"].startswith(f"{TOP:,} streams by start time")


async def test_every_interaction_was_answered_in_time(discord_fake):
    assert await discord_fake.all_violations() == []
