"""One generic paginator: the invoker turns pages of prebuilt embeds with buttons.

/top pages also survive a restart and work from any process: their buttons' custom ids carry
the snapshot, the target page, the owner and an expiry, and `RestoredTopPage` answers a press
that no live paginator of this process holds, rebuilding the pages from that snapshot.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import discord

from bot import embeds
from bot.charts import Chart
from bot.errors import UserFacingError
from bot.replies import APOLOGY, answer, chart_file, reply_privately, with_chart
from bot.stats import AsOf, Order
from bot.streams import Stream

log = logging.getLogger(__name__)

TOP_ID = "top:{move}:{order}:{snapshot}:{page}:{owner}:{until}"
TOP_TEMPLATE = re.compile(
    r"top:(?P<move>first|prev|next|last):(?P<order>desc|asc):(?P<snapshot>\d+):"
    r"(?P<page>\d+):(?P<owner>\d+):(?P<until>\d+)"
)
NOT_YOURS = "Only the person who ran this command can turn these pages. Run it yourself to browse."
EXPIRED = "These buttons have expired. Run /top again to browse."
# Messages whose buttons a live Paginator of this process answers (process-local by nature).
_LIVE_MESSAGES: set[int] = set()
# The pages last built for each kind of list, with the result they show: everyone asking for
# the same (cached) result shares them, so each page is escaped and rendered once per snapshot.
_SHARED_PAGES: dict[str, tuple[object, Sequence[discord.Embed]]] = {}


def shared_pages(
    kind: str, result: object, build: Callable[[], Sequence[discord.Embed]]
) -> Sequence[discord.Embed]:
    """The pages of `result`, built once for as long as the same result object is asked for."""
    held = _SHARED_PAGES.get(kind)
    if held is not None and held[0] is result:
        return held[1]
    pages = build()
    _SHARED_PAGES[kind] = (result, pages)
    return pages


def grey_out(view: discord.ui.View) -> None:
    """Disable every button of a view."""
    for item in view.children:
        if isinstance(item, discord.ui.Button):
            item.disabled = True


class Paginator(discord.ui.View):
    """First / previous / "page n/N" / next / last. Pages are built up front (one snapshot).

    A `chart` of the whole list is attached to the message and shown on every page: turning a
    page edits the embed and keeps the attachment, so the image never breaks.
    """

    def __init__(
        self,
        pages: Sequence[discord.Embed],
        *,
        owner_id: int,
        timeout: float = 180,
        page: int = 0,
        custom_id: Callable[[str, int], str] | None = None,
        ephemeral: bool = False,
        chart: Chart | None = None,
    ) -> None:
        super().__init__(timeout=timeout)
        self.pages = pages
        self.chart = chart
        self.owner_id = owner_id
        self.page = page
        self.ephemeral = ephemeral  # shown to the invoker only (personal answers)
        self._custom_id = custom_id
        self._interaction: discord.Interaction | None = None
        self._message_id: int | None = None
        self._update_buttons()

    async def send(self, interaction: discord.Interaction) -> None:
        """Show the first page as the answer to `interaction` (deferred or not), in one call."""
        self._interaction = interaction
        view = self if len(self.pages) > 1 else discord.utils.MISSING
        attached = discord.utils.MISSING if self.chart is None else chart_file(self.chart)
        if interaction.response.is_done():
            message = await interaction.followup.send(
                embed=self._page(), view=view, wait=True, ephemeral=self.ephemeral, file=attached
            )
            message_id: int | None = message.id
        else:
            sent = await interaction.response.send_message(
                embed=self._page(), view=view, ephemeral=self.ephemeral, file=attached
            )
            message_id = sent.message_id
        if len(self.pages) <= 1:
            self.stop()
        elif message_id is not None:
            self._hold(message_id)

    async def resume(self, interaction: discord.Interaction) -> None:
        """Take over a message shown by an earlier paginator (another process, before a restart)."""
        self._interaction = interaction
        if interaction.response.is_done():  # deferred while the pages were rebuilt
            await interaction.edit_original_response(embed=self._page(), view=self)
        else:
            await interaction.response.edit_message(embed=self._page(), view=self)
        if interaction.message is not None:
            self._hold(interaction.message.id)

    def _page(self) -> discord.Embed:
        """The current page as shown: with the list's chart when the message carries one."""
        page = self.pages[self.page]
        return page if self.chart is None else with_chart(page, self.chart)

    def _hold(self, message_id: int) -> None:
        self._message_id = message_id
        _LIVE_MESSAGES.add(message_id)

    def stop(self) -> None:
        """Stop listening; presses on the message are then `RestoredTopPage`'s to answer."""
        _LIVE_MESSAGES.discard(self._message_id or 0)
        super().stop()

    def _update_buttons(self) -> None:
        last = len(self.pages) - 1
        self.first.disabled = self.previous.disabled = self.page == 0
        self.next.disabled = self.last.disabled = self.page >= last
        self.position.label = f"page {self.page + 1}/{len(self.pages)}"
        if self._custom_id is not None:
            for move, button, target in (
                ("first", self.first, 0),
                ("prev", self.previous, max(self.page - 1, 0)),
                ("next", self.next, min(self.page + 1, last)),
                ("last", self.last, last),
            ):
                button.custom_id = self._custom_id(move, target)

    async def _show(self, interaction: discord.Interaction, page: int) -> None:
        self.page = max(0, min(page, len(self.pages) - 1))
        self._update_buttons()
        await interaction.response.edit_message(embed=self._page(), view=self)

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """Only the invoker may turn pages; anyone else gets a short private note."""
        if interaction.user.id == self.owner_id:
            return True
        await interaction.response.send_message(NOT_YOURS, ephemeral=True)
        return False

    async def on_timeout(self) -> None:
        """Disable the buttons so nobody clicks a dead view."""
        _LIVE_MESSAGES.discard(self._message_id or 0)
        grey_out(self)
        # A bot that is stopping leaves the message as it is: its HTTP session may be closed
        # already, and the next press greys the buttons out (the restarted process answers it).
        if self._interaction is not None and not self._interaction.client.is_closed():
            # The interaction token lives 15 minutes; past that the message simply stays as is.
            with contextlib.suppress(discord.HTTPException):
                await self._interaction.edit_original_response(view=self)

    @discord.ui.button(emoji="⏮️", style=discord.ButtonStyle.secondary)
    async def first(self, interaction: discord.Interaction, _: discord.ui.Button) -> None:
        """Go to the first page."""
        await self._show(interaction, 0)

    @discord.ui.button(emoji="◀️", style=discord.ButtonStyle.primary)
    async def previous(self, interaction: discord.Interaction, _: discord.ui.Button) -> None:
        """Go back one page."""
        await self._show(interaction, self.page - 1)

    @discord.ui.button(label="page", style=discord.ButtonStyle.secondary, disabled=True)
    async def position(self, interaction: discord.Interaction, _: discord.ui.Button) -> None:
        """A label, never clickable."""

    @discord.ui.button(emoji="▶️", style=discord.ButtonStyle.primary)
    async def next(self, interaction: discord.Interaction, _: discord.ui.Button) -> None:
        """Go forward one page."""
        await self._show(interaction, self.page + 1)

    @discord.ui.button(emoji="⏭️", style=discord.ButtonStyle.secondary)
    async def last(self, interaction: discord.Interaction, _: discord.ui.Button) -> None:
        """Go to the last page."""
        await self._show(interaction, len(self.pages) - 1)


