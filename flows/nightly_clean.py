"""nightly-clean: all order files of a day -> cleaned batches, review queues, manifests.

Thin: the batch is ``addressing.batch.run_batch``, the same steps the CLI runs (lock, plan,
clean chunks, assemble, manifest, clean-up); the flow only says how they run (``FlowRunner``:
each step a task, the chunks mapped as tasks over a task runner: threads, or Dask processes or
a cluster) and adds what Prefect is for: retries on what a retry may cure, chunks an earlier
run finished shown as ``Reused``, and artifacts for operations staff (summary, review queue,
progress, map).

Run it locally:  python -m flows.nightly_clean --orders build/demo/orders
"""

from __future__ import annotations

import argparse
import datetime as dt
import glob
import re
import sys
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import TypeVar

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_progress_artifact
from prefect.futures import as_completed
from prefect.states import Completed

from addressing import batch, report
from addressing.batch.chunks import ChunkJob
from addressing.confirmations.store import now, store_path
from addressing.deliveries import store as deliveries
from addressing.errors import AddressingError, InputError
from addressing.risk import risk_context
from flows.common import IO_RETRIES, ProgressReporter, failure_markdown, publish_batch
from flows.events import check_batch_id

T = TypeVar("T")

ORDER_PATTERNS = ("*.csv", "*.tsv", "*.parquet", "*.jsonl", "*.ndjson")
ARTIFACT_KEYS = {"summary": "nightly-clean-summary", "review": "review-queue", "map": "batch-map"}
PROGRESS_KEY = "nightly-clean-progress"
#: the task each step of a batch runs as (the name the UI shows)
STEP_TASKS = {"plan": "split-orders", "assemble": "assemble-batch"}


def order_files(orders: str) -> list[Path]:
    """A folder (its order files), a glob, or one file."""
    p = Path(orders)
    if p.is_dir():
        files = sorted(f for pat in ORDER_PATTERNS for f in p.glob(pat) if not f.name.startswith("."))
    elif any(ch in orders for ch in "*?["):
        files = sorted(Path(f) for f in glob.glob(orders))
    else:
        files = [p]
    if not files:
        raise InputError("no order files (.csv, .parquet, .jsonl) found", orders)
    return files


def _chunk_run_name() -> str:
    """``clean-webshop.csv-00003``: the input file and the chunk number."""
    from prefect.runtime import task_run

    chunk = Path(task_run.parameters["chunk_in"])
    m = re.match(r"(.+?)-[0-9a-f]{12}-[0-9]+-", chunk.parent.name)
    return f"clean-{m.group(1) if m else chunk.parent.name}-{chunk.stem.split('-')[-1]}"


@task(name="clean-chunk", task_run_name=_chunk_run_name, **IO_RETRIES)
def clean_chunk(chunk_in: Path, chunk_out: Path, db: str, risk_policy: str | None,
                gazetteer_version: str | None = None) -> dict:
    """One chunk. Retried only on what a retry may cure (I/O, a gazetteer read): the cleaning is
    deterministic, and a broken gazetteer fails the chunk at once with its reason. A chunk
    cleaned by an earlier, killed run is not redone; its task run ends in a ``Reused`` state
    so the UI shows it."""
    stats = batch.clean_chunk(chunk_in, chunk_out, db, risk_policy, gazetteer_version)
    if stats.get("reused"):
        return Completed(data=stats, name="Reused", message=f"{chunk_out.name} was cleaned by an earlier run")
    return stats


#: days of delivery reports the summary's live accuracy figure counts
ACCURACY_DAYS = 30


@task(name="geocode-accuracy", **IO_RETRIES)
def geocode_accuracy(db: str) -> list[dict]:
    """How far our geocodes were from real drops lately (proof of delivery), per precision."""
    return deliveries.accuracy(store_path(db), now() - dt.timedelta(days=ACCURACY_DAYS))


#: re-checks the summary reports: those written since about the previous nightly run
RECHECK_WINDOW_S = 24 * 3600


