"""The two steps of an import, as plain functions (no Prefect): clean it, then apply decisions.

``clean-imported-orders`` runs them as tasks, either in its own process or, when one is
running, on the warm import worker (``flows/import_worker.py``) where the gazetteer, the risk
policy and the libpostal model are already loaded. Both go through ``addressing.batch`` (the
first as a batch of one file, the second as a revision of it), and both return everything the
flow needs for its artifacts (map image included) as plain data, so the flow's own process
loads no model.
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
from addressing.confirmations import record
from addressing.confirmations import store as confirmations
from addressing.confirmations.store import store_path
from addressing.gazetteer import open_gazetteer
from addressing.risk import RiskContext, risk_context

#: a one-shot clean: imports up to this many rows are one chunk
IMPORT_CHUNK_ROWS = 20_000


def where() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _map(manifest: dict, risk: RiskContext) -> bytes | None:
    cleaned = manifest["outputs"]["cleaned"]
    if cleaned["format"] != "parquet":
        return None
    return report.map_png([pq.read_table(cleaned["path"], columns=["lon", "lat", "action"])], risk.service_areas)


def _settings(db: str, output_format: str, batch_id: str, risk_policy: str | None, redact: bool) -> batch.Settings:
    return batch.Settings(db, output_format, batch_id, risk_policy, IMPORT_CHUNK_ROWS, redact)


def first_pass(input_path: str, output: str, db: str, output_format: str, batch_id: str,
               risk_policy: str | None, redact: bool = False, await_decisions: bool = True) -> dict:
    """Clean the import and write its outputs (orders needing a human are held meanwhile) and
    list the orders that need one. Its chunks are kept for the decisions when there are orders
    to decide on and ``await_decisions``; else they go now."""
    t0 = time.perf_counter()
    file = batch.BatchFile(Path(input_path), Path(output))
    [done] = batch.run_batch([file], _settings(db, output_format, batch_id, risk_policy, redact), keep_work=True)
    t_clean = time.perf_counter() - t0
    risk = risk_context(risk_policy)
    items = review.review_items(batch.load_chunks(done.plan, risk, done.shared))
    earlier = record.previously(store_path(db), [i.confirmation for i in items])
    items = [dataclasses.replace(i, previously=earlier.get(i.confirmation)) for i in items]
    if not (items and await_decisions):
        batch.discard_work(file, done.plan)
    # plain data only: the flow's process then needs none of the library to read the result
    return {"manifest": done.manifest, "plan": {**done.plan.as_data(), "shared": done.shared},
            "items": [dataclasses.asdict(i) for i in items], "map_png": _map(done.manifest, risk),
            "clean_s": round(t_clean, 3), "seconds": round(time.perf_counter() - t0, 3), "where": where()}


def decide(plan_data: dict, item_data: list[dict], answers: list[tuple | dict], output: str, db: str,
           output_format: str, batch_id: str, risk_policy: str | None, redact: bool, by: str) -> dict:
    """Apply the decisions to the kept chunks, keep those a person made in the decisions store
    (``addressing.confirmations``), rewrite the outputs (with ``<name>.decisions.json``), and
    remove the chunks. ``plan_data`` and ``item_data`` are what ``first_pass`` returned;
    ``answers`` as ``decisions.apply_decisions`` takes them."""
    output_path = Path(output)
    plan = batch.Plan.from_data(plan_data)
    items = [review.Item(**{**d, "flags": tuple(d["flags"]), "why": tuple(d["why"])}) for d in item_data]
    risk = risk_context(risk_policy)
    answers = [review.Answer.of(a) for a in answers]
    gaz = open_gazetteer(db) if any(a.decision == "edit" for a in answers) else None
    result: dict = {}

    def apply() -> dict:
        tables, log = review.apply_decisions(batch.load_chunks(plan, risk, plan_data["shared"]), items, answers, gaz,
                                             risk, by=by)
        # kept before the outputs change: a failed write fails the task, and its retry starts again
        confirmations.append(store_path(db), record.from_review(tables, items, answers, log, batch_id))
        review.save_chunks(plan, tables)
        counts = review.decision_counts(log)
        aio.write_json_atomic({"batch_id": batch_id, "decisions": log, "counts": counts},
                              batch.decisions_path(output_path))
        result.update(log=log, counts=counts)
        return {"operator_decisions": counts}

    manifest = batch.revise(batch.BatchFile(plan.input, output_path), plan,
                            _settings(db, output_format, batch_id, risk_policy, redact), apply)
    return {"manifest": manifest, "log": result["log"], "counts": result["counts"], "map_png": _map(manifest, risk),
            "where": where()}


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
