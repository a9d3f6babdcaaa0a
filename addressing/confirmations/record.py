"""Operator decisions -> rows of the decisions store: from the review form of an import
(``from_review``) and from an edited review queue CSV applied in bulk (``apply_review_csv``).

The review queue CSV (``<name>.review.csv``, written beside every cleaned batch) gets a
``decision`` column (``accept``, ``edit`` or ``hold``; blank: not decided), ``address`` for an
edit (the address as it should be, on one line) and ``note`` for a hold (why). The rest of each
decided order is read from the cleaned batch beside it (by ``order_id``), found through the
batch's manifest, so a redacted review queue works as well as a full one.
"""

from __future__ import annotations

import csv
import json
import logging
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from addressing import io as aio
from addressing.batch.outputs import output_paths
from addressing.confirmations import keys, store
from addressing.decisions import Answer, Item
from addressing.errors import InputError
from addressing.parse import parse_batch
from addressing.risk import address_key

log = logging.getLogger(__name__)

#: what an operator may write in the ``decision`` column
DECISIONS = store.DECISIONS
#: the customer column a review queue's cleaned batch is searched for, when none is named
CUSTOMER_COLUMN = "customer_id"


def previously(path: Path, ids: list[str | None]) -> dict[str, str]:
    """The earlier decisions ``ids`` (an output's ``confirmation`` column) in words, for the
    review form: ``confirmed by ann on 2026-11-25 (decision c-...)`` or ``held by ann on
    2026-11-25: fraud ring (decision c-...)``. Ids no longer in the store are left out."""
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    out = {}
    for r in store.rows(path):
        if r["id"] not in wanted or r["kind"] != "decision":
            continue
        day = r["decided_at"].date().isoformat()
        if r["decision"] == "hold":
            out[r["id"]] = f"held by {r['operator']} on {day}: {r['reason'] or 'no reason given'} (decision {r['id']})"
        else:
            out[r["id"]] = f"confirmed by {r['operator']} on {day} (decision {r['id']})"
    return out


def input_keys(texts: list[str | None], countries: list[str | None]) -> list[str | None]:
    """The normalized keys of inputs as the output records show them (``input`` and ``country``):
    parsed again as the pipeline parsed them (a country other than the US is the parse's hint)."""
    hints = [c if c and c != "US" else None for c in countries]
    return [keys.input_key(p) for p in parse_batch(texts, hints)]


def _record(row: dict, decision: str, operator: str, batch_id: str | None, key: str | None,
            accepted: list[str], reason: str | None, customer: str | None) -> store.Record:
    return store.Record(kind="decision", operator=operator, decision=decision, action=row.get("action"),
                        batch_id=batch_id, order_id=None if row.get("order_id") is None else str(row["order_id"]),
                        customer_id=None if customer is None else str(customer), input=row.get("input"),
                        input_key=key, result_key=row.get(aio.ADDRESS_KEY), reason=reason,
                        accepted_flags=list(accepted or ()),
                        result={f: row.get(f) for f in store.RESULT_FIELDS})


def from_review(tables: list[pa.Table], items: list[Item], answers: list, log_entries: list[dict],
                batch_id: str | None) -> list[store.Record]:
    """Store rows for the decisions a person made on an import's review form: ``tables`` as
    ``apply_decisions`` returned them, ``log_entries`` its audit log (one per item, in order).
    Default holds (nobody answered) are left out: they are no one's decision."""
    picked = [(i, Answer.of(a), e) for i, a, e in zip(items, answers, log_entries) if Answer.of(a).human]
    rows = [tables[i.chunk].slice(i.row, 1).to_pylist()[0] for i, _, _ in picked]
    found = input_keys([r.get("input") for r in rows], [r.get("country") for r in rows])
    out = []
    for (item, answer, entry), row, key in zip(picked, rows, found):
        decision = entry["decision"]
        # an accepted order's flags were the ones shown; an edit's are those of the address typed
        accepted = row.get("risk_flags") if decision == "edit" else list(item.flags)
        out.append(_record(row, decision, entry["by"], batch_id, key, accepted,
                           answer.reason if decision == "hold" else None, row.get(aio.CUSTOMER)))
    return out


# ----------------------------------------------------------------------------- review queue CSV


def _uncell(value: str) -> str:
    """A CSV cell as written before ``io.csv_cell`` neutralized a formula start."""
    if len(value) > 1 and value[0] == "'" and value[1] in aio.FORMULA_START:
        return value[1:]
    return value


