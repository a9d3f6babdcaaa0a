"""A batch as chunks on disk: split the input, clean each chunk, assemble the outputs.

This is what makes a run restartable and distributable. Each step's result is a file
written atomically, so a step that finished is never redone after a crash, and any worker
(a thread, a process, a Dask worker on another machine) can clean any chunk:

    split_input   orders file -> work/in-00000.parquet ...        (input rows as text)
    clean_chunk   in-00000.parquet -> out-00000.parquet            (skipped when present)
    assemble      out-*.parquet -> cleaned batch + review queue + manifest (manifest last)

The work folder is keyed by the input's checksum, the chunk size, the gazetteer version
and the package version, so a changed input, gazetteer or program never reuses stale
chunks. Batch-wide rules (``shared_address`` counts customers over the whole batch) run in
``assemble``.
"""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from addressing import __version__
from addressing import io as aio
from addressing.errors import InputError, OutputError
from addressing.gazetteer import open_gazetteer, query_arrow
from addressing.pipeline import Timings, clean_table, output_format, output_paths, review_table
from addressing.risk import load_risk
from addressing.risk.config import SEVERITIES
from addressing.schema import output_schema

KEY_COLUMN = "_address_key"
CUSTOMER_COLUMN = "_customer"
HIDDEN = (KEY_COLUMN, CUSTOMER_COLUMN)
COUNTED = ("match_status", "precision", "action", "risk_level", "parser")
COUNTED_LISTS = ("risk_flags", "corrections")


@dataclass
class Plan:
    """Where one input file's chunks live."""

    input: Path
    work: Path
    chunks: list[Path]
    input_sha256: str
    rows: int

    def outputs(self) -> list[Path]:
        return [c.with_name(c.name.replace("in-", "out-")) for c in self.chunks]


def work_dir(root: Path, input_path: Path, input_sha: str, chunk_rows: int, gazetteer_version: str) -> Path:
    tag = f"{input_path.name}-{input_sha[:12]}-{chunk_rows}-{gazetteer_version}-{__version__}"
    return root / tag


def split_input(input_path: str | Path, work_root: str | Path, db: str | Path, chunk_rows: int) -> Plan:
    """Cut the input into chunk files (idempotent: reuses a complete earlier split)."""
    input_path = Path(input_path)
    aio.input_format(input_path)
    if not input_path.exists():
        raise InputError("no such file", str(input_path))
    if input_path.is_dir():
        raise InputError("is a folder, not a file", str(input_path))
    sha = aio.sha256_file(input_path)
    gaz = open_gazetteer(db)
    work = work_dir(Path(work_root), input_path, sha, chunk_rows, gaz.version)
    marker = work / "split.json"
    if marker.exists():
        info = json.loads(marker.read_text())
        chunks = [work / c for c in info["chunks"]]
        if all(c.exists() for c in chunks):
            return Plan(input_path, work, chunks, sha, info["rows"])
    work.mkdir(parents=True, exist_ok=True)
    chunks: list[Path] = []
    rows = 0
    for i, raw in enumerate(aio.read_orders(input_path, chunk_rows)):
        path = work / f"in-{i:05d}.parquet"
        with aio.atomic_path(path) as tmp:
            pq.write_table(raw, tmp, compression="zstd")
        chunks.append(path)
        rows += raw.num_rows
    if not chunks:
        raise InputError("no rows", str(input_path))
    aio.write_json_atomic({"input": str(input_path), "sha256": sha, "rows": rows,
                           "chunks": [c.name for c in chunks]}, marker)
    return Plan(input_path, work, chunks, sha, rows)


