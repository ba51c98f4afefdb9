"""Fakes of the services StreamStats talks to, served on 127.0.0.1 for the tests."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class LoopbackServer:
    """`async with` support for a fake that has `start()` and `close()`."""

    async def start(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
