"""nightly-clean: all order files of a day -> cleaned batches, review queues, manifests.

Thin: the tasks wrap ``addressing.batch`` (split, clean a chunk, assemble) and add what
Prefect is for: mapping chunks over a task runner (threads, or Dask processes/cluster),
retries on I/O, restartability (a chunk already cleaned is not redone), and artifacts for
operations staff (summary, review queue, progress, map).

Run it locally:  python -m flows.nightly_clean --orders build/demo/orders
"""

from __future__ import annotations

import argparse
import glob
import re
import sys
import time
from datetime import date
from pathlib import Path

from prefect import flow, task, unmapped
from prefect.artifacts import create_markdown_artifact, create_progress_artifact
from prefect.futures import as_completed
from prefect.states import Completed

from addressing import batch, report
from addressing.errors import AddressingError, InputError
from addressing.pipeline import BatchLock
from addressing.risk import load_risk
from flows.common import IO_RETRIES, ProgressReporter, failure_markdown, publish_batch
from flows.events import check_batch_id

ORDER_PATTERNS = ("*.csv", "*.tsv", "*.parquet", "*.jsonl", "*.ndjson")
ARTIFACT_KEYS = {"summary": "nightly-clean-summary", "review": "review-queue", "map": "batch-map"}


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


@task(name="split-orders", **IO_RETRIES)
def split_orders(file: Path, work_root: Path, db: str, chunk_rows: int) -> batch.Plan:
    return batch.split_input(file, work_root, db, chunk_rows)


def _chunk_run_name() -> str:
    """``clean-webshop.csv-00003``: the input file and the chunk number."""
    from prefect.runtime import task_run

    chunk = Path(task_run.parameters["chunk_in"])
    m = re.match(r"(.+?)-[0-9a-f]{12}-[0-9]+-", chunk.parent.name)
    return f"clean-{m.group(1) if m else chunk.parent.name}-{chunk.stem.split('-')[-1]}"


@task(name="clean-chunk", task_run_name=_chunk_run_name)
def clean_chunk(chunk_in: Path, chunk_out: Path, db: str, risk_policy: str | None) -> dict:
    """One chunk (no retries: cleaning is deterministic). A chunk cleaned by an earlier, killed
    run is not redone; its task run ends in a ``Reused`` state so the UI shows it."""
    stats = batch.clean_chunk(chunk_in, chunk_out, db, risk_policy)
    if stats.get("reused"):
        return Completed(data=stats, name="Reused", message=f"{chunk_out.name} was cleaned by an earlier run")
    return stats


@task(name="assemble-batch", **IO_RETRIES)
def assemble_batch(plan: batch.Plan, output: Path, db: str, fmt: str, batch_id: str, risk_policy: str | None,
                   stats: list[dict], started: float, redact: bool = False) -> dict:
    return batch.assemble(plan, output, db, fmt, batch_id, risk_policy, stats, started, redact=redact)


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


def _clean_chunks(plan: batch.Plan, db: str, risk_policy: str | None, progress_id, done_before: int,
                  total: int) -> list[dict]:
    futures = clean_chunk.map(plan.chunks, plan.outputs(), unmapped(db), unmapped(risk_policy))
    stats = []
    done = done_before
    with ProgressReporter(progress_id) as progress:  # per chunk, without waiting for the API
        for fut in as_completed(futures):
            s = fut.result()
            stats.append(s)
            done += s["rows"]
            progress.report(min(100.0, 100.0 * done / max(total, 1)), f"{done:,} of {total:,} orders cleaned")
    return sorted(stats, key=lambda s: s["chunk"])


@flow(name="clean-chunks-dask")
def clean_chunks_distributed(plan: batch.Plan, db: str, risk_policy: str | None, progress_id, done_before: int,
                             total: int) -> list[dict]:
    return _clean_chunks(plan, db, risk_policy, progress_id, done_before, total)


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
    risk = load_risk(risk_policy)  # a bad policy fails here, before any batch is processed
    files = order_files(orders)
    out = Path(out_dir) / batch_id
    work_root = Path(out_dir) / ".work"
    plans = [split_orders(f, work_root, db, chunk_rows) for f in files]
    total = sum(p.rows for p in plans)
    progress_id = create_progress_artifact(progress=0.0, key="nightly-clean-progress",
                                           description=f"0 of {total:,} orders cleaned")
    manifests = []
    done = 0
    t_clean = 0.0
    with BatchLock(out / "batch"):
        for plan in plans:
            t0 = time.time()
            if runner == "local":
                stats = _clean_chunks(plan, db, risk_policy, progress_id, done, total)
            else:
                stats = clean_chunks_distributed.with_options(task_runner=_task_runner(runner))(
                    plan, db, risk_policy, progress_id, done, total)
            t_clean += time.time() - t0
            done += plan.rows
            output = out / f"{plan.input.name.split('.')[0]}.{_ext(output_format)}"
            manifests.append(assemble_batch(plan, output, db, output_format, batch_id, risk_policy, stats, t0,
                                            redact))
    chunks = sum(m["chunks"]["count"] for m in manifests)
    reused = sum(m["chunks"]["reused"] for m in manifests)
    wall = time.time() - started
    run_md = (f"## This run\n\n{chunks} chunk(s) of up to {chunk_rows:,} rows, {reused} reused from an earlier run; "
              f"cleaning {t_clean:.1f} s, wall {wall:.1f} s (runner `{runner}`)")
    publish_batch(manifests, batch_id, ARTIFACT_KEYS, risk, redact, extra_markdown=run_md)
    print(f"batch {batch_id}: {total:,} orders in {wall:.1f} s ({reused} of {chunks} chunks reused)")
    return manifests


def _ext(fmt: str) -> str:
    return {"parquet": "parquet", "csv": "csv", "jsonl": "jsonl", "geojson": "geojson"}[fmt]


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
