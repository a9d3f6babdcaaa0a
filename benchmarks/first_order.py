"""A fresh worker's first order: a new process that imports the library, opens the gazetteer and
the risk policy, and cleans one order, timed from its first line (issue 16: under 2 s).

    .venv/bin/python benchmarks/first_order.py [--db build/demo/gazetteer.duckdb] [--runs 3]

Each run is its own process (``sys.executable -c``), so nothing cached in this one counts; the
prepared ZIP table in the user's cache does, as it would for any worker after the first.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHILD = """
import json, sys, time
t0 = time.perf_counter()
from addressing.gazetteer import open_gazetteer
from addressing.pipeline import clean_order
from addressing.risk import risk_context
t1 = time.perf_counter()
gaz = open_gazetteer(sys.argv[1]); risk = risk_context(sys.argv[2])
t2 = time.perf_counter()
row = clean_order({"order_id": "1", "address": sys.argv[3]}, gaz, risk)
t3 = time.perf_counter()
print(json.dumps({"imports": t1 - t0, "open": t2 - t1, "order": t3 - t2, "status": row["match_status"]}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default=str(ROOT / "build/demo/gazetteer.duckdb"))
    ap.add_argument("--policy", default=str(ROOT / "addressing/demo/data/risk.toml"))
    ap.add_argument("--address", default="7 Octavia St, San Francisco, CA 94102")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    for _ in range(args.runs):
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", CHILD, args.db, args.policy, args.address], capture_output=True,
                             text=True, check=True, cwd=ROOT)
        wall = time.perf_counter() - start
        t = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"imports {t['imports']:.2f} s, gazetteer and policy {t['open']:.2f} s, first order {t['order']:.2f} s "
              f"({t['status']}); whole process {wall:.2f} s")


if __name__ == "__main__":
    main()
