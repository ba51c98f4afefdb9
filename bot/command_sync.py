"""Publishing the slash commands only when they changed since the last time.

Discord rate-limits command updates, and every process start used to publish the whole tree
again. A digest of what would be sent (the commands, the target, the application) is kept in
the database; an equal digest means Discord already has exactly these commands.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime

import discord
from discord import app_commands

from db import command_syncs

log = logging.getLogger(__name__)


def commands_digest(
    payload: list[dict[str, object]], target: str, application_id: int | None
) -> str:
    """A fingerprint of one publication: any change to a command, its target or app differs."""
    document = {"target": target, "application": application_id, "commands": payload}
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


async def sync_if_changed(
    tree: app_commands.CommandTree, *, guild: discord.Object | None
) -> int | None:
    """Publish the tree's commands for `guild` (None: global) unless unchanged; how many."""
    target = "global" if guild is None else f"guild:{guild.id}"
    commands = tree.get_commands(guild=guild)
    payload = [command.to_dict(tree) for command in commands]
    digest = commands_digest(payload, target, tree.client.application_id)
    if await command_syncs.published_digest(target) == digest:
        log.info(
            "the %d slash commands are unchanged since the last sync (%s)", len(commands), target
        )
        return None
    synced = await tree.sync(guild=guild)
    await command_syncs.record_published(target, digest, datetime.now(UTC))
    return len(synced)
