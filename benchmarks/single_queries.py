"""Where a single order's time goes on a gazetteer, by matcher query: the single orders of
``benchmarks/national.py`` (its ``latency-<size>.json``: warm-up orders, then orders per state)
cleaned one at a time as its latency figures are, warm; per state p50 / p95 / p99, and for the
slowest tenth the mean time per order and per kind of query (``query_timing``).

    .venv/bin/python benchmarks/single_queries.py /tmp/national/n60M/db/gazetteer.duckdb \\
        /tmp/national/latency-1M.json --state WY [--root CHECKOUT]

``--root`` cleans with another checkout, so two commits can be timed one after another.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time
from pathlib import Path

import numpy as np
from query_timing import QueryClock

#: the share of each state's orders, slowest first, whose queries are broken down
SLOW_SHARE = 0.1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("db", type=Path)
    ap.add_argument("spec", type=Path, help="benchmarks/national.py's latency-<size>.json")
    ap.add_argument("--state", action="append", help="only these states (default: every state in the file)")
    ap.add_argument("--root", type=Path, help="the checkout to clean with (default: this one)")
    args = ap.parse_args()
    sys.path.insert(0, str((args.root or Path(__file__).resolve().parents[1]).resolve()))
    from addressing.demo import DATA
    from addressing.gazetteer import open_gazetteer
    from addressing.pipeline import clean_order
    from addressing.risk import load_risk

    clock = QueryClock().install()
    spec = json.loads(args.spec.read_text())
    gaz = open_gazetteer(args.db)
    risk = load_risk(DATA / "risk.toml")
    for order in spec["warmup"]:
        clean_order(order, gaz, risk)
    for state in args.state or list(spec["states"]):
        times, queries = [], []
        for order in spec["states"][state]:
            clock.reset()
            t0 = time.perf_counter()
            clean_order(order, gaz, risk)
            times.append((time.perf_counter() - t0) * 1000)
            queries.append(dict(clock.spent))
        ms = np.asarray(times)
        slow = np.argsort(-ms, kind="stable")[:max(1, int(len(ms) * SLOW_SHARE))]
        by_kind: collections.Counter = collections.Counter()
        for i in slow:
            by_kind.update({k: v * 1000 / len(slow) for k, v in queries[i].items()})
        p50, p95, p99 = np.percentile(ms, [50, 95, 99])
        print(f"{state}: {len(ms)} orders, p50/p95/p99 {p50:.1f} / {p95:.1f} / {p99:.1f} ms; "
              f"slowest {len(slow)}: {ms[slow].mean():.1f} ms each, of which by query (ms):")
        for name, each in by_kind.most_common():
            print(f"  {name:22s} {each:6.2f}")


if __name__ == "__main__":
    main()
