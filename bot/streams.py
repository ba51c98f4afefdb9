"""The `Stream` value: one live stream as the Twitch client, the database and the stats share it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Stream:
    """A live stream at the moment its snapshot was taken. Ids are Twitch's digit strings."""

    id: str
    user_id: str
    user_login: str
    user_name: str
    game_id: str
    game_name: str
    title: str
    viewer_count: int
    started_at: datetime
    language: str
    tags: tuple[str, ...]
    thumbnail_url: str
    is_mature: bool

    @property
    def channel_url(self) -> str:
        """The channel page on Twitch."""
        return f"https://twitch.tv/{self.user_login}"


def by_viewers(stream: Stream) -> tuple[int, str]:
    """Sort key: most viewers first; equal counts by stream id, so every engine agrees on ties."""
    return (-stream.viewer_count, stream.id)
