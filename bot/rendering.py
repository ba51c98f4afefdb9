"""Charts drawn off the event loop, each once: a worker process, a cache, one render per key.

matplotlib holds the GIL for most of a render, so a render in a thread stalls the event loop
(the gateway heartbeat, every other answer) for its whole length; in a worker process it does
not (`bench/charts.py` measures both). The worker starts from a fork server that has imported
matplotlib already, so a new worker is ready in a few milliseconds, and it runs at a lower CPU
priority than the bot: on a busy machine the bot's answers come first. It ends with the bot,
even one killed outright.

Callers name each chart by a key that includes the snapshot it shows, so a chart is drawn once
per snapshot however many people ask at once (they share the one render), and a new snapshot
draws again. A chart that fails, or is not ready within the caller's budget, is `None`: the
answer goes out without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import multiprocessing
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.connection import Connection
from typing import Any

from bot import charts
from bot.charts import Chart

log = logging.getLogger(__name__)

CHART_BUDGET = 1.0  # seconds an answer waits for its chart (Discord's 3 s, answer()'s 1.5 s)
CACHE_SIZE = 64  # charts kept (PNG bytes, ~20-80 KB each): several snapshots' worth
WORKER_NICENESS = 10
# What the fork server imports once; every worker forked from it starts with them loaded.
PRELOAD = ["bot.charts", "matplotlib.figure", "matplotlib.backends.backend_agg", "matplotlib.dates"]

ExecutorFactory = Callable[[], Executor]


def _start_worker(bot_alive: Connection) -> None:
    """In the worker: yield the CPU to the bot whenever both want it, and end with the bot."""
    os.nice(WORKER_NICENESS)
    threading.Thread(target=_exit_with_bot, args=(bot_alive,), daemon=True).start()


def _exit_with_bot(bot_alive: Connection) -> None:
    """Wait for the bot's end of the pipe to close (nothing is ever sent), then exit.

    A worker does not notice on its own that the bot was killed (SIGKILL, out of memory): it
    would wait for work forever, and keep its fork server alive too.
    """
    with contextlib.suppress(EOFError, OSError):
        bot_alive.recv_bytes()
    os._exit(0)


@functools.cache
def _lifeline() -> tuple[Connection, Connection]:
    """A pipe: (the workers' end, this process's end).

    Cached, so this process holds its end until it ends, however it ends; then every
    worker's `recv` sees the pipe close.
    """
    return multiprocessing.Pipe(duplex=False)


def process_pool() -> Executor:
    """One worker process, forked from a server that has matplotlib loaded."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return ProcessPoolExecutor(
        1, mp_context=context, initializer=_start_worker, initargs=(_lifeline()[0],)
    )


def thread_pool() -> Executor:
    """One worker thread (matplotlib is not thread-safe): the benchmark's comparison."""
    return ThreadPoolExecutor(1, thread_name_prefix="charts")


class ChartRenderer:
    """Draws charts in an executor, each key at most once while it is cached.

    `renders` counts the charts actually drawn (what the cache did not answer).
    """

    def __init__(
        self, executor: ExecutorFactory = process_pool, *, cache_size: int = CACHE_SIZE
    ) -> None:
        self._new_executor = executor
        self._executor: Executor | None = None
        self._cache_size = cache_size
        self._done: OrderedDict[Hashable, Chart] = OrderedDict()
        self._pending: dict[Hashable, asyncio.Future[Chart]] = {}
        self.renders = 0

    def start(self) -> None:
        """Start the worker and warm it up in the background: the first answer need not wait.

        The first start in a process also starts the fork server, which blocks for ~0.3 s
        while it imports matplotlib: call it at start-up, before anything is served.
        """
        self._executor = self._new_executor()
        self._executor.submit(charts.warm_up)

    async def close(self) -> None:
        """Stop the worker: renders not begun are dropped; one under way is waited for."""
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)

    def cached(self, key: Hashable) -> Chart | None:
        """The chart under `key` if it is drawn already: lets a caller skip gathering its data."""
        chart = self._done.get(key)
        if chart is not None:
            self._done.move_to_end(key)
        return chart

    async def chart(
        self,
        key: Hashable,
        draw: Callable[..., Chart],
        *args: Any,
        budget: float = CHART_BUDGET,
        **kwargs: Any,
    ) -> Chart | None:
        """The chart `draw(*args, **kwargs)` stored under `key`: cached, shared, or drawn now.

        Waits at most `budget` seconds. A chart not ready by then goes on being drawn and is
        cached for the next ask; this caller gets None, as it does when drawing fails (logged).
        The arguments must be picklable (they travel to the worker process).
        """
        done = self.cached(key)
        if done is not None:
            return done
        pending = self._pending.get(key) or self._submit(
            key, functools.partial(draw, *args, **kwargs)
        )
        if pending is None:
            return None
        try:
            async with asyncio.timeout(budget):
                return await asyncio.shield(pending)
        except TimeoutError:
            log.warning("chart %r not ready within %.1f s: answering without it", key, budget)
            return None
        except Exception:
            return None  # logged once, in _finished, however many waited for it

    def _submit(self, key: Hashable, job: Callable[[], Chart]) -> asyncio.Future[Chart] | None:
        executor = self._executor
        if executor is None:
            log.warning("chart %r not drawn: the chart worker is not running", key)
            return None
        try:
            pending = asyncio.get_running_loop().run_in_executor(executor, job)
        except RuntimeError as error:  # shut down, or broken (BrokenExecutor is a RuntimeError)
            log.error("chart %r not drawn: the chart worker cannot take work (%s)", key, error)
            self._replace_if_broken(executor, error)
            return None
        self._pending[key] = pending
        pending.add_done_callback(functools.partial(self._finished, key, executor))
        return pending

    def _finished(self, key: Hashable, executor: Executor, pending: asyncio.Future[Chart]) -> None:
        self._pending.pop(key, None)
        if pending.cancelled():
            return
        error = pending.exception()
        if error is not None:
            log.error("drawing chart %r failed", key, exc_info=error)
            self._replace_if_broken(executor, error)
            return
        self.renders += 1
        self._done[key] = pending.result()
        while len(self._done) > self._cache_size:
            self._done.popitem(last=False)

    def _replace_if_broken(self, executor: Executor, error: BaseException) -> None:
        """A worker that died (killed, out of memory) breaks its pool: start a new one, once."""
        if isinstance(error, BrokenProcessPool) and executor is self._executor:
            log.warning("the chart worker died; starting a new one")
            executor.shutdown(wait=False, cancel_futures=True)
            self.start()