@task(name="recent-rechecks", **IO_RETRIES)
def recent_rechecks(out_dir: str) -> list[dict]:
    """Manifests of the re-checks (``addressing recheck``, the refresh flow) written lately."""
    from addressing.batch.recheck import written_since

    return written_since(Path(out_dir), time.time() - RECHECK_WINDOW_S)


@task(name="purge-decisions", **IO_RETRIES)
def purge_decisions(db: str, risk_policy: str | None) -> dict:
    """Operator decisions older than the policy's ``retention_days`` leave the decisions store."""
    from addressing.confirmations.privacy import purge_expired

    return purge_expired(db, risk_policy)


def _task_runner(runner: str):
    """``local`` (threads), ``processes:N`` (a Dask LocalCluster of N worker processes), or the
    address of an existing Dask scheduler (``tcp://host:8786``)."""
    if runner == "local":
        return None
    from prefect_dask import DaskTaskRunner

    if runner.startswith(("processes:", "dask:")):
        n = int(runner.split(":", 1)[1])
        return DaskTaskRunner(cluster_kwargs={"n_workers": n, "threads_per_worker": 1, "processes": True,
                                              "dashboard_address": None})
    if runner.startswith(("tcp://", "tls://")):
        return DaskTaskRunner(address=runner)
    raise ValueError(f"unknown runner {runner!r}: local, processes:N or tcp://scheduler:port")


class FlowRunner:
    """How this flow runs a batch's steps (a runner of ``addressing.batch.runners``): a step as
    a task with I/O retries, in the flow's process; the chunks as ``clean-chunk`` tasks mapped
    over the flow's threads (``local``) or a Dask task runner. ``clean_s`` adds up the time
    spent cleaning, for the run's summary."""

    several = None

    def __init__(self, runner: str):
        self.task_runner = _task_runner(runner)
        self.clean_s = 0.0

    def step(self, name: str, fn: Callable[..., T], *args, **kwargs) -> T:
        return task(fn, name=STEP_TASKS[name], **IO_RETRIES)(*args, **kwargs)

    def clean(self, jobs: list[ChunkJob]) -> Iterator[tuple[ChunkJob, dict]]:
        t0 = time.time()
        params = {"chunk_in": [j.chunk_in for j in jobs], "chunk_out": [j.chunk_out for j in jobs],
                  "db": [j.db for j in jobs], "risk_policy": [j.risk_policy for j in jobs],
                  "gazetteer_version": [j.gazetteer_version for j in jobs]}
        try:
            if self.task_runner is None:
                yield from _as_finished(jobs, clean_chunk.map(**params))
            else:
                with self.task_runner.duplicate() as runner:
                    yield from _as_finished(jobs, runner.map(clean_chunk, params))
        finally:
            self.clean_s += time.time() - t0


def _as_finished(jobs: list[ChunkJob], futures) -> Iterator[tuple[ChunkJob, dict]]:
    job_of = {f.task_run_id: job for f, job in zip(futures, jobs)}
    for fut in as_completed(futures):
        yield job_of[fut.task_run_id], fut.result()


class ProgressArtifact:
    """The run's progress artifact, made once the batch's size is known and updated after
    each chunk (from a background thread: the flow never waits on the API for it)."""

    def __init__(self) -> None:
        self.reporter: ProgressReporter | None = None

    def __call__(self, done: int, total: int) -> None:
        if self.reporter is None:
            self.reporter = ProgressReporter(create_progress_artifact(
                progress=0.0, key=PROGRESS_KEY, description=f"0 of {total:,} orders cleaned"))
        self.reporter.report(min(100.0, 100.0 * done / max(total, 1)), f"{done:,} of {total:,} orders cleaned")

    def __enter__(self) -> ProgressArtifact:
        return self

    def __exit__(self, *exc) -> None:
        if self.reporter is not None:
            self.reporter.close()


