"""import-deliveries: proof-of-delivery reports -> the decisions store, and what they taught.

Thin: ``addressing.deliveries.ingest`` checks the reports, joins them to the cleaned orders
under ``out_dir`` and keeps them; the flow runs it as a task with I/O retries and publishes an
artifact of counts (no addresses, no positions). The ``on-delivery`` deployment runs it for
every ``delivery.reported`` event (see prefect.yaml and ``flows.events``); later batches and
single orders read what it kept.

Run it locally:  python -m flows.deliveries --file pod.csv --out-dir build/demo/out
"""

from __future__ import annotations

import argparse
import sys

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact

from addressing.deliveries.ingest import Ingested, ingest
from addressing.deliveries.reports import read_reports, reports_from_rows
from addressing.errors import AddressingError, InputError
from flows.common import IO_RETRIES, failure_markdown

ARTIFACT_KEY = "deliveries-import"


@task(name="keep-deliveries", **IO_RETRIES)
def keep(file: str | None, reports: list[dict] | None, out_dir: str, db: str, risk_policy: str | None) -> Ingested:
    table = read_reports(file) if file else reports_from_rows(reports or [], "delivery.reported event")
    return ingest(table, [out_dir], db, risk_policy)


def ingested_markdown(done: Ingested, source: str) -> str:
    return "\n".join([
        f"# Delivery reports: {source}", "",
        "| reports | kept | already kept | orders not found | points placed at drops | failed_before |",
        "|---|---|---|---|---|---|",
        f"| {done.reports:,} | {done.added:,} | {done.already:,} | {done.unknown:,} | {done.points_placed:,} "
        f"| {done.points_failed_before:,} |", "",
        ("Orders not found (no cleaned output names them): " + ", ".join(f"`{o}`" for o in done.unknown_examples))
        if done.unknown_examples else "Every report found its order."])


@flow(name="import-deliveries", log_prints=True)
def import_deliveries(file: str | None = None, reports: list[dict] | None = None, out_dir: str = "build/demo/out",
                      db: str = "build/demo/gazetteer.duckdb",
                      risk_policy: str | None = "addressing/demo/data/risk.toml") -> dict:
    """Keep the reports of ``file`` (or the inline ``reports`` of an event), joined to the
    cleaned orders under ``out_dir``, in the decisions store of ``db``."""
    source = file or f"{len(reports or [])} report(s) of an event"
    try:
        if (file is None) == (reports is None):
            raise InputError("give either a file or the reports")
        done = keep(file, reports, out_dir, db, risk_policy)
    except AddressingError as exc:
        create_markdown_artifact(key="deliveries-import-failure", markdown=failure_markdown(
            "import-deliveries", exc, "Nothing of these reports was kept; fix them and send them again "
                                      "(reports already kept are not kept twice)."))
        raise
    create_markdown_artifact(key=ARTIFACT_KEY, markdown=ingested_markdown(done, source),
                             description=f"{done.added} delivery report(s) kept")
    print(done.text())
    return done.as_dict()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Run the import-deliveries flow locally.")
    ap.add_argument("--file", required=True)
    ap.add_argument("--out-dir", default="build/demo/out")
    ap.add_argument("--db", default="build/demo/gazetteer.duckdb")
    ap.add_argument("--risk-policy", default="addressing/demo/data/risk.toml")
    args = ap.parse_args(argv)
    try:
        import_deliveries(file=args.file, out_dir=args.out_dir, db=args.db, risk_policy=args.risk_policy)
    except AddressingError as exc:
        print(f"import-deliveries: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
