"""Background loops that stay up: a loop whose task ends other than by `stop` is restarted.

`discord.ext.tasks` ends a loop for good on any exception it does not retry itself (anything but
network errors), after which nothing would refresh while every health signal stayed green. Loop
bodies catch their own failures; this is the last line of defence behind them, and the one place
that can tell `/status` and `/healthz` whether a loop is running.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

log = logging.getLogger(__name__)

RESTART_DELAY = 5.0  # seconds; a loop failing at every start must not spin
STOP_GRACE = 5.0  # seconds a cancelled loop has to end before it is cancelled again
REFRESH_LOOP = "refresh"
VALIDATION_LOOP = "token validation"
HOUSEKEEPING_LOOP = "housekeeping"


class Loop(Protocol):
    """What the supervisor needs of a `discord.ext.tasks.Loop`."""

    @property
    def next_iteration(self) -> datetime | None:
        """When the next run is due (None when the loop is not running)."""
        ...

    def start(self, *args: Any, **kwargs: Any) -> asyncio.Task[None]:
        """Start the loop's task."""
        ...

    def cancel(self) -> None:
        """Cancel the loop's task."""
        ...

    def is_running(self) -> bool:
        """True while the loop's task has not finished."""
        ...


@dataclass(frozen=True)
class LoopStatus:
    """A loop as the health check and /status report it."""

    name: str
    running: bool
    next_run: datetime | None
    restarts: int


@dataclass
class _Watched:
    loop: Loop
    task: asyncio.Task[None] | None = None
    restart: asyncio.TimerHandle | None = None
    restarts: int = 0
    stopping: bool = False


class Supervisor:
    """Starts named loops, restarts any that ends unexpectedly (logged), stops them on request."""

    def __init__(
        self, *, restart_delay: float = RESTART_DELAY, stop_grace: float = STOP_GRACE
    ) -> None:
        self._restart_delay = restart_delay
        self._stop_grace = stop_grace
        self._loops: dict[str, _Watched] = {}

    def start(self, name: str, loop: Loop) -> None:
        """Run `loop` under supervision from now on."""
        watched = self._loops[name] = _Watched(loop)
        self._launch(name, watched)

    def _launch(self, name: str, watched: _Watched) -> None:
        watched.restart = None
        if watched.stopping or watched.loop.is_running():
            return
        watched.task = watched.loop.start()
        watched.task.add_done_callback(lambda task: self._ended(name, watched, task))

    def _ended(self, name: str, watched: _Watched, task: asyncio.Task[None]) -> None:
        if watched.stopping or task.cancelled():
            return  # stopped on purpose, or the event loop is shutting down
        error = task.exception()
        log.error(
            "the %s loop stopped unexpectedly; restarting it in %.3g s",
            name,
            self._restart_delay,
            exc_info=error,
        )
        watched.restarts += 1
        watched.restart = asyncio.get_running_loop().call_later(
            self._restart_delay, self._launch, name, watched
        )

    async def stop(self, name: str) -> None:
        """Stop a loop for good and wait until its task has finished.

        A cancellation can be lost on Python 3.11 (`asyncio.wait_for` returns the result of
        an operation that completed as the cancellation arrived), and the loop then sleeps on
        until its next run: a loop still running after `stop_grace` is cancelled again.
        """
        watched = self._loops.get(name)
        if watched is None:
            return
        watched.stopping = True
        if watched.restart is not None:
            watched.restart.cancel()
        watched.loop.cancel()
        task = watched.task
        while task is not None and not task.done():
            await asyncio.wait([task], timeout=self._stop_grace)
            if not task.done():
                log.warning("the %s loop went on after it was cancelled; cancelling it again", name)
                task.cancel()

    def status(self, name: str) -> LoopStatus:
        """Whether the loop runs and when it runs next (not running if it was never started)."""
        watched = self._loops.get(name)
        if watched is None:
            return LoopStatus(name, running=False, next_run=None, restarts=0)
        running = watched.loop.is_running()
        return LoopStatus(
            name,
            running=running,
            next_run=watched.loop.next_iteration if running else None,
            restarts=watched.restarts,
        )
