"""Hypothesis strategies for snapshots of live streams, shaped like Twitch's data."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import strategies as st

from bot.streams import Stream

# Twitch text may hold any printable Unicode; NUL and lone surrogates cannot be stored anywhere.
names = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40
)
GAMES = ["", "509658", "21779", "32982", "27471", "516575"]


@st.composite
def snapshots(draw: st.DrawFn, max_size: int = 250) -> list[Stream]:
    """Streams with unique ids and many tied viewer counts (ties are where engines disagree)."""
    ids = draw(st.lists(st.integers(1, 10**12), unique=True, max_size=max_size))
    high = draw(st.sampled_from([3, 40, 100_000]))
    streams = []
    for stream_id in ids:
        game = draw(st.sampled_from(GAMES))
        streams.append(
            Stream(
                id=str(stream_id),
                user_id=str(stream_id + 7),
                user_login=f"user{stream_id}",
                user_name=draw(names),
                game_id=game,
                game_name=f"Game {game}" if game else "",
                title=draw(names),
                viewer_count=draw(st.integers(0, high)),
                started_at=datetime(2026, 11, 28, 12, 0, tzinfo=UTC),
                language=draw(st.sampled_from(["en", "de", "ja", "other"])),
                tags=tuple(draw(st.lists(names, max_size=3))),
                thumbnail_url=f"https://example.invalid/{stream_id}-{{width}}x{{height}}.jpg",
                is_mature=draw(st.booleans()),
            )
        )
    return streams
