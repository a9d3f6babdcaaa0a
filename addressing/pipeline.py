"""Compose the stages for one batch: parse -> match/geocode -> assess -> emit.

``clean_table`` is the whole pipeline over one Arrow batch; ``clean_order`` cleans one order
in-process; ``clean_table_isolating`` keeps a bug that single rows trip to those rows, and
``review_table`` picks the rows needing a human. Files of any size go through
``addressing.batch`` in chunks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from addressing import io as aio
from addressing.confirmations import honour
from addressing.confirmations.store import store_path
from addressing.deliveries.learned import learned
from addressing.errors import AddressingError, GazetteerError, OutputError
from addressing.gazetteer import Gazetteer
from addressing.match import MatchResult, match_batch
from addressing.parse import parse_batch
from addressing.risk import RiskContext, address_key, assess
from addressing.schema import OUTPUT_FIELDS, OUTPUT_NAMES, ParsedAddress

INTERNAL_ERROR = "internal error"
FATAL_PROBLEMS = ("malformed CSV row", "broken JSON line", "field longer than", INTERNAL_ERROR)
REVIEW_COLUMNS = ["order_id", "input", "line1", "line2", "match_status", "precision", "confidence", "risk_level",
                  "action", "risk_flags", "risk_reasons", "candidates", "reason"]
STAGES = ("read", "parse", "match", "assess", "emit")
log = logging.getLogger(__name__)


@dataclass
class Timings:
    seconds: dict[str, float] = field(default_factory=lambda: {s: 0.0 for s in STAGES})

    def add(self, stage: str, t0: float) -> float:
        now = time.perf_counter()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + now - t0
        return now


def _match_key(p: ParsedAddress) -> tuple:
    """Parses that match alike: every component a match result carries over (the unit type
    too: "SUITE 907" and "APT 907" share a unit but not what the cleaned line says), and the
    parser's corrections (``2118`` and ``02118`` parse alike, but only one had its zero restored)."""
    return (p.invalid_reason, p.kind, p.country, p.house_number, p.predirectional, p.street_name, p.street_type,
            p.postdirectional, p.unit_type, p.unit, p.po_box, p.city, p.state, p.postal_code, tuple(p.corrections))


def _line1(r: MatchResult, p: ParsedAddress) -> str | None:
    q = ParsedAddress(house_number=r.house_number, predirectional=r.predirectional, street_name=r.street_name,
                      street_type=r.street_type, postdirectional=r.postdirectional, unit_type=r.unit_type,
                      unit=r.unit, po_box=p.po_box, pmb=p.pmb, kind=p.kind, intersecting_street=p.intersecting_street)
    return q.line1()


def _line2(r: MatchResult, p: ParsedAddress) -> str | None:
    q = ParsedAddress(city=r.city, state=r.state, postal_code=r.postal_code, zip4=p.zip4, country=r.country)
    return q.line2()


def clean_table(raw: pa.Table, gaz: Gazetteer, risk: RiskContext, timings: Timings | None = None,
                customer_column: str | None = None, with_keys: bool = False) -> pa.Table:
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

    # operator decisions on these inputs: their confirmed addresses are matched in the same batch
    decided = honour.plan(store_path(gaz.path), parsed, risk.policy.retention_days)
    to_match = parsed if decided is None else decided.to_match(parsed)
    keys = [_match_key(p) for p in to_match]
    unique: dict[tuple, int] = {}
    reps: list[ParsedAddress] = []
    for k, p in zip(keys, to_match):
        if k not in unique:
            unique[k] = len(reps)
            reps.append(p)
    try:
        matched = match_batch(reps, gaz)
    except GazetteerError as exc:
        if exc.path is None:  # raised where only a cursor was at hand: say which file
            raise exc.naming(gaz.path) from exc
        raise
    results = [matched[unique[k]] for k in keys]
    if decided is not None:
        results = decided.settle(results)
    t0 = timings.add("match", t0)

    order_ids = _column(raw, "order_id")
    cust_col = customer_column or risk.policy.rule("shared_address").params.get("customer_column")
    customers = _column(raw, cust_col) if cust_col else [None] * n
    akeys = [address_key(r.house_number, r.predirectional, r.street_name, r.street_type, r.postdirectional, r.unit,
                         p.po_box, r.postal_code) if r.status != "invalid" else None
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
        "coverage_gap": [r.coverage_gap for r in results],
        "pmb": [p.po_box if p.pmb else None for p in parsed],
        "carrier": _column(raw, risk.policy.rule("po_box").params.get("carrier_column")),
    }
    # proof of delivery: drop centres and failed attempts at these delivery points
    from_drops = learned(store_path(gaz.path), risk.policy.retention_days,
                         int(risk.policy.rule("failed_before").params["window_days"]))
    if from_drops:
        from_drops.apply(akeys, facts)
    risk_out = assess(facts, risk)
    if decided is not None:
        decided.judge(risk_out, risk.policy)
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
        "confirmation": [None] * n,
    }
    if decided is not None:
        decided.fill(out)
    for i, oid in enumerate(order_ids):
        if oid is None or (isinstance(oid, str) and not oid.strip()):
            out["notes"][i] = out["notes"][i] + ["missing order_id"]
    passthrough = passthrough_columns(raw.column_names)
    arrays = [raw.column(c) for c in passthrough]
    types = dict(OUTPUT_FIELDS)
    arrays += [pa.array(out[name], type=types[name]) for name in OUTPUT_NAMES]
    names = list(passthrough.values()) + OUTPUT_NAMES
    if with_keys:
        counted = akeys if decided is None else decided.batch_keys(akeys)  # shared_address an operator accepted
        arrays += [pa.array(counted, pa.string()),
                   pa.array([None if c is None else str(c) for c in customers], pa.string())]
        names += [aio.ADDRESS_KEY, aio.CUSTOMER]
        if aio.ROW in raw.column_names:
            arrays.append(raw.column(aio.ROW))
            names.append(aio.ROW)
    table = pa.Table.from_arrays(arrays, names=names)
    _check_rows(raw, table, passthrough)
    timings.add("emit", t0)
    return table


