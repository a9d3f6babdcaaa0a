"""Single-order latency, warm: p50 / p95 / p99 of ``addressing.pipeline.clean_order``.

The import flow cleans small imports in-process with the same call. Orders are the demo's
(real SF points and Autauga ranges written messily, plus PO boxes, military, abroad and
garbage); models, gazetteer and policy are loaded before timing starts (that is what "warm"
means: a long-lived worker).

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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=str(ROOT / "build/demo/gazetteer.duckdb"))
    ap.add_argument("--policy", default=str(ROOT / "data/demo/risk.toml"))
    ap.add_argument("--orders", type=int, default=2000)
    ap.add_argument("--warmup", type=int, default=200)
    args = ap.parse_args()
    from addressing.gazetteer import open_gazetteer
    from addressing.pipeline import clean_order
    from addressing.risk import load_risk
    from addressing.synth import demo_orders

    gaz = open_gazetteer(args.db)
    risk = load_risk(args.policy)
    orders, _ = demo_orders(gaz, args.orders + args.warmup, seed=99)
    for o in orders[: args.warmup]:
        clean_order(o, gaz, risk)
    # a foreign order warms libpostal too, as a long-running worker would be
    clean_order({"order_id": "w", "address": "Potsdamer Platz 1, 10785 Berlin, Germany"}, gaz, risk)
    times = []
    statuses: dict[str, int] = {}
    for o in orders[args.warmup:]:
        t0 = time.perf_counter()
        row = clean_order(o, gaz, risk)
        times.append(time.perf_counter() - t0)
        statuses[row["match_status"]] = statuses.get(row["match_status"], 0) + 1
    ms = np.asarray(times) * 1000
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    print(f"{len(ms):,} single orders, warm: p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms, "
          f"max {ms.max():.1f} ms (target p95 < 20 ms: {'met' if p95 < 20 else 'NOT met'})")
    print(f"statuses: {statuses}")


if __name__ == "__main__":
    main()
