"""Settings: defaults, every variable honoured, every problem named at once, secrets never shown.

The last part runs the real program (`python -m bot` and the `streamstats` script) with bad
settings only, so it stops before connecting anywhere.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import settings_from_env
from bot.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]

DISCORD_TOKEN = "discord-token-Qv7zKx0-do-not-print"
TWITCH_CLIENT_SECRET = "twitch-secret-Hm3pWq9-do-not-print"
SECRET_KEY = "secret-key-Zr4nTy8-do-not-print-0123456789"
SHORT_SECRET_KEY = "short-key-Jb6"
SECRETS = (DISCORD_TOKEN, TWITCH_CLIENT_SECRET, SECRET_KEY, SHORT_SECRET_KEY)

REQUIRED = {
    "DISCORD_TOKEN": DISCORD_TOKEN,
    "TWITCH_CLIENT_ID": "twitch-client-id",
    "TWITCH_CLIENT_SECRET": TWITCH_CLIENT_SECRET,
    "SECRET_KEY": SECRET_KEY,
}

VARIABLES = (
    *REQUIRED,
    "DISCORD_GUILD_ID",
    "DISCORD_API_URL",
    "DISCORD_GATEWAY_URL",
    "TWITCH_API_URL",
    "TWITCH_AUTH_URL",
    "PUBLIC_URL",
    "WEB_HOST",
    "WEB_PORT",
    "DATABASE_URL",
    "CACHE_URL",
    "TOP_STREAMS",
    "TWITCH_RATELIMIT_HEADROOM",
    "REFRESH_MINUTES",
    "HISTORY_DAYS",
    "HISTORY_CHANNELS",
    "LOG_LEVEL",
    "VIEW_TIMEOUT",
    "REQUIRE_LOGIN",
    "SHARD_COUNT",
    "SHARD_IDS",
    "WEB_ENABLED",
)


def named_variables(text: str) -> set[str]:
    """The setting names a message mentions."""
    return {name for name in VARIABLES if re.search(rf"\b{name}\b", text)}


def config_error(env: dict[str, str]) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        settings_from_env(env)
    return caught.value


# --- defaults and explicit values --------------------------------------------------------------


def test_minimal_environment_gives_documented_defaults() -> None:
    settings = settings_from_env(REQUIRED)

    assert settings.discord_token == DISCORD_TOKEN
    assert settings.twitch_client_id == "twitch-client-id"
    assert settings.twitch_client_secret == TWITCH_CLIENT_SECRET
    assert settings.secret_key == SECRET_KEY
    assert settings.discord_guild_id is None
    assert settings.discord_api_url == "https://discord.com/api/v10"
    assert settings.discord_gateway_url == "wss://gateway.discord.gg/"
    assert settings.twitch_api_url == "https://api.twitch.tv/helix"
    assert settings.twitch_auth_url == "https://id.twitch.tv/oauth2"
    assert settings.public_url == "http://localhost:8080"
    assert settings.redirect_uri == "http://localhost:8080/callback"
    assert settings.web_host == "127.0.0.1"
    assert settings.web_port == 8080
    scheme, _, path = settings.database_url.partition("://")
    assert scheme == "sqlite"
    assert path.startswith("data/")
    assert path != "data/"
    assert settings.cache_url == "memory://"
    assert settings.top_streams == 1000
    assert settings.refresh_minutes == 15
    assert settings.history_days == 30
    assert settings.history_channels == 1000
    assert settings.log_level == "INFO"


def test_empty_optional_variables_mean_default() -> None:
    # A copied .env.example leaves DISCORD_GUILD_ID= blank: that means "not set", not an error.
    blank = {name: "" for name in VARIABLES if name not in REQUIRED}
    assert settings_from_env({**blank, **REQUIRED}) == settings_from_env(REQUIRED)


def test_every_variable_is_honoured() -> None:
    settings = settings_from_env(
        {
            **REQUIRED,
            "DISCORD_GUILD_ID": "123456789012345678",
            "DISCORD_API_URL": "http://127.0.0.1:9001/api/v10/",
            "DISCORD_GATEWAY_URL": "ws://127.0.0.1:9002/",
            "TWITCH_API_URL": "http://127.0.0.1:9003/helix/",
            "TWITCH_AUTH_URL": "http://127.0.0.1:9003/oauth2/",
            "PUBLIC_URL": "https://streamstats.example.org/",
            "WEB_HOST": "::1",
            "WEB_PORT": "9090",
            "DATABASE_URL": "postgresql://bot:pw@db.internal:5432/streamstats",
            "CACHE_URL": "redis://cache.internal:6379/2",
            "TOP_STREAMS": "250",
            "REFRESH_MINUTES": "2.5",
            "HISTORY_DAYS": "0",
            "HISTORY_CHANNELS": "250",
            "LOG_LEVEL": "debug",
        }
    )

    assert settings.discord_guild_id == 123456789012345678
    assert settings.discord_api_url == "http://127.0.0.1:9001/api/v10"
    assert settings.discord_gateway_url == "ws://127.0.0.1:9002/"
    assert settings.twitch_api_url == "http://127.0.0.1:9003/helix"
    assert settings.twitch_auth_url == "http://127.0.0.1:9003/oauth2"
    assert settings.public_url == "https://streamstats.example.org"
    assert settings.redirect_uri == "https://streamstats.example.org/callback"
    assert settings.web_host == "::1"
    assert settings.web_port == 9090
    assert settings.database_url == "postgres://bot:pw@db.internal:5432/streamstats"
    assert settings.cache_url == "redis://cache.internal:6379/2"
    assert settings.top_streams == 250
    assert settings.refresh_minutes == 2.5
    assert settings.history_days == 0
    assert settings.history_channels == 250
    assert settings.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("value", "expected"), [("all", None), ("ALL", None), ("500000", 500_000), ("1", 1)]
)
def test_top_streams_is_a_number_or_every_live_stream(value, expected):
    assert settings_from_env({**REQUIRED, "TOP_STREAMS": value}).top_streams == expected


@pytest.mark.parametrize(("value", "expected"), [("10%", 0.10), ("25", 0.25), ("0", 0.0)])
def test_ratelimit_headroom_is_a_percentage(value, expected):
    settings = settings_from_env({**REQUIRED, "TWITCH_RATELIMIT_HEADROOM": value})
    assert settings.ratelimit_headroom == pytest.approx(expected)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("sqlite://:memory:", "sqlite://:memory:"),
        ("sqlite:///var/lib/streamstats/db.sqlite3", "sqlite:///var/lib/streamstats/db.sqlite3"),
        ("postgres://u:p@localhost:5432/s", "postgres://u:p@localhost:5432/s"),
        ("postgresql://u:p@localhost:5432/s", "postgres://u:p@localhost:5432/s"),
    ],
)
def test_database_urls(value: str, expected: str) -> None:
    assert settings_from_env({**REQUIRED, "DATABASE_URL": value}).database_url == expected


def test_values_are_trimmed() -> None:
    settings = settings_from_env(
        {**{k: f"  {v}\t" for k, v in REQUIRED.items()}, "WEB_PORT": " 8081 "}
    )
    assert settings.discord_token == DISCORD_TOKEN
    assert settings.secret_key == SECRET_KEY
    assert settings.web_port == 8081


# --- problems, each naming its variable --------------------------------------------------------


@pytest.mark.parametrize("blank", [None, "", "   "], ids=["absent", "empty", "spaces"])
@pytest.mark.parametrize("name", list(REQUIRED))
def test_missing_required_variable_is_named(name: str, blank: str | None) -> None:
    env = {k: v for k, v in REQUIRED.items() if k != name}
    if blank is not None:
        env[name] = blank

    error = config_error(env)

    assert [named_variables(problem) for problem in error.problems] == [{name}]
    assert "missing" in str(error)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SECRET_KEY", SHORT_SECRET_KEY),
        ("SECRET_KEY", "x" * 31),
        ("WEB_PORT", "abc"),
        ("WEB_PORT", "0"),
        ("WEB_PORT", "70000"),
        ("TOP_STREAMS", "0"),
        ("TOP_STREAMS", "-5"),
        ("TOP_STREAMS", "x"),
        ("TOP_STREAMS", "500001"),
        ("TOP_STREAMS", "every"),
        ("TWITCH_RATELIMIT_HEADROOM", "100%"),
        ("TWITCH_RATELIMIT_HEADROOM", "-1"),
        ("TWITCH_RATELIMIT_HEADROOM", "lots"),
        ("REFRESH_MINUTES", "0"),
        ("REFRESH_MINUTES", "-1"),
        ("REFRESH_MINUTES", "nan"),
        ("REFRESH_MINUTES", "inf"),
        ("REFRESH_MINUTES", "soon"),
        ("HISTORY_DAYS", "-1"),
        ("HISTORY_DAYS", "1.5"),
        ("HISTORY_DAYS", "forever"),
        ("HISTORY_DAYS", "3651"),
        ("HISTORY_CHANNELS", "-1"),
        ("HISTORY_CHANNELS", "100001"),
        ("HISTORY_CHANNELS", "all"),
        ("DISCORD_GUILD_ID", "abc"),
        ("DISCORD_GUILD_ID", "0"),
        ("DISCORD_API_URL", "discord.com/api"),
        ("DISCORD_GATEWAY_URL", "https://gateway.discord.gg/"),
        ("TWITCH_API_URL", "ftp://x"),
        ("TWITCH_API_URL", "not a url"),
        ("TWITCH_AUTH_URL", "https://"),
        ("PUBLIC_URL", "localhost:8080"),
        ("DATABASE_URL", "mysql://x"),
        ("DATABASE_URL", "sqlite://"),
        ("CACHE_URL", "memcached://x"),
        ("LOG_LEVEL", "LOUD"),
        ("REQUIRE_LOGIN", "maybe"),
        ("WEB_ENABLED", "sometimes"),
        ("VIEW_TIMEOUT", "0"),
        ("SHARD_COUNT", "0"),
        ("SHARD_IDS", "0,x"),
    ],
)
def test_invalid_value_is_named(name: str, value: str) -> None:
    error = config_error({**REQUIRED, name: value})

    assert [named_variables(problem) for problem in error.problems] == [{name}]


def test_every_problem_is_reported_at_once() -> None:
    bad = {
        "WEB_PORT": "abc",
        "TOP_STREAMS": "0",
        "REFRESH_MINUTES": "soon",
        "DATABASE_URL": "mysql://x",
        "CACHE_URL": "memcached://x",
        "LOG_LEVEL": "LOUD",
    }
    env = {**REQUIRED, "SECRET_KEY": SHORT_SECRET_KEY, **bad}
    del env["TWITCH_CLIENT_ID"]

    error = config_error(env)

    expected = {*bad, "SECRET_KEY", "TWITCH_CLIENT_ID"}
    assert named_variables(str(error)) == expected
    assert len(error.problems) == len(expected)


# --- secrets -----------------------------------------------------------------------------------


def test_repr_shows_no_secret() -> None:
    settings = settings_from_env(
        {
            **REQUIRED,
            "DATABASE_URL": "postgres://bot:db-password-Kc2@db.internal/streamstats",
            "CACHE_URL": "redis://:redis-password-Lp5@cache.internal:6379/0",
        }
    )
    for shown in (repr(settings), str(settings)):
        for secret in (*SECRETS, "db-password-Kc2", "redis-password-Lp5"):
            assert secret not in shown
    assert "twitch-client-id" in repr(settings)  # not a secret, and useful when debugging


@pytest.mark.parametrize(
    "overrides",
    [
        {"SECRET_KEY": SHORT_SECRET_KEY},
        {"WEB_PORT": "abc", "LOG_LEVEL": "LOUD"},
        {"DATABASE_URL": "mysql://bot:db-password-Kc2@db/streamstats"},
        {"TWITCH_API_URL": f"ftp://{TWITCH_CLIENT_SECRET}@x"},
    ],
)
def test_error_messages_show_no_secret(overrides: dict[str, str]) -> None:
    error = config_error({**REQUIRED, **overrides})

    for text in (str(error), repr(error), *error.problems):
        for secret in (*SECRETS, "db-password-Kc2"):
            assert secret not in text


# --- the real program --------------------------------------------------------------------------

# Even if a configuration were unexpectedly accepted, nothing would leave this machine.
NOWHERE = {
    "DISCORD_API_URL": "http://127.0.0.1:9/api/v10",
    "DISCORD_GATEWAY_URL": "ws://127.0.0.1:9/",
    "TWITCH_API_URL": "http://127.0.0.1:9/helix",
    "TWITCH_AUTH_URL": "http://127.0.0.1:9/oauth2",
}
CONSOLE_SCRIPT = Path(sys.executable).parent / (
    "streamstats.exe" if os.name == "nt" else "streamstats"
)


def run_program(
    command: list[str], cwd: Path, env: dict[str, str], dotenv: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run StreamStats in `cwd` with only `env` (plus PATH and the repo on PYTHONPATH)."""
    if dotenv is not None:
        lines = [f"{name}={value}" for name, value in dotenv.items()]
        (cwd / ".env").write_text("\n".join(lines) + "\n", encoding="utf-8")
    clean = {
        "PATH": os.environ.get("PATH", os.defpath),
        "PYTHONPATH": str(REPO_ROOT),
        **NOWHERE,
        **env,
    }
    return subprocess.run(  # noqa: S603 - our own interpreter and script, fixed arguments
        command, cwd=cwd, env=clean, capture_output=True, text=True, timeout=60, check=False
    )