#: input columns that are read as the address; the output's standardized fields replace them
CONSUMED = {"city", "state", "postal_code", "country"}


def passthrough_columns(names: list[str]) -> dict[str, str]:
    """Input column -> its name in the output. Every input column passes through, except the
    readers' own (``_row``, ``_problem``) and the split address fields the output standardizes;
    one whose name an output field takes (``notes``, ``lat``...) is kept as ``input_<name>``."""
    taken = set(OUTPUT_NAMES) | set(names)
    out: dict[str, str] = {}
    for c in names:
        if c in (aio.ROW, aio.PROBLEM) or c in CONSUMED:
            continue
        new = c
        if c in OUTPUT_NAMES:
            new = f"input_{c}"
            while new in taken:
                new += "_"
            taken.add(new)
        out[c] = new
    return out


def _check_rows(raw: pa.Table, table: pa.Table, passthrough: dict[str, str]) -> None:
    """The contract, checked on every batch: one output row per input row, in order, with
    ``order_id`` and the passthrough columns exactly as read."""
    if table.num_rows != raw.num_rows:
        raise OutputError(f"internal error: {raw.num_rows} rows in, {table.num_rows} out")
    for c, new in passthrough.items():
        if not table.column(new).equals(raw.column(c)):
            raise OutputError(f"internal error: passthrough column {c!r} changed")


def clean_table_isolating(raw: pa.Table, gaz: Gazetteer, risk: RiskContext, timings: Timings | None = None,
                          with_keys: bool = False, max_bad: int | None = None) -> pa.Table:
    """``clean_table``, except that a bug one strange row trips costs that row, not the batch
    (``isolate_rows``). A fault of the set-up (a broken or missing gazetteer, a missing model:
    an ``AddressingError``) is raised at once, with no row marked."""
    return isolate_rows(raw, lambda part: clean_table(part, gaz, risk, timings, with_keys=with_keys), max_bad)


#: a bug may cost one row in this many before it counts as the batch's fault...
ROWS_PER_BAD = 100
#: ...and never fewer than this many rows
MIN_MAX_BAD = 10


def isolate_rows(raw: pa.Table, clean: Callable[[pa.Table], pa.Table], max_bad: int | None = None) -> pa.Table:
    """``clean(raw)``; when that raises something that is not an ``AddressingError`` (those
    are about the set-up, and raised as they are), the batch is cut in halves until the rows
    that fail alone are found; each comes out of ``clean`` marked ``invalid`` with the reason
    ``internal error (TypeError)``, in its place, passthrough intact. More than ``max_bad``
    such rows (default one in ``ROWS_PER_BAD``, at least ``MIN_MAX_BAD``) means the
    fault is not in the rows: the first error is raised."""
    budget = [max_bad if max_bad is not None else max(MIN_MAX_BAD, raw.num_rows // ROWS_PER_BAD)]
    first: list[Exception] = []

    def run(part: pa.Table, failed: Exception | None = None) -> pa.Table:
        if failed is None:
            try:
                return clean(part)
            except AddressingError:
                raise
            except Exception as exc:
                failed = exc
                first.append(exc)
        if part.num_rows > 1:
            half = part.num_rows // 2
            return pa.concat_tables([run(part.slice(0, half)), run(part.slice(half))])
        budget[0] -= 1
        if budget[0] < 0 or part.num_rows == 0:
            raise first[0]
        row = part.column(aio.ROW)[0].as_py() if aio.ROW in part.column_names else None
        log.warning("row %s: %s while cleaning it; marked invalid", row, type(failed).__name__)
        log.debug("row %s failed", row, exc_info=failed)
        return clean(_mark(part, f"{INTERNAL_ERROR} ({type(failed).__name__}) while cleaning this row; "
                                 "please report it"))

    return run(raw)


def _mark(part: pa.Table, problem: str) -> pa.Table:
    col = pa.array([problem] * part.num_rows, pa.string())
    if aio.PROBLEM in part.column_names:
        return part.set_column(part.schema.get_field_index(aio.PROBLEM), aio.PROBLEM, col)
    return part.append_column(aio.PROBLEM, col)


def _column(table: pa.Table, name: str | None) -> list:
    if not name:
        return [None] * table.num_rows
    names = {c.lower(): c for c in table.column_names}
    if name.lower() in names:
        return table.column(names[name.lower()]).to_pylist()
    return [None] * table.num_rows


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


def clean_order(order: dict, gaz: Gazetteer, risk: RiskContext) -> dict:
    """Clean one order in-process (warm models: milliseconds)."""
    names = list(order)
    raw = pa.table({k: pa.array([None if order[k] is None else str(order[k])], pa.string()) for k in names})
    return clean_table(raw, gaz, risk).to_pylist()[0]
