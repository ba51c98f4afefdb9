"""A fake Discord (REST API v10 + gateway websocket) for tests, served by one local aiohttp server.

This module owns everything a test needs to run the *real* discord.py 2.7 client (in-process
or as a ``python -m bot`` subprocess) against a Discord that lives on ``127.0.0.1``:

* the REST routes discord.py calls to log in and to answer interactions (``/users/@me``,
  ``/oauth2/applications/@me``, ``/gateway``, ``/gateway/bot``, command sync, interaction
  callbacks, interaction webhooks, channel messages);
* a gateway websocket (HELLO, IDENTIFY → READY + GUILD_CREATE, heartbeats, RESUME,
  RECONNECT, several shards at once, ``zlib-stream`` compression when asked for);
* a test-side driver that dispatches slash commands, autocomplete requests and button clicks
  (``INTERACTION_CREATE``) and records everything the bot did with each one
  (:class:`Interaction`);
* Discord's rules that discord.py does not check itself: the 3 s deadline for the first
  callback, single acknowledgement, message/embed/component/choice limits, command-sync
  limits.  A broken rule is answered like Discord answers it (400 ``Invalid Form Body``
  50035, 404 ``Unknown interaction`` 10062, 400 40060 ...) *and* written to
  :attr:`FakeDiscord.violations`, so a test can ``assert fake.violations == []``.

Everything is driven over the network; the fake never touches the bot's objects.  Point
discord.py at it with :func:`patched_discord` (in-process) or with the bot's
``DISCORD_API_URL`` / ``DISCORD_GATEWAY_URL`` settings set to :attr:`FakeDiscord.api_url` and
:attr:`FakeDiscord.gateway_url` (subprocess).

Every JSON answer carries exactly ``Content-Type: application/json``: discord.py only parses a
body as JSON when the header is exactly that.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import secrets
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import yarl
from aiohttp import WSMsgType, web

from tests.fakes import LoopbackServer

JSON = dict[str, Any]
T = TypeVar("T")

API_VERSION = 10
API_PREFIX = f"/api/v{API_VERSION}"
GATEWAY_PATH = "/gateway"
DISCORD_EPOCH_MS = 1_420_070_400_000

DEFAULT_TOKEN = "fake-bot-token"
DEFAULT_APPLICATION_ID = 1_100_000_000_000_000_001
DEFAULT_BOT_USER_ID = 1_100_000_000_000_000_002
DEFAULT_GUILD_ID = 1_100_000_000_000_000_100
DEFAULT_CHANNEL_ID = 1_100_000_000_000_000_200
DEFAULT_USER_ID = 1_100_000_000_000_000_300
DEFAULT_OWNER_ID = 1_100_000_000_000_000_400

# Permission bits (https://discord.com/developers/docs/topics/permissions).
_ADD_REACTIONS = 1 << 6
_VIEW_CHANNEL = 1 << 10
_SEND_MESSAGES = 1 << 11
_EMBED_LINKS = 1 << 14
_ATTACH_FILES = 1 << 15
_READ_MESSAGE_HISTORY = 1 << 16
_USE_EXTERNAL_EMOJIS = 1 << 18
_USE_APPLICATION_COMMANDS = 1 << 31
_SEND_MESSAGES_IN_THREADS = 1 << 38
DEFAULT_MEMBER_PERMISSIONS = (
    _ADD_REACTIONS
    | _VIEW_CHANNEL
    | _SEND_MESSAGES
    | _EMBED_LINKS
    | _ATTACH_FILES
    | _READ_MESSAGE_HISTORY
    | _USE_EXTERNAL_EMOJIS
    | _USE_APPLICATION_COMMANDS
    | _SEND_MESSAGES_IN_THREADS
)
DEFAULT_BOT_PERMISSIONS = DEFAULT_MEMBER_PERMISSIONS
ADMINISTRATOR = 1 << 3

ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024  # a bot's default upload limit per file
ATTACHMENT_DESCRIPTION_LIMIT = 1024
ATTACHMENT_FILENAME_LIMIT = 1024
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_FILE_PART = re.compile(r"^files\[(\d+)\]$")
_ATTACHMENT_URL = "attachment://"

# Message flags.
EPHEMERAL = 1 << 6
LOADING = 1 << 7
SUPPRESS_EMBEDS = 1 << 2
IS_COMPONENTS_V2 = 1 << 15
SUPPRESS_NOTIFICATIONS = 1 << 12
_CREATE_FLAGS = EPHEMERAL | SUPPRESS_EMBEDS | SUPPRESS_NOTIFICATIONS | IS_COMPONENTS_V2

# Interaction types and callback types.
APPLICATION_COMMAND = 2
MESSAGE_COMPONENT = 3
APPLICATION_COMMAND_AUTOCOMPLETE = 4
CALLBACK_MESSAGE = 4
CALLBACK_DEFERRED_MESSAGE = 5
CALLBACK_DEFERRED_UPDATE = 6
CALLBACK_UPDATE_MESSAGE = 7
CALLBACK_AUTOCOMPLETE = 8
CALLBACK_MODAL = 9
_ALLOWED_CALLBACKS: dict[int, frozenset[int]] = {
    APPLICATION_COMMAND: frozenset({CALLBACK_MESSAGE, CALLBACK_DEFERRED_MESSAGE, CALLBACK_MODAL}),
    MESSAGE_COMPONENT: frozenset(
        {
            CALLBACK_MESSAGE,
            CALLBACK_DEFERRED_MESSAGE,
            CALLBACK_DEFERRED_UPDATE,
            CALLBACK_UPDATE_MESSAGE,
            CALLBACK_MODAL,
        }
    ),
    APPLICATION_COMMAND_AUTOCOMPLETE: frozenset({CALLBACK_AUTOCOMPLETE}),
}

# Gateway opcodes.
OP_DISPATCH = 0
OP_HEARTBEAT = 1
OP_IDENTIFY = 2
OP_PRESENCE_UPDATE = 3
OP_RESUME = 6
OP_RECONNECT = 7
OP_REQUEST_GUILD_MEMBERS = 8
OP_INVALID_SESSION = 9
OP_HELLO = 10
OP_HEARTBEAT_ACK = 11

# Component types.
_ACTION_ROW = 1
_BUTTON = 2
_SELECT_TYPES = frozenset({3, 5, 6, 7, 8})
_LINK_BUTTON = 5
_PREMIUM_BUTTON = 6
_V2_TOP_LEVEL = frozenset({1, 9, 10, 12, 13, 14, 17})

# Application command option types.
_SUB_COMMAND = 1
_SUB_COMMAND_GROUP = 2
_STRING, _INTEGER, _BOOLEAN, _USER, _CHANNEL, _ROLE, _MENTIONABLE, _NUMBER, _ATTACHMENT = (
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
    11,
)

_BODY = web.RequestKey("fake_discord_body", object)
_FILES = web.RequestKey("fake_discord_files", list)

_COMMAND_NAME_RE = re.compile(r"^[-_'\w]{1,32}$")


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


_BOUNDARY = re.compile(r'boundary="?([^";]+)"?')
_DISPOSITION_PARAM = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def _form_parts(body: bytes, boundary: str) -> Iterator[tuple[dict[str, str], bytes]]:
    """The parts of a multipart/form-data body: (headers, lower-cased names; content).

    A plain reading of RFC 7578, enough for what discord.py sends; aiohttp's own parser
    costs more than a whole answer of the bot, which would blur every latency measured.
    """
    delimiter = b"\r\n--" + boundary.encode()
    for chunk in (b"\r\n" + body).split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            return  # the closing delimiter
        head, _, content = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        yield headers, content


def png_dimensions(data: bytes) -> tuple[int, int] | None:
    """(width, height) read from a PNG's IHDR chunk, or None if `data` is no PNG."""
    if len(data) < 24 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return None
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@dataclass
class Upload:
    """One file part of a multipart request, as received."""

    part: str
    filename: str | None
    content: bytes
    content_type: str


def _bad_filename(filename: object) -> str | None:
    """Why Discord would not accept `filename` for an attachment, or None."""
    if not isinstance(filename, str) or not filename.strip(" ."):
        return "a file needs a name"
    if len(filename) > ATTACHMENT_FILENAME_LIMIT:
        return f"file name longer than {ATTACHMENT_FILENAME_LIMIT} characters"
    if re.search(r"[\x00-\x1f/\\]", filename):
        return f"file name {filename!r} holds a path separator or a control character"
    return None


def _show_attachments(message: JSON) -> None:
    """Point every `attachment://name` of the embeds at that attachment, as Discord does."""
    urls = {a["filename"]: a["url"] for a in message["attachments"]}
    for (index, key, attr), name in _attachment_references(message["embeds"]):
        if name in urls:
            message["embeds"][index][key] = {**message["embeds"][index][key], attr: urls[name]}


def _attachment_references(embeds: object) -> list[tuple[tuple[str | int, ...], str]]:
    """Every `attachment://name` an embed list points at, with where it stands."""
    found: list[tuple[tuple[str | int, ...], str]] = []
    for index, embed in enumerate(embeds if isinstance(embeds, list) else []):
        if not isinstance(embed, Mapping):
            continue
        for key, attr in (("image", "url"), ("thumbnail", "url"), ("footer", "icon_url")):
            media = embed.get(key)
            url = media.get(attr) if isinstance(media, Mapping) else None
            if isinstance(url, str) and url.startswith(_ATTACHMENT_URL):
                found.append(((index, key, attr), url[len(_ATTACHMENT_URL) :]))
        author = embed.get("author")
        icon = author.get("icon_url") if isinstance(author, Mapping) else None
        if isinstance(icon, str) and icon.startswith(_ATTACHMENT_URL):
            found.append(((index, "author", "icon_url"), icon[len(_ATTACHMENT_URL) :]))
    return found