@flow(name="nightly-clean", log_prints=True)
def nightly_clean(
    orders: str = "build/demo/orders",
    db: str = "build/demo/gazetteer.duckdb",
    out_dir: str = "build/demo/out",
    batch_id: str | None = None,
    risk_policy: str | None = "addressing/demo/data/risk.toml",
    chunk_rows: int = 2000,
    output_format: str = "parquet",
    runner: str = "local",
    redact: bool = False,
) -> list[dict]:
    """Clean every order file in ``orders`` into ``out_dir/<batch_id>/``."""
    try:
        return _nightly(orders, db, out_dir, batch_id, risk_policy, chunk_rows, output_format, runner, redact)
    except AddressingError as exc:
        create_markdown_artifact(key="nightly-clean-failure", markdown=failure_markdown(
            "nightly-clean", exc, "Fix the input or configuration named above and rerun the same batch id: "
                                  "chunks already cleaned are reused."))
        raise


def _nightly(orders: str, db: str, out_dir: str, batch_id: str | None, risk_policy: str | None, chunk_rows: int,
             output_format: str, runner: str, redact: bool) -> list[dict]:
    started = time.time()
    batch_id = check_batch_id(batch_id or date.today().isoformat())
    risk = risk_context(risk_policy)  # a bad policy fails here, before any batch is processed
    folder = Path(out_dir) / batch_id
    files = [batch.BatchFile(f, batch.output_for(f, folder, output_format)) for f in order_files(orders)]
    settings = batch.Settings(db, output_format, batch_id, risk_policy, chunk_rows, redact, output_root=Path(out_dir))
    steps = FlowRunner(runner)
    with ProgressArtifact() as progress:
        manifests = [r.manifest for r in batch.run_batch(files, settings, steps, progress)]
    purged = purge_decisions(db, risk_policy)
    chunks = sum(m["chunks"]["count"] for m in manifests)
    reused = sum(m["chunks"]["reused"] for m in manifests)
    total = sum(m["input"]["rows"] for m in manifests)
    wall = time.time() - started
    run_md = (f"## This run\n\n{chunks} chunk(s) of up to {chunk_rows:,} rows, {reused} reused from an earlier run; "
              f"cleaning {steps.clean_s:.1f} s, wall {wall:.1f} s (runner `{runner}`)\n\n"
              + report.learning_markdown(manifests, geocode_accuracy(db), ACCURACY_DAYS, deliveries.WITHIN_M,
                                       recent_rechecks(out_dir)))
    publish_batch(manifests, batch_id, ARTIFACT_KEYS, risk, redact, extra_markdown=run_md)
    print(f"batch {batch_id}: {total:,} orders in {wall:.1f} s ({reused} of {chunks} chunks reused); "
          f"{purged['purged']} operator decision(s) older than {purged['retention_days']} days purged")
    return manifests


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Run the nightly-clean flow locally.")
    ap.add_argument("--orders", default="build/demo/orders")
    ap.add_argument("--db", default="build/demo/gazetteer.duckdb")
    ap.add_argument("--out-dir", default="build/demo/out")
    ap.add_argument("--batch-id")
    ap.add_argument("--risk-policy", default="addressing/demo/data/risk.toml")
    ap.add_argument("--chunk-rows", type=int, default=2000)
    ap.add_argument("--format", default="parquet", choices=["parquet", "csv", "jsonl", "geojson"])
    ap.add_argument("--runner", default="local")
    ap.add_argument("--redact", action="store_true")
    args = ap.parse_args(argv)
    from addressing.errors import AddressingError

    try:
        manifests = nightly_clean(orders=args.orders, db=args.db, out_dir=args.out_dir, batch_id=args.batch_id,
                                  risk_policy=args.risk_policy, chunk_rows=args.chunk_rows,
                                  output_format=args.format, runner=args.runner, redact=args.redact)
    except AddressingError as exc:
        print(f"nightly-clean: error: {exc}", file=sys.stderr)
        return 2
    print(report.summary_text(manifests), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