def clean_chunk(chunk_in: str | Path, chunk_out: str | Path, db: str | Path,
                risk_policy: str | Path | None = None) -> dict:
    """Clean one chunk file; a chunk already cleaned is not redone."""
    chunk_in, chunk_out = Path(chunk_in), Path(chunk_out)
    if chunk_out.exists():
        meta = pq.read_metadata(chunk_out)
        return {"chunk": chunk_out.name, "rows": meta.num_rows, "reused": True, "timings_s": {}}
    gaz = open_gazetteer(db)
    risk = _risk(risk_policy)
    raw = pq.read_table(chunk_in)
    timings = Timings()
    cleaned = clean_table(raw, gaz, risk, timings, with_keys=True)
    with aio.atomic_path(chunk_out) as tmp:
        pq.write_table(cleaned, tmp, compression="zstd")
    return {"chunk": chunk_out.name, "rows": cleaned.num_rows, "reused": False,
            "timings_s": {k: round(v, 4) for k, v in timings.seconds.items()}}


_risk_cache: dict[str, object] = {}


def _risk(policy: str | Path | None):
    key = str(policy)
    if key not in _risk_cache:
        _risk_cache[key] = load_risk(policy)
    return _risk_cache[key]


def shared_keys(chunk_outs: list[Path], min_customers: int) -> dict[str, int]:
    """Address keys that appear on orders of at least ``min_customers`` customers, batch-wide."""
    files = [str(p) for p in chunk_outs]
    con = duckdb.connect()
    try:
        sql = (f"SELECT {KEY_COLUMN} AS k, count(DISTINCT {CUSTOMER_COLUMN}) AS n FROM read_parquet(?) "
               f"WHERE {KEY_COLUMN} IS NOT NULL AND {CUSTOMER_COLUMN} IS NOT NULL GROUP BY 1 HAVING n >= ?")
        t = query_arrow(con, sql, [files, min_customers])
    finally:
        con.close()
    return dict(zip(t.column("k").to_pylist(), t.column("n").to_pylist()))


def apply_shared_address(table: pa.Table, shared: dict[str, int], rule, action_for: dict[str, str]) -> pa.Table:
    """Flag rows whose address is shared batch-wide; raise their level and action to match.

    The flag joins the row's others in severity order (worst first), as ``assess`` left them.
    """
    from addressing.risk import sort_by_severity

    if not shared:
        return table
    keys = table.column(KEY_COLUMN).to_pylist()
    flags = table.column("risk_flags").to_pylist()
    reasons = table.column("risk_reasons").to_pylist()
    levels = table.column("risk_level").to_pylist()
    severity_of = {**rule.peer_severity, rule.code: rule.severity}
    changed = False
    for i, k in enumerate(keys):
        if k in shared and "shared_address" not in (flags[i] or []):
            flags[i], reasons[i] = sort_by_severity((flags[i] or []) + [rule.code],
                                                    (reasons[i] or []) + [rule.message.format(n_customers=shared[k])],
                                                    severity_of)
            if SEVERITIES.index(rule.severity) > SEVERITIES.index(levels[i]):
                levels[i] = rule.severity
            changed = True
    if not changed:
        return table
    actions = [action_for[lv] for lv in levels]
    for name, values in (("risk_flags", flags), ("risk_reasons", reasons), ("risk_level", levels),
                         ("action", actions)):
        i = table.schema.get_field_index(name)
        table = table.set_column(i, name, pa.array(values, table.schema.field(name).type))
    return table


