"""Compose the stages for one batch: read -> parse -> match/geocode -> assess -> emit.

``clean_table`` is the whole pipeline over one Arrow batch; ``clean_file`` streams a file
of any size through it in chunks and writes the cleaned batch, the review queue and the
manifest atomically (manifest last); ``clean_order`` cleans one order in-process.
"""

from __future__ import annotations

import fcntl
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from addressing import io as aio
from addressing.errors import InputError, OutputError
from addressing.gazetteer import Gazetteer, open_gazetteer
from addressing.match import MatchResult, match_batch
from addressing.parse import parse_batch
from addressing.risk import RiskContext, address_key, assess, load_risk
from addressing.schema import OUTPUT_FIELDS, OUTPUT_NAMES, ParsedAddress, output_schema

FATAL_PROBLEMS = ("malformed CSV row", "broken JSON line", "field longer than")
REVIEW_COLUMNS = ["order_id", "input", "line1", "line2", "match_status", "precision", "confidence", "risk_level",
                  "action", "risk_flags", "risk_reasons", "candidates", "reason"]
STAGES = ("read", "parse", "match", "assess", "emit")


@dataclass
class Timings:
    seconds: dict[str, float] = field(default_factory=lambda: {s: 0.0 for s in STAGES})

    def add(self, stage: str, t0: float) -> float:
        now = time.perf_counter()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + now - t0
        return now


def _match_key(p: ParsedAddress) -> tuple:
    return (p.invalid_reason, p.kind, p.country, p.house_number, p.predirectional, p.street_name, p.street_type,
            p.postdirectional, p.unit, p.po_box, p.city, p.state, p.postal_code)


def _line1(r: MatchResult, p: ParsedAddress) -> str | None:
    q = ParsedAddress(house_number=r.house_number, predirectional=r.predirectional, street_name=r.street_name,
                      street_type=r.street_type, postdirectional=r.postdirectional, unit_type=r.unit_type,
                      unit=r.unit, po_box=p.po_box, kind=p.kind, intersecting_street=p.intersecting_street)
    return q.line1()


def _line2(r: MatchResult, p: ParsedAddress) -> str | None:
    q = ParsedAddress(city=r.city, state=r.state, postal_code=r.postal_code, zip4=p.zip4, country=r.country)
    return q.line2()


