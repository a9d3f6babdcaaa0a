"""Where a batch's time goes on a gazetteer, by matcher query: the orders of a CSV cleaned in
this process in the chunks ``addressing clean`` cuts them into (``batch.plan.split_input``: its
chunk size, and each window's orders in locality order), each of the matcher's SQL queries
timed and counted by the builder that wrote it (the trigram search, the candidates, the
evidence...).

Run it on the files ``benchmarks/national.py`` built to see what grows with their size:

    for db in /tmp/national/n1M/db /tmp/national/n60M/region/db /tmp/national/n60M/db; do
      .venv/bin/python benchmarks/batch_queries.py $db/gazetteer.duckdb \\
          /tmp/national/orders-60k-TX-WY-from-1M.csv --orders 20000
    done
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from pathlib import Path

#: the largest chunk asked for, as ``addressing clean`` asks by default
CHUNK_ROWS = 20_000
#: the matcher's query builders, by the text they write (the evidence query's text varies)
BUILDERS = ("exact_candidates_sql", "fuzzy_candidates_sql", "trigram_candidates_sql", "block_members_sql",
            "one_block_sql", "locality_sql", "coverage_sql", "state_sizes_sql")


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
    from addressing.match import sql
    from addressing.pipeline import clean_table
    from addressing.risk import load_risk

    names = {getattr(sql, b)(): b.removesuffix("_sql") for b in BUILDERS}
    spent: collections.Counter = collections.Counter()
    calls: collections.Counter = collections.Counter()

    def timed(run):
        def call(gaz, text, *a, **k):
            t = time.perf_counter()
            try:
                return run(gaz, text, *a, **k)
            finally:
                name = names.get(text) or ("street rows" if text in sql.STREET_ROWS_SQL.values()
                                           else "evidence" if " AS ev, " in text else "other")
                spent[name] += time.perf_counter() - t
                calls[name] += 1
        return call

    sql.run, sql.run_columns = timed(sql.run), timed(sql.run_columns)
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
          f"SQL {sum(spent.values()):.1f} s of it ({args.db})")
    for name, seconds in spent.most_common():
        print(f"  {name:22s} {seconds:6.2f} s  {calls[name]:5d} queries")


if __name__ == "__main__":
    main()
