"""DigestService: /digest set|off|show, and posting every due digest after a refresh.

Only the process that refreshes posts, after a refresh that committed a snapshot. Each post
first claims its (guild, period) row; the loser of that insert, in this process or another,
now or after a restart, does not send. The rule is *at most once*: once claimed, a period is
never posted again, whatever happens while sending.

- Discord refuses the post for good (403: the bot may not post there; 404: the channel is
  gone): the digest is switched off, with the reason in plain words for /digest show.
- Anything else fails the post (a 5xx after discord.py's own retries, a timeout, no
  connection): Discord may or may not have created the message, so sending again could post
  twice. The failure is recorded and the next period posts as usual.
- The process dies between the claim and the send: the claim stays; that period is skipped.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

import discord

from bot import charts, digest
from bot.cache import StatsService
from bot.charts import Chart
from bot.digest import DigestContent, DigestSetting, DigestStatus, Schedule
from bot.digest_embeds import digest_embed
from bot.rendering import ChartRenderer
from bot.replies import chart_file, with_chart
from bot.stats import SnapshotInfo
from bot.tokens import Clock
from bot.trends import ChannelRank, GameTotal
from db import digests, guarded, history

log = logging.getLogger(__name__)

POSTS_KEPT = timedelta(days=31)  # claims older than this are forgotten
FORBIDDEN = (
    "the bot is not allowed to post in that channel (it needs View Channel, Send Messages, "
    "Embed Links and Attach Files there)"
)
CHANNEL_GONE = "the channel no longer exists, or the bot can no longer see it"
NOT_ACCEPTED = "Discord did not accept the post; the next one is posted as usual"
NOT_COMPOSED = "the digest could not be put together (the details are in the bot's log)"
CHART_FILE = "digest-games.png"
# Seconds a digest waits for its chart. Nobody is waiting on an answer, but a chart that takes
# this long means a stuck worker: the digest goes out without it.
CHART_BUDGET = 10.0
CLOSE_GRACE = 5.0  # seconds a round of posting may go on when the bot stops


class DigestService:
    """Guilds' digest settings and the posting of due digests."""

    def __init__(
        self,
        *,
        stats: StatsService,
        renderer: ChartRenderer,
        clock: Clock,
        refresh_minutes: float,
    ) -> None:
        self._stats = stats
        self._renderer = renderer
        self._clock = clock
        self._refresh_minutes = refresh_minutes
        self._round: asyncio.Task[int] | None = None

    # ---- the commands ----------------------------------------------------------------------

    async def set(
        self, guild_id: int, channel_id: int, schedule: Schedule, *, set_by: int
    ) -> DigestStatus:
        """Post the guild's digest in `channel_id` on `schedule` (on again if it was off)."""
        setting = await guarded(
            digests.set_digest(guild_id, channel_id, schedule, set_by=set_by, at=self._clock())
        )
        return await self._status(setting)

    async def off(self, guild_id: int) -> bool:
        """Stop the guild's digest; False if it had none."""
        return await guarded(digests.remove_digest(guild_id))

    async def show(self, guild_id: int) -> DigestStatus | None:
        """The guild's digest, its last post and when the next comes; None if it has none."""
        setting = await guarded(digests.digest_of(guild_id))
        return None if setting is None else await self._status(setting)

    async def _status(self, setting: DigestSetting) -> DigestStatus:
        now = self._clock()
        last = await guarded(digests.last_post(setting.guild_id))
        current = digest.period_key(setting.schedule, now)
        return DigestStatus(
            setting=setting,
            last_post=last,
            due_now=last is None or last.period != current,
            next_period=digest.next_period_start(setting.schedule, now),
        )

    # ---- posting ---------------------------------------------------------------------------

    def after_refresh(self, client: discord.Client, snapshot: SnapshotInfo) -> None:
        """Post the due digests in the background: the refresh loop never waits for Discord.

        A round still running when the next refresh ends is left to finish; the claims make
        sure nothing is posted twice either way.
        """
        if self._round is not None and not self._round.done():
            log.warning("digests of the previous refresh are still being posted; skipping")
            return
        self._round = asyncio.create_task(self.post_due(client, snapshot))

    @property
    def posting(self) -> asyncio.Task[int] | None:
        """The latest round of posting started by `after_refresh` (done or not)."""
        return self._round

    async def close(self) -> None:
        """Let a round of posting finish, for `CLOSE_GRACE` seconds at most, then stop it.

        A digest cut short keeps its claim: that period is skipped.
        """
        if self._round is not None:
            await asyncio.wait([self._round], timeout=CLOSE_GRACE)
            self._round.cancel()
            await asyncio.gather(self._round, return_exceptions=True)

    async def post_due(self, client: discord.Client, snapshot: SnapshotInfo) -> int:
        """Post every digest whose period has no post yet; how many were sent. Never raises."""
        try:
            return await self._post_due(client, snapshot)
        except Exception:
            log.exception("posting the digests of snapshot %d failed", snapshot.id)
            return 0

    async def _post_due(self, client: discord.Client, snapshot: SnapshotInfo) -> int:
        now = self._clock()
        await digests.prune_posts(now - POSTS_KEPT)
        active = await digests.active_digests()
        periods = {d.guild_id: digest.period_key(d.schedule, now) for d in active}
        taken = await digests.posted_periods(periods)
        due = [setting for setting in active if setting.guild_id not in taken]
        if not due:
            return 0
        rows = await self._stats.rows()
        if rows.snapshot.id != snapshot.id:
            log.warning("digests show snapshot %d, not %d", rows.snapshot.id, snapshot.id)
        figures = _Figures(digest.current_figures(rows))
        sent = 0
        for setting in due:
            try:
                post_id = await digests.claim_period(
                    setting.guild_id,
                    periods[setting.guild_id],
                    snapshot_id=rows.snapshot.id,
                    channel_id=setting.channel_id,
                    at=now,
                )
                if post_id is None:
                    log.info("digest of guild %d: another process claimed it", setting.guild_id)
                    continue
                sent += await self._post(client, setting, post_id, figures)
            except Exception:  # one guild's failure (a database error) never stops the others
                log.exception("the digest of guild %d failed", setting.guild_id)
        return sent

    async def _post(
        self, client: discord.Client, setting: DigestSetting, post_id: int, figures: _Figures
    ) -> int:
        """Compose and send one claimed digest, with its chart if it could be drawn; 1 if sent."""
        guild = setting.guild_id
        try:
            content = await figures.content(guild, post_id)
        except Exception:
            log.exception("digest of guild %d could not be composed", guild)
            await digests.finish_post(post_id, "failed", error=NOT_COMPOSED)
            return 0
        embed = digest_embed(content, self._refresh_minutes)
        extra: dict[str, Any] = {}
        chart = await self._chart(content)
        if chart is not None:
            embed, extra["file"] = with_chart(embed, chart), chart_file(chart)
        channel = client.get_partial_messageable(setting.channel_id, guild_id=guild)
        try:
            message = await channel.send(
                embed=embed, allowed_mentions=discord.AllowedMentions.none(), **extra
            )
        except (discord.Forbidden, discord.NotFound) as error:
            reason = FORBIDDEN if isinstance(error, discord.Forbidden) else CHANNEL_GONE
            log.warning("digest of guild %d switched off: %s (%s)", guild, reason, error)
            await digests.finish_post(post_id, "failed", error=reason)
            await digests.disable_digest(guild, setting.channel_id, reason, at=self._clock())
            return 0
        except Exception:
            log.exception("digest of guild %d was not accepted by Discord", guild)
            await digests.finish_post(post_id, "failed", error=NOT_ACCEPTED)
            return 0
        await digests.finish_post(post_id, "sent", message_id=message.id)
        log.info("digest of guild %d posted in channel %d", guild, setting.channel_id)
        return 1

    async def _chart(self, content: DigestContent) -> Chart | None:
        """The games by viewers as bars, drawn once per snapshot for every guild.

        None (the digest goes out without it) when drawing fails or takes longer than
        `CHART_BUDGET`.
        """
        games = [(game.label, game.total_viewers) for game in content.games]
        return await self._renderer.chart(
            ("digest-games", content.snapshot.id),
            charts.games_bar,
            games,
            title=f"Top {len(games)} games by viewers",
            unit="viewers",
            filename=CHART_FILE,
            budget=CHART_BUDGET,
        )


