"""Clean a batch's chunks on several processes of this machine.

Workers fork from a fork server that has loaded the parser's tables and libpostal once
(``worker_preload``), so N workers share one copy of the model instead of loading N; each
opens the gazetteer read-only itself, then cleans whole chunk files. Results are files, so
nothing large crosses process boundaries. ``workers=1`` runs in this process. Where there is
no fork server (Windows), workers are spawned and load what they need themselves.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


PRELOAD = "addressing.worker_preload"


def _context() -> mp.context.BaseContext:
    """Fork-server workers (not ``fork``: this process may already run DuckDB's threads)."""
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload([PRELOAD])
    return ctx


def start_workers(workers: int) -> None:
    """Start the fork server now, so it loads the models while this process reads the input;
    returns at once. A no-op for one worker or without a fork server."""
    if workers > 1 and _context().get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


def clean_chunks(chunks: list[Path], outputs: list[Path], db: str | Path, risk_policy: str | Path | None,
                 workers: int = 1, progress: Callable[[dict], None] | None = None) -> list[dict]:
    """Clean every chunk (skipping those already cleaned); stats in chunk order."""
    from addressing.batch import clean_chunk

    todo = list(zip(chunks, outputs))
    stats: dict[Path, dict] = {}
    if workers <= 1 or len(todo) <= 1:
        for cin, cout in todo:
            stats[cout] = clean_chunk(cin, cout, db, risk_policy)
            if progress:
                progress(stats[cout])
    else:
        with ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=_context()) as pool:
            futures = {pool.submit(clean_chunk, cin, cout, str(db), risk_policy): cout for cin, cout in todo}
            for fut in as_completed(futures):
                stats[futures[fut]] = fut.result()
                if progress:
                    progress(stats[futures[fut]])
    return [stats[o] for o in outputs]
