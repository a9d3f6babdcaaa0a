"""The two steps of an import, as plain functions (no Prefect): clean it, then apply decisions.

``clean-imported-orders`` runs them as tasks, either in its own process or, when one is
running, on the warm import worker (``flows/import_worker.py``) where the gazetteer, the risk
policy and the libpostal model are already loaded. Both steps return everything the flow
needs for its artifacts (map image included), so the flow's own process loads no model.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import time
from pathlib import Path

import pyarrow.parquet as pq

from addressing import batch, report
from addressing import decisions as review
from addressing import io as aio
from addressing.gazetteer import open_gazetteer
from addressing.pipeline import BatchLock
from addressing.risk import RiskContext, load_risk

#: a one-shot clean: imports up to this many rows are one chunk
IMPORT_CHUNK_ROWS = 20_000

_risks: dict[str, RiskContext] = {}


def risk_context(policy: str | None) -> RiskContext:
    """The risk policy, loaded once per process (it reads zone and ZIP tables: about a second)."""
    key = str(policy)
    if key not in _risks:
        _risks[key] = load_risk(policy)
    return _risks[key]


def work_root(output: Path) -> Path:
    """Where ``batch.clean_file`` keeps an output's chunks."""
    return Path(output).parent / ".work" / Path(output).name


def where() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _map(manifest: dict, risk: RiskContext) -> bytes | None:
    cleaned = manifest["outputs"]["cleaned"]
    if cleaned["format"] != "parquet":
        return None
    return report.map_png([pq.read_table(cleaned["path"], columns=["lon", "lat", "action"])], risk.service_areas)


def first_pass(input_path: str, output: str, db: str, output_format: str, batch_id: str,
               risk_policy: str | None, redact: bool = False) -> dict:
    """Clean the import and write its outputs (orders needing a human are held meanwhile);
    keep the chunks for the decisions; list the orders that need one."""
    t0 = time.perf_counter()
    manifest = batch.clean_file(input_path, output, db, fmt=output_format, batch_id=batch_id,
                                risk_policy=risk_policy, chunk_rows=IMPORT_CHUNK_ROWS, keep_work=True, redact=redact)
    t_clean = time.perf_counter() - t0
    risk = risk_context(risk_policy)
    plan = batch.split_input(input_path, work_root(Path(output)), db, IMPORT_CHUNK_ROWS)  # the split kept above
    items = review.review_items(review.load_chunks(plan, risk))
    # plain data only: the flow's process then needs none of the library to read the result
    return {"manifest": manifest, "plan": _plan_data(plan), "items": [dataclasses.asdict(i) for i in items],
            "map_png": _map(manifest, risk), "clean_s": round(t_clean, 3),
            "seconds": round(time.perf_counter() - t0, 3), "where": where()}


def _plan_data(plan: batch.Plan) -> dict:
    return {"input": str(plan.input), "work": str(plan.work), "chunks": [str(c) for c in plan.chunks],
            "input_sha256": plan.input_sha256, "rows": plan.rows}


def _plan(data: dict) -> batch.Plan:
    return batch.Plan(Path(data["input"]), Path(data["work"]), [Path(c) for c in data["chunks"]],
                      data["input_sha256"], data["rows"])


def decide(plan_data: dict, item_data: list[dict], answers: list[tuple[str, str]], output: str, db: str,
           output_format: str, batch_id: str, risk_policy: str | None, redact: bool, by: str) -> dict:
    """Apply the decisions to the kept chunks, rewrite the outputs (with ``<name>.decisions.json``),
    and remove the chunks. ``plan_data`` and ``item_data`` are what ``first_pass`` returned."""
    output = Path(output)
    plan = _plan(plan_data)
    items = [review.Item(**{**d, "flags": tuple(d["flags"]), "why": tuple(d["why"])}) for d in item_data]
    risk = risk_context(risk_policy)
    gaz = open_gazetteer(db) if any(a == "edit" for a, _ in answers) else None
    with BatchLock(output):
        tables, log = review.apply_decisions(review.load_chunks(plan, risk), items, answers, gaz, risk, by=by)
        review.save_chunks(plan, tables)
        stem = output.name.split(".")[0]
        counts = review.decision_counts(log)
        aio.write_json_atomic({"batch_id": batch_id, "decisions": log, "counts": counts},
                              output.with_name(f"{stem}.decisions.json"))
        manifest = batch.assemble(plan, output, db, output_format, batch_id, risk_policy, None, redact=redact)
        manifest["operator_decisions"] = counts
        aio.write_json_atomic(manifest, output.with_name(f"{stem}.manifest.json"))
    cleanup(plan)
    return {"manifest": manifest, "log": log, "counts": counts, "map_png": _map(manifest, risk), "where": where()}


def cleanup(plan: batch.Plan | dict) -> None:
    """Remove an import's chunk folder (and the empty folders above it)."""
    import contextlib
    import shutil

    work = Path(plan["work"] if isinstance(plan, dict) else plan.work)
    shutil.rmtree(work, ignore_errors=True)
    for folder in (work.parent, work.parent.parent):
        with contextlib.suppress(OSError):
            folder.rmdir()


def warm_up(db: str, risk_policy: str | None) -> float:
    """Load everything an import needs (gazetteer, policy, libpostal, matplotlib) into this
    process; returns the seconds it took."""
    import pyarrow as pa

    from addressing.pipeline import clean_table

    t0 = time.perf_counter()
    # the flow passes absolute paths: warm the caches under the same keys
    db = str(Path(db).resolve())
    risk_policy = str(Path(risk_policy).resolve()) if risk_policy else None
    gaz = open_gazetteer(db)
    risk = risk_context(risk_policy)
    batch.chunk_stamp(gaz.version, risk_policy)
    # a non-US and an unsure string: both parsers and the libpostal model get loaded
    raw = pa.table({"order_id": ["warm-1", "warm-2"],
                    "address": ["Flat 2, 10 Downing Street, London SW1A 2AA, United Kingdom",
                                "apt 2 1600 pennsylvania av nw washington dc 20500"]})
    t = clean_table(raw, gaz, risk)
    report.map_png([t.select(["lon", "lat", "action"])], risk.service_areas)
    return time.perf_counter() - t0