class _Figures:
    """One round's figures: the current snapshot's, and each previous snapshot's history.

    Every digest of a round shows the same snapshot, and most compare with the same previous
    one (the guilds' digests went out after the same refresh): each is read once per round.
    """

    def __init__(self, current: digest.Current) -> None:
        self._current = current
        self._history: dict[int, tuple[dict[str, GameTotal], dict[str, ChannelRank]]] = {}

    async def content(self, guild_id: int, post_id: int) -> DigestContent:
        """The current snapshot against the guild's previous digest."""
        previous = await digests.previous_post(guild_id, post_id)
        if previous is None:
            return digest.compose(
                self._current, since=None, previous_totals=None, previous_ranks=None
            )
        totals, ranks = await self._history_of(previous.snapshot_id)
        return digest.compose(
            self._current,
            since=previous.claimed_at,
            previous_totals=totals or None,  # empty: the history no longer holds it
            previous_ranks=ranks,
        )

    async def _history_of(
        self, snapshot_id: int
    ) -> tuple[dict[str, GameTotal], dict[str, ChannelRank]]:
        if snapshot_id not in self._history:
            totals = await history.game_totals_at(snapshot_id)
            ranks = await history.channel_ranks_at(snapshot_id) if totals else {}
            self._history[snapshot_id] = (totals, ranks)
        return self._history[snapshot_id]
