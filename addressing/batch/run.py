"""One batch, start to end: plan -> clean chunks (any runner) -> assemble -> manifest -> clean up.

The CLI (``clean_file``), the nightly flow and the import flow all clean files here, so what
makes a batch safe happens in this one place, whoever runs it:

- every file it writes (outputs, manifest, lock, work folder) stays inside the output root:
  ``..`` or a symlink leading out is refused;
- one run per output at a time (``lock.output_lock``), held from the plan to the clean-up;
- temporary files a killed writer left are removed first (under the lock: no live writer);
- a killed run's split and finished chunks are reused (``plan``, ``chunks``), so the next run
  writes the bytes an uninterrupted one would;
- the work folder goes once the manifest is written (kept when asked: an import's chunks
  wait for an operator's decisions, and go after ``revise``).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from addressing import io as aio
from addressing.batch.assembly import assemble
from addressing.batch.chunks import ChunkJob
from addressing.batch.lock import output_lock
from addressing.batch.manifest import write_manifest
from addressing.batch.outputs import output_format, output_paths, stem_path
from addressing.batch.plan import Plan, remove_work, split_input, work_root
from addressing.batch.runners import InProcess, Runner, local_runner
from addressing.errors import InputError, OutputError
from addressing.gazetteer import open_gazetteer
from addressing.risk import risk_context


@dataclass(frozen=True)
class BatchFile:
    """One input file of a batch and the output it is cleaned into."""

    input: Path
    output: Path


@dataclass(frozen=True)
class Settings:
    """What every file of a batch is cleaned with, and where it may write."""

    db: str
    fmt: str | None = None
    batch_id: str | None = None
    risk_policy: str | None = None
    chunk_rows: int = aio.DEFAULT_BATCH_ROWS
    redact: bool = False
    #: every file written stays inside it; ``None``: each output's own folder
    output_root: Path | None = None


@dataclass
class FileResult:
    """A finished file: its manifest, its plan and the addresses found shared batch-wide."""

    manifest: dict
    plan: Plan
    shared: dict[str, int] = field(default_factory=dict)


#: progress(rows cleaned so far, rows in the batch): after planning (0 rows) and after each chunk
Progress = Callable[[int, int], None]


def run_batch(files: list[BatchFile], settings: Settings, runner: Runner | None = None,
              progress: Progress | None = None, keep_work: bool = False) -> list[FileResult]:
    """Clean ``files`` into their outputs; results in the order of ``files``.

    Restartable and idempotent: after a crash the next run (by any runner, CLI or flow) reuses
    the chunks already cleaned and writes the same bytes; a rerun replaces the outputs.
    """
    started = time.time()
    runner = runner or InProcess()
    files = [_confined(f, settings) for f in files]
    _check(files, settings)
    risk_context(settings.risk_policy)  # a bad policy fails here, before anything is written
    gazetteer_version = open_gazetteer(settings.db).version
    try:
        with contextlib.ExitStack() as locks:
            for f in files:
                locks.enter_context(output_lock(f.output))
                for path in output_paths(f.output).values():
                    aio.remove_stale_parts(path)
            try:
                plans = [runner.step("plan", split_input, f.input, work_root(f.output), settings.db,
                                     settings.chunk_rows, several=runner.several) for f in files]
                stats = _clean(plans, settings, runner, progress, gazetteer_version)
                results = []
                for f, plan in zip(files, plans):
                    manifest, shared = runner.step("assemble", assemble_file, plan, f.output, settings,
                                                   gazetteer_version, [stats[o] for o in plan.outputs()], started)
                    results.append(FileResult(manifest, plan, shared))
                    if not keep_work:
                        remove_work(plan)
            finally:
                for f in files:  # a failed split leaves empty folders; chunks a failed run finished stay
                    _remove_if_empty(work_root(f.output))
    except OSError as exc:
        raise OutputError(f"{exc.filename or files[0].output}: {exc.strerror or exc}") from exc
    return results


def _remove_if_empty(folder: Path) -> None:
    """Remove ``folder`` and then its parent, each only when empty."""
    for f in (folder, folder.parent):
        with contextlib.suppress(OSError):
            f.rmdir()


def _confined(f: BatchFile, settings: Settings) -> BatchFile:
    """``f`` as given, once every file its output writes (the outputs, the lock, the work
    folder) is found inside the output root; ``OutputError`` when one leads out."""
    output = Path(f.output)
    full = Path(os.path.abspath(output))
    root = settings.output_root if settings.output_root is not None else full.parent
    for path in (full, *output_paths(full).values(), stem_path(full), work_root(full)):
        aio.confine(path, root)
    return BatchFile(Path(f.input), output)


def _check(files: list[BatchFile], settings: Settings) -> None:
    if settings.chunk_rows < 1:
        raise OutputError(f"chunk rows must be at least 1, not {settings.chunk_rows}")
    stems: dict[Path, Path] = {}
    for f in files:
        if f.output.is_dir():
            raise OutputError(f"{f.output}: is a folder; give a file name")
        output_format(f.output, settings.fmt)
        other = stems.setdefault(stem_path(f.output), f.input)
        if other != f.input:  # they would write one review queue and one manifest
            raise InputError(f"{other} and {f.input} would both be cleaned into {stem_path(f.output)}.*; "
                             "rename one", str(f.input))


def _clean(plans: list[Plan], settings: Settings, runner: Runner, progress: Progress | None,
           gazetteer_version: str) -> dict[Path, dict]:
    """Every chunk of every file through the runner, each with the batch's gazetteer version;
    stats by cleaned chunk path."""
    jobs = [ChunkJob(cin, cout, str(settings.db), settings.risk_policy, gazetteer_version)
            for plan in plans for cin, cout in zip(plan.chunks, plan.outputs())]
    total, done = sum(p.rows for p in plans), 0
    if progress:
        progress(done, total)
    stats: dict[Path, dict] = {}
    for job, s in runner.clean(jobs):
        stats[job.chunk_out] = s
        done += s["rows"]
        if progress:
            progress(done, total)
    return stats


def assemble_file(plan: Plan, output: Path, settings: Settings, gazetteer_version: str,
                  chunk_stats: list[dict] | None = None, started: float | None = None,
                  extra: dict | None = None) -> tuple[dict, dict[str, int]]:
    """Assemble one file's outputs, then write its manifest: (manifest, shared addresses)."""
    done = assemble(plan, output, settings.fmt, settings.risk_policy, redact=settings.redact)
    manifest = write_manifest(plan, done, settings.db, gazetteer_version, settings.batch_id, chunk_stats, started,
                              extra)
    return manifest, done.shared


