"""Clean a batch's chunks on several processes of this machine.

Each worker process opens the gazetteer read-only and loads the parser's tables (and
libpostal, only if a string needs it) once, then cleans whole chunk files; results are
files, so nothing large crosses process boundaries. ``workers=1`` runs in this process.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


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
        ctx = mp.get_context("spawn")  # no fork after DuckDB / libpostal are loaded
        with ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=ctx) as pool:
            futures = {pool.submit(clean_chunk, cin, cout, str(db), risk_policy): cout for cin, cout in todo}
            for fut in as_completed(futures):
                stats[futures[fut]] = fut.result()
                if progress:
                    progress(stats[futures[fut]])
    return [stats[o] for o in outputs]
