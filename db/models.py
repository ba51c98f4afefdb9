"""Tables: the current snapshot, the snapshot log, refresh attempts, linked accounts, digests.

Class docstrings become table comments in the schema: keep them free of semicolons, which the
migration runner takes for the end of a statement.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Snapshot(Model):
    """One committed refresh. The newest row describes the rows in `streams`."""

    id = fields.IntField(primary_key=True)
    taken_at = fields.DatetimeField()
    stream_count = fields.IntField()
    pages = fields.IntField()
    duplicates_dropped = fields.IntField()
    # True when the refresh walked every live stream (TOP_STREAMS=all), not only the top N.
    every_stream = fields.BooleanField(default=False, db_default=False)

    class Meta:
        table = "snapshots"


class SnapshotTop(Model):
    """A recent snapshot's top 100 as JSON: /top pages stay turnable anywhere, anytime."""

    snapshot_id = fields.IntField(primary_key=True)  # set to the snapshot id on insert
    streams = fields.TextField()

    class Meta:
        table = "snapshot_tops"


class RefreshRun(Model):
    """One refresh attempt, successful or not, by whichever process refreshed (for /status)."""

    id = fields.IntField(primary_key=True)
    finished_at = fields.DatetimeField()
    error = fields.TextField(null=True)
    snapshot_id = fields.IntField(null=True)

    class Meta:
        table = "refresh_runs"


class Stream(Model):
    """A live stream of the current snapshot (the table only ever holds one snapshot)."""

    id = fields.CharField(primary_key=True, max_length=32)
    snapshot_id = fields.IntField()
    user_id = fields.CharField(max_length=32)
    # Names are TEXT: strangers' text of any length must never make a snapshot fail to store.
    user_login = fields.TextField()
    user_name = fields.TextField()
    game_id = fields.CharField(max_length=32)
    game_name = fields.TextField()
    title = fields.TextField()
    viewer_count = fields.IntField(db_index=True)
    started_at = fields.DatetimeField()
    language = fields.TextField()
    tags = fields.TextField(description="JSON array of Twitch's readable tags")
    thumbnail_url = fields.TextField()
    is_mature = fields.BooleanField()

    class Meta:
        table = "streams"


class User(Model):
    """A Discord user linked to a Twitch account. Twitch tokens are stored encrypted."""

    discord_id = fields.CharField(primary_key=True, max_length=32)
    twitch_id = fields.CharField(max_length=32, db_index=True)
    twitch_login = fields.CharField(max_length=64)
    twitch_display_name = fields.TextField()
    linked_at = fields.DatetimeField()
    access_token = fields.TextField(null=True, description="encrypted (bot/crypto.py)")
    refresh_token = fields.TextField(null=True, description="encrypted (bot/crypto.py)")
    scopes = fields.CharField(max_length=255, default="")
    # Bumped by every write of the tokens (link, refresh, end). A writer that read the row first
    # writes only if the version is still the one it read, so a slow refresh cannot resurrect
    # tokens that a logout deleted or overwrite the tokens of a newer link.
    token_version = fields.IntField(default=0, db_default=0)

    class Meta:
        table = "users"


class ApiSession(Model):
    """An issued session JWT, by its `jti`, so it can be revoked before it expires."""

    jti = fields.CharField(primary_key=True, max_length=64)
    discord_id = fields.CharField(max_length=32, db_index=True)
    issued_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "sessions"


class UsedState(Model):
    """OAuth states already spent: a state works once."""

    nonce = fields.CharField(primary_key=True, max_length=64)
    expires_at = fields.DatetimeField()

    class Meta:
        table = "used_oauth_states"


class CommandSync(Model):
    """The digest of the slash commands last published to one target (global or a guild)."""

    target = fields.CharField(primary_key=True, max_length=64)
    digest = fields.CharField(max_length=64)
    synced_at = fields.DatetimeField()

    class Meta:
        table = "command_syncs"


class HistoryTotal(Model):
    """One snapshot's history, kept HISTORY_DAYS: its totals, and its games and top channels packed.

    Games and channels are one text each (`db.history_packs`): a row per game and per channel
    made the history write cost a third of the snapshot write. A reader finds one game or
    channel in a pack with the database's substring search.
    """

    snapshot_id = fields.IntField(primary_key=True)  # set to the snapshot id on insert
    taken_at = fields.DatetimeField()
    streams = fields.IntField()
    viewers = fields.BigIntField()
    median = fields.FloatField(null=True)
    games = fields.TextField(default=",", db_default=",")
    channels = fields.TextField(default=",", db_default=",")

    class Meta:
        table = "history_totals"


class Digest(Model):
    """A guild's digest: where and how often it is posted, or why it was switched off."""

    guild_id = fields.CharField(primary_key=True, max_length=32)
    channel_id = fields.CharField(max_length=32)
    every = fields.CharField(max_length=8, description="hourly or daily")
    hour = fields.IntField(description="UTC hour a daily digest is due")
    set_by = fields.CharField(max_length=32)
    set_at = fields.DatetimeField()
    # Set when the bot could not post (no permission, channel deleted): the digest stays off
    # until someone runs /digest set again, and /digest show says why.
    disabled_reason = fields.TextField(null=True)
    disabled_at = fields.DatetimeField(null=True)

    class Meta:
        table = "digests"


class DigestPost(Model):
    """One period of one guild's digest, claimed before it is sent: at most one post each."""

    id = fields.IntField(primary_key=True)
    guild_id = fields.CharField(max_length=32)
    period = fields.CharField(max_length=32)
    snapshot_id = fields.IntField()
    channel_id = fields.CharField(max_length=32)
    claimed_at = fields.DatetimeField(db_index=True)
    # claimed (sending, or the process died while sending), sent, or failed (see `error`)
    state = fields.CharField(max_length=8)
    message_id = fields.CharField(max_length=32, null=True)
    error = fields.TextField(null=True)

    class Meta:
        table = "digest_posts"
        unique_together = (("guild_id", "period"),)
