"""Digest renderers: a digest's content and a guild's digest setting as embeds. Pure, escaped."""

from __future__ import annotations

import discord

from bot.digest import (
    TOP_GAMES,
    Climber,
    DigestContent,
    DigestStatus,
    GameLine,
    PostRecord,
    Schedule,
)
from bot.embeds import COLOUR, ERROR_LIMIT, channel_link, count, footer, safe

TITLE = "StreamStats digest"
FIRST = "This is the server's first digest: changes are shown from the next one on."
NOTHING_CLIMBED = "No channel of the top climbed since the previous digest."
NOT_COMPARED = "Shown once there is a previous digest to compare with."
NONE_SET = "This server has no digest. An admin can set one with `/digest set`."


def _since(content: DigestContent) -> str:
    if content.comparison == "first" or content.since is None:
        return FIRST
    when = discord.utils.format_dt(content.since, "R")
    if content.comparison == "no history":
        return (
            f"The bot no longer keeps the data of the previous digest ({when}): "
            "no changes this time."
        )
    return f"Changes since the previous digest, {when}."


def _change(game: GameLine) -> str:
    change = game.change
    if change is None:
        return "new"
    arrow = "▲" if change > 0 else "▼" if change < 0 else "="
    percent = "" if game.percent is None else f" ({game.percent:+.1f}%)"
    return f"{arrow} {change:+,}{percent}"


def _game_line(rank: int, game: GameLine, compared: bool) -> str:
    streams = "stream" if game.streams == 1 else "streams"
    line = (
        f"`{rank}.` **{safe(game.label)}** — {count(game.total_viewers)} viewers · "
        f"{count(game.streams)} {streams}"
    )
    return f"{line} · {_change(game)}" if compared else line


def _climber_line(climber: Climber) -> str:
    places = "place" if climber.rise == 1 else "places"
    return (
        f"`#{climber.rank}` {channel_link(climber.stream)} — up {count(climber.rise)} {places} "
        f"(from #{climber.previous_rank}) · {count(climber.stream.viewer_count)} viewers"
    )


def digest_embed(content: DigestContent, refresh_minutes: float) -> discord.Embed:
    """The digest posted in a guild's channel (its chart, if any, is set by the sender)."""
    compared = content.comparison == "compared"
    embed = discord.Embed(title=TITLE, colour=COLOUR, timestamp=content.snapshot.taken_at)
    embed.set_footer(text=footer(content.snapshot, refresh_minutes))
    embed.description = f"The most-watched live streams on Twitch. {_since(content)}"
    top = content.games[:TOP_GAMES]
    games = [_game_line(rank, game, compared) for rank, game in enumerate(top, 1)]
    embed.add_field(
        name="Top games by viewers", value="\n".join(games) or "No live streams.", inline=False
    )
    if compared:
        climbers = "\n".join(map(_climber_line, content.climbers)) or NOTHING_CLIMBED
    else:
        climbers = NOT_COMPARED
    embed.add_field(name="Biggest climbers", value=climbers, inline=False)
    median = content.summary.median
    shown = "—" if median is None else f"{median:,.1f}".removesuffix(".0")
    embed.add_field(name="Median viewers", value=shown)
    embed.add_field(name="Live streams", value=count(content.summary.total))
    return embed


def schedule_text(schedule: Schedule) -> str:
    """How often a digest is posted, in words."""
    if schedule.every == "hourly":
        return "every hour"
    return f"every day at {schedule.hour:02d}:00 UTC"


def _last_post_text(post: PostRecord | None) -> str:
    if post is None:
        return "none yet"
    when = discord.utils.format_dt(post.claimed_at, "R")
    if post.state == "sent":
        return f"posted {when}"
    if post.state == "claimed":
        return f"being posted since {when}"
    reason = safe(post.error or "Discord did not accept it", ERROR_LIMIT)
    return f"not posted {when}: {reason}"


def digest_status_embed(status: DigestStatus | None) -> discord.Embed:
    """/digest show: where and how often the digest is posted, or why it is off."""
    embed = discord.Embed(title="Digest of this server", colour=COLOUR)
    if status is None:
        embed.description = NONE_SET
        return embed
    setting = status.setting
    channel = f"<#{setting.channel_id}>"
    if setting.disabled_reason is not None:
        when = (
            ""
            if setting.disabled_at is None
            else f" {discord.utils.format_dt(setting.disabled_at, 'R')}"
        )
        embed.description = (
            f"**Off** since it could not be posted{when}: "
            f"{safe(setting.disabled_reason, ERROR_LIMIT)}. Fix that, then run `/digest set` "
            "to turn it back on."
        )
    else:
        embed.description = f"**On**: posted in {channel} {schedule_text(setting.schedule)}."
    embed.add_field(name="Channel", value=channel)
    embed.add_field(name="How often", value=schedule_text(setting.schedule))
    if setting.schedule.every == "daily":
        embed.add_field(name="Hour", value=f"{setting.schedule.hour:02d}:00 UTC (default 00:00)")
    embed.add_field(name="Last digest", value=_last_post_text(status.last_post), inline=False)
    if setting.disabled_reason is None:
        if status.due_now:
            upcoming = "after the next refresh"
        else:
            upcoming = (
                f"after the first refresh from {discord.utils.format_dt(status.next_period, 'f')}"
            )
        embed.add_field(name="Next digest", value=upcoming, inline=False)
    return embed
