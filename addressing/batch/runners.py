"""Runners: how a batch's steps run. The batch (``run.py``) decides what runs; a runner, where.

A runner has three parts: ``step`` runs one step of a file (plan, assemble) and returns its
result; ``clean`` cleans chunks and yields each ``(job, stats)`` as it finishes, in any order;
``several`` (or ``None``) is called as soon as a file turns out to make more than one chunk,
so a pool can start its workers while the rest of the input is still being read. Here: this
process, and a process pool of this machine. A flow brings its own (Prefect tasks over its
task runner: threads, or a Dask cluster), with these same three parts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Protocol, TypeVar

from addressing import parallel
from addressing.batch.chunks import ChunkJob, clean_chunk

T = TypeVar("T")


class Runner(Protocol):
    several: Callable[[], None] | None

    def step(self, name: str, fn: Callable[..., T], *args, **kwargs) -> T: ...

    def clean(self, jobs: list[ChunkJob]) -> Iterable[tuple[ChunkJob, dict]]: ...


def _chunk_args(job: ChunkJob) -> tuple:
    return (job.chunk_in, job.chunk_out, job.db, job.risk_policy, job.gazetteer_version)


class InProcess:
    """Every step and chunk in this process, one after another."""

    several = None

    def step(self, name: str, fn: Callable[..., T], *args, **kwargs) -> T:
        return fn(*args, **kwargs)

    def clean(self, jobs: list[ChunkJob]) -> Iterator[tuple[ChunkJob, dict]]:
        for job in jobs:
            yield job, clean_chunk(*_chunk_args(job))


class ProcessPool(InProcess):
    """Chunks on ``workers`` processes of this machine (``addressing.parallel``); the other
    steps in this process."""

    def __init__(self, workers: int):
        self.workers = workers

    def several(self) -> None:
        parallel.start_workers(self.workers)

    def clean(self, jobs: list[ChunkJob]) -> Iterator[tuple[ChunkJob, dict]]:
        for i, stats in parallel.map_unordered(clean_chunk, [_chunk_args(j) for j in jobs], self.workers):
            yield jobs[i], stats


def local_runner(workers: int) -> Runner:
    """This process for one worker, else a pool of ``workers`` processes."""
    return ProcessPool(workers) if workers > 1 else InProcess()
