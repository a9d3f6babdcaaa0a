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

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from addressing import __version__
from addressing import io as aio
from addressing.errors import InputError, OutputError
from addressing.gazetteer import open_gazetteer, query_arrow
from addressing.pipeline import (
    INTERNAL_ERROR,
    Timings,
    clean_table_isolating,
    output_format,
    output_paths,
    review_table,
)
from addressing.risk import load_risk
from addressing.risk.config import SEVERITIES
from addressing.schema import output_schema

KEY_COLUMN = "_address_key"
CUSTOMER_COLUMN = "_customer"
HIDDEN = (KEY_COLUMN, CUSTOMER_COLUMN, aio.ROW)
STAMP_KEY = b"addressing.chunk_stamp"
MUST_ADD_UP = ("match_status", "precision", "action", "risk_level")
log = logging.getLogger(__name__)
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
    name = re.sub(r"[^\w.-]", "_", input_path.name[:80])  # no glob or shell characters in work paths
    tag = f"{name}-{input_sha[:12]}-{chunk_rows}-{gazetteer_version}-{__version__}"
    return root / tag


def split_input(input_path: str | Path, work_root: str | Path, db: str | Path, chunk_rows: int,
                several: Callable[[], None] | None = None) -> Plan:
    """Cut the input into chunk files (idempotent: reuses a complete earlier split).
    ``several`` is called once, as soon as the input turns out to make more than one chunk."""
    input_path = Path(input_path)
    aio.input_format(input_path)
    aio.check_readable(input_path)
    try:
        sha = aio.sha256_file(input_path)
    except OSError as exc:
        raise InputError(f"read failed ({exc.strerror or exc})", str(input_path)) from None
    gaz = open_gazetteer(db)
    work = work_dir(Path(work_root), input_path, sha, chunk_rows, gaz.version)
    marker = work / "split.json"
    if marker.exists():
        info = json.loads(marker.read_text())
        chunks = [work / c for c in info["chunks"]]
        if all(c.exists() for c in chunks):
            if several and len(chunks) > 1:
                several()
            return Plan(input_path, work, chunks, sha, info["rows"])
    chunks: list[Path] = []
    rows = 0
    try:
        for i, raw in enumerate(aio.read_orders(input_path, chunk_rows)):
            if i == 1 and several:
                several()
            path = work / f"in-{i:05d}.parquet"
            with aio.atomic_path(path) as tmp:
                pq.write_table(raw, tmp, compression="zstd")
            chunks.append(path)
            rows += raw.num_rows
        if not chunks:
            raise InputError("no rows", str(input_path))
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)  # an input that cannot be read leaves nothing behind
        with contextlib.suppress(OSError):
            Path(work_root).rmdir()
        raise
    aio.write_json_atomic({"input": str(input_path), "sha256": sha, "rows": rows,
                           "chunks": [c.name for c in chunks]}, marker)
    return Plan(input_path, work, chunks, sha, rows)


def clean_chunk(chunk_in: str | Path, chunk_out: str | Path, db: str | Path,
                risk_policy: str | Path | None = None) -> dict:
    """Clean one chunk file; a chunk already cleaned with the same gazetteer, risk policy and
    program is not redone (one cleaned under another policy, or unreadable, is)."""
    chunk_in, chunk_out = Path(chunk_in), Path(chunk_out)
    gaz = open_gazetteer(db)
    stamp = chunk_stamp(gaz.version, risk_policy)
    if chunk_out.exists():
        rows = _reusable(chunk_out, stamp)
        if rows is not None:
            return {"chunk": chunk_out.name, "rows": rows, "reused": True, "timings_s": {}}
    risk = _risk(risk_policy)
    raw = pq.read_table(chunk_in)
    timings = Timings()
    cleaned = clean_table_isolating(raw, gaz, risk, timings, with_keys=True)
    cleaned = cleaned.replace_schema_metadata({**(cleaned.schema.metadata or {}), STAMP_KEY: stamp.encode()})
    with aio.atomic_path(chunk_out) as tmp:
        pq.write_table(cleaned, tmp, compression="zstd")
    _log_chunk(chunk_out, cleaned)
    return {"chunk": chunk_out.name, "rows": cleaned.num_rows, "reused": False,
            "timings_s": {k: round(v, 4) for k, v in timings.seconds.items()}}


