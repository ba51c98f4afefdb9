"""The operator commands, run as an operator would: the `streamstats` script against the fakes."""

from __future__ import annotations

import asyncio
import io
import json
import re
import sys
from pathlib import Path

import pytest

from bot import stats
from bot.cli import ProgressBar, build_parser
from bot.twitch import WalkProgress
from tests.e2e.harness import REPO, bot_environment, current_top
from tests.fakes.discord import FakeDiscord
from tests.fakes.twitch import FakeTwitch, random_streams

TOP = 120


async def streamstats(env: dict[str, str], folder: Path, *args: str) -> tuple[int, str, str]:
    """Run `python -m bot ARGS` (what the `streamstats` script runs) in `folder`."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=folder,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode, out.decode(), err.decode()


@pytest.fixture
async def fakes():
    async with FakeDiscord() as discord_fake, FakeTwitch(streams=random_streams(300)) as twitch:
        yield discord_fake, twitch


@pytest.fixture
def full_env(fakes, tmp_path) -> dict[str, str]:
    return bot_environment(*fakes, tmp_path, TOP_STREAMS=str(TOP))


@pytest.fixture
def twitch_only_env(full_env) -> dict[str, str]:
    """Someone with only Twitch credentials: no Discord token, no SECRET_KEY."""
    env = dict(full_env)
    for name in ("DISCORD_TOKEN", "DISCORD_API_URL", "DISCORD_GATEWAY_URL", "SECRET_KEY"):
        env.pop(name)
    return env


async def test_help_names_every_command(tmp_path):
    code, out, _ = await streamstats({"PATH": "", "PYTHONPATH": str(REPO)}, tmp_path, "--help")

    assert code == 0
    for command in ("check", "refresh", "stats"):
        assert command in out


async def test_twitch_credentials_alone_refresh_and_show_the_numbers(
    twitch_only_env, fakes, tmp_path
):
    twitch = fakes[1]
    code, out, err = await streamstats(twitch_only_env, tmp_path, "refresh", "--once")
    assert code == 0, err
    assert out.startswith(f"refresh ok: snapshot 1, {TOP:,} streams, ")
    assert out.count("\n") == 1
    progress = err.strip().splitlines()[-1]  # not a terminal: a line at each tenth
    assert re.match(rf"\[#{{30}}\] 100%  \d+ pages, {TOP:,} streams, \d+ seen twice", progress)

    code, table, err = await streamstats(twitch_only_env, tmp_path, "stats")
    assert code == 0, err
    expected = stats.stream_summary(current_top(twitch, TOP))
    assert f"{TOP:,} live streams (memory engine)" in table
    median = f"{expected.median:,.1f}".removesuffix(".0")
    assert re.search(rf"^median viewers +{re.escape(median)}$", table, re.MULTILINE)
    assert re.search(rf"^duplicates +{expected.duplicates:,}$", table, re.MULTILINE)
    top = current_top(twitch, TOP)[0]
    assert f"   1  {top.user_name[:30]:<30}" in table

    outputs = []
    for source in ("memory", "database"):
        code, out, err = await streamstats(
            twitch_only_env, tmp_path, "stats", "--json", "--source", source
        )
        assert code == 0, err
        document = json.loads(out)
        assert document["source"] == source
        outputs.append({key: value for key, value in document.items() if key != "source"})
    assert outputs[0] == outputs[1]  # both engines, the same figures
    assert outputs[0]["streams"]["duplicates"] == expected.duplicates
    assert outputs[0]["top"][0]["user_login"] == top.user_login


async def test_stats_before_any_refresh_says_what_to_do(twitch_only_env, tmp_path):
    code, out, err = await streamstats(twitch_only_env, tmp_path, "stats")

    assert code == 1
    assert out == ""
    assert "No snapshot yet: run `streamstats refresh --once`" in err


async def test_a_failed_refresh_says_why_and_exits_1(twitch_only_env, fakes, tmp_path):
    fakes[1].fail_next(*[503] * 10)
    code, out, _ = await streamstats(twitch_only_env, tmp_path, "refresh", "--once")

    assert code == 1
    assert out.strip() == "refresh failed, keeping the previous snapshot: Twitch did not answer"


async def test_refresh_without_once_and_missing_credentials_are_refused(twitch_only_env, tmp_path):
    code, _, err = await streamstats(twitch_only_env, tmp_path, "refresh")
    assert code == 2
    assert "refresh needs --once" in err

    env = {k: v for k, v in twitch_only_env.items() if k != "TWITCH_CLIENT_SECRET"}
    code, _, err = await streamstats(env, tmp_path, "refresh", "--once")
    assert code == 2
    assert "TWITCH_CLIENT_SECRET is missing" in err
    assert "DISCORD_TOKEN" not in err
    assert "Traceback" not in err


async def test_check_reports_every_dependency_ok(full_env, tmp_path):
    code, out, err = await streamstats(full_env, tmp_path, "check")

    assert code == 0, out + err
    assert out.splitlines() == [
        "settings  ok",
        "database  ok",
        "cache     ok",
        "twitch    ok",
        "discord   ok",
    ]


async def test_check_names_what_fails_in_plain_words(full_env, fakes, tmp_path):
    fakes[1].client_secret = "rotated"
    env = {
        **full_env,
        "DISCORD_TOKEN": "not-the-bot-token",
        "CACHE_URL": "redis://127.0.0.1:9/0",
        "SECRET_KEY": "short",
    }
    code, out, err = await streamstats(env, tmp_path, "check")

    assert code == 1
    lines = dict(line.split(maxsplit=1) for line in out.splitlines())
    assert lines["settings"].startswith("failed: SECRET_KEY is too short")
    assert lines["database"] == "ok"
    assert lines["cache"].startswith("failed: ")
    assert lines["twitch"] == "failed: Twitch refused the app credentials"
    assert lines["discord"] == "failed: Discord refused DISCORD_TOKEN"
    assert "Traceback" not in err
    assert "not-the-bot-token" not in out + err


def test_every_command_in_the_readme_is_one_the_program_accepts():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    shown = [
        line.split("#")[0].split()[1:]
        for line in readme.splitlines()
        if line.startswith(".venv/bin/streamstats")
    ]
    assert len(shown) >= 4
    for args in shown:
        if args == ["--help"]:
            continue
        parsed = build_parser().parse_args(args)
        assert parsed.command in {"check", "refresh", "stats"}, args


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_redraws_one_line_on_a_terminal():
    screen = Terminal()
    bar = ProgressBar(screen)
    for pages in range(1, 5):
        bar(WalkProgress(pages, pages * 100, 0, 800 - pages), 400)
    bar.close()

    frames = screen.getvalue().split("\r")[1:]
    assert len(frames) == 4 and screen.getvalue().endswith("\n")
    assert frames[0].startswith(f"[{'#' * 8}{'.' * 22}]  25%  1 pages, 100 streams")
    assert frames[-1].startswith(f"[{'#' * 30}] 100%  4 pages, 400 streams, 0 seen twice")


def test_a_first_walk_of_everything_shows_what_it_knows():
    log = io.StringIO()
    bar = ProgressBar(log)
    for pages in range(1, 251):
        bar(WalkProgress(pages, pages * 100, 1, None), None)

    lines = log.getvalue().splitlines()
    assert [line.split("?  ", 1)[1] for line in lines] == ["1 pages, 100 streams, 1 seen twice, "
        "rate budget left ?", "100 pages, 10,000 streams, 1 seen twice, rate budget left ?",
        "200 pages, 20,000 streams, 1 seen twice, rate budget left ?"]  # fmt: skip
    assert all(line.startswith(f"[{'.' * 30}]    ?") for line in lines)