def clean_table(raw: pa.Table, gaz: Gazetteer, risk: RiskContext, timings: Timings | None = None,
                customer_column: str | None = None) -> pa.Table:
    """Clean one batch. ``raw`` holds the input columns as text (plus ``_row``/``_problem``
    from the readers, when present). Returns one output row per input row, in order."""
    timings = timings or Timings()
    t0 = time.perf_counter()
    n = raw.num_rows
    inputs = aio.one_line(raw)
    hints = aio.country_hints(raw)
    problems = raw.column(aio.PROBLEM).to_pylist() if aio.PROBLEM in raw.column_names else [None] * n
    texts: list[object] = []
    for text, prob in zip(inputs, problems):
        texts.append(None if prob and prob.startswith(FATAL_PROBLEMS) else text)
    parsed = parse_batch(texts, hints)
    for i, prob in enumerate(problems):
        if prob and prob.startswith(FATAL_PROBLEMS):
            parsed[i].invalid_reason = prob
        elif prob:
            parsed[i].notes.append(prob)
    t0 = timings.add("parse", t0)

    keys = [_match_key(p) for p in parsed]
    unique: dict[tuple, int] = {}
    reps: list[ParsedAddress] = []
    for k, p in zip(keys, parsed):
        if k not in unique:
            unique[k] = len(reps)
            reps.append(p)
    matched = match_batch(reps, gaz)
    results = [matched[unique[k]] for k in keys]
    t0 = timings.add("match", t0)

    order_ids = _column(raw, "order_id")
    cust_col = customer_column or risk.policy.rule("shared_address").params.get("customer_column")
    customers = _column(raw, cust_col) if cust_col else [None] * n
    akeys = [address_key(r.house_number, r.predirectional, r.street_name, r.street_type, r.postdirectional, r.unit,
                         p.po_box, r.postal_code) if r.status in ("matched", "ambiguous") else None
             for p, r in zip(parsed, results)]
    facts = {
        "status": [r.status for r in results],
        "precision": [r.precision for r in results],
        "confidence": [r.confidence for r in results],
        "kind": [p.kind for p in parsed],
        "zip_type": [r.zip_type for r in results],
        "zip_active": [r.zip_active for r in results],
        "postal_code": [r.postal_code for r in results],
        "n_units": [r.n_units for r in results],
        "has_base": [r.has_base for r in results],
        "unit": [r.unit for r in results],
        "unit_known": [r.unit_known for r in results],
        "lat": [r.lat for r in results],
        "lon": [r.lon for r in results],
        "n_candidates": [len(r.candidates) for r in results],
        "corrections": [r.corrections for r in results],
        "address_key": akeys,
        "customer": customers,
        "reason": [r.reason for r in results],
        "timezone": [r.timezone for r in results],
    }
    risk_out = assess(facts, risk)
    t0 = timings.add("assess", t0)

    out = {
        "input": [t if isinstance(t, str) else None for t in inputs],
        "house_number": [r.house_number for r in results],
        "predirectional": [r.predirectional for r in results],
        "street_name": [r.street_name for r in results],
        "street_type": [r.street_type for r in results],
        "postdirectional": [r.postdirectional for r in results],
        "unit_type": [r.unit_type for r in results],
        "unit": [r.unit for r in results],
        "po_box": [p.po_box for p in parsed],
        "city": [r.city for r in results],
        "state": [r.state for r in results],
        "postal_code": [r.postal_code for r in results],
        "zip4": [p.zip4 for p in parsed],
        "country": [r.country for r in results],
        "line1": [_line1(r, p) if r.status != "invalid" else None for r, p in zip(results, parsed)],
        "line2": [_line2(r, p) if r.status != "invalid" else None for r, p in zip(results, parsed)],
        "match_status": facts["status"],
        "precision": facts["precision"],
        "confidence": [round(float(c), 4) for c in facts["confidence"]],
        "lat": facts["lat"],
        "lon": facts["lon"],
        "corrections": facts["corrections"],
        "risk_flags": risk_out["risk_flags"],
        "risk_level": risk_out["risk_level"],
        "action": risk_out["action"],
        "risk_reasons": risk_out["risk_reasons"],
        "timezone": facts["timezone"],
        "delivery_window": risk_out["delivery_window"],
        "candidates": [r.candidates for r in results],
        "notes": [p.notes for p in parsed],
        "reason": [r.reason for r in results],
        "parser": [p.parser for p in parsed],
        "gazetteer_version": [gaz.version] * n,
    }
    for i, oid in enumerate(order_ids):
        if oid is None or (isinstance(oid, str) and not oid.strip()):
            out["notes"][i] = out["notes"][i] + ["missing order_id"]
    passthrough = [c for c in raw.column_names if c not in (aio.ROW, aio.PROBLEM) and c not in OUTPUT_NAMES]
    arrays = [raw.column(c) for c in passthrough]
    types = dict(OUTPUT_FIELDS)
    arrays += [pa.array(out[name], type=types[name]) for name in OUTPUT_NAMES]
    table = pa.Table.from_arrays(arrays, names=passthrough + OUTPUT_NAMES)
    timings.add("emit", t0)
    return table


def _column(table: pa.Table, name: str | None) -> list:
    if not name:
        return [None] * table.num_rows
    names = {c.lower(): c for c in table.column_names}
    if name.lower() in names:
        return table.column(names[name.lower()]).to_pylist()
    return [None] * table.num_rows


class BatchLock:
    """One run per output at a time: a second run on the same batch fails with a clear message."""

    def __init__(self, output: Path):
        self.path = output.with_name(f".{output.name}.lock")

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = open(self.path, "w")
        try:
            fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            self.fh.close()
            raise OutputError(f"{self.path.parent / self.path.name[1:-5]}: another run is writing this batch "
                              "(lock held); wait for it to finish") from exc
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fh, fcntl.LOCK_UN)
        self.fh.close()
        self.path.unlink(missing_ok=True)


def output_paths(output: Path) -> dict[str, Path]:
    stem = output.name.split(".")[0]
    return {"output": output, "review": output.with_name(f"{stem}.review.csv"),
            "manifest": output.with_name(f"{stem}.manifest.json")}


def output_format(output: Path, fmt: str | None) -> str:
    if fmt:
        if fmt not in ("parquet", "csv", "jsonl", "geojson"):
            raise OutputError(f"unknown format {fmt!r} (parquet, csv, jsonl, geojson)")
        return fmt
    suffix = output.suffix.lower().lstrip(".")
    return {"parquet": "parquet", "pq": "parquet", "csv": "csv", "jsonl": "jsonl", "ndjson": "jsonl",
            "geojson": "geojson", "json": "geojson"}.get(suffix, "parquet")


def review_table(table: pa.Table) -> pa.Table:
    """Rows needing a human, hold before review, worst level first, least confident first."""
    mask = pc.not_equal(table.column("action"), "deliver")
    sub = table.filter(mask)
    cols = [c for c in REVIEW_COLUMNS if c in sub.column_names]
    sub = sub.select(cols)
    order_action = pc.if_else(pc.equal(sub.column("action"), "hold"), 0, 1)
    level_rank = pc.index_in(sub.column("risk_level"), pa.array(["high", "medium", "low", "none"]))
    sub = sub.append_column("_a", order_action).append_column("_l", level_rank)
    sub = sub.sort_by([("_a", "ascending"), ("_l", "ascending"), ("confidence", "ascending")])
    return sub.drop_columns(["_a", "_l"])