def top_paginator(
    result: AsOf[Sequence[Stream]],
    order: Order,
    *,
    owner_id: int,
    refresh_minutes: float,
    timeout: float,
    page: int = 0,
) -> Paginator:
    """The /top pager: ten streams a page, buttons that name their snapshot and target page."""

    def custom_id(move: str, target: int) -> str:
        until = int(time.time() + timeout)  # a press moves the expiry on, like a view's timeout
        return TOP_ID.format(
            move=move,
            order=order,
            snapshot=result.snapshot.id,
            page=target,
            owner=owner_id,
            until=until,
        )

    pages = shared_pages(
        f"top-{order}", result, lambda: embeds.top_pages(result, order, refresh_minutes)
    )
    return Paginator(
        pages,
        owner_id=owner_id,
        timeout=timeout,
        page=min(page, len(pages) - 1),
        custom_id=custom_id,
    )


def list_paginator(
    kind: str,
    result: object,
    build: Callable[[], Sequence[discord.Embed]],
    *,
    owner_id: int,
    timeout: float,
    chart: Chart | None = None,
) -> Paginator:
    """A pager over the shared pages of one list (/gamestats, /hours): in-process buttons."""
    return Paginator(
        shared_pages(kind, result, build), owner_id=owner_id, timeout=timeout, chart=chart
    )


@dataclass(frozen=True)
class TakeOver:
    """The answer to a press on a restored page: the rebuilt pager edits the pressed message."""

    pager: Paginator

    async def send(self, interaction: discord.Interaction) -> None:
        """Edit the message the button is on (deferred or not)."""
        await self.pager.resume(interaction)


class RestoredTopPage(discord.ui.DynamicItem[discord.ui.Button], template=TOP_TEMPLATE):
    """A press on a /top button that no live paginator of this process holds."""

    def __init__(self, item: discord.ui.Button, fields: dict[str, str]) -> None:
        super().__init__(item)
        self.order: Order = "asc" if fields["order"] == "asc" else "desc"
        self.snapshot_id = int(fields["snapshot"])
        self.page = int(fields["page"])
        self.owner_id = int(fields["owner"])
        self.until = int(fields["until"])

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> RestoredTopPage:
        """Rebuild the button's state from its custom id."""
        if not isinstance(item, discord.ui.Button):
            raise TypeError("a /top custom id on something other than a button")
        return cls(item, match.groupdict())

    @staticmethod
    async def _expire(interaction: discord.Interaction) -> None:
        """Grey out the buttons as they are (same page) and say why."""
        if interaction.message is not None:
            frozen = discord.ui.View.from_message(interaction.message, timeout=None)
            grey_out(frozen)
            frozen.stop()
            await interaction.response.edit_message(view=frozen)
        await reply_privately(interaction, EXPIRED)

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """Leave the press to the live paginator if this process has one for the message."""
        return interaction.message is not None and interaction.message.id not in _LIVE_MESSAGES

    async def callback(self, interaction: discord.Interaction) -> None:
        """Owner and expiry checks, then the page from the snapshot the message showed."""
        if interaction.user.id != self.owner_id:
            await interaction.response.send_message(NOT_YOURS, ephemeral=True)
            return
        if time.time() > self.until or interaction.message is None:
            await self._expire(interaction)
            return
        bot: Any = interaction.client

        async def work() -> TakeOver:
            result = await bot.stats.top_streams_of(self.snapshot_id, self.order)
            pager = top_paginator(
                result,
                self.order,
                owner_id=self.owner_id,
                refresh_minutes=bot.settings.refresh_minutes,
                timeout=bot.settings.view_timeout,
                page=self.page,
            )
            return TakeOver(pager)

        try:
            await answer(interaction, work)
        except UserFacingError as error:
            await reply_privately(interaction, error.user_message)
        except Exception:
            log.exception("restoring a /top page failed")
            await reply_privately(interaction, APOLOGY)
