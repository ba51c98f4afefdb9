"""A paginator's timeout: the buttons are greyed out, unless the bot is stopping."""

from __future__ import annotations

from typing import Any

import discord

from bot.paginator import Paginator


class Response:
    def __init__(self) -> None:
        self.edits: list[dict[str, Any]] = []

    def is_done(self) -> bool:
        return False

    async def edit_message(self, **fields: Any) -> None:
        self.edits.append(fields)


class Client:
    def __init__(self, *, closed: bool) -> None:
        self.closed = closed

    def is_closed(self) -> bool:
        return self.closed


class Interaction:
    """What a paginator uses of `discord.Interaction`, with aiohttp's answer once it is closed."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.response = Response()
        self.message = None
        self.original_edits: list[discord.ui.View] = []

    async def edit_original_response(self, *, view: discord.ui.View) -> None:
        if self.client.closed:
            raise RuntimeError("Session is closed")
        self.original_edits.append(view)


async def timed_out(client: Client) -> tuple[Paginator, Interaction]:
    pages = [discord.Embed(title=f"page {n}") for n in range(3)]
    paginator = Paginator(pages, owner_id=1, timeout=60)
    interaction = Interaction(client)
    await paginator.resume(interaction)  # type: ignore[arg-type]
    await paginator.on_timeout()
    return paginator, interaction


def buttons(view: discord.ui.View) -> list[discord.ui.Button]:
    return [item for item in view.children if isinstance(item, discord.ui.Button)]


async def test_a_timeout_greys_the_buttons_out_on_the_message():
    paginator, interaction = await timed_out(Client(closed=False))
    assert interaction.original_edits == [paginator]
    assert all(button.disabled for button in buttons(paginator))


async def test_a_timeout_while_the_bot_stops_leaves_the_message_alone():
    _, interaction = await timed_out(Client(closed=True))  # raised before the fix
    assert interaction.original_edits == []