def _reusable(chunk_out: Path, stamp: str) -> int | None:
    try:
        meta = pq.read_metadata(chunk_out)
        found = (meta.schema.to_arrow_schema().metadata or {}).get(STAMP_KEY)
    except (OSError, pa.ArrowException):
        return None
    return meta.num_rows if found == stamp.encode() else None


def _log_chunk(chunk_out: Path, cleaned: pa.Table) -> None:
    """Counts at INFO; the addresses themselves only at DEBUG (they are customer data)."""
    status = Counter(cleaned.column("match_status").to_pylist())
    log.info("chunk %s: %d rows, %s", chunk_out.name, cleaned.num_rows, dict(status))
    if log.isEnabledFor(logging.DEBUG):
        for oid, text, st, reason in zip(cleaned.column("order_id").to_pylist(), cleaned.column("input").to_pylist(),
                                         cleaned.column("match_status").to_pylist(),
                                         cleaned.column("reason").to_pylist()):
            if st in ("invalid", "unmatched"):
                log.debug("order %s %s: %r (%s)", oid, st, text, reason)


_stamp_cache: dict[str, str] = {}
_program: list[str] = []


def program_fingerprint() -> str:
    """The package version and a digest of its code and data files (calibration, tables): a
    chunk cleaned before an upgrade that kept the version number is not reused after it."""
    if not _program:
        pkg = Path(__file__).resolve().parent
        digest = hashlib.sha256(__version__.encode())
        for f in sorted(pkg.rglob("*")):
            if f.is_file() and f.suffix in (".py", ".json", ".tsv", ".csv", ".txt", ".toml"):
                digest.update(str(f.relative_to(pkg)).encode() + b"\0" + f.read_bytes())
        _program.append(f"{__version__}+{digest.hexdigest()[:12]}")
    return _program[0]


def chunk_stamp(gazetteer_version: str, risk_policy: str | Path | None) -> str:
    """What a cleaned chunk depends on besides its input: program, gazetteer, risk policy
    (the policy file and every zone or forwarder file it names, by content)."""
    key = str(risk_policy)
    if key not in _stamp_cache:
        digest = hashlib.sha256(program_fingerprint().encode())
        if risk_policy:  # None or "": the built-in default policy, part of the program
            policy = _risk(risk_policy).policy
            digest.update(Path(risk_policy).read_bytes())
            for rule in policy.rules.values():
                for name in ("file", "files"):
                    value = rule.params.get(name)
                    for f in ([value] if isinstance(value, str) else value or []):
                        p = Path(f) if Path(f).is_absolute() else policy.base_dir / f
                        digest.update(p.read_bytes() if p.is_file() else f.encode())
        _stamp_cache[key] = digest.hexdigest()[:16]
    return f"{gazetteer_version}:{_stamp_cache[key]}"


_risk_cache: dict[str, object] = {}


def _risk(policy: str | Path | None):
    key = str(policy)
    if key not in _risk_cache:
        _risk_cache[key] = load_risk(policy)
    return _risk_cache[key]


def chunk_columns(chunk_outs: list[Path], columns: list[str]) -> pa.Table:
    """Some columns of all cleaned chunks, read with Arrow: never hand these paths to DuckDB's
    ``read_parquet``, which expands ``*``, ``?`` and ``[...]`` in them (a folder named ``out*``
    would pull in other batches' chunks)."""
    tables = []
    for p in chunk_outs:
        have = set(pq.read_schema(p).names)
        t = pq.read_table(p, columns=[c for c in columns if c in have])
        for c in columns:
            if c not in have:
                t = t.append_column(c, pa.nulls(t.num_rows, pa.string()))
        tables.append(t.select(columns))
    return pa.concat_tables(tables, promote_options="permissive") if tables else pa.table({c: [] for c in columns})


