"""Single-order latency, warm: p50 / p95 / p99 of ``addressing.pipeline.clean_order``.

The import flow cleans small imports in-process with the same call. Orders are the demo's
(real SF points and Autauga ranges written messily, plus PO boxes, military, abroad and
garbage); models, gazetteer and policy are loaded before timing starts (that is what "warm"
means: a long-lived worker).

Three runs over the same orders, in this order:
- ``memory``: as shipped; a few queries are matched by the in-memory backend
  (``addressing.match.memory``) from street rows cached by earlier orders;
- ``memory, cold caches``: the same with those caches emptied before every order (a worker's
  first order on each street: every street row fetched from the file);
- ``sql``: the SQL backend that large batches get, for one order: the baseline the ratio
  is against.

    .venv/bin/python benchmarks/latency.py [--db build/demo/gazetteer.duckdb] [--orders 2000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from addressing.demo import DATA  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=str(ROOT / "build/demo/gazetteer.duckdb"))
    ap.add_argument("--policy", default=str(DATA / "risk.toml"))
    ap.add_argument("--orders", type=int, default=2000)
    ap.add_argument("--warmup", type=int, default=200)
    args = ap.parse_args()
    from addressing.demo.day import demo_orders
    from addressing.gazetteer import open_gazetteer
    from addressing.match import backends
    from addressing.pipeline import clean_order
    from addressing.risk import load_risk

    gaz = open_gazetteer(args.db)
    risk = load_risk(args.policy)
    orders, _ = demo_orders(gaz, args.orders + args.warmup, seed=99)
    for o in orders[: args.warmup]:
        clean_order(o, gaz, risk)
    # a foreign order warms libpostal too, as a long-running worker would be
    clean_order({"order_id": "w", "address": "Potsdamer Platz 1, 10785 Berlin, Germany"}, gaz, risk)
    runs = {}
    local = backends.MEMORY_MAX_QUERIES
    for label, limit, cold in (("memory", local, False), ("memory, cold caches", local, True), ("sql", 0, False)):
        backends.MEMORY_MAX_QUERIES = limit
        runs[label] = timed(orders[args.warmup:], gaz, risk, cold)
    base = np.percentile(runs["sql"][0], 95)
    for label, (ms, _) in runs.items():
        p50, p95, p99 = np.percentile(ms, [50, 95, 99])
        print(f"{label:20s} {len(ms):,} single orders: p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms, "
              f"max {ms.max():.1f} ms; p95 {base / p95:.1f}x faster than sql")
    p95 = np.percentile(runs["memory"][0], 95)
    print(f"target p95 < 20 ms (warm): {'met' if p95 < 20 else 'NOT met'} ({p95:.1f} ms)")
    print(f"statuses: {runs['memory'][1]}")
    if runs["memory"][1] != runs["sql"][1]:
        raise SystemExit(f"the memory and sql paths disagree: {runs['memory'][1]} vs {runs['sql'][1]}")


def timed(orders: list[dict], gaz, risk, cold: bool) -> tuple[np.ndarray, dict[str, int]]:
    from addressing.match import clear_caches
    from addressing.pipeline import clean_order

    times = []
    statuses: dict[str, int] = {}
    for o in orders:
        if cold:
            clear_caches()
        t0 = time.perf_counter()
        row = clean_order(o, gaz, risk)
        times.append(time.perf_counter() - t0)
        statuses[row["match_status"]] = statuses.get(row["match_status"], 0) + 1
    return np.asarray(times) * 1000, dict(sorted(statuses.items()))


if __name__ == "__main__":
    main()
