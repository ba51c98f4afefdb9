"""What the bot last published to Discord as slash commands, by target."""

from __future__ import annotations

from datetime import datetime

from db.models import CommandSync


async def published_digest(target: str) -> str | None:
    """The digest of the commands last published to `target`, if any."""
    row = await CommandSync.get_or_none(target=target)
    return row.digest if row else None


async def record_published(target: str, digest: str, at: datetime) -> None:
    """Remember what was just published to `target`."""
    await CommandSync.update_or_create(target=target, defaults={"digest": digest, "synced_at": at})