def shared_keys(chunk_outs: list[Path], min_customers: int) -> dict[str, int]:
    """Address keys that appear on orders of at least ``min_customers`` customers, batch-wide."""
    con = duckdb.connect()
    try:
        con.register("chunks", chunk_columns(chunk_outs, [KEY_COLUMN, CUSTOMER_COLUMN]))
        sql = (f"SELECT {KEY_COLUMN} AS k, count(DISTINCT {CUSTOMER_COLUMN}) AS n FROM chunks "
               f"WHERE {KEY_COLUMN} IS NOT NULL AND {CUSTOMER_COLUMN} IS NOT NULL GROUP BY 1 HAVING n >= ?")
        t = query_arrow(con, sql, [min_customers])
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
    hit = pc.is_in(table.column(KEY_COLUMN), value_set=pa.array(list(shared), pa.string()))
    rows = np.flatnonzero(pc.fill_null(hit, False).to_numpy(zero_copy_only=False))
    if not rows.size:
        return table
    take = pa.array(rows)
    keys = table.column(KEY_COLUMN).take(take).to_pylist()
    flags = table.column("risk_flags").take(take).to_pylist()
    reasons = table.column("risk_reasons").take(take).to_pylist()
    levels = table.column("risk_level").take(take).to_pylist()
    severity_of = {**rule.peer_severity, rule.code: rule.severity}
    changed = np.zeros(len(rows), bool)
    for i, k in enumerate(keys):
        if "shared_address" not in (flags[i] or []):
            flags[i], reasons[i] = sort_by_severity((flags[i] or []) + [rule.code],
                                                    (reasons[i] or []) + [rule.message.format(n_customers=shared[k])],
                                                    severity_of)
            if SEVERITIES.index(rule.severity) > SEVERITIES.index(levels[i]):
                levels[i] = rule.severity
            changed[i] = True
    if not changed.any():
        return table
    actions = [action_for[lv] for lv in levels]
    # the changed rows get their new values, every other row keeps its own
    where = np.full(table.num_rows, -1, np.int64)
    where[rows[changed]] = np.flatnonzero(changed)
    pick = pa.array(np.where(where >= 0, where, 0))
    is_new = pa.array(where >= 0)
    for name, values in (("risk_flags", flags), ("risk_reasons", reasons), ("risk_level", levels),
                         ("action", actions)):
        i = table.schema.get_field_index(name)
        new = pa.array(values, table.schema.field(name).type).take(pick)
        table = table.set_column(i, name, pc.if_else(is_new, new, table.column(name).combine_chunks()))
    return table