def _count(counter: Counter, values: list) -> None:
    counter.update(v for v in values if v is not None)


def clean_file(
    input_path: str | Path,
    output: str | Path,
    db: str | Path,
    fmt: str | None = None,
    batch_id: str | None = None,
    risk_policy: str | Path | None = None,
    chunk_rows: int = aio.DEFAULT_BATCH_ROWS,
    progress=None,
) -> dict:
    """Clean a whole file; return the manifest (also written beside the output, last)."""
    started = time.time()
    input_path = Path(input_path)
    output = Path(output)
    fmt = output_format(output, fmt)
    paths = output_paths(output)
    risk = load_risk(risk_policy)
    gaz = open_gazetteer(db)
    aio.input_format(input_path)
    if not input_path.exists():
        raise InputError("no such file", str(input_path))
    timings = Timings()
    with BatchLock(output):
        counts = {k: Counter() for k in ("match_status", "precision", "action", "risk_level", "risk_flags",
                                         "corrections", "parser")}
        reviews: list[pa.Table] = []
        seen_ids: set = set()
        dupes: list = []
        rows_in = 0
        writer = None
        try:
            reader: Iterator[pa.Table] = aio.read_orders(input_path, chunk_rows)
            while True:
                t0 = time.perf_counter()
                raw = next(reader, None)
                timings.add("read", t0)
                if raw is None:
                    break
                rows_in += raw.num_rows
                cleaned = clean_table(raw, gaz, risk, timings)
                t0 = time.perf_counter()
                if writer is None:
                    writer = aio.BatchWriter(paths["output"], fmt, output_schema(cleaned.schema))
                writer.write(cleaned)
                for col in ("match_status", "precision", "action", "risk_level", "parser"):
                    _count(counts[col], cleaned.column(col).to_pylist())
                for col in ("risk_flags", "corrections"):
                    _count(counts[col], [x for xs in cleaned.column(col).to_pylist() for x in (xs or [])])
                for oid in cleaned.column("order_id").to_pylist():
                    if oid in seen_ids:
                        dupes.append(oid)
                    seen_ids.add(oid)
                rv = review_table(cleaned)
                if rv.num_rows:
                    reviews.append(rv)
                timings.add("emit", t0)
                if progress:
                    progress(rows_in)
            if writer is None:
                raise InputError("no rows", str(input_path))
            writer.close()
        except BaseException:
            if writer is not None:
                writer.abort()
            raise
        t0 = time.perf_counter()
        review = review_table(pa.concat_tables(reviews)) if reviews else None
        if review is None:
            review = pa.table({c: pa.array([], pa.string()) for c in REVIEW_COLUMNS})
        with aio.atomic_path(paths["review"]) as tmp:
            _write_review_csv(review, tmp)
        rows_out = writer.rows
        if rows_out != rows_in:
            raise OutputError(f"internal error: {rows_in} rows read but {rows_out} written")
        manifest = {
            "batch_id": batch_id or uuid.uuid4().hex[:12],
            "input": {"path": str(input_path), "sha256": aio.sha256_file(input_path), "rows": rows_in},
            "outputs": {
                "cleaned": {"path": str(paths["output"]), "format": fmt, "rows": rows_out,
                            "sha256": aio.sha256_file(paths["output"])},
                "review": {"path": str(paths["review"]), "rows": review.num_rows,
                           "sha256": aio.sha256_file(paths["review"])},
            },
            "gazetteer": {"path": str(Path(db)), "version": gaz.version},
            "counts": {k: dict(sorted(v.items(), key=lambda kv: -kv[1])) for k, v in counts.items()},
            "order_ids": {"unique": len(seen_ids), "duplicates": len(dupes),
                          "duplicate_examples": [str(d) for d in dict.fromkeys(dupes)][:20],
                          "missing": sum(1 for s in seen_ids if s is None)},
            "timings_s": {k: round(v, 3) for k, v in timings.seconds.items()},
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
            "wall_s": round(time.time() - started, 3),
        }
        timings.add("emit", t0)
        aio.write_json_atomic(manifest, paths["manifest"])
    return manifest


def _write_review_csv(review: pa.Table, path: Path) -> None:
    import csv

    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(review.column_names)
        cols = [review.column(c).to_pylist() for c in review.column_names]
        for row in zip(*cols):
            w.writerow([aio._csv_cell(v) for v in row])


def clean_order(order: dict, gaz: Gazetteer, risk: RiskContext) -> dict:
    """Clean one order in-process (warm models: milliseconds)."""
    names = list(order)
    raw = pa.table({k: pa.array([None if order[k] is None else str(order[k])], pa.string()) for k in names})
    return clean_table(raw, gaz, risk).to_pylist()[0]