def assert_refused(result: subprocess.CompletedProcess[str], names: set[str]) -> None:
    """Exit code 2, one line per bad variable, no traceback, no secret."""
    assert result.returncode == 2, result.stderr
    assert named_variables(result.stderr) == names, result.stderr
    assert "Traceback" not in result.stderr
    for secret in SECRETS:
        assert secret not in result.stderr
        assert secret not in result.stdout


def test_program_names_every_bad_variable(tmp_path: Path) -> None:
    env = {
        "DISCORD_TOKEN": DISCORD_TOKEN,
        "TWITCH_CLIENT_SECRET": TWITCH_CLIENT_SECRET,
        "SECRET_KEY": SHORT_SECRET_KEY,
        "WEB_PORT": "70000",
        "REFRESH_MINUTES": "nan",
    }

    result = run_program([sys.executable, "-m", "bot"], tmp_path, env)

    assert_refused(result, {"TWITCH_CLIENT_ID", "SECRET_KEY", "WEB_PORT", "REFRESH_MINUTES"})
    assert not (tmp_path / "data").exists()  # stopped before opening the database


def test_program_reads_dotenv_in_working_directory(tmp_path: Path) -> None:
    result = run_program(
        [sys.executable, "-m", "bot"], tmp_path, {}, dotenv={**REQUIRED, "WEB_PORT": "abc"}
    )

    assert_refused(result, {"WEB_PORT"})


