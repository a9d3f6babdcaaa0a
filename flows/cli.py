"""``addressing-flows ...`` (or ``python -m flows ...``): the commands that talk to Prefect.

They live here, not in ``addressing.cli``, because the library never imports Prefect or
``flows``. Errors become one line on stderr and a non-zero exit, as in ``addressing``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from addressing.cli import run


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def cmd_orders_import(args: argparse.Namespace) -> int:
    from flows.events import order_imported_event, read_rows

    extra = {"review_timeout_s": args.review_timeout} if args.review_timeout is not None else None
    if args.inline:
        rows = read_rows(Path(args.file))
        event = order_imported_event(orders=rows, batch_id=args.batch_id, extra=extra)
    else:
        event = order_imported_event(Path(args.file), batch_id=args.batch_id, extra=extra)
    return _send(event, args.dry_run, f"batch {event.payload['batch_id']}")


def cmd_deliveries_report(args: argparse.Namespace) -> int:
    from addressing.deliveries.reports import read_reports
    from flows.events import delivery_reported_event

    if args.inline:
        rows = [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()}
                for r in read_reports(Path(args.file)).to_pylist()]
        event = delivery_reported_event(reports=rows)
    else:
        event = delivery_reported_event(Path(args.file))
    return _send(event, args.dry_run, str(event.resource.get("prefect.resource.name")))


def _send(event, dry_run: bool, what: str) -> int:
    """Print the event (``--dry-run``), or send it and print its id."""
    from flows.events import emit

    if dry_run:
        print(event.model_dump_json(indent=2))
        return 0
    event_id = emit(event)
    _say(f"{event.event} sent for {what} (event {event_id})")
    print(event_id)
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="addressing-flows", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    o = sub.add_parser("orders", help="order imports")
    os_ = o.add_subparsers(dest="orders_command", required=True)
    imp = os_.add_parser("import", help="emit an order.imported event for a file (needs PREFECT_API_URL)")
    imp.add_argument("file")
    imp.add_argument("--batch-id", help="default: import-<file name>-<content hash> (same file, same batch)")
    imp.add_argument("--inline", action="store_true", help="send the rows in the event (at most 500), not the path")
    imp.add_argument("--review-timeout", type=int, metavar="SECONDS",
                     help="how long the run waits for an operator's decisions (0: hold them at once)")
    imp.add_argument("--dry-run", action="store_true", help="print the event instead of sending it")
    imp.set_defaults(fn=cmd_orders_import)
    d = sub.add_parser("deliveries", help="proof of delivery")
    ds = d.add_subparsers(dest="deliveries_command", required=True)
    rep = ds.add_parser("report", help="emit a delivery.reported event for a file of reports (needs PREFECT_API_URL)")
    rep.add_argument("file")
    rep.add_argument("--inline", action="store_true", help="send the reports in the event (at most 500), not the path")
    rep.add_argument("--dry-run", action="store_true", help="print the event instead of sending it")
    rep.set_defaults(fn=cmd_deliveries_report)
    return ap


def main(argv: list[str] | None = None) -> int:
    return run(build_parser().parse_args(argv), "addressing-flows")


if __name__ == "__main__":
    sys.exit(main())
