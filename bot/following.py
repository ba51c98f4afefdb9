"""Your followed live channels against the top: ranks, the gap to enter, shared tags (pure).

The snapshot side (`TopIndex`) is computed once per snapshot and shared by every user; the
followed side comes from each user's own Twitch call. Rules, as the product states them:

- **Rank**: a followed stream's place in the snapshot, matched by stream id, in
  `bot.streams.by_viewers` order (1 = most viewers; equal counts by stream id).
- **Viewers needed** for a followed stream outside the snapshot: `min_top - viewers + 1`, as a
  tie with the last stream of the top does not get it in. Never below 0 (a stream that grew
  past the last one since the snapshot needs nothing more). 0 inside the snapshot, and 0 for
  everyone while the snapshot holds fewer than `top_n` streams (everything live would fit).
- **The gap to enter** is that figure for the lowest-viewer followed live stream (of equal
  counts, the one `by_viewers` puts last).
- **Shared tags**: tags on at least one followed live stream and at least one snapshot stream,
  compared case-insensitively (`str.casefold`, so "Straße" matches "STRASSE"); blank tags are
  ignored. Each counts the streams carrying it on both sides (a stream counts once, however
  many spellings it carries). A tag is shown as the snapshot spells it on the most streams,
  ties going to the first spelling in code-point order. Most common in the top first, then
  most common among the followed, then by the case-folded tag.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bot.streams import Stream, by_viewers


@dataclass(frozen=True, slots=True)
class TagCount:
    """A tag of the snapshot: how Twitch spells it most there, and on how many streams."""

    tag: str
    streams: int


@dataclass(frozen=True, slots=True)
class TopIndex:
    """What comparing anyone's followed streams with one snapshot needs."""

    ranks: Mapping[str, int]  # stream id -> rank (1 = most viewers)
    size: int
    min_viewers: int  # of the snapshot's last stream; 0 for an empty snapshot
    tags: Mapping[str, TagCount]  # case-folded tag -> its shown spelling and stream count


@dataclass(frozen=True, slots=True)
class FollowedStream:
    """One followed live stream: its rank in the snapshot (None outside) and the gap to enter."""

    stream: Stream
    rank: int | None
    viewers_needed: int


@dataclass(frozen=True, slots=True)
class SharedTag:
    """A tag found on both sides, with the number of streams carrying it on each."""

    tag: str
    top_streams: int
    followed_streams: int


@dataclass(frozen=True, slots=True)
class Following:
    """One user's followed live streams compared with the top `top_n` (None: every stream)."""

    top_n: int | None
    followed_live: tuple[FollowedStream, ...]  # most viewers first
    shared_tags: tuple[SharedTag, ...]

    @property
    def in_top(self) -> int:
        """How many of the followed live streams are in the snapshot."""
        return sum(entry.rank is not None for entry in self.followed_live)

    @property
    def lowest(self) -> FollowedStream | None:
        """The followed live stream with the fewest viewers (None when none is live)."""
        return self.followed_live[-1] if self.followed_live else None


def tag_keys(tags: Iterable[str]) -> set[str]:
    """The case-folded, non-blank tags of one stream."""
    return {tag.casefold() for tag in tags if tag.strip()}


def index_top(rows: Iterable[Stream]) -> TopIndex:
    """Ranks, the last stream's viewers and the tags of a snapshot."""
    ordered = sorted(rows, key=by_viewers)
    streams_with: Counter[str] = Counter()
    spellings: dict[str, Counter[str]] = {}
    for stream in ordered:
        forms: dict[str, set[str]] = {}
        for tag in stream.tags:
            if tag.strip():
                forms.setdefault(tag.casefold(), set()).add(tag)
        for key, spelled in forms.items():
            streams_with[key] += 1
            spellings.setdefault(key, Counter()).update(spelled)
    tags = {
        key: TagCount(min(counts, key=lambda form: (-counts[form], form)), streams_with[key])
        for key, counts in spellings.items()
    }
    return TopIndex(
        ranks={stream.id: rank for rank, stream in enumerate(ordered, start=1)},
        size=len(ordered),
        min_viewers=ordered[-1].viewer_count if ordered else 0,
        tags=tags,
    )


def compare(index: TopIndex, followed: Iterable[Stream], top_n: int | None) -> Following:
    """The user's followed live streams (deduplicated by id) against the indexed snapshot.

    `top_n` None: the snapshot holds every live stream (TOP_STREAMS=all), so everything fits.
    """
    unique: dict[str, Stream] = {}
    for stream in followed:
        unique.setdefault(stream.id, stream)
    live = sorted(unique.values(), key=by_viewers)
    everything_fits = top_n is None or index.size < top_n
    entries = []
    for stream in live:
        rank = index.ranks.get(stream.id)
        needed = (
            0
            if rank is not None or everything_fits
            else max(0, index.min_viewers - stream.viewer_count + 1)
        )
        entries.append(FollowedStream(stream, rank, needed))
    followed_with = Counter(key for stream in live for key in tag_keys(stream.tags))
    shared = sorted(
        (
            SharedTag(index.tags[key].tag, index.tags[key].streams, count)
            for key, count in followed_with.items()
            if key in index.tags
        ),
        key=lambda tag: (-tag.top_streams, -tag.followed_streams, tag.tag.casefold()),
    )
    return Following(top_n=top_n, followed_live=tuple(entries), shared_tags=tuple(shared))