def test_program_environment_wins_over_dotenv(tmp_path: Path) -> None:
    # The environment repairs WEB_PORT and breaks TOP_STREAMS: only TOP_STREAMS is reported.
    dotenv = {**REQUIRED, "WEB_PORT": "abc", "TOP_STREAMS": "5"}
    env = {"WEB_PORT": "8081", "TOP_STREAMS": "0"}

    result = run_program([sys.executable, "-m", "bot"], tmp_path, env, dotenv=dotenv)

    assert_refused(result, {"TOP_STREAMS"})


def test_console_script_refuses_bad_settings(tmp_path: Path) -> None:
    assert CONSOLE_SCRIPT.exists(), f"{CONSOLE_SCRIPT} missing: run pip install -e ."

    result = run_program(
        [str(CONSOLE_SCRIPT)], tmp_path, {}, dotenv={**REQUIRED, "LOG_LEVEL": "LOUD"}
    )

    assert_refused(result, {"LOG_LEVEL"})


@pytest.mark.parametrize(
    ("shards", "problem"),
    [
        ({"SHARD_IDS": "0"}, "SHARD_IDS is set without SHARD_COUNT"),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "1,2"}, "every id must be below SHARD_COUNT (2)"),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "1,1"}, "SHARD_IDS is invalid"),
    ],
)
def test_shard_settings_must_fit_together(shards: dict[str, str], problem: str) -> None:
    error = config_error({**REQUIRED, **shards})
    assert any(problem in line for line in error.problems), error.problems


def test_scale_out_settings() -> None:
    settings = settings_from_env(
        {**REQUIRED, "SHARD_COUNT": "3", "SHARD_IDS": "1, 2", "WEB_ENABLED": "false",
         "REQUIRE_LOGIN": "no", "VIEW_TIMEOUT": "30"}
    )  # fmt: skip
    assert (settings.shard_count, settings.shard_ids) == (3, (1, 2))
    assert not settings.syncs_commands  # shard 0 lives in another process
    assert not settings.web_enabled
    assert not settings.require_login
    assert settings.view_timeout == 30
    defaults = settings_from_env(REQUIRED)
    assert (defaults.shard_count, defaults.shard_ids, defaults.web_enabled) == (None, None, True)
    assert defaults.syncs_commands and defaults.require_login and defaults.view_timeout == 180


def test_env_example_documents_every_setting_and_nothing_else() -> None:
    example = Path(__file__).resolve().parents[2] / ".env.example"
    names = {
        line.split("=", 1)[0]
        for line in example.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    }
    assert names == set(VARIABLES)
