"""The manifest: what a finished output holds, checked to add up, written last.

Batch id, input checksum, row counts by status / precision / action / flag, output checksums,
gazetteer version, timings. It is written only when its counts add up to the input's rows,
and after every output it describes, so a manifest on disk always describes the files beside
it; outputs without one are an unfinished run.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from addressing import __version__
from addressing import io as aio
from addressing.batch.chunks import query_chunks
from addressing.batch.plan import Plan
from addressing.errors import OutputError
from addressing.pipeline import INTERNAL_ERROR

COUNTED = ("match_status", "precision", "action", "risk_level", "parser")
COUNTED_LISTS = ("risk_flags", "corrections")
MUST_ADD_UP = ("match_status", "precision", "action", "risk_level")
#: how many duplicated order ids the manifest names
DUPLICATE_EXAMPLES = 20
log = logging.getLogger(__name__)


class Counts:
    """Value counts of the counted columns over the tables of one output, and its internal errors."""

    def __init__(self) -> None:
        self.values: dict[str, Counter] = {k: Counter() for k in COUNTED + COUNTED_LISTS}
        self.internal_errors = 0

    def add(self, table: pa.Table) -> None:
        for col in COUNTED:
            _count(self.values[col], table.column(col))
        for col in COUNTED_LISTS:
            _count(self.values[col], pc.list_flatten(table.column(col)))
        self.internal_errors += pc.sum(pc.starts_with(table.column("reason"), INTERNAL_ERROR)).as_py() or 0

    def as_dict(self) -> dict[str, dict]:
        """Most frequent first (ties by value)."""
        return {k: dict(sorted(v.items(), key=lambda kv: (-kv[1], str(kv[0])))) for k, v in self.values.items()}


def _count(counter: Counter, values) -> None:
    """Add a column's value counts (nulls left out), counted in Arrow."""
    for item in pc.value_counts(values).to_pylist():
        if item["values"] is not None:
            counter[item["values"]] += item["counts"]


@dataclass
class Assembled:
    """What assembling one file wrote, and what its manifest reports."""

    paths: dict[str, Path]
    fmt: str
    rows: int
    review_rows: int
    redacted: bool
    counts: Counts
    #: address key -> customers, for the addresses the ``shared_address`` rule flagged
    shared: dict[str, int]
    seconds: float


def write_manifest(plan: Plan, done: Assembled, db: str | Path, gazetteer_version: str, batch_id: str | None,
                   chunk_stats: list[dict] | None = None, started: float | None = None,
                   extra: dict | None = None) -> dict:
    """Write the manifest of an assembled output (``extra`` keys appended, e.g. an operator's
    decisions) once it adds up; ``OutputError`` when it does not."""
    started = started or time.time()
    timings: dict[str, float] = Counter()
    for s in chunk_stats or []:
        for k, v in (s.get("timings_s") or {}).items():
            timings[k] += v
    timings["assemble"] = done.seconds
    paths = done.paths
    manifest = {
        "batch_id": batch_id,
        "input": {"path": str(plan.input), "sha256": plan.input_sha256, "rows": plan.rows},
        "outputs": {
            "cleaned": {"path": str(paths["output"]), "format": done.fmt, "rows": done.rows,
                        "sha256": aio.sha256_file(paths["output"])},
            "review": {"path": str(paths["review"]), "rows": done.review_rows, "redacted": done.redacted,
                       "sha256": aio.sha256_file(paths["review"])},
        },
        "gazetteer": {"path": str(db), "version": gazetteer_version},
        "counts": done.counts.as_dict(),
        "order_ids": order_id_report(plan.outputs()),
        "internal_errors": done.counts.internal_errors,
        "chunks": {"count": len(plan.chunks), "reused": sum(1 for s in chunk_stats or [] if s.get("reused"))},
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
        "wall_s": round(time.time() - started, 3),
        "version": __version__,
        **(extra or {}),
    }
    problems = manifest_problems(manifest)
    if problems:
        raise OutputError(f"{paths['output']}: the batch does not add up ({'; '.join(problems)}); not marked done")
    aio.write_json_atomic(manifest, paths["manifest"])
    log.info("batch %s: %d rows -> %s", batch_id, done.rows, paths["output"])
    return manifest


def order_id_report(chunk_outs: list[Path], examples: int = DUPLICATE_EXAMPLES) -> dict:
    """Missing and duplicated ``order_id``s: reported, never merged (every row stays in the output).

    ``rows == missing + (unique - duplicated) + duplicate_rows`` always holds.
    """
    blank = "(order_id IS NULL OR regexp_full_match(order_id, '\\s*'))"
    columns = ["order_id", aio.ROW]
    total, missing, unique = query_chunks(chunk_outs, columns, (
        f"SELECT count(*), count(*) FILTER (WHERE {blank}), count(DISTINCT order_id) FILTER (WHERE NOT {blank}) "
        "FROM chunks"))[0]
    dup = query_chunks(chunk_outs, columns, (
        f"SELECT order_id, count(*) AS n, min({aio.ROW}) AS first FROM chunks WHERE NOT {blank} "
        "GROUP BY order_id HAVING count(*) > 1 ORDER BY first"))
    ns = [n for _, n, _ in dup]
    return {"rows": total, "unique": unique, "missing": missing, "duplicated": len(ns),
            "duplicate_rows": sum(ns), "duplicate_examples": [oid for oid, _, _ in dup][:examples]}


def manifest_problems(m: dict) -> list[str]:
    """Why a manifest does not add up (empty when it does): rows in = rows out = every count's total."""
    rows = m["input"]["rows"]
    out = []
    if m["outputs"]["cleaned"]["rows"] != rows:
        out.append(f"{rows} rows in, {m['outputs']['cleaned']['rows']} out")
    for k in MUST_ADD_UP:
        total = sum(m["counts"][k].values())
        if total != rows:
            out.append(f"{k} counts add up to {total}, not {rows}")
    not_delivered = rows - m["counts"]["action"].get("deliver", 0)
    if m["outputs"]["review"]["rows"] != not_delivered:
        out.append(f"review queue has {m['outputs']['review']['rows']} rows, {not_delivered} are not 'deliver'")
    ids = m["order_ids"]
    if ids["rows"] != rows or rows != ids["missing"] + ids["unique"] - ids["duplicated"] + ids["duplicate_rows"]:
        out.append(f"order_id counts {ids} do not add up to {rows}")
    return out
