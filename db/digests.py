"""Digest settings per guild, and the claim on each period that lets only one post through."""

from __future__ import annotations

from datetime import datetime

from tortoise.exceptions import IntegrityError

from bot.digest import DigestSetting, PostRecord, PostState, Schedule
from db.models import Digest, DigestPost


def _setting(row: Digest) -> DigestSetting:
    return DigestSetting(
        guild_id=int(row.guild_id),
        channel_id=int(row.channel_id),
        schedule=Schedule(row.every, row.hour),  # type: ignore[arg-type]
        set_at=row.set_at,
        disabled_reason=row.disabled_reason,
        disabled_at=row.disabled_at,
    )


def _record(row: DigestPost) -> PostRecord:
    return PostRecord(
        row.id,
        row.period,
        row.snapshot_id,
        row.claimed_at,
        row.state,
        row.error,  # type: ignore[arg-type]
    )


async def set_digest(
    guild_id: int, channel_id: int, schedule: Schedule, *, set_by: int, at: datetime
) -> DigestSetting:
    """Turn a guild's digest on (again), replacing its channel and schedule."""
    row, _ = await Digest.update_or_create(
        guild_id=str(guild_id),
        defaults={
            "channel_id": str(channel_id),
            "every": schedule.every,
            "hour": schedule.hour,
            "set_by": str(set_by),
            "set_at": at,
            "disabled_reason": None,
            "disabled_at": None,
        },
    )
    return _setting(row)


async def remove_digest(guild_id: int) -> bool:
    """Forget a guild's digest; False if it had none."""
    return bool(await Digest.filter(guild_id=str(guild_id)).delete())


async def digest_of(guild_id: int) -> DigestSetting | None:
    """A guild's digest, on or off, if one was ever set and not removed."""
    row = await Digest.get_or_none(guild_id=str(guild_id))
    return _setting(row) if row else None


async def active_digests() -> list[DigestSetting]:
    """Every digest that is switched on."""
    rows = await Digest.filter(disabled_reason__isnull=True).order_by("guild_id")
    return [_setting(row) for row in rows]


async def disable_digest(guild_id: int, channel_id: int, reason: str, *, at: datetime) -> bool:
    """Switch a digest off, saying why; True if it was switched off.

    Only while it still posts to `channel_id`: someone may have chosen another channel since
    the failed post began.
    """
    switched = await Digest.filter(
        guild_id=str(guild_id), channel_id=str(channel_id), disabled_reason__isnull=True
    ).update(disabled_reason=reason, disabled_at=at)
    return bool(switched)


async def posted_periods(periods: dict[int, str]) -> set[int]:
    """Of the guilds in `periods` (guild id -> period key), those whose period is claimed."""
    if not periods:
        return set()
    rows = await DigestPost.filter(
        guild_id__in=[str(guild) for guild in periods], period__in=set(periods.values())
    ).values_list("guild_id", "period")
    return {int(guild) for guild, period in rows if periods[int(guild)] == period}


async def claim_period(
    guild_id: int, period: str, *, snapshot_id: int, channel_id: int, at: datetime
) -> int | None:
    """Claim a guild's period before posting it; the claim's id, or None if it was taken.

    The unique (guild, period) pair decides between processes and across restarts: whoever
    inserts first posts; everyone else, now or later, sees it taken.
    """
    try:
        row = await DigestPost.create(
            guild_id=str(guild_id),
            period=period,
            snapshot_id=snapshot_id,
            channel_id=str(channel_id),
            claimed_at=at,
            state="claimed",
        )
    except IntegrityError:
        return None
    return row.id


async def finish_post(
    post_id: int, state: PostState, *, message_id: int | None = None, error: str | None = None
) -> None:
    """Record how sending a claimed period went."""
    await DigestPost.filter(id=post_id).update(
        state=state, message_id=None if message_id is None else str(message_id), error=error
    )


async def previous_post(guild_id: int, before: int) -> PostRecord | None:
    """The guild's latest digest that was sent, claimed before claim `before`."""
    row = (
        await DigestPost.filter(guild_id=str(guild_id), state="sent", id__lt=before)
        .order_by("-id")
        .first()
    )
    return _record(row) if row else None


async def last_post(guild_id: int) -> PostRecord | None:
    """The guild's latest claimed period, however it went (for /digest show)."""
    row = await DigestPost.filter(guild_id=str(guild_id)).order_by("-id").first()
    return _record(row) if row else None


async def prune_posts(before: datetime) -> int:
    """Forget claims older than `before`; how many."""
    return await DigestPost.filter(claimed_at__lt=before).delete()
