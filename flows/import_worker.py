"""The warm import worker: a long-lived Prefect task worker that cleans imports in milliseconds.

A flow run of ``clean-imported-orders`` starts in a fresh process, and a fresh process pays
several seconds to load the libpostal model (and about a second for the gazetteer and the
risk policy) before it can clean one order. This worker loads all of it once, then serves the
import's two tasks (``clean-import``, ``apply-decisions``); the flow sends them here when this
worker is connected and runs them itself when it is not.

    python -m flows.import_worker --db build/demo/gazetteer.duckdb --risk-policy addressing/demo/data/risk.toml

Start it from the project folder, with the same PREFECT_API_URL and PREFECT_HOME as the
process worker (task parameters and results go through the local result storage).
"""

from __future__ import annotations

import argparse
import sys

from prefect.task_worker import serve

from addressing.imports import warm_up
from flows.clean_imported_orders import apply_decisions, clean_import


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Serve the import tasks with the models loaded.")
    ap.add_argument("--db", default="build/demo/gazetteer.duckdb", help="gazetteer to load ahead")
    ap.add_argument("--risk-policy", default="addressing/demo/data/risk.toml", help="risk policy to load ahead")
    ap.add_argument("--limit", type=int, default=2, help="tasks run at the same time")
    args = ap.parse_args(argv)
    seconds = warm_up(args.db, args.risk_policy)
    print(f"import worker: models loaded in {seconds:.1f} s; serving clean-import and apply-decisions",
          file=sys.stderr, flush=True)
    serve(clean_import, apply_decisions, limit=args.limit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
