"""A cleaned demo day against its truth: the actions, and which flags are the planted problems.

The generator knows what it planted in each order (``orders-truth.jsonl``, written by
``addressing demo``); this reads the cleaned outputs back and says, per flag, how many of the
flagged orders carry a planted problem and how many were made as ordinary orders, and per
planted problem, how many raised the flags it should.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from addressing.demo.day import PROBLEMS
from addressing.errors import InputError

ACTIONS = ("deliver", "review", "hold")


@dataclass
class DayReport:
    """Counts over the orders found both in the truth and in the outputs."""

    orders: int = 0
    missing: int = 0                                          # in the truth, in no output
    actions: Counter = field(default_factory=Counter)
    flags: Counter = field(default_factory=Counter)           # orders raising each flag
    flags_planted: Counter = field(default_factory=Counter)   # ... of them with a planted problem
    planted: Counter = field(default_factory=Counter)         # orders per planted problem
    caught: Counter = field(default_factory=Counter)          # ... handled as it should be (``handled``)
    planted_actions: Counter = field(default_factory=Counter)

    @property
    def planted_share(self) -> float | None:
        """Of all flags raised, the share on orders with a planted problem (None: no flags)."""
        total = sum(self.flags.values())
        return sum(self.flags_planted.values()) / total if total else None


def read_truth(path: Path) -> dict[str, dict]:
    if not path.is_file():
        raise InputError("no demo truth here; run `addressing demo` first", str(path))
    with open(path, encoding="utf-8") as f:
        return {t["order_id"]: t for t in map(json.loads, f) if t}


def compare(outputs: list[Path], truth: dict[str, dict]) -> DayReport:
    """Count the cleaned ``outputs`` (Parquet files of ``addressing clean``) against ``truth``."""
    r = DayReport()
    seen = set()
    for path in outputs:
        try:
            t = pq.read_table(path, columns=["order_id", "risk_flags", "action"])
        except (OSError, KeyError, ValueError) as exc:
            raise InputError(f"not a cleaned Parquet batch ({exc})", str(path)) from exc
        for oid, flags, action in zip(*(t.column(c).to_pylist() for c in ("order_id", "risk_flags", "action"))):
            made = truth.get(oid)
            if made is None or oid in seen:
                continue
            seen.add(oid)
            r.orders += 1
            r.actions[action] += 1
            flags = set(flags or ())
            r.flags.update(flags)
            kind = made["kind"]
            if kind in PROBLEMS:
                r.flags_planted.update(flags)
                r.planted[kind] += 1
                r.planted_actions[action] += 1
                r.caught[kind] += handled(kind, flags, action)
    r.missing = len(truth) - len(seen)
    return r


def handled(kind: str, flags: set[str], action: str) -> bool:
    """A planted problem is handled when the order raises every flag the problem should, or,
    for a problem that should raise none (a misspelt street), when the order is delivered."""
    expect = set(PROBLEMS[kind][1])
    return expect <= flags if expect else action == "deliver"


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def report_text(r: DayReport) -> str:
    """The report as a few lines for a terminal."""
    lines = [f"demo day: {r.orders:,} orders cleaned"
             + (f" ({r.missing:,} of the day's orders not in these outputs)" if r.missing else "")]
    lines.append("actions:  " + ", ".join(f"{a} {r.actions[a]:,} ({_pct(r.actions[a], r.orders)})" for a in ACTIONS))
    planted = sum(r.planted.values())
    lines.append(f"planted problems: {planted:,} orders ({_pct(planted, r.orders)}); the other "
                 f"{r.orders - planted:,} are ordinary orders")
    share = r.planted_share
    lines.append(f"flags: {sum(r.flags.values()):,} raised; "
                 + (f"{100 * share:.1f}% of them on orders with a planted problem" if share is not None else "none"))
    lines.append(f"  {'flag':<22} {'orders':>7} {'planted':>8} {'ordinary':>9}")
    for flag, n in r.flags.most_common():
        lines.append(f"  {flag:<22} {n:>7,} {r.flags_planted[flag]:>8,} {n - r.flags_planted[flag]:>9,}")
    lines.append(f"  {'planted problem':<22} {'orders':>7} {'handled':>8}  (expected)")
    for kind in PROBLEMS:
        if r.planted[kind]:
            expect = ", ".join(PROBLEMS[kind][1]) or "delivered, corrected"
            lines.append(f"  {kind:<22} {r.planted[kind]:>7,} {r.caught[kind]:>8,} "
                         f"({_pct(r.caught[kind], r.planted[kind])}: {expect})")
    return "\n".join(lines)


def demo_report(outputs: Path, truth: Path) -> str:
    """``report_text`` for every cleaned Parquet batch in the folder ``outputs``."""
    files = sorted(outputs.glob("*.parquet")) if outputs.is_dir() else []
    if not files:
        raise InputError("no cleaned Parquet batches here; run the nightly flow or `addressing clean` first",
                         str(outputs))
    return report_text(compare(files, read_truth(truth)))
