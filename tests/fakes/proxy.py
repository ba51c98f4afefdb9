"""A TCP proxy on 127.0.0.1 that can cut connections, to reproduce network faults exactly.

It forwards bytes unchanged between a client and a real server (PostgreSQL, Redis...). A test
can cut every open connection (as if their server processes were killed), cut the next
connection whose client sends a given byte string (e.g. a query's text, right after the
connection was set up), or stop answering altogether while keeping connections open.
"""

from __future__ import annotations

import asyncio
import contextlib

from tests.fakes import LoopbackServer

CHUNK = 64 * 1024


class Proxy(LoopbackServer):
    """Forwards `127.0.0.1:<port>` to `upstream_host:upstream_port`."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        self.connections = 0  # accepted so far
        self.cuts = 0  # connections cut on purpose so far
        self.silent = False  # True: keep reading, forward nothing (a server that never answers)
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self._cut_on: list[bytes] = []

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop accepting, cut every connection and wait until each socket is really closed
        (an aborted transport closes its socket on the loop's next turn, which must come)."""
        if self._server is not None:
            self._server.close()
        self.cut_all()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    def url_for(self, url: str) -> str:
        """`url` with its host and port replaced by the proxy's (`scheme://user@host:port/...`)."""
        scheme, _, rest = url.partition("://")
        credentials, _, location = rest.rpartition("@")
        _, _, path = location.partition("/")
        user = f"{credentials}@" if credentials else ""
        return f"{scheme}://{user}127.0.0.1:{self.port}/{path}"

    def cut_all(self) -> None:
        """Drop every open connection at once, both ways."""
        for writer in list(self._open):
            self._abort(writer)

    def cut_next_sending(self, marker: bytes) -> None:
        """Drop the next connection whose client sends `marker` (once), before it is forwarded."""
        self._cut_on.append(marker)

    def _abort(self, writer: asyncio.StreamWriter) -> None:
        self._open.discard(writer)
        writer.transport.abort()

    async def _serve(
        self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter
    ) -> None:
        handler = asyncio.current_task()
        if handler is not None:
            self._handlers.add(handler)
            handler.add_done_callback(self._handlers.discard)
        self.connections += 1
        pair: tuple[asyncio.StreamWriter, ...] = (client,)
        pumps: list[asyncio.Task[None]] = []
        try:
            upstream_reader, upstream = await asyncio.open_connection(*self.upstream)
            pair = (client, upstream)
            self._open.update(pair)
            pumps = [
                asyncio.create_task(self._pump(client_reader, upstream, watch=True)),
                asyncio.create_task(self._pump(upstream_reader, client, watch=False)),
            ]
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        except OSError:
            pass  # the upstream server is down: the client sees its connection closed
        finally:
            # Whatever ended the connection (either side, a cut, cancellation), both sockets go.
            for end in pair:
                self._abort(end)
            await asyncio.gather(*pumps, return_exceptions=True)
            for end in pair:
                with contextlib.suppress(OSError):
                    await end.wait_closed()

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, watch: bool
    ) -> None:
        """Copy one direction until either side ends or the connection is cut."""
        with contextlib.suppress(OSError):
            while chunk := await reader.read(CHUNK):
                if watch and self._should_cut(chunk):
                    self.cuts += 1
                    return
                if self.silent:
                    continue
                writer.write(chunk)
                await writer.drain()

    def _should_cut(self, chunk: bytes) -> bool:
        for marker in self._cut_on:
            if marker in chunk:
                self._cut_on.remove(marker)
                return True
        return False