def assemble(plan: Plan, output: str | Path, db: str | Path, fmt: str | None = None,
             batch_id: str | None = None, risk_policy: str | Path | None = None,
             chunk_stats: list[dict] | None = None, started: float | None = None, redact: bool = False) -> dict:
    """Join the cleaned chunks into the batch outputs; the manifest is written last.

    The old manifest is removed before any output is replaced, so a manifest on disk always
    describes the files beside it (its checksums match them); outputs without a manifest are
    an unfinished run. Rows are checked on the way: every input row once, in input order.
    ``redact`` blanks the addresses in the review queue (the cleaned batch keeps them).
    """
    started = started or time.time()
    output = Path(output)
    fmt = output_format(output, fmt)
    paths = output_paths(output)
    outs = plan.outputs()
    missing = [p.name for p in outs if not p.exists()]
    if missing:
        raise OutputError(f"chunks not cleaned yet: {', '.join(missing[:5])}")
    paths["manifest"].unlink(missing_ok=True)
    risk = _risk(risk_policy)
    rule = risk.policy.rule("shared_address")
    shared = shared_keys(outs, int(rule.params["min_customers"])) if risk.policy.enabled("shared_address") else {}
    counts = {k: Counter() for k in COUNTED + COUNTED_LISTS}
    reviews: list[pa.Table] = []
    schema = output_schema(_union_schema(outs))
    writer = aio.BatchWriter(paths["output"], fmt, schema)
    last_row = internal = 0
    t0 = time.perf_counter()
    try:
        for path in outs:
            table = pq.read_table(path)
            last_row = _check_order(table, last_row, path)
            table = apply_shared_address(table, shared, rule, risk.policy.action_for)
            table = _conform(table.drop_columns([c for c in HIDDEN if c in table.column_names]), schema)
            writer.write(table)
            for col in COUNTED:
                _count(counts[col], table.column(col))
            for col in COUNTED_LISTS:
                _count(counts[col], pc.list_flatten(table.column(col)))
            internal += pc.sum(pc.starts_with(table.column("reason"), INTERNAL_ERROR)).as_py() or 0
            rv = review_table(table)
            if rv.num_rows:
                reviews.append(rv)
        if writer.rows != plan.rows:
            raise OutputError(f"{plan.input}: {plan.rows} rows read but {writer.rows} cleaned; rerun the batch")
        writer.close()
    except BaseException:
        writer.abort()
        raise
    review = review_table(pa.concat_tables(reviews)) if reviews else pa.table(
        {c: pa.array([], pa.string()) for c in ("order_id", "action")})
    if redact:
        review = aio.redact(review)
    with aio.atomic_path(paths["review"]) as tmp:
        aio.write_csv(review, tmp)
    gaz = open_gazetteer(db)
    timings: dict[str, float] = Counter()
    for s in chunk_stats or []:
        for k, v in (s.get("timings_s") or {}).items():
            timings[k] += v
    timings["assemble"] = time.perf_counter() - t0
    manifest = {
        "batch_id": batch_id,
        "input": {"path": str(plan.input), "sha256": plan.input_sha256, "rows": plan.rows},
        "outputs": {
            "cleaned": {"path": str(paths["output"]), "format": fmt, "rows": writer.rows,
                        "sha256": aio.sha256_file(paths["output"])},
            "review": {"path": str(paths["review"]), "rows": review.num_rows, "redacted": redact,
                       "sha256": aio.sha256_file(paths["review"])},
        },
        "gazetteer": {"path": str(db), "version": gaz.version},
        "counts": {k: dict(sorted(v.items(), key=lambda kv: (-kv[1], str(kv[0])))) for k, v in counts.items()},
        "order_ids": order_id_report(outs),
        "internal_errors": internal,
        "chunks": {"count": len(outs), "reused": sum(1 for s in chunk_stats or [] if s.get("reused"))},
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
        "wall_s": round(time.time() - started, 3),
        "version": __version__,
    }
    problems = manifest_problems(manifest)
    if problems:
        raise OutputError(f"{paths['output']}: the batch does not add up ({'; '.join(problems)}); not marked done")
    aio.write_json_atomic(manifest, paths["manifest"])
    log.info("batch %s: %d rows -> %s", batch_id, writer.rows, paths["output"])
    return manifest


def _count(counter: Counter, values) -> None:
    """Add a column's value counts (nulls left out), counted in Arrow."""
    for item in pc.value_counts(values).to_pylist():
        if item["values"] is not None:
            counter[item["values"]] += item["counts"]


def _union_schema(outs: list[Path]) -> pa.Schema:
    """The columns of all chunks in order of first appearance (a JSON Lines key first seen in
    a later chunk is a column of the whole batch, empty before it)."""
    fields: dict[str, pa.Field] = {}
    for path in outs:
        for f in pq.read_schema(path):
            if f.name not in fields and f.name not in HIDDEN:
                fields[f.name] = f
    return pa.schema(list(fields.values()))


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    for f in schema:
        if f.name not in table.column_names:
            table = table.append_column(f, pa.nulls(table.num_rows, f.type))
    return table.select(schema.names)


def _check_order(table: pa.Table, last_row: int, path: Path) -> int:
    """Input row numbers must rise strictly across the whole batch: no row repeated or reordered."""
    if aio.ROW not in table.column_names or table.num_rows == 0:
        return last_row
    rows = table.column(aio.ROW).to_numpy()
    if rows[0] <= last_row or (len(rows) > 1 and not (rows[1:] > rows[:-1]).all()):
        raise OutputError(f"{path.name}: input rows repeated or out of order; rerun the batch")
    return int(rows[-1])