def _json_response(
    data: object, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """Answer with a JSON body and exactly ``Content-Type: application/json``."""
    return web.Response(
        status=status,
        body=json.dumps(data).encode(),
        headers={**(headers or {}), "Content-Type": "application/json"},
    )


def _error(status: int, message: str, code: int) -> web.Response:
    return _json_response({"message": message, "code": code}, status=status)


class _Signal:
    """Wakes every waiter whenever something changed; waiters re-check their condition."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def wait_for(self, predicate: Callable[[], T | None], timeout: float, what: str) -> T:
        try:
            async with asyncio.timeout(timeout):
                while True:
                    result = predicate()
                    if result is not None:
                        return result
                    await self._event.wait()
        except TimeoutError:
            raise TimeoutError(f"fake Discord: {what} within {timeout} s") from None


class _Snowflakes:
    """Unique, realistic snowflakes (timestamp in the high bits, so ``created_at`` works)."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def next(self) -> int:
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return (ms << 22) | (next(self._counter) & 0x3FFFFF)


# --------------------------------------------------------------------------------------------
# Validation of Discord's limits
# --------------------------------------------------------------------------------------------


class _FormErrors:
    """Collects errors in Discord's ``Invalid Form Body`` shape."""

    def __init__(self) -> None:
        self.items: list[tuple[tuple[str | int, ...], str, str]] = []

    def __bool__(self) -> bool:
        return bool(self.items)

    def add(self, path: tuple[str | int, ...], code: str, message: str) -> None:
        self.items.append((path, code, message))

    def max_length(self, path: tuple[str | int, ...], value: object, limit: int) -> None:
        if isinstance(value, str) and len(value) > limit:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    def length_between(
        self, path: tuple[str | int, ...], value: object, low: int, high: int
    ) -> None:
        if value is None or (isinstance(value, str | list) and not low <= len(value) <= high):
            self.add(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")

    def tree(self) -> JSON:
        root: JSON = {}
        for path, code, message in self.items:
            node = root
            for part in path:
                node = node.setdefault(str(part), {})
            node.setdefault("_errors", []).append({"code": code, "message": message})
        return root

    def lines(self) -> list[str]:
        return [
            f"{'.'.join(map(str, path)) or '<body>'}: {message}" for path, _, message in self.items
        ]


def _embed_text(embed: Mapping[str, Any]) -> int:
    total = len(embed.get("title") or "") + len(embed.get("description") or "")
    total += len((embed.get("footer") or {}).get("text") or "")
    total += len((embed.get("author") or {}).get("name") or "")
    for fld in embed.get("fields") or []:
        if isinstance(fld, Mapping):
            total += len(fld.get("name") or "") + len(fld.get("value") or "")
    return total


def _check_url(
    errors: _FormErrors, path: tuple[str | int, ...], url: object, *, attachment_ok: bool
) -> None:
    if url is None:
        return
    if not isinstance(url, str) or "://" not in url:
        errors.add(path, "URL_TYPE_INVALID_URL", "Not a well formed URL.")
        return
    scheme = url.split("://", 1)[0].lower()
    allowed = ("http", "https", "attachment") if attachment_ok else ("http", "https")
    if scheme not in allowed:
        errors.add(
            path,
            "URL_TYPE_INVALID_SCHEME",
            f'Scheme "{scheme}" is not supported. Scheme must be one of {allowed}.',
        )
    errors.max_length(path, url, 2048)


def _validate_embeds(errors: _FormErrors, embeds: object, path: tuple[str | int, ...]) -> None:
    if not isinstance(embeds, list):
        errors.add(path, "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
        return
    if len(embeds) > 10:
        errors.add(path, "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    total = 0
    for index, embed in enumerate(embeds):
        here = (*path, index)
        if not isinstance(embed, Mapping):
            errors.add(here, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
            continue
        total += _embed_text(embed)
        errors.max_length((*here, "title"), embed.get("title"), 256)
        errors.max_length((*here, "description"), embed.get("description"), 4096)
        _check_url(errors, (*here, "url"), embed.get("url"), attachment_ok=False)
        color = embed.get("color")
        if isinstance(color, int) and not 0 <= color <= 0xFFFFFF:
            errors.add((*here, "color"), "NUMBER_TYPE_MAX", "int value should be <= 16777215.")
        for key in ("image", "thumbnail"):
            media = embed.get(key)
            if isinstance(media, Mapping):
                _check_url(errors, (*here, key, "url"), media.get("url"), attachment_ok=True)
        footer = embed.get("footer")
        if isinstance(footer, Mapping):
            errors.max_length((*here, "footer", "text"), footer.get("text"), 2048)
            _check_url(
                errors, (*here, "footer", "icon_url"), footer.get("icon_url"), attachment_ok=True
            )
        author = embed.get("author")
        if isinstance(author, Mapping):
            errors.max_length((*here, "author", "name"), author.get("name"), 256)
            _check_url(errors, (*here, "author", "url"), author.get("url"), attachment_ok=False)
            _check_url(
                errors, (*here, "author", "icon_url"), author.get("icon_url"), attachment_ok=True
            )
        fields = embed.get("fields") or []
        if len(fields) > 25:
            errors.add((*here, "fields"), "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        for fi, fld in enumerate(fields):
            fpath = (*here, "fields", fi)
            if not isinstance(fld, Mapping):
                errors.add(
                    fpath, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType"
                )
                continue
            errors.length_between((*fpath, "name"), fld.get("name"), 1, 256)
            errors.length_between((*fpath, "value"), fld.get("value"), 1, 1024)
    if total > 6000:
        errors.add(path, "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")


def _validate_interactive(
    errors: _FormErrors, comp: Mapping[str, Any], path: tuple[str | int, ...], seen: set[str]
) -> None:
    ctype = comp.get("type")
    custom_id = comp.get("custom_id")
    if ctype == _BUTTON:
        style = comp.get("style")
        errors.max_length((*path, "label"), comp.get("label"), 80)
        if style == _LINK_BUTTON:
            if not comp.get("url"):
                errors.add((*path, "url"), "BASE_TYPE_REQUIRED", "This field is required")
            if custom_id is not None:
                errors.add(
                    (*path, "custom_id"),
                    "BUTTON_COMPONENT_CUSTOM_ID_NOT_ALLOWED",
                    "A custom id cannot be specified for link buttons",
                )
            return
        if style == _PREMIUM_BUTTON:
            return
        if not comp.get("label") and not comp.get("emoji"):
            errors.add(path, "BUTTON_COMPONENT_MISSING_LABEL", "A label or an emoji is required")
    elif ctype in _SELECT_TYPES:
        errors.max_length((*path, "placeholder"), comp.get("placeholder"), 150)
        for key, low, high in (("min_values", 0, 25), ("max_values", 1, 25)):
            value = comp.get(key)
            if isinstance(value, int) and not low <= value <= high:
                errors.add(
                    (*path, key),
                    "NUMBER_TYPE_MAX",
                    f"int value should be between {low} and {high}.",
                )
        if ctype == 3:
            options = comp.get("options")
            errors.length_between((*path, "options"), options, 1, 25)
            for oi, opt in enumerate(options or []):
                opath = (*path, "options", oi)
                errors.length_between((*opath, "label"), opt.get("label"), 1, 100)
                errors.length_between((*opath, "value"), opt.get("value"), 1, 100)
                errors.max_length((*opath, "description"), opt.get("description"), 100)
    else:
        errors.add(
            (*path, "type"),
            "UNION_TYPE_CHOICES",
            f"Value of field 'type' must be one of (2, 3, 5, 6, 7, 8), got {ctype!r}.",
        )
        return
    errors.length_between((*path, "custom_id"), custom_id, 1, 100)
    if isinstance(custom_id, str):
        if custom_id in seen:
            errors.add(
                (*path, "custom_id"),
                "COMPONENT_CUSTOM_ID_DUPLICATED",
                "Component custom id cannot be duplicated",
            )
        seen.add(custom_id)


def _validate_row(
    errors: _FormErrors, row: Mapping[str, Any], path: tuple[str | int, ...], seen: set[str]
) -> None:
    children = row.get("components")
    errors.length_between((*path, "components"), children, 1, 5)
    children = children if isinstance(children, list) else []
    if any(c.get("type") in _SELECT_TYPES for c in children) and len(children) > 1:
        errors.add(
            (*path, "components"),
            "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
            "The specified component exceeds the maximum width",
        )
    for index, child in enumerate(children):
        _validate_interactive(errors, child, (*path, "components", index), seen)


def _count_components(components: Sequence[Mapping[str, Any]]) -> tuple[int, int]:
    """Return (number of components incl. nested, characters in text displays)."""
    count = chars = 0
    for comp in components:
        count += 1
        if comp.get("type") == 10:
            chars += len(comp.get("content") or "")
        nested = list(comp.get("components") or [])
        if isinstance(comp.get("accessory"), Mapping):
            nested.append(comp["accessory"])
        sub_count, sub_chars = _count_components(nested)
        count += sub_count
        chars += sub_chars
    return count, chars


def _validate_v2(
    errors: _FormErrors, comps: Sequence[Any], path: tuple[str | int, ...], seen: set[str]
) -> None:
    for index, comp in enumerate(comps):
        here = (*path, index)
        ctype = comp.get("type")
        if ctype == _ACTION_ROW:
            _validate_row(errors, comp, here, seen)
        elif ctype == 17:  # container
            _validate_v2(errors, comp.get("components") or [], (*here, "components"), seen)
        elif ctype == 9:  # section
            accessory = comp.get("accessory")
            if isinstance(accessory, Mapping) and accessory.get("type") == _BUTTON:
                _validate_interactive(errors, accessory, (*here, "accessory"), seen)


def _validate_components(
    errors: _FormErrors, components: object, path: tuple[str | int, ...], *, v2: bool
) -> None:
    if not isinstance(components, list):
        errors.add(path, "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
        return
    seen: set[str] = set()
    if v2:
        count, chars = _count_components(components)
        if count > 40:
            errors.add(path, "BASE_TYPE_MAX_LENGTH", "Must be 40 or fewer in length.")
        if chars > 4000:
            errors.add(
                path,
                "MAX_TEXT_DISPLAY_CONTENT_LENGTH",
                "Text display content exceeds 4000 characters",
            )
        for index, comp in enumerate(components):
            if comp.get("type") not in _V2_TOP_LEVEL:
                errors.add(
                    (*path, index, "type"),
                    "UNION_TYPE_CHOICES",
                    "Invalid top-level component type.",
                )
        _validate_v2(errors, components, path, seen)
        return
    if len(components) > 5:
        errors.add(path, "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
    for index, row in enumerate(components):
        here = (*path, index)
        if not isinstance(row, Mapping) or row.get("type") != _ACTION_ROW:
            errors.add(
                (*here, "type"),
                "UNION_TYPE_CHOICES",
                "Value of field 'type' must be one of (1,) without the IS_COMPONENTS_V2 flag.",
            )
            continue
        _validate_row(errors, row, here, seen)


def _validate_message(
    errors: _FormErrors, body: Mapping[str, Any], path: tuple[str | int, ...], flags: int
) -> None:
    """Validate a message body (create or edit) against Discord's limits."""
    content = body.get("content")
    if content is not None and not isinstance(content, str):
        errors.add(
            (*path, "content"), "STRING_TYPE_CONVERT", "Could not interpret value as string."
        )
    errors.max_length((*path, "content"), content, 2000)
    v2 = bool(flags & IS_COMPONENTS_V2)
    if body.get("embeds") is not None:
        _validate_embeds(errors, body["embeds"], (*path, "embeds"))
        if v2 and body["embeds"]:
            errors.add(
                (*path, "embeds"),
                "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
                "The 'embeds' field cannot be used when using MessageFlags.IS_COMPONENTS_V2",
            )
    if v2 and content:
        errors.add(
            (*path, "content"),
            "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
            "The 'content' field cannot be used when using MessageFlags.IS_COMPONENTS_V2",
        )
    if body.get("components") is not None:
        _validate_components(errors, body["components"], (*path, "components"), v2=v2)


def _is_empty_message(body: Mapping[str, Any], files: int) -> bool:
    return not (
        body.get("content")
        or body.get("embeds")
        or body.get("components")
        or body.get("sticker_ids")
        or body.get("poll")
        or files
    )


def _validate_choices(errors: _FormErrors, choices: object, path: tuple[str | int, ...]) -> None:
    if not isinstance(choices, list):
        errors.add(path, "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
        return
    if len(choices) > 25:
        errors.add(path, "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    for index, choice in enumerate(choices):
        here = (*path, index)
        if not isinstance(choice, Mapping):
            errors.add(here, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
            continue
        errors.length_between((*here, "name"), choice.get("name"), 1, 100)
        value = choice.get("value")
        if isinstance(value, str):
            errors.length_between((*here, "value"), value, 1, 100)
        elif not isinstance(value, int | float) or isinstance(value, bool):
            errors.add((*here, "value"), "BASE_TYPE_REQUIRED", "This field is required")


def message_violations(body: Mapping[str, Any], flags: int = 0) -> list[str]:
    """What Discord would reject in a message body (content, embeds, components), one per line.

    The same rules the fake applies to every message the bot sends, for tests of pure renderers.
    """
    errors = _FormErrors()
    _validate_message(errors, body, (), flags)
    return errors.lines()


def choice_violations(choices: object) -> list[str]:
    """What Discord would reject in an autocomplete answer's choices, one per line."""
    errors = _FormErrors()
    _validate_choices(errors, choices, ("choices",))
    return errors.lines()


def _validate_option_list(errors: _FormErrors, options: object, path: tuple[str | int, ...]) -> int:
    """Validate command options; return their character count."""
    if not isinstance(options, list):
        errors.add(path, "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
        return 0
    if len(options) > 25:
        errors.add(path, "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    chars = 0
    seen_optional = False
    names: set[str] = set()
    for index, opt in enumerate(options):
        here = (*path, index)
        name = opt.get("name")
        if not isinstance(name, str) or not _COMMAND_NAME_RE.match(name) or name != name.lower():
            errors.add(
                (*here, "name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid"
            )
        elif name in names:
            errors.add(
                (*here, "name"),
                "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS",
                "Option name already exists",
            )
        names.add(str(name))
        errors.length_between((*here, "description"), opt.get("description"), 1, 100)
        chars += len(str(name)) + len(opt.get("description") or "")
        if opt.get("type") in (_SUB_COMMAND, _SUB_COMMAND_GROUP):
            chars += _validate_option_list(errors, opt.get("options") or [], (*here, "options"))
            continue
        if opt.get("required"):
            if seen_optional:
                errors.add(
                    (*here, "required"),
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
        else:
            seen_optional = True
        choices = opt.get("choices")
        if choices:
            _validate_choices(errors, choices, (*here, "choices"))
            chars += sum(
                len(str(c.get("name", ""))) + len(str(c.get("value", ""))) for c in choices
            )
            if opt.get("autocomplete"):
                errors.add(
                    (*here, "autocomplete"),
                    "APPLICATION_COMMAND_OPTION_CHOICES_AND_AUTOCOMPLETE",
                    "Autocomplete cannot be set if choices are present.",
                )
    return chars


def _validate_commands(errors: _FormErrors, payload: object) -> None:
    if not isinstance(payload, list):
        errors.add((), "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
        return
    if len(payload) > 100:
        errors.add((), "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")
    seen: set[tuple[int, str]] = set()
    for index, cmd in enumerate(payload):
        here: tuple[str | int, ...] = (index,)
        if not isinstance(cmd, Mapping):
            errors.add(here, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
            continue
        ctype = cmd.get("type", 1)
        name = cmd.get("name")
        if ctype == 1:
            if (
                not isinstance(name, str)
                or not _COMMAND_NAME_RE.match(name)
                or name != name.lower()
            ):
                errors.add(
                    (*here, "name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid"
                )
            errors.length_between((*here, "description"), cmd.get("description"), 1, 100)
        else:
            errors.length_between((*here, "name"), name, 1, 32)
        key = (int(ctype), str(name))
        if key in seen:
            errors.add(
                (*here, "name"),
                "APPLICATION_COMMANDS_DUPLICATE_NAME",
                f"Application command names must be unique: {name}",
            )
        seen.add(key)
        chars = len(str(name)) + len(cmd.get("description") or "")
        chars += _validate_option_list(errors, cmd.get("options") or [], (*here, "options"))
        if chars > 4000:
            errors.add(here, "APPLICATION_COMMAND_TOO_LARGE", "Command exceeds maximum size (4000)")


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


class Interaction:
    """One dispatched interaction and everything the bot did with it.

    ``responses`` holds the bodies POSTed to ``/interactions/{id}/{token}/callback`` (only the
    accepted ones), ``followups`` the bodies POSTed to ``/webhooks/{app}/{token}``, ``edits`` the
    bodies PATCHed to ``/webhooks/{app}/{token}/messages/{@original|id}`` and ``deletions`` the
    ids of messages deleted through the token.
    """

    def __init__(
        self,
        fake: FakeDiscord,
        *,
        id: int,
        token: str,
        type: int,
        name: str,
        user_id: int,
        guild_id: int,
        channel_id: int,
        payload: JSON,
        source_message_id: int | None = None,
    ) -> None:
        self.id = id
        self.token = token
        self.type = type
        self.name = name
        self.user_id = user_id
        self.guild_id = guild_id
        self.channel_id = channel_id
        self.payload = payload
        self.shard_id: int | None = None
        self.responses: list[JSON] = []
        self.followups: list[JSON] = []
        self.edits: list[JSON] = []
        self.deletions: list[int] = []
        self.dispatched_at: float | None = None
        self.answered_after: float | None = None  # seconds from dispatch to the first callback
        self.original_message_id: int | None = None
        self.source_message_id = source_message_id
        self.message_ids: list[int] = []  # every message created through this token
        self._fake = fake
        self._visible: list[JSON] = []
        self._edited: list[JSON] = []
        self._signal = _Signal()

    def __repr__(self) -> str:
        return (
            f"<fake Interaction id={self.id} type={self.type} name={self.name!r}"
            f" responses={len(self.responses)}>"
        )

    @property
    def acknowledged(self) -> bool:
        """Whether a callback was accepted."""
        return bool(self.responses)

    def rest_calls(self) -> list[tuple[str, str]]:
        """Every REST request the bot made with this interaction's token: (method, path)."""
        return [(method, path) for method, path, _ in self._fake.requests if self.token in path]

    async def wait_for_response(self, timeout: float = 3.0) -> JSON:
        """Return the first accepted callback body; ``TimeoutError`` if none arrives in time."""
        return await self._signal.wait_for(
            lambda: self.responses[0] if self.responses else None,
            timeout,
            f"{self._what()} got no interaction callback",
        )

    async def wait_for_message(self, timeout: float = 5.0) -> JSON:
        """Return the first message the user could see, as Discord would return it.

        That is the type-4 callback's message, the component message after a type-7 update,
        or, after a deferral, the first follow-up or edit of ``@original``.
        """
        return await self._signal.wait_for(
            lambda: self._visible[0] if self._visible else None,
            timeout,
            f"{self._what()} showed no message",
        )

    async def wait_for_edit(self, timeout: float = 5.0, *, since: int | None = None) -> JSON:
        """Return the message as it was after the next PATCH recorded after this call started.

        ``since`` is an index into :attr:`edits` to wait from instead (e.g. ``len(ia.edits)``
        taken before the action that triggers the edit).
        """
        start = len(self._edited) if since is None else since
        return await self._signal.wait_for(
            lambda: self._edited[start] if len(self._edited) > start else None,
            timeout,
            f"{self._what()} got no edit",
        )

    def message(self) -> JSON:
        """The interaction's original message now (after edits), as Discord would return it."""
        if self.original_message_id is None:
            raise LookupError(f"{self._what()} has no original message")
        msg = self._fake.messages.get(self.original_message_id)
        if msg is None:
            raise LookupError(f"{self._what()}: the original message was deleted")
        return json.loads(json.dumps(msg))

    def _what(self) -> str:
        return f"interaction {self.id} ({self.name!r})"

    def _notify(self) -> None:
        self._signal.notify()


@dataclass
class _Guild:
    id: int
    name: str
    channel_ids: list[int]
    owner_id: int
    role_ids: list[int] = field(default_factory=list)


@dataclass
class _Session:
    session_id: str
    shard_id: int
    shard_count: int
    seq: int = 0


class _GatewayConnection:
    """One websocket connection from the bot (one shard)."""

    def __init__(self, ws: web.WebSocketResponse, *, compress: bool) -> None:
        self.ws = ws
        self.compressor = zlib.compressobj() if compress else None
        self.session: _Session | None = None
        self.send_lock = asyncio.Lock()
        self.heartbeats = 0

    @property
    def shard_id(self) -> int | None:
        return None if self.session is None else self.session.shard_id

    async def send(self, payload: JSON) -> None:
        raw = json.dumps(payload)
        async with self.send_lock:
            if self.ws.closed:
                raise ConnectionResetError("gateway connection is closed")
            if self.compressor is None:
                await self.ws.send_str(raw)
            else:
                data = self.compressor.compress(raw.encode()) + self.compressor.flush(
                    zlib.Z_SYNC_FLUSH
                )
                await self.ws.send_bytes(data)

    async def dispatch(self, event: str, data: JSON) -> None:
        assert self.session is not None
        self.session.seq += 1
        await self.send({"op": OP_DISPATCH, "t": event, "s": self.session.seq, "d": data})


@dataclass
class _InjectedError:
    method: str
    pattern: re.Pattern[str]
    status: int
    body: JSON
    times: int
    retry_after: float | None


# --------------------------------------------------------------------------------------------
# The fake
# --------------------------------------------------------------------------------------------


class FakeDiscord(LoopbackServer):
    """A fake Discord REST API + gateway on ``127.0.0.1`` for the real discord.py client.

    Attributes a test reads:

    * ``api_url`` / ``gateway_url`` - what to point discord.py at (see :func:`patched_discord`);
    * ``requests`` - every REST request: ``(method, path below /api/v10, JSON body or None)``;
    * ``violations`` - every broken Discord rule (limits, late or double callbacks, interactions
      never answered within the deadline, invalid callback types ...); assert it is empty;
    * ``unhandled`` - REST requests the fake has no route for (answered 404 like Discord);
    * ``commands`` / ``synced_guild_ids`` - what the bot synced;
    * ``interactions`` - every dispatched :class:`Interaction` by id;
    * ``messages`` - every live message by id (interaction responses, follow-ups, channel posts);
    * ``channel_messages`` - messages POSTed to ``/channels/{id}/messages``, in order;
    * ``denied_channels`` - channels the bot may not post in (set by the test: 403, 50013);
    * ``identifies`` / ``resumes`` / ``presences`` - gateway traffic from the bot.
    """

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        application_id: int = DEFAULT_APPLICATION_ID,
        bot_user_id: int = DEFAULT_BOT_USER_ID,
        guild_id: int = DEFAULT_GUILD_ID,
        channel_id: int = DEFAULT_CHANNEL_ID,
        owner_id: int = DEFAULT_OWNER_ID,
        bot_name: str = "StreamStats",
        application_flags: int = 0,
        recommended_shards: int = 1,
        heartbeat_interval_ms: int = 41_250,
        interaction_deadline: float = 3.0,
        token_lifetime: float = 15 * 60.0,
        bot_permissions: int = DEFAULT_BOT_PERMISSIONS,
    ) -> None:
        self.token = token
        self.application_id = application_id
        self.bot_user_id = bot_user_id
        self.guild_id = guild_id
        self.channel_id = channel_id
        self.owner_id = owner_id
        self.bot_name = bot_name
        self.application_flags = application_flags
        self.recommended_shards = recommended_shards
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.interaction_deadline = interaction_deadline
        self.token_lifetime = token_lifetime
        self.bot_permissions = bot_permissions

        self.requests: list[tuple[str, str, object]] = []
        self.violations: list[str] = []
        self.unhandled: list[str] = []
        self.commands: dict[str, JSON] = {}
        self.synced_guild_ids: list[int | None] = []
        self.interactions: dict[int, Interaction] = {}
        self.messages: dict[int, JSON] = {}
        self.channel_messages: list[JSON] = []
        self.denied_channels: set[int] = set()
        self.identifies: list[JSON] = []
        self.resumes = 0
        self.presences: list[JSON] = []
        self.users: dict[int, JSON] = {}
        self.uploads: dict[str, bytes] = {}  # attachment id -> the bytes uploaded

        self._ids = _Snowflakes()
        self._guilds: dict[int, _Guild] = {}
        self._channels: dict[int, JSON] = {}
        self._roles: dict[int, JSON] = {}
        self._command_scopes: dict[int | None, dict[tuple[int, str], JSON]] = {}
        self._command_ids: dict[tuple[int | None, int, str], int] = {}
        self._by_token: dict[str, Interaction] = {}
        self._connections: list[_GatewayConnection] = []
        self._sessions: dict[str, _Session] = {}
        self._injected: list[_InjectedError] = []
        self._timers: list[asyncio.TimerHandle] = []
        self._signal = _Signal()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._closing = False

        self.users[bot_user_id] = {
            "id": str(bot_user_id),
            "username": bot_name,
            "discriminator": "6789",
            "global_name": None,
            "avatar": None,
            "bot": True,
            "public_flags": 0,
        }
        self.users[owner_id] = self._make_user(owner_id, "owner")
        self.add_guild(guild_id, name="StreamStats Test Guild", channel_id=channel_id)

    # ---- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the server on an ephemeral port of 127.0.0.1."""
        if self._runner is not None:
            return
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        self._add_routes(app)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        self._port = int(runner.addresses[0][1])

    async def close(self) -> None:
        """Close every gateway connection and stop the server."""
        self._closing = True
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        for conn in list(self._connections):
            with contextlib.suppress(Exception):
                await conn.ws.close(code=1001, message=b"fake Discord shutting down")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeDiscord is not started")
        return self._port

    @property
    def api_url(self) -> str:
        """Base URL for ``discord.http.Route.BASE`` / ``DISCORD_API_URL``."""
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        """Gateway URL for ``DiscordWebSocket.DEFAULT_GATEWAY`` / ``DISCORD_GATEWAY_URL``."""
        return f"ws://127.0.0.1:{self.port}{GATEWAY_PATH}"

    # ---- world setup ------------------------------------------------------------------------

    def add_guild(
        self, guild_id: int, *, name: str = "Guild", channel_id: int | None = None
    ) -> None:
        """Add a guild with one text channel (``#general``).

        Before the bot identifies, the guild simply is in READY/GUILD_CREATE of its shard;
        call :meth:`announce_guild` afterwards to send it to a running bot.
        """
        channel_id = channel_id if channel_id is not None else self._ids.next()
        guild = _Guild(id=guild_id, name=name, channel_ids=[], owner_id=self.owner_id)
        self._guilds[guild_id] = guild
        self.add_channel(guild_id, name="general", channel_id=channel_id)
        everyone = {
            "id": str(guild_id),
            "name": "@everyone",
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": 0,
            "permissions": str(DEFAULT_MEMBER_PERMISSIONS),
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }
        bot_role_id = self._ids.next()
        bot_role = {
            **everyone,
            "id": str(bot_role_id),
            "name": self.bot_name,
            "position": 1,
            "permissions": str(self.bot_permissions),
            "managed": True,
            "tags": {"bot_id": str(self.bot_user_id)},
        }
        self._roles[guild_id] = everyone
        self._roles[bot_role_id] = bot_role
        guild.role_ids = [guild_id, bot_role_id]

    def add_channel(
        self, guild_id: int, *, name: str = "general", channel_id: int | None = None
    ) -> int:
        """Add a text channel to a guild; its id. The guild's first channel is where commands
        are run; a channel added after the bot identified is known to it only by its id."""
        channel_id = channel_id if channel_id is not None else self._ids.next()
        self._guilds[guild_id].channel_ids.append(channel_id)
        self._channels[channel_id] = {
            "id": str(channel_id),
            "type": 0,
            "guild_id": str(guild_id),
            "name": name,
            "position": len(self._guilds[guild_id].channel_ids) - 1,
            "permission_overwrites": [],
            "parent_id": None,
            "nsfw": False,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": 0,
        }
        return channel_id

    def delete_channel(self, channel_id: int) -> None:
        """Delete a channel: posting there answers 404 Unknown Channel (10003) from now on."""
        del self._channels[channel_id]
        for guild in self._guilds.values():
            if channel_id in guild.channel_ids:
                guild.channel_ids.remove(channel_id)

    async def announce_guild(self, guild_id: int) -> None:
        """Send GUILD_CREATE for ``guild_id`` to the shard that owns it (the bot joined it)."""
        conn = await self._connection_for(guild_id, timeout=10)
        await conn.dispatch("GUILD_CREATE", self._guild_create(self._guilds[guild_id]))

    def user(self, user_id: int) -> JSON:
        """The user object for ``user_id`` (made up on first use)."""
        if user_id not in self.users:
            self.users[user_id] = self._make_user(user_id, f"user{user_id % 100_000}")
        return self.users[user_id]

    def inject_error(
        self,
        method: str,
        path_pattern: str,
        *,
        status: int,
        body: JSON | None = None,
        times: int = 1,
        retry_after: float | None = None,
    ) -> None:
        """Answer the next ``times`` requests matching ``method`` and the regex ``path_pattern``
        (searched in the path below ``/api/v10``) with ``status``.

        A 429 gets Discord's rate-limit body and headers, including ``Via`` (without it
        discord.py treats a 429 as a Cloudflare ban).
        """
        if body is None:
            if status == 429:
                body = {
                    "message": "You are being rate limited.",
                    "retry_after": retry_after or 0.05,
                    "global": False,
                    "code": 0,
                }
            else:
                body = {"message": f"{status}: injected error", "code": 0}
        self._injected.append(
            _InjectedError(
                method.upper(), re.compile(path_pattern), status, body, times, retry_after
            )
        )

    # ---- waiting ----------------------------------------------------------------------------

    async def wait_until_identified(self, timeout: float = 10, *, shards: int = 1) -> None:
        """Wait until ``shards`` connections sent IDENTIFY and got READY + their GUILD_CREATEs."""
        await self._signal.wait_for(
            lambda: True if len(self._identified()) >= shards else None,
            timeout,
            f"{shards} gateway connection(s) did not identify",
        )

    async def wait_for_commands(
        self, timeout: float = 10, *, names: Sequence[str] = ()
    ) -> dict[str, JSON]:
        """Wait for a command sync (and for every name in ``names``); return :attr:`commands`."""
        await self._signal.wait_for(
            lambda: (
                True if self.synced_guild_ids and all(n in self.commands for n in names) else None
            ),
            timeout,
            f"no command sync{' with ' + ', '.join(names) if names else ''}",
        )
        return self.commands

    async def wait_for_channel_message(
        self, timeout: float = 5.0, *, since: int | None = None
    ) -> JSON:
        """Return the next message POSTed to a channel after this call started (or ``since``)."""
        start = len(self.channel_messages) if since is None else since
        return await self._signal.wait_for(
            lambda: self.channel_messages[start] if len(self.channel_messages) > start else None,
            timeout,
            "no channel message",
        )

    async def all_violations(self) -> list[str]:
        """`violations`, once every interaction dispatched so far was answered or its 3-second
        deadline check has run: read right away, an interaction still waiting is not in it yet."""
        loop = asyncio.get_running_loop()
        waiting = [i.dispatched_at for i in self.interactions.values() if not i.acknowledged]
        if waiting:
            last_check = max(t for t in waiting if t is not None) + self.interaction_deadline
            await asyncio.sleep(max(0.0, last_check + 0.1 - loop.time()))
        return self.violations

    # ---- driving interactions -----------------------------------------------------------------

    async def slash(
        self,
        name: str,
        options: Mapping[str, object] | None = None,
        *,
        user_id: int = DEFAULT_USER_ID,
        subcommand: str | None = None,
        guild_id: int | None = None,
        permissions: int = DEFAULT_MEMBER_PERMISSIONS,
    ) -> Interaction:
        """Dispatch a slash command (INTERACTION_CREATE type 2) as ``user_id`` would run it.

        ``options`` maps option names to values; types come from the synced definition
        (users/roles/channels by id, attachments as a filename).  ``subcommand`` is
        ``"sub"`` or ``"group sub"``.  A value the Discord client would not let the user
        enter (unknown option, missing required option, not a choice, out of range) raises
        ``ValueError``.
        """
        guild_id = self.guild_id if guild_id is None else guild_id
        cmd = self._find_command(name, guild_id)
        resolved: JSON = {}
        defs, wrap = self._descend(cmd, subcommand)
        opts = self._build_options(
            cmd["name"], defs, options or {}, resolved, guild_id, focused=None
        )
        data: JSON = {"id": cmd["id"], "name": cmd["name"], "type": 1, "options": wrap(opts)}
        if cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        if resolved:
            data["resolved"] = resolved
        label = f"/{name}" + (f" {subcommand}" if subcommand else "")
        return await self._dispatch_interaction(
            APPLICATION_COMMAND,
            data,
            name=label,
            user_id=user_id,
            guild_id=guild_id,
            permissions=permissions,
        )

    async def autocomplete(
        self,
        name: str,
        option: str,
        value: str,
        other_options: Mapping[str, object] | None = None,
        *,
        user_id: int = DEFAULT_USER_ID,
        subcommand: str | None = None,
        guild_id: int | None = None,
        permissions: int = DEFAULT_MEMBER_PERMISSIONS,
    ) -> Interaction:
        """Dispatch an autocomplete request (type 4): ``option`` focused, typed ``value``."""
        guild_id = self.guild_id if guild_id is None else guild_id
        cmd = self._find_command(name, guild_id)
        defs, wrap = self._descend(cmd, subcommand)
        by_name = {d["name"]: d for d in defs}
        focused_def = by_name.get(option)
        if focused_def is None:
            raise ValueError(f"/{name} has no option {option!r} (options: {sorted(by_name)})")
        if not focused_def.get("autocomplete"):
            raise ValueError(f"/{name} option {option!r} has no autocomplete")
        resolved: JSON = {}
        opts = self._build_options(
            cmd["name"], defs, other_options or {}, resolved, guild_id, focused=option
        )
        opts.append({"name": option, "type": focused_def["type"], "value": value, "focused": True})
        data: JSON = {"id": cmd["id"], "name": cmd["name"], "type": 1, "options": wrap(opts)}
        if cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        if resolved:
            data["resolved"] = resolved
        return await self._dispatch_interaction(
            APPLICATION_COMMAND_AUTOCOMPLETE,
            data,
            name=f"/{name} autocomplete {option}",
            user_id=user_id,
            guild_id=guild_id,
            permissions=permissions,
        )

    async def click(
        self,
        message: Mapping[str, Any],
        custom_id: str,
        *,
        user_id: int = DEFAULT_USER_ID,
        values: Sequence[str] | None = None,
        permissions: int = DEFAULT_MEMBER_PERMISSIONS,
    ) -> Interaction:
        """Click the component ``custom_id`` of a message the bot sent (type 3).

        The message as it is *now* (after edits) is used; for a select menu pass ``values``.
        A missing or disabled component raises ``ValueError`` (a user cannot click it).
        """
        message_id = int(message["id"])
        current = self.messages.get(message_id)
        if current is None:
            raise ValueError(f"message {message_id} does not exist (deleted or never sent)")
        comp = _find_component(current.get("components") or [], custom_id)
        if comp is None:
            raise ValueError(f"message {message_id} has no component {custom_id!r}")
        if comp.get("disabled"):
            raise ValueError(f"component {custom_id!r} is disabled")
        data: JSON = {"custom_id": custom_id, "component_type": comp["type"]}
        if comp["type"] in _SELECT_TYPES:
            data["values"] = list(values or [])
        channel_id = int(current["channel_id"])
        guild_id = (
            int(self._channels[channel_id]["guild_id"])
            if channel_id in self._channels
            else self.guild_id
        )
        return await self._dispatch_interaction(
            MESSAGE_COMPONENT,
            data,
            name=custom_id,
            user_id=user_id,
            guild_id=guild_id,
            channel_id=channel_id,
            permissions=permissions,
            message=json.loads(json.dumps(current)),
        )

    async def dispatch(self, event: str, data: JSON, *, guild_id: int | None = None) -> None:
        """Send any gateway event to the shard owning ``guild_id`` (default guild if None)."""
        conn = await self._connection_for(
            self.guild_id if guild_id is None else guild_id, timeout=10
        )
        await conn.dispatch(event, data)

    async def reconnect(self, shard_id: int | None = None, timeout: float = 10) -> None:
        """Send RECONNECT (op 7) to a shard and wait until it RESUMEd (or re-identified)."""
        conns = self._identified()
        conn = next((c for c in conns if shard_id is None or c.shard_id == shard_id), None)
        if conn is None:
            raise RuntimeError(f"no identified gateway connection for shard {shard_id}")
        before = self.resumes + len(self.identifies)
        await conn.send({"op": OP_RECONNECT, "d": None})
        await self._signal.wait_for(
            lambda: True if self.resumes + len(self.identifies) > before else None,
            timeout,
            "the bot did not resume after RECONNECT",
        )

    # ---- internals: model -------------------------------------------------------------------

    def _make_user(self, user_id: int, username: str) -> JSON:
        return {
            "id": str(user_id),
            "username": username,
            "discriminator": "0",
            "global_name": username.title(),
            "avatar": None,
            "bot": False,
            "public_flags": 0,
        }

    def _bot_user(self) -> JSON:
        return self.users[self.bot_user_id]

    def _member(
        self, user_id: int, guild_id: int, *, with_user: bool = True, permissions: int | None = None
    ) -> JSON:
        roles = (
            [str(r) for r in self._guilds[guild_id].role_ids[1:]]
            if user_id == self.bot_user_id
            else []
        )
        member: JSON = {
            "roles": roles,
            "nick": None,
            "avatar": None,
            "banner": None,
            "joined_at": "2024-01-01T00:00:00+00:00",
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "communication_disabled_until": None,
        }
        if with_user:
            member["user"] = self.user(user_id)
        if permissions is not None:
            member["permissions"] = str(permissions)
        return member

    def _guild_create(self, guild: _Guild) -> JSON:
        members = [self._member(self.bot_user_id, guild.id)]
        if guild.owner_id != self.bot_user_id:
            members.append(self._member(guild.owner_id, guild.id))
        return {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(guild.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "features": [],
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "system_channel_id": str(guild.channel_ids[0]),
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "vanity_url_code": None,
            "max_members": 500_000,
            "max_video_channel_users": 25,
            "premium_progress_bar_enabled": False,
            "roles": [self._roles[r] for r in guild.role_ids],
            "emojis": [],
            "stickers": [],
            "joined_at": "2024-01-01T00:00:00+00:00",
            "large": False,
            "unavailable": False,
            "member_count": len(members),
            "voice_states": [],
            "members": members,
            "channels": [self._channels[c] for c in guild.channel_ids],
            "threads": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    def _app_info(self) -> JSON:
        return {
            "id": str(self.application_id),
            "name": self.bot_name,
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "flags": self.application_flags,
            "owner": self.user(self.owner_id),
            "team": None,
            "hook": True,
            "bot": self._bot_user(),
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "tags": [],
            "approximate_guild_count": len(self._guilds),
            "integration_types_config": {"0": {}},
        }

    def _identified(self) -> list[_GatewayConnection]:
        return [c for c in self._connections if c.session is not None and not c.ws.closed]

    def _shard_of(self, guild_id: int, shard_count: int) -> int:
        return (guild_id >> 22) % shard_count

    async def _connection_for(self, guild_id: int, timeout: float) -> _GatewayConnection:
        def find() -> _GatewayConnection | None:
            for conn in self._identified():
                assert conn.session is not None
                if conn.session.shard_id == self._shard_of(guild_id, conn.session.shard_count):
                    return conn
            return None

        return await self._signal.wait_for(
            find, timeout, f"no gateway connection for the shard of guild {guild_id}"
        )

    # ---- internals: commands ----------------------------------------------------------------

    def _find_command(self, name: str, guild_id: int) -> JSON:
        for scope in (guild_id, None):
            cmd = self._command_scopes.get(scope, {}).get((1, name))
            if cmd is not None:
                return cmd
        known = sorted({n for scope in self._command_scopes.values() for (_, n) in scope})
        raise KeyError(
            f"slash command {name!r} was not synced (globally or to guild {guild_id});"
            f" synced: {known}"
        )

    @staticmethod
    def _descend(
        cmd: JSON, subcommand: str | None
    ) -> tuple[list[JSON], Callable[[list[JSON]], list[JSON]]]:
        """Return the option definitions of the (sub)command and a function nesting values."""
        defs: list[JSON] = cmd.get("options") or []
        wrappers: list[tuple[int, str]] = []
        for part in (subcommand or "").split():
            found = next(
                (
                    d
                    for d in defs
                    if d["name"] == part and d["type"] in (_SUB_COMMAND, _SUB_COMMAND_GROUP)
                ),
                None,
            )
            if found is None:
                raise ValueError(f"/{cmd['name']} has no subcommand {part!r}")
            wrappers.append((found["type"], part))
            defs = found.get("options") or []
        if any(d["type"] in (_SUB_COMMAND, _SUB_COMMAND_GROUP) for d in defs):
            subs = [d["name"] for d in defs if d["type"] in (_SUB_COMMAND, _SUB_COMMAND_GROUP)]
            raise ValueError(f"/{cmd['name']} needs subcommand= one of {subs}")

        def wrap(opts: list[JSON]) -> list[JSON]:
            for typ, part in reversed(wrappers):
                opts = [{"type": typ, "name": part, "options": opts}]
            return opts

        return defs, wrap

    def _build_options(
        self,
        command: str,
        defs: list[JSON],
        given: Mapping[str, object],
        resolved: JSON,
        guild_id: int,
        *,
        focused: str | None,
    ) -> list[JSON]:
        by_name = {d["name"]: d for d in defs}
        out: list[JSON] = []
        for opt_name, value in given.items():
            if opt_name == focused:
                continue
            spec = by_name.get(opt_name)
            if spec is None:
                raise ValueError(
                    f"/{command} has no option {opt_name!r} (options: {sorted(by_name)})"
                )
            out.append(
                {
                    "name": opt_name,
                    "type": spec["type"],
                    "value": self._option_value(command, spec, value, resolved, guild_id),
                }
            )
        if focused is None:
            missing = [d["name"] for d in defs if d.get("required") and d["name"] not in given]
            if missing:
                raise ValueError(f"/{command} is missing required option(s) {missing}")
        return out

    def _option_value(
        self, command: str, spec: JSON, value: object, resolved: JSON, guild_id: int
    ) -> object:
        typ, name = spec["type"], spec["name"]
        where = f"/{command} option {name!r}"
        if typ == _STRING:
            if not isinstance(value, str):
                raise ValueError(f"{where} takes a string, got {value!r}")
            low, high = spec.get("min_length", 0), spec.get("max_length", 6000)
            if not low <= len(value) <= high:
                raise ValueError(f"{where}: length must be within [{low}, {high}]")
        elif typ in (_INTEGER, _NUMBER):
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or (typ == _INTEGER and not isinstance(value, int))
            ):
                raise ValueError(
                    f"{where} takes {'an int' if typ == _INTEGER else 'a number'}, got {value!r}"
                )
            low, high = spec.get("min_value"), spec.get("max_value")
            if (low is not None and value < low) or (high is not None and value > high):
                raise ValueError(f"{where}: {value} is outside [{low}, {high}]")
        elif typ == _BOOLEAN:
            if not isinstance(value, bool):
                raise ValueError(f"{where} takes a bool, got {value!r}")
        elif typ in (_USER, _MENTIONABLE) and (typ == _USER or _as_id(value) not in self._roles):
            user_id = _as_id(value)
            resolved.setdefault("users", {})[str(user_id)] = self.user(user_id)
            resolved.setdefault("members", {})[str(user_id)] = self._member(
                user_id, guild_id, with_user=False, permissions=DEFAULT_MEMBER_PERMISSIONS
            )
            return str(user_id)
        elif typ in (_ROLE, _MENTIONABLE):
            role_id = _as_id(value)
            if role_id not in self._roles:
                raise ValueError(f"{where}: unknown role {role_id}")
            resolved.setdefault("roles", {})[str(role_id)] = self._roles[role_id]
            return str(role_id)
        elif typ == _CHANNEL:
            channel_id = _as_id(value)
            channel = self._channels.get(channel_id)
            if channel is None:
                raise ValueError(f"{where}: unknown channel {channel_id}")
            types = spec.get("channel_types")
            if types and channel["type"] not in types:
                raise ValueError(f"{where}: channel type {channel['type']} not in {types}")
            resolved.setdefault("channels", {})[str(channel_id)] = {
                **{
                    k: channel[k]
                    for k in (
                        "id",
                        "type",
                        "name",
                        "parent_id",
                        "nsfw",
                        "topic",
                        "position",
                        "flags",
                    )
                },
                "permissions": str(DEFAULT_MEMBER_PERMISSIONS),
            }
            return str(channel_id)
        elif typ == _ATTACHMENT:
            attachment_id = self._ids.next()
            filename = value if isinstance(value, str) else "file.bin"
            url = f"http://127.0.0.1:{self.port}/attachments/{attachment_id}/{filename}"
            resolved.setdefault("attachments", {})[str(attachment_id)] = {
                "id": str(attachment_id),
                "filename": filename,
                "size": 0,
                "url": url,
                "proxy_url": url,
                "content_type": "application/octet-stream",
            }
            return str(attachment_id)
        choices = spec.get("choices")
        if choices and value not in [c["value"] for c in choices]:
            raise ValueError(
                f"{where}: {value!r} is not one of the choices {[c['value'] for c in choices]}"
            )
        return value

    # ---- internals: interactions ------------------------------------------------------------

    async def _dispatch_interaction(
        self,
        itype: int,
        data: JSON,
        *,
        name: str,
        user_id: int,
        guild_id: int,
        permissions: int,
        channel_id: int | None = None,
        message: JSON | None = None,
    ) -> Interaction:
        guild = self._guilds[guild_id]
        channel_id = guild.channel_ids[0] if channel_id is None else channel_id
        interaction_id = self._ids.next()
        token = "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(48)
        payload: JSON = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": itype,
            "data": data,
            "guild_id": str(guild_id),
            "guild": {"id": str(guild_id), "locale": "en-US", "features": []},
            "channel_id": str(channel_id),
            "channel": {**self._channels[channel_id], "permissions": str(permissions)},
            "member": self._member(user_id, guild_id, permissions=permissions),
            "token": token,
            "version": 1,
            "app_permissions": str(self.bot_permissions),
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild_id)},
            "context": 0,
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
        }
        if message is not None:
            payload["message"] = message
        record = Interaction(
            self,
            id=interaction_id,
            token=token,
            type=itype,
            name=name,
            user_id=user_id,
            guild_id=guild_id,
            channel_id=channel_id,
            payload=payload,
            source_message_id=int(message["id"]) if message is not None else None,
        )
        conn = await self._connection_for(guild_id, timeout=10)
        loop = asyncio.get_running_loop()
        # The clock starts before the frame leaves, so the deadline is never more lenient.
        record.dispatched_at = loop.time()
        record.shard_id = conn.shard_id
        self.interactions[interaction_id] = record
        self._by_token[token] = record
        self._timers.append(
            loop.call_later(self.interaction_deadline + 0.05, self._check_answered, record)
        )
        await conn.dispatch("INTERACTION_CREATE", payload)
        return record

    def _check_answered(self, record: Interaction) -> None:
        if not record.acknowledged and not self._closing:
            self.violations.append(
                f"interaction {record.id} ({record.name!r}) was not answered within "
                f"{self.interaction_deadline} s (the user sees 'This interaction failed')"
            )

    def _new_message(
        self,
        body: Mapping[str, Any],
        *,
        channel_id: int,
        flags: int,
        files: Sequence[JSON] = (),
        interaction: Interaction | None = None,
    ) -> JSON:
        message_id = self._ids.next()
        embeds = [{"type": "rich", **e} for e in body.get("embeds") or []]
        msg: JSON = {
            "id": str(message_id),
            "type": 0,
            "channel_id": str(channel_id),
            "author": self._bot_user(),
            "content": body.get("content") or "",
            "embeds": embeds,
            "components": list(body.get("components") or []),
            "attachments": list(files),
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": bool(body.get("tts")),
            "timestamp": _now_iso(),
            "edited_timestamp": None,
            "flags": flags,
        }
        if body.get("poll"):
            msg["poll"] = body["poll"]
        _show_attachments(msg)
        if interaction is not None:
            msg["webhook_id"] = str(self.application_id)
            msg["application_id"] = str(self.application_id)
            if interaction.type == APPLICATION_COMMAND:
                msg["type"] = 20
            metadata: JSON = {
                "id": str(interaction.id),
                "type": interaction.type,
                "user": self.user(interaction.user_id),
                "authorizing_integration_owners": {"0": str(interaction.guild_id)},
            }
            if interaction.source_message_id is not None:
                metadata["interacted_message_id"] = str(interaction.source_message_id)
            msg["interaction_metadata"] = metadata
            msg["interaction"] = {
                "id": str(interaction.id),
                "type": interaction.type,
                "name": interaction.name.lstrip("/"),
                "user": self.user(interaction.user_id),
            }
            interaction.message_ids.append(message_id)
        self.messages[message_id] = msg
        return msg

    def _apply_edit(self, msg: JSON, body: Mapping[str, Any], files: Sequence[JSON]) -> None:
        if "content" in body:
            msg["content"] = body["content"] or ""
        if "embeds" in body:
            msg["embeds"] = [{"type": "rich", **e} for e in body["embeds"] or []]
        if "components" in body:
            msg["components"] = list(body["components"] or [])
        if "attachments" in body:
            keep = {str(a.get("id")) for a in body["attachments"] or []}
            msg["attachments"] = [a for a in msg["attachments"] if a["id"] in keep]
        msg["attachments"] = [*msg["attachments"], *files]
        _show_attachments(msg)
        if "flags" in body and body["flags"] is not None:
            changeable = SUPPRESS_EMBEDS | IS_COMPONENTS_V2
            msg["flags"] = (msg["flags"] & ~changeable) | (int(body["flags"]) & changeable)
        msg["flags"] &= ~LOADING
        msg["edited_timestamp"] = _now_iso()

    def _reject(self, where: str, errors: _FormErrors) -> web.Response:
        for line in errors.lines():
            self.violations.append(f"{where}: {line}")
        return _json_response(
            {"message": "Invalid Form Body", "code": 50035, "errors": errors.tree()}, status=400
        )

    def _reject_empty(self, where: str) -> web.Response:
        self.violations.append(f"{where}: cannot send an empty message")
        return _error(400, "Cannot send an empty message", 50006)

    # ---- HTTP plumbing ----------------------------------------------------------------------

    def _add_routes(self, app: web.Application) -> None:
        api = API_PREFIX
        app.router.add_get(GATEWAY_PATH, self._gateway)
        app.router.add_get(f"{api}/users/@me", self._get_me)
        app.router.add_get(f"{api}/users/{{user_id:\\d+}}", self._get_user)
        app.router.add_post(f"{api}/users/@me/channels", self._open_dm)
        app.router.add_get(f"{api}/oauth2/applications/@me", self._get_app)
        app.router.add_get(f"{api}/applications/@me", self._get_app)
        app.router.add_get(f"{api}/gateway", self._get_gateway)
        app.router.add_get(f"{api}/gateway/bot", self._get_gateway_bot)
        app.router.add_put(f"{api}/applications/{{app_id}}/commands", self._put_commands)
        app.router.add_get(f"{api}/applications/{{app_id}}/commands", self._get_commands)
        app.router.add_put(
            f"{api}/applications/{{app_id}}/guilds/{{guild_id}}/commands", self._put_commands
        )
        app.router.add_get(
            f"{api}/applications/{{app_id}}/guilds/{{guild_id}}/commands", self._get_commands
        )
        app.router.add_post(
            f"{api}/interactions/{{interaction_id}}/{{token}}/callback", self._callback
        )
        app.router.add_post(f"{api}/webhooks/{{app_id}}/{{token}}", self._followup)
        hook_msg = f"{api}/webhooks/{{app_id}}/{{token}}/messages/{{message_id}}"
        app.router.add_get(hook_msg, self._webhook_message)
        app.router.add_patch(hook_msg, self._webhook_message)
        app.router.add_delete(hook_msg, self._webhook_message)
        app.router.add_get(f"{api}/channels/{{channel_id}}", self._get_channel)
        app.router.add_post(f"{api}/channels/{{channel_id}}/messages", self._post_channel_message)
        chan_msg = f"{api}/channels/{{channel_id}}/messages/{{message_id}}"
        app.router.add_get(chan_msg, self._channel_message)
        app.router.add_patch(chan_msg, self._channel_message)
        app.router.add_delete(chan_msg, self._channel_message)
        app.router.add_get(f"{api}/guilds/{{guild_id}}", self._get_guild)

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Any]
    ) -> web.StreamResponse:
        if not request.path.startswith(API_PREFIX + "/"):
            return await handler(request)
        path = request.path[len(API_PREFIX) :]
        body, files = await self._read_body(request)
        request[_BODY], request[_FILES] = body, files
        self.requests.append((request.method, path, body))

        for injected in self._injected:
            if (
                injected.times > 0
                and injected.method == request.method
                and injected.pattern.search(path)
            ):
                injected.times -= 1
                headers: dict[str, str] = {}
                if injected.status == 429:
                    retry = injected.retry_after or float(injected.body.get("retry_after", 0.05))
                    headers = {
                        "Via": "1.1 google",
                        "Retry-After": str(max(1, int(retry))),
                        "X-RateLimit-Limit": "5",
                        "X-RateLimit-Remaining": "0",
                        "X-RateLimit-Reset-After": str(retry),
                        "X-RateLimit-Scope": "user",
                    }
                return _json_response(injected.body, status=injected.status, headers=headers)

        token_routes = path.startswith(("/interactions/", "/webhooks/")) or path == "/gateway"
        if not token_routes and request.headers.get("Authorization") != f"Bot {self.token}":
            return _error(401, "401: Unauthorized", 0)
        try:
            return await handler(request)
        except web.HTTPNotFound:
            self.unhandled.append(f"{request.method} {path}")
            return _error(404, "404: Not Found", 0)
        except web.HTTPMethodNotAllowed:
            self.unhandled.append(f"{request.method} {path}")
            return _error(405, "405: Method Not Allowed", 0)
        except Exception as exc:  # a bug in the fake: make every test that checks violations fail
            self.violations.append(f"fake Discord crashed on {request.method} {path}: {exc!r}")
            return _error(500, "500: Internal Server Error", 0)

    async def _read_body(self, request: web.Request) -> tuple[object, list[Upload]]:
        """Return (JSON body or payload_json, the uploaded files as received)."""
        if not request.body_exists:
            return None, []
        # Not `request.content_type`: aiohttp parses that with the email package, which cost
        # half a millisecond per multipart request, more than a whole answer of the bot.
        header = request.headers.get("Content-Type", "")
        ctype = header.partition(";")[0].strip().lower()
        if ctype == "application/json":
            return json.loads(await request.text()), []
        if ctype == "multipart/form-data":
            boundary = _BOUNDARY.search(header)
            if boundary is None:
                return None, []
            body: object = None
            files: list[Upload] = []
            for headers, content in _form_parts(await request.read(), boundary.group(1)):
                disposition = dict(
                    _DISPOSITION_PARAM.findall(headers.get("content-disposition", ""))
                )
                name = disposition.get("name", "")
                if name == "payload_json":
                    body = json.loads(content)
                elif "filename" in disposition:
                    content_type = headers.get("content-type", "application/octet-stream")
                    files.append(Upload(name, disposition["filename"], content, content_type))
            return body, files
        return await request.text(), []

    def _attach(
        self,
        where: str,
        body: Mapping[str, Any],
        uploads: Sequence[Upload],
        *,
        existing: Mapping[str, Any] | None = None,
    ) -> tuple[list[JSON], web.Response | None]:
        """The attachments a message body adds, checked as Discord checks them.

        Files are `files[n]` parts; the body's `attachments` entries give a file (by `id` n)
        its `filename` and `description`, or keep an attachment of the message being edited
        (`existing`) by its id. Every `attachment://name` in the resulting embeds must name one
        of the message's attachments. Returns the new attachments, or the error response.
        """
        too_big = [upload for upload in uploads if len(upload.content) > ATTACHMENT_SIZE_LIMIT]
        if too_big:
            for upload in too_big:
                self.violations.append(
                    f"{where}: file {upload.filename!r} is {len(upload.content):,} bytes, over "
                    f"the {ATTACHMENT_SIZE_LIMIT:,}-byte upload limit"
                )
            return [], _error(413, "Request entity too large", 40005)
        errors = _FormErrors()
        by_index: dict[int, Upload] = {}
        for upload in uploads:
            part = _FILE_PART.match(upload.part)
            if part is None:
                errors.add(("files",), "FILE_PART_INVALID", f"unknown form part {upload.part!r}")
            else:
                by_index[int(part.group(1))] = upload
        kept_ids = {a["id"] for a in existing["attachments"]} if existing is not None else set()
        meta: dict[int, Mapping[str, Any]] = {}
        kept: list[str] = []
        entries = body.get("attachments")
        for index, entry in enumerate(entries if isinstance(entries, list) else []):
            here = ("attachments", index)
            ident = str(entry.get("id")) if isinstance(entry, Mapping) else ""
            if ident in kept_ids:
                kept.append(ident)
            elif ident.isdigit() and int(ident) in by_index:
                meta[int(ident)] = entry
                errors.max_length(
                    (*here, "description"), entry.get("description"), ATTACHMENT_DESCRIPTION_LIMIT
                )
            else:
                errors.add(
                    (*here, "id"),
                    "ATTACHMENT_NOT_FOUND",
                    f"attachment {ident!r} is neither a file of this request nor of the message",
                )
        added: list[tuple[JSON, bytes]] = []
        for index, upload in sorted(by_index.items()):
            filename = meta.get(index, {}).get("filename") or upload.filename
            problem = _bad_filename(filename)
            if problem is not None:
                errors.add(("files", index), "FILENAME_INVALID", problem)
                continue
            added.append((self._attachment(filename, upload, meta.get(index, {})), upload.content))
        if existing is None:
            names = {attachment["filename"] for attachment, _ in added}
            embeds = body.get("embeds")
        else:
            still = existing["attachments"]
            if "attachments" in body:
                still = [a for a in still if a["id"] in kept]
            names = {a["filename"] for a in still} | {a["filename"] for a, _ in added}
            embeds = body["embeds"] if "embeds" in body else existing["embeds"]
        for path, name in _attachment_references(embeds):
            if name not in names:
                errors.add(
                    ("embeds", *path),
                    "ATTACHMENT_REFERENCE_INVALID",
                    f"attachment://{name} names no attachment of the message",
                )
        if errors:
            return [], self._reject(where, errors)
        for attachment, content in added:
            self.uploads[attachment["id"]] = content
        return [attachment for attachment, _ in added], None

    def _attachment(self, filename: str, upload: Upload, meta: Mapping[str, Any]) -> JSON:
        attachment_id = str(self._ids.next())
        url = f"http://127.0.0.1:{self.port}/attachments/{attachment_id}/{filename}"
        attachment: JSON = {
            "id": attachment_id,
            "filename": filename,
            "size": len(upload.content),
            "url": url,
            "proxy_url": url,
            "content_type": upload.content_type,
        }
        if meta.get("description") is not None:
            attachment["description"] = meta["description"]
        dimensions = png_dimensions(upload.content)
        if dimensions is not None:
            attachment["content_type"] = "image/png"
            attachment["width"], attachment["height"] = dimensions
        return attachment

    def attachment_bytes(self, attachment: Mapping[str, Any]) -> bytes:
        """The uploaded bytes of an attachment of a message."""
        return self.uploads[str(attachment["id"])]

    def embed_image(self, message: Mapping[str, Any], index: int = 0) -> JSON | None:
        """The attachment that embed `index` of `message` shows as its image, if any."""
        embeds = message.get("embeds") or []
        image = embeds[index].get("image") if index < len(embeds) else None
        url = image.get("url") if isinstance(image, Mapping) else None
        return next((a for a in message["attachments"] if a["url"] == url), None)

    # ---- REST handlers ----------------------------------------------------------------------

    async def _get_me(self, request: web.Request) -> web.Response:
        return _json_response(
            {
                **self._bot_user(),
                "verified": True,
                "mfa_enabled": True,
                "flags": 0,
                "email": None,
                "locale": "en-US",
                "premium_type": 0,
            }
        )

    async def _get_user(self, request: web.Request) -> web.Response:
        return _json_response(self.user(int(request.match_info["user_id"])))

    async def _open_dm(self, request: web.Request) -> web.Response:
        """`POST /users/@me/channels`: the DM channel with `recipient_id` (made on first use)."""
        body = request[_BODY] if isinstance(request[_BODY], dict) else {}
        recipient = int(body.get("recipient_id") or 0)
        channel = next(
            (
                c
                for c in self._channels.values()
                if c["type"] == 1 and c["recipients"][0]["id"] == str(recipient)
            ),
            None,
        )
        if channel is None:
            channel_id = self._ids.next()
            channel = {
                "id": str(channel_id),
                "type": 1,
                "guild_id": None,
                "last_message_id": None,
                "recipients": [self.user(recipient)],
            }
            self._channels[channel_id] = channel
        return _json_response(channel)

    async def _get_app(self, request: web.Request) -> web.Response:
        return _json_response(self._app_info())

    async def _get_gateway(self, request: web.Request) -> web.Response:
        return _json_response({"url": self.gateway_url})

    async def _get_gateway_bot(self, request: web.Request) -> web.Response:
        return _json_response(
            {
                "url": self.gateway_url,
                "shards": self.recommended_shards,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 14_400_000,
                    "max_concurrency": 1,
                },
            }
        )

    def _scope(self, request: web.Request) -> tuple[int | None, web.Response | None]:
        if request.match_info["app_id"] != str(self.application_id):
            return None, _error(404, "Unknown Application", 10002)
        raw = request.match_info.get("guild_id")
        if raw is None:
            return None, None
        if not raw.isdigit() or int(raw) not in self._guilds:
            return None, _error(403, "Missing Access", 50001)
        return int(raw), None

    async def _put_commands(self, request: web.Request) -> web.Response:
        scope, problem = self._scope(request)
        if problem is not None:
            return problem
        payload = request[_BODY]
        errors = _FormErrors()
        _validate_commands(errors, payload)
        if errors:
            return self._reject(
                f"PUT commands ({'global' if scope is None else f'guild {scope}'})", errors
            )
        version = str(self._ids.next())
        stored: dict[tuple[int, str], JSON] = {}
        for cmd in payload:
            ctype = int(cmd.get("type", 1))
            key = (scope, ctype, cmd["name"])
            cmd_id = self._command_ids.setdefault(key, self._ids.next())
            entry: JSON = {
                "description": "",
                "options": [],
                "default_member_permissions": None,
                "nsfw": False,
                "contexts": None,
                "integration_types": [0],
                **cmd,
                "id": str(cmd_id),
                "application_id": str(self.application_id),
                "version": version,
                "type": ctype,
                "name_localizations": cmd.get("name_localizations"),
                "description_localizations": cmd.get("description_localizations"),
            }
            if scope is not None:
                entry["guild_id"] = str(scope)
            stored[(ctype, cmd["name"])] = entry
        self._command_scopes[scope] = stored
        self._rebuild_commands()
        self.synced_guild_ids.append(scope)
        self._signal.notify()
        return _json_response(list(stored.values()))

    def _rebuild_commands(self) -> None:
        """Refresh :attr:`commands` in place: global ones, overridden by guild ones."""
        merged: dict[str, JSON] = {}
        scopes = sorted(self._command_scopes, key=lambda s: (s is not None, s == self.guild_id))
        for scope in scopes:
            for (ctype, name), entry in self._command_scopes[scope].items():
                if ctype == 1:
                    merged[name] = entry
        self.commands.clear()
        self.commands.update(merged)

    async def _get_commands(self, request: web.Request) -> web.Response:
        scope, problem = self._scope(request)
        if problem is not None:
            return problem
        return _json_response(list(self._command_scopes.get(scope, {}).values()))

    async def _callback(self, request: web.Request) -> web.Response:
        record = (
            self.interactions.get(int(request.match_info["interaction_id"]))
            if request.match_info["interaction_id"].isdigit()
            else None
        )
        if record is None or record.token != request.match_info["token"]:
            return _error(404, "Unknown interaction", 10062)
        where = f"interaction {record.id} ({record.name!r}) callback"
        if record.acknowledged:
            self.violations.append(f"{where}: interaction has already been acknowledged")
            return _error(400, "Interaction has already been acknowledged.", 40060)
        assert record.dispatched_at is not None
        elapsed = asyncio.get_running_loop().time() - record.dispatched_at
        if elapsed > self.interaction_deadline:
            self.violations.append(
                f"{where}: arrived {elapsed:.2f} s after dispatch"
                f" (limit {self.interaction_deadline} s)"
            )
            return _error(404, "Unknown interaction", 10062)
        body = request[_BODY]
        uploads: list[Upload] = request[_FILES]
        files: list[JSON] = []
        if not isinstance(body, dict):
            errors = _FormErrors()
            errors.add((), "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
            return self._reject(where, errors)
        cb_type = body.get("type")
        data = body.get("data") or {}
        errors = _FormErrors()
        if cb_type not in _ALLOWED_CALLBACKS[record.type]:
            errors.add(
                ("type",),
                "INTERACTION_CALLBACK_TYPE_INVALID",
                f"Callback type {cb_type} is invalid for interaction type {record.type}",
            )
            return self._reject(where, errors)
        if cb_type in (CALLBACK_MESSAGE, CALLBACK_UPDATE_MESSAGE):
            source_flags = 0
            if cb_type == CALLBACK_UPDATE_MESSAGE and record.source_message_id in self.messages:
                source_flags = self.messages[record.source_message_id]["flags"]
            _validate_message(errors, data, ("data",), int(data.get("flags") or source_flags))
            if not errors and cb_type == CALLBACK_MESSAGE and _is_empty_message(data, len(uploads)):
                return self._reject_empty(where)
            if not errors:
                edited = (
                    self.messages.get(record.source_message_id or 0)
                    if cb_type == CALLBACK_UPDATE_MESSAGE
                    else None
                )
                files, problem = self._attach(where, data, uploads, existing=edited)
                if problem is not None:
                    return problem
        elif cb_type == CALLBACK_AUTOCOMPLETE:
            _validate_choices(errors, data.get("choices"), ("data", "choices"))
        elif cb_type == CALLBACK_MODAL:
            errors.length_between(("data", "title"), data.get("title"), 1, 45)
            errors.length_between(("data", "custom_id"), data.get("custom_id"), 1, 100)
            errors.length_between(("data", "components"), data.get("components"), 1, 5)
        if errors:
            return self._reject(where, errors)

        record.responses.append(body)
        record.answered_after = elapsed
        message: JSON | None = None
        if cb_type == CALLBACK_MESSAGE:
            flags = int(data.get("flags") or 0) & (_CREATE_FLAGS)
            message = self._new_message(
                data, channel_id=record.channel_id, flags=flags, files=files, interaction=record
            )
            record.original_message_id = int(message["id"])
            record._visible.append(json.loads(json.dumps(message)))
        elif cb_type == CALLBACK_DEFERRED_MESSAGE:
            flags = LOADING | (int(data.get("flags") or 0) & EPHEMERAL)
            message = self._new_message(
                {}, channel_id=record.channel_id, flags=flags, interaction=record
            )
            record.original_message_id = int(message["id"])
        elif cb_type in (CALLBACK_DEFERRED_UPDATE, CALLBACK_UPDATE_MESSAGE):
            record.original_message_id = record.source_message_id
            message = self.messages.get(record.source_message_id or 0)
            if message is not None and cb_type == CALLBACK_UPDATE_MESSAGE:
                self._apply_edit(message, data, files)
                record._visible.append(json.loads(json.dumps(message)))
        record._notify()
        self._signal.notify()

        answer: JSON = {"interaction": {"id": str(record.id), "type": record.type}}
        if message is not None:
            answer["interaction"].update(
                {
                    "response_message_id": message["id"],
                    "response_message_loading": bool(message["flags"] & LOADING),
                    "response_message_ephemeral": bool(message["flags"] & EPHEMERAL),
                }
            )
            answer["resource"] = {"type": cb_type, "message": message}
        return _json_response(answer)

    def _token_record(self, request: web.Request) -> tuple[Interaction | None, web.Response | None]:
        record = self._by_token.get(request.match_info["token"])
        if record is None or request.match_info["app_id"] != str(self.application_id):
            return None, _error(404, "Unknown Webhook", 10015)
        assert record.dispatched_at is not None
        if asyncio.get_running_loop().time() - record.dispatched_at > self.token_lifetime:
            self.violations.append(
                f"interaction {record.id} ({record.name!r}): token used after it expired"
            )
            return None, _error(401, "Invalid Webhook Token", 50027)
        if not record.acknowledged:
            self.violations.append(
                f"interaction {record.id} ({record.name!r}): webhook used before any callback"
            )
            return None, _error(404, "Unknown Webhook", 10015)
        return record, None

    async def _followup(self, request: web.Request) -> web.Response:
        record, problem = self._token_record(request)
        if problem is not None:
            return problem
        assert record is not None
        where = f"interaction {record.id} ({record.name!r}) follow-up"
        body = request[_BODY] if isinstance(request[_BODY], dict) else {}
        uploads: list[Upload] = request[_FILES]
        errors = _FormErrors()
        _validate_message(errors, body, (), int(body.get("flags") or 0))
        if errors:
            return self._reject(where, errors)
        if _is_empty_message(body, len(uploads)):
            return self._reject_empty(where)
        files, problem = self._attach(where, body, uploads)
        if problem is not None:
            return problem
        record.followups.append(body)
        original = self.messages.get(record.original_message_id or 0)
        if original is not None and original["flags"] & LOADING:
            # The first follow-up after a deferral replaces the "thinking..." message and keeps
            # the deferral's ephemeral state.
            self._apply_edit(original, {**body, "flags": None}, files)
            original["edited_timestamp"] = None
            message = original
        else:
            flags = int(body.get("flags") or 0) & (_CREATE_FLAGS)
            message = self._new_message(
                body, channel_id=record.channel_id, flags=flags, files=files, interaction=record
            )
        record._visible.append(json.loads(json.dumps(message)))
        record._notify()
        if request.query.get("wait") in ("1", "true", "True"):
            return _json_response(message)
        return web.Response(status=204)

    async def _webhook_message(self, request: web.Request) -> web.StreamResponse:
        record, problem = self._token_record(request)
        if problem is not None:
            return problem
        assert record is not None
        raw_id = request.match_info["message_id"]
        if raw_id == "@original":
            message_id = record.original_message_id
        elif raw_id.isdigit() and int(raw_id) in [*record.message_ids, record.original_message_id]:
            message_id = int(raw_id)
        else:
            message_id = None
        msg = self.messages.get(message_id or 0)
        if msg is None or message_id is None:
            return _error(404, "Unknown Message", 10008)
        if request.method == "GET":
            return _json_response(msg)
        if request.method == "DELETE":
            del self.messages[message_id]
            record.deletions.append(message_id)
            record._notify()
            return web.Response(status=204)
        body = request[_BODY] if isinstance(request[_BODY], dict) else {}
        errors = _FormErrors()
        flags = (
            msg["flags"]
            if body.get("flags") is None
            else int(body["flags"]) | (msg["flags"] & EPHEMERAL)
        )
        _validate_message(errors, body, (), flags)
        where = f"interaction {record.id} ({record.name!r}) edit"
        if errors:
            return self._reject(where, errors)
        files, problem = self._attach(where, body, request[_FILES], existing=msg)
        if problem is not None:
            return problem
        was_loading = bool(msg["flags"] & LOADING)
        self._apply_edit(msg, body, files)
        record.edits.append(body)
        snapshot = json.loads(json.dumps(msg))
        record._edited.append(snapshot)
        if was_loading:
            record._visible.append(snapshot)
        record._notify()
        self._signal.notify()
        return _json_response(msg)

    async def _get_channel(self, request: web.Request) -> web.Response:
        channel = self._channels.get(
            int(request.match_info["channel_id"])
            if request.match_info["channel_id"].isdigit()
            else 0
        )
        if channel is None:
            return _error(404, "Unknown Channel", 10003)
        return _json_response(channel)

    async def _get_guild(self, request: web.Request) -> web.Response:
        raw = request.match_info["guild_id"]
        guild = self._guilds.get(int(raw) if raw.isdigit() else 0)
        if guild is None:
            return _error(404, "Unknown Guild", 10004)
        data = self._guild_create(guild)
        for key in (
            "channels",
            "members",
            "voice_states",
            "presences",
            "threads",
            "joined_at",
            "large",
            "member_count",
        ):
            data.pop(key, None)
        return _json_response(data)

    async def _post_channel_message(self, request: web.Request) -> web.Response:
        raw = request.match_info["channel_id"]
        channel_id = int(raw) if raw.isdigit() else 0
        if channel_id not in self._channels:
            return _error(404, "Unknown Channel", 10003)
        if channel_id in self.denied_channels:
            return _error(403, "Missing Permissions", 50013)
        where = f"POST /channels/{channel_id}/messages"
        body = request[_BODY] if isinstance(request[_BODY], dict) else {}
        uploads: list[Upload] = request[_FILES]
        errors = _FormErrors()
        flags = int(body.get("flags") or 0)
        _validate_message(errors, body, (), flags)
        if errors:
            return self._reject(where, errors)
        if _is_empty_message(body, len(uploads)):
            return self._reject_empty(where)
        files, problem = self._attach(where, body, uploads)
        if problem is not None:
            return problem
        msg = self._new_message(
            body, channel_id=channel_id, flags=flags & (_CREATE_FLAGS & ~EPHEMERAL), files=files
        )
        msg["guild_id"] = self._channels[channel_id]["guild_id"]
        if body.get("message_reference"):
            msg["type"] = 19
            msg["message_reference"] = body["message_reference"]
        self._channels[channel_id]["last_message_id"] = msg["id"]
        self.channel_messages.append(json.loads(json.dumps(msg)))
        self._signal.notify()
        return _json_response(msg)

    async def _channel_message(self, request: web.Request) -> web.StreamResponse:
        raw_c, raw_m = request.match_info["channel_id"], request.match_info["message_id"]
        msg = self.messages.get(int(raw_m)) if raw_m.isdigit() else None
        if msg is None or msg["channel_id"] != raw_c or msg["flags"] & EPHEMERAL:
            return _error(404, "Unknown Message", 10008)
        if request.method == "GET":
            return _json_response(msg)
        if request.method == "DELETE":
            del self.messages[int(raw_m)]
            self._signal.notify()
            return web.Response(status=204)
        body = request[_BODY] if isinstance(request[_BODY], dict) else {}
        errors = _FormErrors()
        flags = msg["flags"] if body.get("flags") is None else int(body["flags"])
        _validate_message(errors, body, (), flags)
        where = f"PATCH /channels/{raw_c}/messages/{raw_m}"
        if errors:
            return self._reject(where, errors)
        files, problem = self._attach(where, body, request[_FILES], existing=msg)
        if problem is not None:
            return problem
        self._apply_edit(msg, body, files)
        self._signal.notify()
        return _json_response(msg)

    # ---- gateway ----------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        try:
            await ws.prepare(request)
        except ConnectionResetError:  # the client left during the handshake (a bot stopping)
            return ws
        conn = _GatewayConnection(ws, compress=request.query.get("compress") == "zlib-stream")
        self._connections.append(conn)
        try:
            if request.query.get("v") not in (None, str(API_VERSION)):
                await ws.close(code=4012, message=b"Invalid API version")
                return ws
            if request.query.get("encoding", "json") != "json":
                await ws.close(code=4002, message=b"Error while decoding payload.")
                return ws
            await conn.send(
                {
                    "op": OP_HELLO,
                    "d": {
                        "heartbeat_interval": self.heartbeat_interval_ms,
                        "_trace": ["fake-discord"],
                    },
                }
            )
            async for frame in ws:
                if frame.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    break
                try:
                    payload = json.loads(frame.data)
                except ValueError:
                    await ws.close(code=4002, message=b"Error while decoding payload.")
                    break
                try:
                    await self._on_gateway_payload(conn, payload)
                except ConnectionResetError:
                    break
                except Exception as exc:  # a bug in the fake: fail tests that check violations
                    self.violations.append(f"fake Discord gateway crashed on {payload!r}: {exc!r}")
                    await ws.close(code=4000, message=b"Unknown error.")
                    break
        finally:
            self._connections.remove(conn)
            self._signal.notify()
        return ws

    async def _on_gateway_payload(self, conn: _GatewayConnection, payload: JSON) -> None:
        op, data = payload.get("op"), payload.get("d")
        if op == OP_HEARTBEAT:
            conn.heartbeats += 1
            await conn.send({"op": OP_HEARTBEAT_ACK})
        elif op == OP_IDENTIFY:
            await self._identify(conn, data or {})
        elif op == OP_RESUME:
            await self._resume(conn, data or {})
        elif op == OP_PRESENCE_UPDATE:
            self.presences.append(data or {})
        elif op == OP_REQUEST_GUILD_MEMBERS and conn.session is not None:
            guild_id = int((data or {}).get("guild_id", self.guild_id))
            if guild_id in self._guilds:
                chunk: JSON = {
                    "guild_id": str(guild_id),
                    "members": self._guild_create(self._guilds[guild_id])["members"],
                    "chunk_index": 0,
                    "chunk_count": 1,
                    "not_found": [],
                }
                if (data or {}).get("nonce"):
                    chunk["nonce"] = data["nonce"]  # type: ignore[index]
                await conn.dispatch("GUILD_MEMBERS_CHUNK", chunk)

    async def _identify(self, conn: _GatewayConnection, data: JSON) -> None:
        if conn.session is not None:
            await conn.ws.close(code=4005, message=b"Already authenticated.")
            return
        if data.get("token") != self.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        if "intents" not in data:
            await conn.ws.close(code=4013, message=b"Invalid intent(s).")
            return
        shard_id, shard_count = data.get("shard") or [0, 1]
        if not 0 <= shard_id < shard_count:
            await conn.ws.close(code=4010, message=b"Invalid shard.")
            return
        self.identifies.append(data)
        session = _Session(
            session_id=secrets.token_hex(16), shard_id=shard_id, shard_count=shard_count
        )
        self._sessions[session.session_id] = session
        conn.session = session
        guilds = [g for g in self._guilds.values() if self._shard_of(g.id, shard_count) == shard_id]
        ready: JSON = {
            "v": API_VERSION,
            "user": {
                **self._bot_user(),
                "verified": True,
                "mfa_enabled": True,
                "flags": 0,
                "email": None,
            },
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.application_id), "flags": self.application_flags},
            "private_channels": [],
            "presences": [],
            "relationships": [],
            "user_settings": {},
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["fake"],
            "_trace": ["fake-discord"],
        }
        if data.get("shard") is not None:
            ready["shard"] = [shard_id, shard_count]
        await conn.dispatch("READY", ready)
        for guild in guilds:
            await conn.dispatch("GUILD_CREATE", self._guild_create(guild))
        self._signal.notify()

    async def _resume(self, conn: _GatewayConnection, data: JSON) -> None:
        session = self._sessions.get(str(data.get("session_id")))
        if session is None or data.get("token") != self.token:
            await conn.send({"op": OP_INVALID_SESSION, "d": False})
            return
        for other in self._connections:
            if other is not conn and other.session is session:
                other.session = None
        conn.session = session
        self.resumes += 1
        await conn.dispatch("RESUMED", {"_trace": ["fake-discord"]})
        self._signal.notify()


def _as_id(value: object) -> int:
    """A snowflake given as int, digit string or a mapping with an ``id``."""
    if isinstance(value, Mapping):
        value = value["id"]
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"expected an id, got {value!r}")
    return int(value)


def _find_component(components: Sequence[Mapping[str, Any]], custom_id: str) -> JSON | None:
    for comp in components:
        if comp.get("custom_id") == custom_id:
            return dict(comp)
        nested = list(comp.get("components") or [])
        if isinstance(comp.get("accessory"), Mapping):
            nested.append(comp["accessory"])
        found = _find_component(nested, custom_id)
        if found is not None:
            return found
    return None


@contextlib.contextmanager
def patched_discord(fake: FakeDiscord) -> Iterator[None]:
    """Point discord.py (this process) at ``fake``; restore the real URLs afterwards.

    Sets ``discord.http.Route.BASE = fake.api_url`` and
    ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)``
    (in discord.py 2.7.1 ``DEFAULT_GATEWAY`` is a ``yarl.URL``, not a ``str``).
    """
    import discord.gateway
    import discord.http

    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = fake.api_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway
