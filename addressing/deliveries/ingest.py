"""One import of delivery reports: check, join to the cleaned orders, keep; what it taught.

The CLI (``addressing deliveries import``) and the ``import-deliveries`` flow (a file, or the
reports of ``delivery.reported`` events) both run ``ingest``. Reports whose order is in none
of the outputs are counted and named (by order id) but not kept: nothing ties them to an
address. Logs carry counts and order ids, never addresses or positions.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa

from addressing.confirmations import store as decisions_store
from addressing.deliveries import join, store
from addressing.errors import InputError
from addressing.risk import risk_context

log = logging.getLogger(__name__)
#: order ids of unknown orders a summary names
EXAMPLES = 5


@dataclass
class Ingested:
    """What one import did, and what the store now knows about the points it touched."""

    store: str
    reports: int
    joined: int
    added: int
    already: int
    unknown: int
    unknown_examples: list[str] = field(default_factory=list)
    #: delivery points of this import that now have a drop centre / enough failures to be flagged
    points_placed: int = 0
    points_failed_before: int = 0

    def as_dict(self) -> dict:
        return asdict(self)

    def text(self) -> str:
        out = (f"{self.reports:,} report(s): {self.added:,} kept, {self.already:,} already kept, "
               f"{self.unknown:,} for orders in no cleaned output")
        if self.unknown_examples:
            out += f" (e.g. {', '.join(self.unknown_examples)})"
        return (out + f"; {self.points_placed:,} delivery point(s) now placed at their drops, "
                f"{self.points_failed_before:,} flagged failed_before; store {self.store}")


def ingest(reports: pa.Table, orders: list[str | Path], db: str | Path | None = None,
           risk_policy: str | Path | None = None, store_file: str | Path | None = None) -> Ingested:
    """Join ``reports`` (``reports.SCHEMA``) to the cleaned orders under ``orders`` and keep
    them in the decisions store of gazetteer ``db`` (or ``store_file``)."""
    policy = risk_context(risk_policy).policy
    path = decisions_store.store_path(db, store_file)
    customer_column = policy.rule("shared_address").params.get("customer_column") or "customer_id"
    joined = join.join(reports, orders, customer_column)
    if not joined.rows:
        raise InputError(f"none of the {reports.num_rows:,} report(s) is about an order in the cleaned outputs "
                         f"(e.g. {', '.join(joined.unknown[:EXAMPLES])})", ", ".join(str(p) for p in orders))
    added, already = store.append(path, joined.rows)
    keys = {r["point_key"] for r in joined.rows if r["point_key"]}
    today = dt.datetime.combine(decisions_store.now().date(), dt.time())
    centres = store.drop_points(path, today - dt.timedelta(days=policy.retention_days))
    rule = policy.rule("failed_before")
    failed = store.failures(path, today - dt.timedelta(days=int(rule.params["window_days"])))
    placed = 0 if centres is None else len(keys & set(centres.column("point_key").to_pylist()))
    flagged = 0 if failed is None else sum(
        1 for k, fs in zip(failed.column("point_key").to_pylist(), failed.column("failures").to_pylist())
        if k in keys and len(fs) >= int(rule.params["min_failures"]))
    out = Ingested(str(path), reports.num_rows, len(joined.rows), added, already, len(joined.unknown),
                   joined.unknown[:EXAMPLES], placed, flagged)
    log.info("deliveries: %d report(s), %d kept, %d already kept, %d unknown order(s); %d point(s) placed, "
             "%d failed_before", out.reports, added, already, out.unknown, placed, flagged)
    return out