def assemble(plan: Plan, output: str | Path, db: str | Path, fmt: str | None = None,
             batch_id: str | None = None, risk_policy: str | Path | None = None,
             chunk_stats: list[dict] | None = None, started: float | None = None) -> dict:
    """Join the cleaned chunks into the batch outputs; the manifest is written last."""
    started = started or time.time()
    output = Path(output)
    fmt = output_format(output, fmt)
    paths = output_paths(output)
    outs = plan.outputs()
    missing = [p.name for p in outs if not p.exists()]
    if missing:
        raise OutputError(f"chunks not cleaned yet: {', '.join(missing[:5])}")
    risk = _risk(risk_policy)
    rule = risk.policy.rule("shared_address")
    shared = shared_keys(outs, int(rule.params["min_customers"])) if risk.policy.enabled("shared_address") else {}
    counts = {k: Counter() for k in COUNTED + COUNTED_LISTS}
    reviews: list[pa.Table] = []
    seen: Counter = Counter()
    writer = None
    t0 = time.perf_counter()
    try:
        for path in outs:
            table = pq.read_table(path)
            table = apply_shared_address(table, shared, rule, risk.policy.action_for)
            table = table.drop_columns([c for c in HIDDEN if c in table.column_names])
            if writer is None:
                writer = aio.BatchWriter(paths["output"], fmt, output_schema(table.schema))
            writer.write(table)
            for col in COUNTED:
                counts[col].update(v for v in table.column(col).to_pylist() if v is not None)
            for col in COUNTED_LISTS:
                counts[col].update(x for xs in table.column(col).to_pylist() for x in (xs or []))
            seen.update(table.column("order_id").to_pylist())
            rv = review_table(table)
            if rv.num_rows:
                reviews.append(rv)
        writer.close()
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    if writer.rows != plan.rows:
        raise OutputError(f"{plan.input}: {plan.rows} rows read but {writer.rows} written; rerun the batch")
    review = review_table(pa.concat_tables(reviews)) if reviews else pa.table(
        {c: pa.array([], pa.string()) for c in ("order_id", "action")})
    with aio.atomic_path(paths["review"]) as tmp:
        aio.write_csv(review, tmp)
    gaz = open_gazetteer(db)
    timings: dict[str, float] = Counter()
    for s in chunk_stats or []:
        for k, v in (s.get("timings_s") or {}).items():
            timings[k] += v
    timings["assemble"] = time.perf_counter() - t0
    dupes = {str(k): v for k, v in seen.items() if v > 1 and k is not None}
    manifest = {
        "batch_id": batch_id,
        "input": {"path": str(plan.input), "sha256": plan.input_sha256, "rows": plan.rows},
        "outputs": {
            "cleaned": {"path": str(paths["output"]), "format": fmt, "rows": writer.rows,
                        "sha256": aio.sha256_file(paths["output"])},
            "review": {"path": str(paths["review"]), "rows": review.num_rows,
                       "sha256": aio.sha256_file(paths["review"])},
        },
        "gazetteer": {"path": str(db), "version": gaz.version},
        "counts": {k: dict(sorted(v.items(), key=lambda kv: (-kv[1], str(kv[0])))) for k, v in counts.items()},
        "order_ids": {"unique": len(seen), "duplicated": len(dupes), "duplicate_examples": list(dupes)[:20],
                      "missing": seen.get(None, 0)},
        "chunks": {"count": len(outs), "reused": sum(1 for s in chunk_stats or [] if s.get("reused"))},
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
        "wall_s": round(time.time() - started, 3),
        "version": __version__,
    }
    aio.write_json_atomic(manifest, paths["manifest"])
    return manifest


def clean_file(input_path: str | Path, output: str | Path, db: str | Path, fmt: str | None = None,
               batch_id: str | None = None, risk_policy: str | Path | None = None,
               chunk_rows: int = aio.DEFAULT_BATCH_ROWS, progress=None, keep_work: bool = False,
               workers: int = 1) -> dict:
    """Clean a whole file: split, clean the chunks (on ``workers`` processes), assemble."""
    from addressing.parallel import clean_chunks
    from addressing.pipeline import BatchLock

    started = time.time()
    output = Path(output)
    output_format(output, fmt)
    _risk(risk_policy)
    open_gazetteer(db)
    with BatchLock(output):
        work_root = output.parent / ".work"
        plan = split_input(input_path, work_root, db, chunk_rows)
        done = 0

        def chunk_done(stat: dict) -> None:
            nonlocal done
            done += stat["rows"]
            if progress:
                progress(done)

        stats = clean_chunks(plan.chunks, plan.outputs(), db, risk_policy, workers, chunk_done)
        manifest = assemble(plan, output, db, fmt, batch_id, risk_policy, stats, started)
        if not keep_work:
            shutil.rmtree(plan.work, ignore_errors=True)
            try:
                work_root.rmdir()
            except OSError:
                pass
    return manifest