def read_review_csv(path: Path) -> list[dict]:
    """The decided rows of an edited review queue: ``order_id``, ``decision``, ``address``, ``note``."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            names = [n.strip().lower() for n in reader.fieldnames or []]
            if "order_id" not in names or "decision" not in names:
                raise InputError("a review queue needs the columns order_id and decision (accept, edit or hold)",
                                 str(path))
            out = []
            for n, raw in enumerate(reader, start=2):
                row = {k.strip().lower(): _uncell((v or "").strip()) for k, v in raw.items() if k}
                decision = row.get("decision", "").lower()
                if not decision:
                    continue
                if decision not in DECISIONS:
                    raise InputError(f"decision {decision!r} is not one of {', '.join(DECISIONS)}", str(path), n)
                if decision == "edit" and not row.get("address"):
                    raise InputError("an edit needs the address as it should be in the address column", str(path), n)
                out.append({"line": n, "order_id": row.get("order_id"), "decision": decision,
                            "address": row.get("address") or None, "note": row.get("note") or None})
            return out
    except FileNotFoundError:
        raise InputError("no such file", str(path)) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text ({exc.reason})", str(path)) from exc


def _manifest(review: Path) -> dict:
    name = review.name
    if not name.endswith(".review.csv"):
        raise InputError("not a review queue (its name must end in .review.csv)", str(review))
    manifest = review.with_name(name[:-len(".review.csv")] + ".manifest.json")
    try:
        return json.loads(manifest.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"no manifest beside it ({manifest.name}): the batch is unfinished or moved",
                         str(review)) from None
    except (OSError, ValueError) as exc:
        raise InputError(f"its manifest {manifest.name} cannot be read ({exc})", str(review)) from exc


def _cleaned_rows(manifest: dict, review: Path, order_ids: set[str]) -> dict[str, list[dict]]:
    cleaned = manifest["outputs"]["cleaned"]
    path = Path(cleaned["path"])
    if not path.exists():  # the batch folder was moved: its output is beside the review queue
        path = review.with_name(path.name)
    if cleaned["format"] != "parquet":
        raise InputError(f"the cleaned batch beside it is {cleaned['format']}; decisions are read from a Parquet "
                         "batch (clean with --format parquet)", str(review))
    if output_paths(path)["review"].name != review.name:
        raise InputError(f"its manifest names another batch ({path.name})", str(review))
    table = pq.read_table(path)
    ids = table.column("order_id").cast(pa.string())
    keep = pc.is_in(ids, value_set=pa.array(sorted(order_ids), pa.string()))
    out: dict[str, list[dict]] = {}
    for r in table.filter(pc.fill_null(keep, False)).to_pylist():
        out.setdefault(str(r["order_id"]), []).append(r)
    return out


def apply_review_csv(review: Path, operator: str, batch_id: str | None = None, db: str | Path | None = None,
                     risk_policy: str | Path | None = None, customer_column: str = CUSTOMER_COLUMN) -> dict:
    """Keep the decisions of an edited review queue in the decisions store; returns counts
    (``decisions``: by decision and outcome, ``skipped``: orders that could not be told apart
    or were not found) and ``store`` (its path). An edit is cleaned again (with the batch's
    gazetteer, or ``db``) and answers later orders only if it now validates."""
    review = Path(review)
    wanted = read_review_csv(review)
    manifest = _manifest(review)
    if batch_id is not None and manifest.get("batch_id") not in (None, batch_id):
        raise InputError(f"the review queue is of batch {manifest.get('batch_id')!r}, not {batch_id!r}", str(review))
    batch_id = batch_id or manifest.get("batch_id")
    db = db or manifest["gazetteer"]["path"]
    rows = _cleaned_rows(manifest, review, {w["order_id"] for w in wanted if w["order_id"]})
    skipped: Counter = Counter()
    chosen: list[tuple[dict, dict]] = []
    for w in wanted:
        found = [r for r in rows.get(w["order_id"] or "", []) if r.get("action") != "deliver"]
        if len(found) != 1:
            skipped["order id not found" if not found else "order id on several orders"] += 1
            continue
        chosen.append((w, found[0]))
    edits = [(w, r) for w, r in chosen if w["decision"] == "edit"]
    edited = _reclean(edits, db, risk_policy) if edits else []
    cleaned = iter(edited)
    found_keys = input_keys([r.get("input") for _, r in chosen], [r.get("country") for _, r in chosen])
    records, counts = [], Counter()
    for (w, row), key in zip(chosen, found_keys):
        customer = row.get(customer_column)
        if w["decision"] == "accept":
            result = {**row, "action": "deliver"}
            rec = _record(result, "accept", operator, batch_id, key, row.get("risk_flags") or [], None, customer)
            rec.result_key = _result_key(result)
        elif w["decision"] == "hold":
            result = {**row, "action": "hold"}
            rec = _record(result, "hold", operator, batch_id, key, row.get("risk_flags") or [], w["note"], customer)
            rec.result_key = _result_key(result)
        else:
            new = next(cleaned)
            # delivered only if the address typed validates, as in the review form
            new["action"] = "deliver" if new["action"] == "deliver" else "hold"
            rec = _record(new, "edit", operator, batch_id, key, new.get("risk_flags") or [], None, customer)
        rec.input = row.get("input")
        records.append(rec)
        counts[w["decision"] if w["decision"] != "edit" else f"edit -> {rec.action}"] += 1
    path = store.store_path(db)
    store.append(path, records)
    log.info("decisions of batch %s kept: %s (%s skipped)", batch_id, dict(counts), sum(skipped.values()))
    return {"batch_id": batch_id, "decisions": dict(counts), "skipped": dict(skipped), "store": str(path)}


def _result_key(row: dict) -> str | None:
    return address_key(row.get("house_number"), row.get("predirectional"), row.get("street_name"),
                       row.get("street_type"), row.get("postdirectional"), row.get("unit"), row.get("po_box"),
                       row.get("postal_code"))


def _reclean(edits: list[tuple[dict, dict]], db: str | Path, risk_policy: str | Path | None) -> list[dict]:
    """The addresses typed for edits, cleaned as one batch; each row keeps its order's id."""
    from addressing.gazetteer import open_gazetteer
    from addressing.pipeline import clean_table
    from addressing.risk import risk_context

    raw = pa.table({"order_id": pa.array([str(r.get("order_id")) for _, r in edits], pa.string()),
                    "address": pa.array([w["address"] for w, _ in edits], pa.string())})
    out = clean_table(raw, open_gazetteer(db), risk_context(risk_policy), with_keys=True).to_pylist()
    return out
