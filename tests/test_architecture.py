"""Keeps ARCHITECTURE.md's "Who may import whom" true by reading every module's imports."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
PROJECT = ("bot", "cogs", "db", "web_callback")
FRAMEWORKS = ("discord", "aiohttp", "tortoise", "aiocache", "redis")


@dataclass(frozen=True)
class Rule:
    """What a module may import.

    `may`: the project modules it may import (`"db"` covers `db.*`; `"bot.*"` every bot module).
    `type_only`: project modules it may import only under `if TYPE_CHECKING:`.
    `never`: modules, ours or third-party, it must not import even where `may` would allow it.
    Third-party modules not in `never` are allowed.
    """

    may: tuple[str, ...] = ()
    type_only: tuple[str, ...] = ()
    never: tuple[str, ...] = ()


LEAF = Rule(never=FRAMEWORKS)

RULES: dict[str, Rule] = {
    # leaves: nothing of ours but other leaves; no framework (bot.config reads .env with dotenv)
    "bot": LEAF,
    "bot.errors": LEAF,
    "bot.streams": LEAF,
    "bot.stats": Rule(may=("bot.streams",), never=FRAMEWORKS),
    "bot.following": Rule(may=("bot.streams", "bot.stats"), never=FRAMEWORKS),
    "bot.trends": Rule(may=("bot.streams", "bot.stats"), never=FRAMEWORKS),
    "bot.config": Rule(may=("bot.errors",), never=FRAMEWORKS),
    "bot.digest": Rule(may=("bot.stats", "bot.streams", "bot.trends"), never=FRAMEWORKS),
    # charts: plain data in, PNG out (matplotlib only); drawn in a worker process
    "bot.charts": Rule(never=(*FRAMEWORKS, "db", "bot.*")),
    "bot.rendering": Rule(may=("bot.charts",), never=(*FRAMEWORKS, "db")),
    # adapters
    "db.*": Rule(
        may=("db", "bot.stats", "bot.streams", "bot.trends", "bot.errors", "bot.digest"),
        never=("discord", "aiohttp"),
    ),
    "bot.twitch": Rule(may=("bot.config", "bot.errors", "bot.streams"), never=("discord",)),
    "bot.twitch_oauth": Rule(
        may=("bot.config", "bot.errors", "bot.streams", "bot.twitch"), never=("discord", "db")
    ),
    "bot.tokens": Rule(may=("bot.config", "bot.errors"), never=("discord", "aiohttp", "db")),
    "bot.crypto": Rule(may=("bot.errors",), never=("discord", "aiohttp", "db")),
    # services
    "bot.health": Rule(
        may=("db", "bot.supervisor", "bot.stats", "bot.tokens"), never=("discord", "aiohttp")
    ),
    "bot.payloads": Rule(
        may=("bot.stats", "bot.following", "bot.streams", "bot.trends"),
        never=("discord", "aiohttp", "db"),
    ),
    # history: /trends and /channel over the stored history, per snapshot
    "bot.history": Rule(
        may=("bot.cache", "bot.errors", "bot.stats", "bot.streams", "bot.trends", "db"),
        never=("discord", "aiohttp"),
    ),
    "bot.cache": Rule(
        may=("db", "bot.stats", "bot.following", "bot.streams", "bot.errors"),
        never=("discord", "aiohttp"),
    ),
    "bot.refresh": Rule(
        may=("bot.twitch", "db", "bot.cache", "bot.stats", "bot.streams", "bot.errors"),
        never=("discord",),
    ),
    "bot.accounts": Rule(
        may=("bot.crypto", "bot.errors", "bot.tokens", "bot.twitch_oauth", "db"),
        never=("discord", "aiohttp"),
    ),
    # personal statistics: the user's own Twitch call, cached, compared with the snapshot
    "bot.personal": Rule(
        may=(
            *("bot.accounts", "bot.cache", "bot.errors", "bot.following", "bot.stats"),
            *("bot.streams", "bot.twitch_oauth", "db.accounts"),
        ),
        never=("discord", "aiohttp"),
    ),
    # digests: settings, and the due ones posted (with their chart) by the refreshing process
    "bot.digest_service": Rule(
        may=(
            *("bot.cache", "bot.digest", "bot.digest_embeds", "bot.stats", "bot.tokens"),
            *("bot.charts", "bot.rendering", "bot.replies", "bot.trends", "db"),
        ),
        never=("aiohttp",),
    ),
    # the charts of the statistics answers: which figures, under which snapshot's key
    "bot.stat_charts": Rule(
        may=("bot.charts", "bot.rendering", "bot.cache", "bot.stats"),
        never=("discord", "aiohttp", "db"),
    ),
    # the charts of /trends and /channel: which figures, under which snapshot's key
    "bot.trend_charts": Rule(
        may=(
            *("bot.charts", "bot.rendering", "bot.history", "bot.stats", "bot.trends"),
            "bot.trend_embeds",
        ),
        never=("discord", "aiohttp", "db"),
    ),
    # background loops: supervised without knowing discord (web_callback reads their status)
    "bot.supervisor": Rule(never=("discord", "db", "aiohttp", "bot.*")),
    # slash commands published only when changed (a digest kept in the database)
    "bot.command_sync": Rule(may=("db",), never=("aiohttp",)),
    # web UI: HTML pages for web_callback
    "bot.pages": Rule(never=("discord", "db", "bot.*")),
    # Discord UI
    "bot.embeds": Rule(
        may=("bot.stats", "bot.following", "bot.streams", "bot.errors"), never=("db", "aiohttp")
    ),
    "bot.trend_embeds": Rule(
        may=("bot.embeds", "bot.stats", "bot.trends"), never=("db", "aiohttp")
    ),
    "bot.digest_embeds": Rule(
        may=("bot.digest", "bot.embeds", "bot.stats", "bot.streams"), never=("db", "aiohttp")
    ),
    "bot.views": Rule(never=("db", "aiohttp", "bot.*")),
    "bot.replies": Rule(may=("bot.errors", "bot.charts"), never=("db", "aiohttp")),
    "bot.paginator": Rule(
        may=("bot.embeds", "bot.replies", "bot.stats", "bot.streams", "bot.errors", "bot.charts"),
        never=("db", "aiohttp"),
    ),
    "bot.client": Rule(
        type_only=("db.leader",),
        may=(
            *("bot.accounts", "bot.cache", "bot.refresh", "bot.config", "bot.supervisor"),
            "bot.personal",
            "bot.history",
            "bot.digest_service",
            "bot.command_sync",
            "bot.rendering",
            *("bot.embeds", "bot.paginator", "bot.views", "bot.replies", "bot.stats"),
            "bot.streams",
            "bot.errors",
        ),
    ),
    "cogs.*": Rule(
        may=("bot.*",),
        type_only=("bot.client",),
        never=("bot.__main__", "bot.app", "bot.cli", "cogs", "db", "aiohttp", "web_callback"),
    ),
    # roots
    "web_callback": Rule(
        may=("bot.*", "db"),
        never=(
            *("discord", "cogs", "bot.client", "bot.embeds", "bot.paginator"),
            *("bot.__main__", "bot.app", "bot.cli"),
        ),
    ),
    "bot.app": Rule(may=("*",)),  # the composition root
    "bot.cli": Rule(may=("*",), never=("cogs",)),
    "bot.__main__": Rule(may=("bot.cli",)),
}


def matches(module: str, pattern: str) -> bool:
    """`"*"` matches all, `"bot.*"` every module under bot, `"db"` db and every module under it."""
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return module.startswith(pattern[:-1])
    return module == pattern or module.startswith(pattern + ".")


def rule_for(module: str) -> Rule | None:
    if module in RULES:
        return RULES[module]
    package = module.partition(".")[0]
    return RULES.get(f"{package}.*")


def is_project_module(module: str) -> bool:
    parts = module.split(".")
    if parts[0] not in PROJECT:
        return False
    path = REPO_ROOT.joinpath(*parts)
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


@dataclass(frozen=True)
class Import:
    module: str
    line: int
    type_only: bool


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def read_imports(module: str, source: str, *, is_package: bool = False) -> list[Import]:
    """Every module `source` imports, anywhere in the file, marked if under TYPE_CHECKING."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[Import] = []

    def visit(node: ast.AST, type_only: bool) -> None:
        if isinstance(node, ast.If) and is_type_checking(node.test):
            for child in node.body:
                visit(child, True)
            for child in node.orelse:
                visit(child, type_only)
            return
        if isinstance(node, ast.Import):
            found.extend(Import(alias.name, node.lineno, type_only) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(filter(None, [*parts, base]))
            for alias in node.names:
                # `from bot import stats` imports the module bot.stats, not just the package.
                candidate = f"{base}.{alias.name}"
                name = candidate if is_project_module(candidate) else base
                found.append(Import(name, node.lineno, type_only))
        for child in ast.iter_child_nodes(node):
            visit(child, type_only)

    visit(ast.parse(source), False)
    return found


def violations(module: str, source: str, *, is_package: bool = False) -> list[str]:
    rule = rule_for(module)
    if rule is None:
        return [f"{module} has no row in the import table: add one (see ARCHITECTURE.md)"]
    problems = []
    for imported in read_imports(module, source, is_package=is_package):
        name, where = imported.module, f"line {imported.line}"
        if name == module or name.startswith("__future__"):
            continue
        if any(matches(name, pattern) for pattern in rule.never):
            problems.append(f"{module} imports {name}, which the architecture forbids ({where})")
        elif any(matches(name, pattern) for pattern in rule.type_only):
            if not imported.type_only:
                problems.append(
                    f"{module} imports {name} outside `if TYPE_CHECKING:`, which the "
                    f"architecture forbids ({where})"
                )
        elif is_project_module(name) and not any(matches(name, p) for p in rule.may):
            problems.append(f"{module} imports {name}, which the architecture forbids ({where})")
    return problems


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULE_FILES = sorted(
    [
        *REPO_ROOT.glob("bot/*.py"),
        *REPO_ROOT.glob("cogs/*.py"),
        *REPO_ROOT.glob("db/*.py"),
        REPO_ROOT / "web_callback.py",
    ]
)


@pytest.mark.parametrize("path", MODULE_FILES, ids=module_name)
def test_module_imports_follow_the_architecture(path: Path) -> None:
    module = module_name(path)
    problems = violations(
        module, path.read_text(encoding="utf-8"), is_package=path.name == "__init__.py"
    )
    assert not problems, "\n".join(problems)


# The checker itself: a forbidden import must fail, or the table above proves nothing.
@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("bot.twitch", "import discord", "bot.twitch imports discord, which the architecture"),
        ("bot.stats", "from db import queries", "bot.stats imports db.queries, which"),
        ("db.queries", "from aiohttp import web", "db.queries imports aiohttp, which"),
        ("bot.cache", "def f():\n    import bot.twitch", "bot.cache imports bot.twitch, which"),
        ("cogs.stats", "from bot.client import StreamStatsBot", "outside `if TYPE_CHECKING:`"),
        ("cogs.stats", "from db.queries import top", "cogs.stats imports db.queries, which"),
        ("web_callback", "import discord.ui", "web_callback imports discord.ui, which"),
        ("web_callback", "from cogs import refresh", "web_callback imports cogs.refresh, which"),
        ("bot.newthing", "", "bot.newthing has no row in the import table"),
    ],
)
def test_checker_catches_forbidden_imports(module: str, source: str, expected: str) -> None:
    problems = violations(module, source)
    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize(
    ("module", "source"),
    [
        (
            "cogs.stats",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from bot.client import Bot",
        ),
        ("db.models", "from . import queries\nfrom bot.streams import Stream"),
        ("bot.app", "import discord\nimport web_callback\nfrom cogs import refresh"),
    ],
)
def test_checker_allows_permitted_imports(module: str, source: str) -> None:
    assert violations(module, source) == []
