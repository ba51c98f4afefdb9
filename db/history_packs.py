"""The history's packed form: a snapshot's games and top channels, one text each.

    games     ",game_id:streams:viewers:highest:name,…,"
    channels  ",user_id:rank:viewers:login,…,"

"%", "," and ":" are escaped (%25, %2C, %3A) in ids, names and logins, so every entry starts
after a comma and its fields split on colons. That makes one game or channel findable inside a
pack with the database's own substring search: ",<game id>:" and ",<user id>:" start exactly one
entry (`entry_needle`), ":<login>," ends exactly one (`login_needle`). An empty pack is ",".
The order of entries means nothing.

`HistoryTally` counts what a snapshot's packs hold while its streams are staged, so writing the
history costs one row and no second pass over the streams.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from bot.streams import Stream, by_viewers
from bot.trends import ChannelRank, GameTotal

EMPTY = ","
ENTRY_LIMIT = 160  # characters that hold any entry's fields before a name or login (ids ≤ 32)


def escape(text: str) -> str:
    """`text` without the pack's separators."""
    if "%" in text or "," in text or ":" in text:
        return text.replace("%", "%25").replace(",", "%2C").replace(":", "%3A")
    return text


def unescape(text: str) -> str:
    """What `escape` was given."""
    if "%" in text:
        return text.replace("%3A", ":").replace("%2C", ",").replace("%25", "%")
    return text


def pack(entries: Iterable[str]) -> str:
    """A pack of `entries` (already escaped, none empty)."""
    joined = ",".join(entries)
    return f",{joined}," if joined else EMPTY


def entries(packed: str) -> list[str]:
    """The entries of a pack, still escaped."""
    return packed[1:-1].split(",") if len(packed) > 1 else []


def escaped(texts: list[str]) -> list[str]:
    """`texts` escaped; a single scan when none needs it (the usual case)."""
    joined = "".join(texts)
    if "%" in joined or "," in joined or ":" in joined:
        return [escape(text) for text in texts]
    return texts


def games_pack(game_ids: list[str], names: list[str], figures: Iterable[Sequence[int]]) -> str:
    """A games pack from its columns: ids, names and (streams, viewers, highest)."""
    return pack(
        f"{game_id}:{streams}:{viewers}:{highest}:{name}"
        for game_id, name, (streams, viewers, highest) in zip(
            escaped(game_ids), escaped(names), figures, strict=True
        )
    )


def channels_pack(user_ids: list[str], logins: list[str], viewers: Iterable[int]) -> str:
    """A channels pack from its columns, most watched first (rank 1)."""
    return pack(
        f"{user_id}:{rank}:{count}:{login}"
        for rank, (user_id, login, count) in enumerate(
            zip(escaped(user_ids), escaped(logins), viewers, strict=True), start=1
        )
    )


def entry_needle(key: str) -> str:
    """What starts the entry of `key` (a game id, or a channel's user id) in its pack."""
    return f",{escape(key)}:"


def login_needle(login: str) -> str:
    """What ends the entry of the channel with `login` in a channels pack (nothing else)."""
    return f":{escape(login)},"


def game_entry(entry: str) -> tuple[str, GameTotal]:
    """(game id, totals) of one games-pack entry."""
    game_id, streams, viewers, highest, name = entry.split(":")
    return unescape(game_id), GameTotal(unescape(name), int(streams), int(viewers), int(highest))


def channel_entry(entry: str) -> tuple[str, ChannelRank]:
    """(user id, rank) of one channels-pack entry."""
    user_id, rank, viewers, login = entry.split(":")
    return unescape(user_id), ChannelRank(unescape(login), int(rank), int(viewers))


def games(packed: str) -> dict[str, GameTotal]:
    """A games pack read back: totals by game id."""
    return dict(game_entry(entry) for entry in entries(packed))


def channels(packed: str) -> dict[str, ChannelRank]:
    """A channels pack read back: ranks by user id."""
    return dict(channel_entry(entry) for entry in entries(packed))


def game_names(packed: str) -> dict[str, str]:
    """The names in a games pack by game id, without reading the figures."""
    names = {}
    for entry in entries(packed):
        game_id, _, name = entry.partition(":")
        names[unescape(game_id)] = unescape(name.rsplit(":", 1)[1])
    return names


def logins(packed: str) -> set[str]:
    """The logins in a channels pack."""
    return {unescape(entry.rsplit(":", 1)[1]) for entry in entries(packed)}


def whole_entry(found: str) -> str | None:
    """The entry at the start of `found` (text a search returned from where it found its needle).

    None if the text stops before the entry ends (a name longer than the text asked for).
    """
    end = found.find(",", 1)
    return found[1:end] if end > 0 else None


class HistoryTally:
    """A snapshot's games and top channels, counted a page of streams at a time.

    Only the top `channels` streams are ranked: a stream below the last of the current top is
    not kept, so a walk over every live stream holds about twice `channels` of them at most.
    """

    def __init__(self, channels: int) -> None:
        self._wanted = channels
        self._games: dict[str, list[int]] = {}  # game id: [streams, viewers, highest]
        self._top: list[Stream] = []
        self._floor = -1  # a stream with fewer viewers than this cannot enter the top

    def add(self, streams: Sequence[Stream]) -> None:
        """Count more streams (each stream once per snapshot)."""
        games = self._games
        for stream in streams:
            viewers = stream.viewer_count
            game = games.get(stream.game_id)
            if game is None:
                games[stream.game_id] = [1, viewers, viewers]
            else:
                game[0] += 1
                game[1] += viewers
                if viewers > game[2]:
                    game[2] = viewers
        if self._wanted:
            floor = self._floor
            self._top.extend(s for s in streams if s.viewer_count >= floor)
            if len(self._top) >= 2 * self._wanted:
                self._keep_top()

    def _keep_top(self) -> None:
        self._top.sort(key=by_viewers)
        del self._top[self._wanted :]
        if len(self._top) == self._wanted:
            self._floor = self._top[-1].viewer_count

    def games_pack(self, names: Mapping[str, str]) -> str:
        """The games pack, each game named by `names`."""
        game_ids = list(self._games)
        return games_pack(game_ids, [names[game_id] for game_id in game_ids], self._games.values())

    def channels_pack(self) -> str:
        """The channels pack: the top streams ranked as /top ranks them."""
        if self._wanted:
            self._keep_top()
        top = self._top
        return channels_pack(
            [s.user_id for s in top], [s.user_login for s in top], [s.viewer_count for s in top]
        )
