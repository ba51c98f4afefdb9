"""Whatever arrives in a query string or header, the web app answers without a 500."""

from __future__ import annotations

from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

fuzz = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
PATHS = [
    "/callback",
    "/login",
    "/healthz",
    "/api/v1/stats/streams",
    "/api/v1/stats/games",
    "/api/v1/streams/top",
]
KEYS = ["code", "state", "error", "error_description", "scope", "source", "order", "x"]
values = st.one_of(
    st.text(max_size=300),
    st.sampled_from(["", "memory", "database", "asc", "desc", "access_denied", "a.b.c", "%00"]),
    st.from_regex(r"[A-Za-z0-9_-]{10,60}\.[A-Za-z0-9_-]{10,200}\.[A-Za-z0-9_-]{0,60}"),
)
queries = st.lists(st.tuples(st.sampled_from(KEYS), values), max_size=6)
authorizations = st.one_of(
    st.none(),
    st.text(max_size=200).filter(lambda s: "\n" not in s and "\r" not in s),
    st.from_regex(r"Bearer [ -~]{0,300}", fullmatch=True),
)


@fuzz
@given(path=st.sampled_from(PATHS), query=queries, authorization=authorizations)
async def test_no_query_string_or_header_causes_a_server_error(client, path, query, authorization):
    encoded = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in query)
    headers = {"Authorization": authorization} if authorization is not None else {}
    try:
        reply = await client.get(f"{path}?{encoded}", headers=headers, allow_redirects=False)
    except ValueError:
        return  # a header the HTTP client itself refuses to send
    body = await reply.text()

    assert reply.status < 500 or reply.status == 503, (reply.status, body[:300])
    assert "Traceback" not in body
