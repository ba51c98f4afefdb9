"""What Discord's markdown would act on in a message: the tests' own reading, not the product's.

A stranger's text is inert when every character Discord's markdown gives a meaning to is
preceded by a backslash, every backslash escapes such a character, it holds no line break and
no `@everyone` / `@here`, and - where it starts a line - it does not open a heading, subtext,
block quote or list. `<@id>`, `<@&id>`, `<#id>`, `</cmd:id>` and `<t:…>` all need their `<`.
"""

from __future__ import annotations

import re
import unicodedata

# Escapable: ASCII punctuation (Discord shows `\x` as `x` for these, and a backslash otherwise).
_PUNCTUATION = r"!-/:-@\[-`{-~"
# Markdown anywhere in a line: emphasis, strike-through, code, spoilers, masked links, mentions.
_ANYWHERE = r"\\*_~`|\[\]<"
INERT = rf"(?:\\[{_PUNCTUATION}]|[^{_ANYWHERE}\r\n\u2028\u2029])*"
# At the start of a line: `# h`, `-# small`, `> quote`, `>>> quote`, `- item`, `+ item`, `1. item`.
_LINE_START = re.compile(r"[#>+\-]|[0-9]+\.")
_MENTION = re.compile(r"@(everyone|here)")
_ESCAPE = re.compile(rf"\\([{_PUNCTUATION}])")


def _starts_after(text: str) -> str:
    """`text` from its first character that is not space, zero-width or combining."""
    index = 0
    while index < len(text) and (
        text[index].isspace() or unicodedata.category(text[index]) in {"Cf", "Mn", "Mc", "Me"}
    ):
        index += 1
    return text[index:]


def live_markdown(text: str, *, line_start: bool = False) -> list[str]:
    """Why `text`, placed in a message, would not read as the plain text it was; [] if inert."""
    problems = []
    if not re.fullmatch(INERT, text):
        problems.append("a markdown character without its backslash, or a dangling backslash")
    if line_start and _LINE_START.match(_starts_after(text)):
        problems.append("opens a heading, quote or list")
    if _MENTION.search(text):
        problems.append("mentions everyone")
    return [f"{problem}: {text[:80]!r}" for problem in problems]


def template(pattern: str) -> re.Pattern[str]:
    """A line pattern whose `{}` slots match only inert text (so a match proves the slots inert)."""
    return re.compile(pattern.replace("{}", f"({INERT})"))


def shown(text: str) -> str:
    """What a reader sees of escaped text: each escape's backslash removed."""
    return _ESCAPE.sub(r"\1", text)