def revise(file: BatchFile, plan: Plan, settings: Settings, change: Callable[[], dict | None]) -> dict:
    """Rewrite a finished output after ``change`` has rewritten its cleaned chunks (an
    operator's decisions), under the output's lock; then remove its work folder. ``change``
    returns keys to add to the manifest (or ``None``)."""
    file = _confined(file, settings)
    with output_lock(file.output):
        extra = change()
        manifest, _ = assemble_file(plan, file.output, settings, open_gazetteer(settings.db).version, extra=extra)
        remove_work(plan)
    return manifest


def discard_work(file: BatchFile, plan: Plan) -> None:
    """Remove a finished output's kept work folder (under its lock: no run is using it)."""
    with output_lock(file.output):
        remove_work(plan)


def clean_file(input_path: str | Path, output: str | Path, db: str | Path, fmt: str | None = None,
               batch_id: str | None = None, risk_policy: str | Path | None = None,
               chunk_rows: int = aio.DEFAULT_BATCH_ROWS, progress: Progress | None = None,
               keep_work: bool = False, workers: int = 1, output_root: str | Path | None = None,
               redact: bool = False) -> dict:
    """Clean a whole file (``addressing clean``) on ``workers`` processes; returns its manifest.
    A relative ``output`` is taken from ``output_root`` when one is given. ``progress(rows
    cleaned so far, rows in the file)`` is called once the file is split, then after each chunk."""
    if output_root is not None:
        output = aio.confine(output, output_root)  # a relative output is taken from the root
    settings = Settings(str(db), fmt, batch_id, None if risk_policy is None else str(risk_policy), chunk_rows,
                        redact, None if output_root is None else Path(output_root))
    [result] = run_batch([BatchFile(Path(input_path), Path(output))], settings, local_runner(workers), progress,
                         keep_work)
    return result.manifest
