"""Operator decisions answering later orders (issue 17, part 1): what they save and what they cost.

1. **A day again**: one order file of the demo day is cleaned, an operator accepts every order
   of its review queue that is ``review`` and holds every ``hold`` (``addressing decisions
   apply``, from the edited review queue CSV), and the same orders are cleaned again: the review
   queue before and after, and the share of orders answered from the decisions.
2. **Single-order latency, warm** (as ``benchmarks/latency.py``): ``clean_order`` with no
   decisions store, and with a store of ``--decisions`` decisions none of which answers the
   order (the lookup alone), interleaved order by order so that the machine's drift hits both
   alike; then orders that a decision answers; and the lookup by itself (parse done).

The store lives in a temporary folder (``$ADDRESSING_DECISIONS_DB``), never beside the gazetteer.

    .venv/bin/python benchmarks/confirmations.py [--db build/demo/gazetteer.duckdb] [--orders 2000]
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from addressing.demo import DATA  # noqa: E402

#: the store size the lookup is timed against: about a year of decisions of a busy depot
#: (some 40 a day)
DEFAULT_DECISIONS = 15_000


def day_again(db: str, policy: str, orders: Path, work: Path) -> None:
    from addressing.batch import clean_file
    from addressing.confirmations import record, store

    out1, out2 = work / "day1" / f"{orders.stem}.parquet", work / "day2" / f"{orders.stem}.parquet"
    t0 = time.perf_counter()
    m1 = clean_file(orders, out1, db, risk_policy=policy, batch_id="day1")
    t1 = time.perf_counter() - t0
    queue = out1.with_name(f"{orders.stem}.review.csv")
    with open(queue, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        r["decision"] = "accept" if r["action"] == "review" else "hold"
        r["note"] = "" if r["action"] == "review" else "held on day 1"
    with open(queue, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    t0 = time.perf_counter()
    kept = record.apply_review_csv(queue, "bench", "day1", risk_policy=policy)
    t_apply = time.perf_counter() - t0
    t0 = time.perf_counter()
    m2 = clean_file(orders, out2, db, risk_policy=policy, batch_id="day2")
    t2 = time.perf_counter() - t0
    import pyarrow.parquet as pq

    again = pq.read_table(out2, columns=["action", "corrections", "confirmation", "risk_flags"]).to_pylist()
    confirmed = sum("operator_confirmed" in (r["corrections"] or []) for r in again)
    held = sum("operator_hold" in (r["risk_flags"] or []) for r in again)
    contradicted = sum("confirmation_contradicted" in (r["risk_flags"] or []) for r in again)
    a1, a2 = m1["counts"]["action"], m2["counts"]["action"]
    n = m1["input"]["rows"]
    print(f"\n## A day again: {orders.name}, {n:,} orders\n")
    print(f"decisions kept: {kept['decisions']} in {t_apply:.2f} s ({len(store.rows(Path(kept['store'])))} rows)")
    print("| run | review | hold | deliver | review queue | answered from decisions |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, a, m, ans in (("day 1", a1, m1, 0), ("day 2, same orders", a2, m2, confirmed + held)):
        print(f"| {label} | {a.get('review', 0):,} | {a.get('hold', 0):,} | {a.get('deliver', 0):,} | "
              f"{m['outputs']['review']['rows']:,} | {ans:,} ({100 * ans / n:.1f}%) |")
    print(f"\nday 2: {confirmed} taken as confirmed (operator_confirmed), {held} held again (operator_hold), "
          f"{contradicted} contradicted; cleaning {t1:.1f} s on day 1 (models loaded first), {t2:.1f} s on day 2")


def latency(db: str, policy: str, n_orders: int, warmup: int, n_decisions: int, work: Path) -> None:
    from addressing.confirmations import honour, keys, store
    from addressing.demo.day import demo_orders
    from addressing.gazetteer import open_gazetteer
    from addressing.parse import parse
    from addressing.pipeline import clean_order
    from addressing.risk import load_risk

    gaz = open_gazetteer(db)
    risk = load_risk(policy)
    orders, _ = demo_orders(gaz, n_orders + warmup, seed=99)
    path = work / "latency.decisions.duckdb"
    none = work / "absent.decisions.duckdb"
    # decisions on other inputs: real keys' shape, numbers no timed order has
    filler = [store.Record(kind="decision", operator="bench", decision="accept", action="deliver",
                           input_key=f"street|{900_000 + k}||BENCH|ST|||||||SANFRANCISCO|CA|94102|US".upper(),
                           result={"line1": f"{900_000 + k} BENCH ST", "precision": "address_point"})
              for k in range(n_decisions)]
    t0 = time.perf_counter()
    store.append(path, filler)
    t_fill = time.perf_counter() - t0
    timed = orders[warmup:]
    for o in orders[:warmup]:
        clean_order(o, gaz, risk)
    os.environ[store.STORE_ENV] = str(path)
    t0 = time.perf_counter()
    honour.answers(path)
    t_load = time.perf_counter() - t0
    without, with_store = [], []
    for o in timed:
        for env, out in ((str(none), without), (str(path), with_store)):
            os.environ[store.STORE_ENV] = env
            t0 = time.perf_counter()
            clean_order(o, gaz, risk)
            out.append(time.perf_counter() - t0)
    # the lookup by itself: the key of a parsed order and the dict get, file unchanged
    parsed = [parse(o.get("address") or "") for o in timed]
    look = []
    for p in parsed:
        t0 = time.perf_counter()
        honour.plan(path, [p], risk.policy.retention_days)
        look.append(time.perf_counter() - t0)
    # orders a decision answers: accept the first few hundred as cleaned, then time them again
    answered = timed[: min(300, len(timed))]
    os.environ[store.STORE_ENV] = str(none)
    rows = [clean_order(o, gaz, risk) for o in answered]
    recs = [store.Record(kind="decision", operator="bench", decision="accept", action="deliver",
                         input_key=keys.input_key(parse(o.get("address") or "")), accepted_flags=r["risk_flags"],
                         result={f: r.get(f) for f in store.RESULT_FIELDS}) for o, r in zip(answered, rows)]
    store.append(path, [r for r in recs if r.input_key])
    os.environ[store.STORE_ENV] = str(path)
    honour.answers(path)
    own, taken = [], []
    for o in answered:
        for env, out in ((str(none), own), (str(path), taken)):
            os.environ[store.STORE_ENV] = env
            t0 = time.perf_counter()
            clean_order(o, gaz, risk)
            out.append(time.perf_counter() - t0)

    def pct(xs: list[float], scale: float = 1e3) -> str:
        a = np.array(xs) * scale
        return f"{np.percentile(a, 50):.3f} | {np.percentile(a, 95):.3f} | {np.percentile(a, 99):.3f}"

    print(f"\n## Single order, warm ({len(timed):,} demo orders; store of {n_decisions:,} decisions: written in "
          f"{t_fill:.2f} s, read into memory in {t_load * 1e3:.0f} ms once per change)\n")
    print("| run | p50 ms | p95 ms | p99 ms |")
    print("|---|---:|---:|---:|")
    print(f"| no store | {pct(without)} |")
    print(f"| store, order not answered (the lookup) | {pct(with_store)} |")
    diff = np.array(with_store) - np.array(without)
    print(f"| difference, order by order | {pct(list(diff))} |")
    print(f"| {len(answered)} orders, no store | {pct(own)} |")
    print(f"| the same, answered by a decision | {pct(taken)} |")
    print(f"\nthe lookup alone (key + dict get + file stat), per order: p50 {np.percentile(look, 50) * 1e6:.1f} us, "
          f"p95 {np.percentile(look, 95) * 1e6:.1f} us, p99 {np.percentile(look, 99) * 1e6:.1f} us")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=str(ROOT / "build/demo/gazetteer.duckdb"))
    ap.add_argument("--policy", default=str(DATA / "risk.toml"))
    ap.add_argument("--day", default=str(ROOT / "build/demo/orders/webshop.csv"), help="the order file of part 1")
    ap.add_argument("--orders", type=int, default=2000)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--decisions", type=int, default=DEFAULT_DECISIONS)
    ap.add_argument("--skip-day", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="confirmations-bench-") as tmp:
        work = Path(tmp)
        if not args.skip_day:
            os.environ["ADDRESSING_DECISIONS_DB"] = str(work / "day.decisions.duckdb")
            day_again(args.db, args.policy, Path(args.day), work)
        latency(args.db, args.policy, args.orders, args.warmup, args.decisions, work)


if __name__ == "__main__":
    main()
