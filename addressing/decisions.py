"""An operator's decisions on the orders of an import that need a human (used by the
``clean-imported-orders`` flow).

No Prefect here: the flow asks (a form in the Prefect UI) and this module applies the
answers to the batch's cleaned chunk files, after which ``addressing.batch.revise``
rewrites the cleaned batch, review queue and manifest as usual. Decisions:

- ``accept``: the cleaned address is right; the order is delivered (flags stay, for the record)
- ``edit``:   the operator typed the address; it is cleaned again and delivered only if it now
              validates (action ``deliver``), else held
- ``hold``:   the order is held; also what happens when nobody answers before the timeout

Each decided row says so in ``risk_reasons`` and ``notes``; ``decisions_log`` keeps the audit.
Decisions a person made (not the holds of a timeout) are also kept in the decisions store and
answer later orders of the same input (``addressing.confirmations``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from addressing import io as aio
from addressing.batch.plan import Plan
from addressing.gazetteer import Gazetteer
from addressing.pipeline import clean_table
from addressing.risk import RiskContext
from addressing.risk.config import SEVERITY_RANK
from addressing.schema import OUTPUT_NAMES

DECISIONS = ("accept", "edit", "hold")
_ADDRESS_INPUTS = ("address", "address1", "address2")
_ACTION_RANK = {"hold": 0, "review": 1}


@dataclass(frozen=True)
class Answer:
    """One order's answer: the decision, the address typed for an edit, the reason for a hold,
    who answered (``None``: the caller's default) and whether a person did (a timeout's default
    hold is no one's decision: it is applied but not kept as one)."""

    decision: str
    address: str | None = None
    reason: str | None = None
    by: str | None = None
    human: bool = True

    @classmethod
    def of(cls, value: Answer | tuple | list | dict) -> Answer:
        """From an ``Answer``, a ``(decision, address[, reason[, by]])`` tuple or a dict of its fields."""
        if isinstance(value, Answer):
            return value
        if isinstance(value, dict):
            return cls(**{k: v for k, v in value.items() if k in cls.__dataclass_fields__})
        return cls(*value)


@dataclass(frozen=True)
class Item:
    """One order waiting for a decision; ``chunk``/``row`` locate it in the cleaned chunks."""

    chunk: int
    row: int
    order_id: str | None
    input: str | None
    suggestion: str | None
    action: str
    risk_level: str
    flags: tuple[str, ...]
    why: tuple[str, ...]
    confidence: float | None
    #: the id of an earlier operator decision on this input (the output's ``confirmation``)
    confirmation: str | None = None
    #: that decision in words, for the form ("confirmed by ann on 2026-11-25 (decision c-...)")
    previously: str | None = None


def review_items(tables: list[pa.Table]) -> list[Item]:
    """Rows whose action is ``review`` or ``hold``, hold first, worst level first, least confident first."""
    items = []
    input_row: dict[tuple[int, int], int] = {}
    for c, t in enumerate(tables):
        cols = {n: t.column(n).to_pylist() for n in ("order_id", "input", "line1", "line2", "action", "risk_level",
                                                      "risk_flags", "risk_reasons", "confidence")}
        earlier = t.column("confirmation").to_pylist() if "confirmation" in t.column_names else [None] * t.num_rows
        rows = t.column(aio.ROW).to_pylist() if aio.ROW in t.column_names else [None] * t.num_rows
        for r, action in enumerate(cols["action"]):
            if action == "deliver":
                continue
            oid = cols["order_id"][r]
            suggestion = ", ".join(x for x in (cols["line1"][r], cols["line2"][r]) if x) or None
            items.append(Item(c, r, None if oid is None else str(oid), cols["input"][r], suggestion, action,
                              cols["risk_level"][r], tuple(cols["risk_flags"][r] or ()),
                              tuple(cols["risk_reasons"][r] or ()), cols["confidence"][r], earlier[r]))
            input_row[(c, r)] = rows[r] if rows[r] is not None else 0
    # equal items in input order: chunks hold their rows in locality order (``batch.plan``)
    items.sort(key=lambda i: (_ACTION_RANK.get(i.action, 2), -SEVERITY_RANK.get(i.risk_level, -1),
                              i.confidence if i.confidence is not None else 0.0, input_row[(i.chunk, i.row)]))
    return items


def _reclean(rows: list[dict], texts: list[str], gaz: Gazetteer, risk: RiskContext) -> list[dict]:
    """Clean the operator's addresses as one batch, keeping each order's other input columns."""
    keep = [c for c in rows[0] if c not in OUTPUT_NAMES and c not in _ADDRESS_INPUTS and not c.startswith("_")]
    raw = {c: [None if r.get(c) is None else str(r.get(c)) for r in rows] for c in keep}
    raw["address"] = texts
    table = pa.table({k: pa.array(v, pa.string()) for k, v in raw.items()})
    return clean_table(table, gaz, risk, with_keys=True).to_pylist()


def apply_decisions(tables: list[pa.Table], items: list[Item], answers: list[Answer | tuple | dict],
                    gaz: Gazetteer | None, risk: RiskContext, by: str = "operator") -> tuple[list[pa.Table], list[dict]]:
    """Apply ``answers[i]`` (an ``Answer``, or ``(decision, edited address)``) to ``items[i]``;
    returns the new tables and the audit log (one entry per item, in order)."""
    if len(items) != len(answers):
        raise ValueError(f"{len(items)} items but {len(answers)} answers")
    rows = [t.to_pylist() for t in tables]
    log: list[dict] = []
    edits: list[tuple[Item, str, dict]] = []
    default_by = by
    for item, given in zip(items, answers):
        answer = Answer.of(given)
        decision, text, by = answer.decision, answer.address, answer.by or default_by
        row = rows[item.chunk][item.row]
        entry = {"order_id": item.order_id, "was": item.action, "decision": decision, "by": by}
        if answer.reason:
            entry["reason"] = answer.reason
        if not answer.human:
            entry["defaulted"] = True
        if decision == "edit" and text and text.strip() and text.strip() != (item.input or "").strip():
            entry["address"] = text.strip()
            edits.append((item, text.strip(), entry))
            log.append(entry)
            continue
        if decision == "accept":
            row["action"] = "deliver"
            row["risk_reasons"] = _plus(row["risk_reasons"], f"accepted by {by}")
        else:  # hold, or an edit that changed nothing
            if decision == "edit":
                entry["decision"] = "hold"
                entry["note"] = "edit left the address unchanged"
            row["action"] = "hold"
            row["risk_reasons"] = _plus(row["risk_reasons"], f"held by {by}")
        row["notes"] = _plus(row["notes"], f"{by}: {entry['decision']}")
        entry["now"] = row["action"]
        log.append(entry)
    if edits:
        if gaz is None:
            raise ValueError("edits need the gazetteer")
        fresh = _reclean([rows[i.chunk][i.row] for i, _, _ in edits], [t for _, t, _ in edits], gaz, risk)
        for (item, text, entry), new in zip(edits, fresh):
            row = rows[item.chunk][item.row]
            by = entry["by"]
            for name in OUTPUT_NAMES:
                if name != "input" and name in new:
                    row[name] = new[name]
            row[aio.ADDRESS_KEY] = new.get(aio.ADDRESS_KEY)
            if row["action"] != "deliver":
                row["action"] = "hold"
                row["risk_reasons"] = _plus(row["risk_reasons"], f"{by}'s edit still needs review: held")
            row["notes"] = _plus(row["notes"], f"{by}: edited to {text!r}")
            entry["now"] = row["action"]
            entry["line1"], entry["line2"] = row["line1"], row["line2"]
    out = [pa.Table.from_pylist(r, schema=t.schema) for r, t in zip(rows, tables)]
    return out, log


def _plus(values: list | None, note: str) -> list:
    """``values`` with ``note`` appended once (applying the same decisions twice changes nothing)."""
    values = list(values or [])
    return values if note in values else values + [note]


def save_chunks(plan: Plan, tables: list[pa.Table]) -> None:
    """Write the decided chunks over the cleaned ones (each atomically)."""
    for path, table in zip(plan.outputs(), tables):
        with aio.atomic_path(path) as tmp:
            pq.write_table(table, tmp, compression="zstd")


def decision_counts(log: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for e in log:
        key = e["decision"] if e["decision"] != "edit" else f"edit -> {e.get('now')}"
        counts[key] = counts.get(key, 0) + 1
    return counts
