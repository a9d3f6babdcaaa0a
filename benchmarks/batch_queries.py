"""Where a batch's time goes on a gazetteer, by matcher query: the orders of a CSV cleaned in
this process in the chunks ``addressing clean`` cuts them into (``batch.plan.split_input``: its
chunk size, and each window's orders in locality order), each of the matcher's SQL queries
timed and counted by the builder that wrote it (the trigram search, the candidates, the
evidence...).

Run it on the files ``benchmarks/national.py`` built, with its batch's orders, to see what grows
with their size (``--root`` cleans with another checkout, for a comparison in one sitting):

    for n in n1M n60M; do
      .venv/bin/python benchmarks/batch_queries.py /tmp/national/$n/db/gazetteer.duckdb \\
          /tmp/national/orders-200k-from-1M.csv --orders 200000
    done
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from query_timing import QueryClock

#: the largest chunk asked for, as ``addressing clean`` asks by default
CHUNK_ROWS = 20_000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("db", type=Path)
    ap.add_argument("orders", type=Path, help="a CSV with order_id and address")
    ap.add_argument("--orders", dest="n", type=int, default=20_000, help="how many of its first orders")
    ap.add_argument("--root", type=Path, help="the checkout to clean with (default: this one)")
    args = ap.parse_args()
    sys.path.insert(0, str((args.root or Path(__file__).resolve().parents[1]).resolve()))
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    from addressing.batch.plan import split_input
    from addressing.demo import DATA
    from addressing.gazetteer import open_gazetteer
    from addressing.pipeline import clean_table
    from addressing.risk import load_risk

    clock = QueryClock().install()
    raw = pcsv.read_csv(args.orders, convert_options=pcsv.ConvertOptions(
        column_types={"order_id": "string", "address": "string"})).slice(0, args.n)
    with tempfile.TemporaryDirectory() as tmp:
        orders = Path(tmp) / "orders.csv"
        pcsv.write_csv(raw, orders)
        plan = split_input(orders, Path(tmp) / "work", args.db, CHUNK_ROWS)
        chunks = [pq.read_table(c) for c in plan.chunks]
    gaz = open_gazetteer(args.db)
    risk = load_risk(DATA / "risk.toml")
    t0 = time.perf_counter()
    for chunk in chunks:
        clean_table(chunk, gaz, risk)
    total = time.perf_counter() - t0
    print(f"{raw.num_rows:,} orders in {total:.1f} s, {len(chunks)} chunks of {chunks[0].num_rows:,}; "
          f"SQL {sum(clock.spent.values()):.1f} s of it ({args.db})")
    for name, seconds in clock.spent.most_common():
        print(f"  {name:22s} {seconds:6.2f} s  {clock.calls[name]:5d} queries")


if __name__ == "__main__":
    main()
