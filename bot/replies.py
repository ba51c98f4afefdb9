"""How every command and button answers: in one call when the answer is ready in time.

Discord drops an interaction that is not acknowledged within 3 seconds. Deferring first costs a
second REST call on every answer, yet the data is usually at hand (cached). So the work starts
at once and gets `ANSWER_BUDGET`: if it finishes in time, the answer itself is the
acknowledgement; if not (a slow cache or database), the interaction is deferred and the answer
follows when the work is done, up to `WORK_LIMIT`.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import discord

from bot.charts import Chart
from bot.errors import UserFacingError

APOLOGY = "Sorry, something went wrong on our side. It has been logged; please try again later."
TOO_SLOW = "StreamStats is too slow to answer right now. Try again in a minute."
ANSWER_BUDGET = 1.5  # seconds; leaves Discord's 3 s window room for the acknowledgement itself
WORK_LIMIT = 20.0  # seconds after which a deferred answer gives up and says so


class Sendable(Protocol):
    """Something that can be the answer to an interaction, deferred or not."""

    async def send(self, interaction: discord.Interaction) -> None:
        """Answer `interaction` (its response, or a follow-up once deferred)."""
        ...


def chart_file(chart: Chart) -> discord.File:
    """The chart as an attachment, its description read out by screen readers."""
    return discord.File(
        io.BytesIO(chart.png), filename=chart.filename, description=chart.description
    )


def with_chart(embed: discord.Embed, chart: Chart) -> discord.Embed:
    """A copy of `embed` showing `chart`, which must be attached to the same message."""
    return embed.copy().set_image(url=f"attachment://{chart.filename}")


@dataclass
class Reply:
    """A plain answer: text and/or one embed, optionally private, with a view, or a chart.

    A chart is shown in the embed and attached to the message in the same call.
    """

    content: str | None = None
    embed: discord.Embed | None = None
    view: discord.ui.View | None = None
    ephemeral: bool = False
    chart: Chart | None = None

    async def send(self, interaction: discord.Interaction) -> None:
        """Send as the interaction's response, or as its follow-up if it was deferred."""
        extra: dict[str, Any] = {"view": self.view} if self.view is not None else {}
        if self.embed is not None:
            extra["embed"] = self.embed
            if self.chart is not None:
                extra["embed"] = with_chart(self.embed, self.chart)
                extra["file"] = chart_file(self.chart)
        if interaction.response.is_done():
            await interaction.followup.send(self.content, ephemeral=self.ephemeral, **extra)
        else:
            await interaction.response.send_message(self.content, ephemeral=self.ephemeral, **extra)


async def answer(
    interaction: discord.Interaction,
    work: Callable[[], Awaitable[Sendable]],
    *,
    ephemeral: bool = False,
    budget: float = ANSWER_BUDGET,
) -> None:
    """Run `work`; answer with its result in one call, or defer first if it takes too long.

    `ephemeral` says how a deferred "thinking…" placeholder is shown, so it matches the answer.
    Errors from `work` propagate to the caller's error handler, as if raised directly.
    """
    task = asyncio.ensure_future(work())
    try:
        done, _ = await asyncio.wait([task], timeout=budget)
        if not done:
            await defer(interaction, ephemeral=ephemeral)
            try:
                async with asyncio.timeout(WORK_LIMIT):
                    await asyncio.wait([task])
            except TimeoutError:
                raise UserFacingError(TOO_SLOW) from None
        reply = task.result()
    finally:
        task.cancel()  # no-op once done; stops work nobody will wait for
    await reply.send(interaction)


async def defer(interaction: discord.Interaction, *, ephemeral: bool) -> None:
    """Acknowledge now and answer later: a "thinking…" message, or for a button, nothing seen."""
    if interaction.type == discord.InteractionType.component:
        await interaction.response.defer()  # the button's message is edited later
    else:
        await interaction.response.defer(thinking=True, ephemeral=ephemeral)


async def reply_privately(
    interaction: discord.Interaction, message: str, view: discord.ui.View | None = None
) -> None:
    """Answer with an ephemeral message, whether or not the interaction was answered already."""
    extra = {"view": view} if view else {}
    if not interaction.response.is_done():
        await interaction.response.send_message(message, ephemeral=True, **extra)
        return
    if interaction.response.type == discord.InteractionResponseType.deferred_channel_message:
        # A public "thinking…" placeholder would turn the first follow-up public: remove it.
        with contextlib.suppress(discord.HTTPException):
            await interaction.delete_original_response()
    await interaction.followup.send(message, ephemeral=True, **extra)
