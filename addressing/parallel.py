"""Run a function over many calls on several processes of this machine (a batch's chunks).

What to run is the caller's (``addressing.batch.runners``): this module knows processes, not
batches. On Linux, workers fork from a fork server that has loaded the parser's tables
(``worker_preload``); each opens the gazetteer read-only itself, then cleans whole chunk files.
libpostal's model is held by one server process beside them (``libpostal_server``), which
loads it while the workers start cleaning and answers the few strings that need it: workers
neither wait for the model nor hold a copy each. Results are files, so nothing large crosses
process boundaries. ``workers=1`` runs in this process. Elsewhere (macOS, whose system
libraries do not survive a fork of a process with threads, and Windows) workers are spawned
and load the tables themselves.

The fork server and the libpostal server are one per process: they stay up until this
process exits, so a long-lived caller pays their start once; workers get this process's
environment as it is when the pool starts, not as it was when the fork server started.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import TypeVar

from addressing import libpostal_server

R = TypeVar("R")


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


PRELOAD = "addressing.worker_preload"


def worker_context() -> mp.context.BaseContext:
    """Fork-server workers on Linux (not ``fork``: this process may already run DuckDB's
    threads), spawned ones elsewhere."""
    if not sys.platform.startswith("linux") or "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload([PRELOAD])
    return ctx


def start_workers(workers: int) -> None:
    """Start the fork server now, so it loads the parser's tables while this process reads
    the rest of the input; returns at once. A no-op for one worker or without a fork server."""
    if workers > 1 and worker_context().get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


def map_unordered(fn: Callable[..., R], calls: list[tuple], workers: int) -> Iterator[tuple[int, R]]:
    """``fn(*calls[i])`` for every ``i`` on ``workers`` processes, as ``(i, result)`` in the
    order they finish; one worker, or one call, runs here. ``fn`` must be importable by
    name (workers unpickle it), and its arguments small: results travel back pickled."""
    if workers <= 1 or len(calls) <= 1:
        for i, args in enumerate(calls):
            yield i, fn(*args)
        return
    ctx = worker_context()
    # after the input is read (it waits for the fork server), before the pool: the pool's
    # workers take the server's address from this process's environment
    libpostal_server.start(ctx)
    with ProcessPoolExecutor(max_workers=min(workers, len(calls)), mp_context=ctx,
                             initializer=_use_environment, initargs=(dict(os.environ),)) as pool:
        futures = {pool.submit(fn, *args): i for i, args in enumerate(calls)}
        for fut in as_completed(futures):
            yield futures[fut], fut.result()


def _use_environment(environ: dict[str, str]) -> None:
    """A worker's environment is its parent's now (the fork server's may be older)."""
    os.environ.clear()
    os.environ.update(environ)
