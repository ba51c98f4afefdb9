"""Hypothesis strategies for snapshots of live streams, shaped like Twitch's data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from bot.streams import Stream

# Twitch text may hold any printable Unicode; NUL and lone surrogates cannot be stored anywhere.
names = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40
)
GAMES = ["", "509658", "21779", "32982", "27471", "516575"]

# Start times that crowd the edges of the hour rounding: half past to the microsecond on
# either side, midnight, the end of a day, a month and a year, and arbitrary moments.
EDGE_MINUTES = st.sampled_from([(0, 0, 0), (29, 59, 999_999), (30, 0, 0), (59, 59, 999_999)])
start_times = st.one_of(
    st.builds(
        lambda day, hour, edge: day.replace(
            hour=hour, minute=edge[0], second=edge[1], microsecond=edge[2]
        ),
        st.sampled_from(
            [
                datetime(2026, 11, 28, tzinfo=UTC),
                datetime(2026, 11, 30, tzinfo=UTC),
                datetime(2026, 12, 31, tzinfo=UTC),
            ]
        ),
        st.sampled_from([0, 13, 14, 23]),
        EDGE_MINUTES,
    ),
    st.datetimes(  # hypothesis takes naive bounds and attaches the time zone itself
        min_value=datetime(2020, 1, 1),  # noqa: DTZ001
        max_value=datetime(2035, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    st.integers(0, 3 * 24 * 3600).map(
        lambda seconds: datetime(2026, 11, 28, tzinfo=UTC) + timedelta(seconds=seconds)
    ),
)


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
                started_at=draw(start_times),
                language=draw(st.sampled_from(["en", "de", "ja", "other"])),
                tags=tuple(draw(st.lists(names, max_size=3))),
                thumbnail_url=f"https://example.invalid/{stream_id}-{{width}}x{{height}}.jpg",
                is_mature=draw(st.booleans()),
            )
        )
    return streams


# Pieces of text that break naive escaping: markdown in every position, mentions of every kind,
# zero-width, joining, combining and direction-changing characters, line breaks, emoji.
HOSTILE_PIECES = (
    *("_", "__", "\\", "\\\\", "*", "**", "`", "```", "~~", "||", "|", "[", "]", "(", ")"),
    *("[x](https://evil.example)", "<", ">", ">>> ", "# ", "### ", "-# ", "- ", "+ ", "* "),
    *("1. ", "12.", "#", "-", ".", "7", " ", "\t", "\u3000", "a", "Z", "é", "Ж", "ゆうき"),
    *("@everyone", "@here", "<@110000000000000030>", "<@!110000000000000030>"),
    *("<@&110000000000000031>", "<#110000000000000032>", "</top:110000000000000033>"),
    *("<t:1700000000:R>", "<:emoji:110000000000000034>", "https://evil.example"),
    *("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u202e", "\u2066", "\u200f"),
    *("\u0301", "\u0338", "\u20dd", "\ufe0f", "\U0001f3fd", "😀", "👨\u200d👩\u200d👧", "🇩🇪"),
    *("\n", "\r\n", "\u2028", "\x85", "\x1b"),
)
HUGE = 4_800  # characters: far past every limit of a Discord message


def _repeat(pieces: list[str]) -> str:
    return ("".join(pieces) * HUGE)[:HUGE]


hostile_names = st.one_of(
    names,
    st.lists(st.sampled_from(HOSTILE_PIECES), max_size=40).map("".join),
    st.lists(st.sampled_from(HOSTILE_PIECES), min_size=1, max_size=6).map(_repeat),
)
# Twitch logins are 4-25 of [a-z0-9_]; a few hostile ones test that nothing depends on that.
logins = st.one_of(st.from_regex(r"[a-z0-9_]{4,25}", fullmatch=True), hostile_names)
game_ids = st.from_regex(r"[1-9][0-9]{0,9}", fullmatch=True)