def order_id_report(chunk_outs: list[Path], examples: int = 20) -> dict:
    """Missing and duplicated ``order_id``s: reported, never merged (every row stays in the output).

    ``rows == missing + (unique - duplicated) + duplicate_rows`` always holds.
    """
    blank = "(order_id IS NULL OR regexp_full_match(order_id, '\\s*'))"
    con = duckdb.connect()
    try:
        con.register("ids", chunk_columns(chunk_outs, ["order_id", aio.ROW]))
        total, missing, unique = con.execute(
            f"SELECT count(*), count(*) FILTER (WHERE {blank}), count(DISTINCT order_id) FILTER (WHERE NOT {blank}) "
            "FROM ids").fetchall()[0]
        dup = query_arrow(con, f"SELECT order_id, count(*) AS n, min({aio.ROW}) AS first FROM ids WHERE NOT {blank} "
                               "GROUP BY order_id HAVING count(*) > 1 ORDER BY first")
    finally:
        con.close()
    ns = dup.column("n").to_pylist()
    return {"rows": total, "unique": unique, "missing": missing, "duplicated": len(ns),
            "duplicate_rows": sum(ns), "duplicate_examples": dup.column("order_id").to_pylist()[:examples]}


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


def clean_file(input_path: str | Path, output: str | Path, db: str | Path, fmt: str | None = None,
               batch_id: str | None = None, risk_policy: str | Path | None = None,
               chunk_rows: int = aio.DEFAULT_BATCH_ROWS, progress=None, keep_work: bool = False,
               workers: int = 1, output_root: str | Path | None = None, redact: bool = False) -> dict:
    """Clean a whole file: split, clean the chunks (on ``workers`` processes), assemble.

    Restartable and idempotent: after a crash the next run reuses the chunks already cleaned
    and writes the same bytes an uninterrupted run would; a rerun replaces the outputs. Only
    one run per output at a time (``BatchLock``). Every file written (outputs, manifest, lock,
    work folder) stays inside ``output_root`` (default: the output's folder): ``..`` or a
    symlink leading out is refused.
    """
    from addressing.parallel import clean_chunks, start_workers
    from addressing.pipeline import BatchLock

    started = time.time()
    root = Path(output_root) if output_root is not None else Path(os.path.abspath(output)).parent
    output = aio.confine(output, root)
    side = {k: aio.confine(v, root) for k, v in output_paths(output).items()}
    work_root = aio.confine(output.parent / ".work" / output.name, root)
    if output.is_dir():
        raise OutputError(f"{output}: is a folder; give a file name")
    if chunk_rows < 1:
        raise OutputError(f"chunk rows must be at least 1, not {chunk_rows}")
    output_format(output, fmt)
    _risk(risk_policy)
    open_gazetteer(db)
    try:
        # one lock per stem: c.parquet and c.csv share c.review.csv and c.manifest.json
        with BatchLock(output.with_name(output.name.split(".")[0])):
            for path in side.values():
                aio.remove_stale_parts(path)
            plan = split_input(input_path, work_root, db, chunk_rows, several=lambda: start_workers(workers))
            done = 0

            def chunk_done(stat: dict) -> None:
                nonlocal done
                done += stat["rows"]
                if progress:
                    progress(done)

            stats = clean_chunks(plan.chunks, plan.outputs(), db, risk_policy, workers, chunk_done)
            manifest = assemble(plan, output, db, fmt, batch_id, risk_policy, stats, started, redact=redact)
            if not keep_work:
                shutil.rmtree(plan.work, ignore_errors=True)
                for folder in (work_root, work_root.parent):
                    with contextlib.suppress(OSError):
                        folder.rmdir()
    except OSError as exc:
        where = exc.filename or output
        raise OutputError(f"{where}: {exc.strerror or exc}") from exc
    finally:
        with contextlib.suppress(OSError):
            work_root.parent.rmdir()  # ``.work``, when nothing of any batch is left in it
    return manifest
