"""One generic paginator: the invoker turns pages of prebuilt embeds with buttons."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence

import discord

log = logging.getLogger(__name__)

NOT_YOURS = "Only the person who ran this command can turn these pages. Run it yourself to browse."


class Paginator(discord.ui.View):
    """First / previous / "page n/N" / next / last. Pages are built up front (one snapshot)."""

    def __init__(
        self, pages: Sequence[discord.Embed], *, owner_id: int, timeout: float = 180
    ) -> None:
        super().__init__(timeout=timeout)
        self.pages = pages
        self.owner_id = owner_id
        self.page = 0
        self._interaction: discord.Interaction | None = None
        self._update_buttons()

    async def send(self, interaction: discord.Interaction) -> None:
        """Show the first page as the reply to `interaction` (deferred or not)."""
        self._interaction = interaction
        view = self if len(self.pages) > 1 else discord.utils.MISSING
        if interaction.response.is_done():
            await interaction.followup.send(embed=self.pages[0], view=view)
        else:
            await interaction.response.send_message(embed=self.pages[0], view=view)
        if len(self.pages) <= 1:
            self.stop()

    def _update_buttons(self) -> None:
        last = len(self.pages) - 1
        self.first.disabled = self.previous.disabled = self.page == 0
        self.next.disabled = self.last.disabled = self.page >= last
        self.position.label = f"page {self.page + 1}/{len(self.pages)}"

    async def _show(self, interaction: discord.Interaction, page: int) -> None:
        self.page = max(0, min(page, len(self.pages) - 1))
        self._update_buttons()
        await interaction.response.edit_message(embed=self.pages[self.page], view=self)

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """Only the invoker may turn pages; anyone else gets a short private note."""
        if interaction.user.id == self.owner_id:
            return True
        await interaction.response.send_message(NOT_YOURS, ephemeral=True)
        return False

    async def on_timeout(self) -> None:
        """Disable the buttons so nobody clicks a dead view."""
        for item in self.children:
            if isinstance(item, discord.ui.Button):
                item.disabled = True
        if self._interaction is not None:
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
