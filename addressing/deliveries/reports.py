"""Proof-of-delivery reports as routing sends them: read, checked, one model.

A report is one delivery attempt: ``order_id``, ``lat``, ``lon`` (where the driver was),
``delivered_at`` (ISO 8601; a time without a zone is taken as UTC), ``outcome``
(``delivered`` / ``failed``) and ``reason`` (why it failed; optional). Files are CSV, JSON
Lines or Parquet (the orders readers), or the same fields as dicts (a ``delivery.reported``
event's payload). A successful delivery needs its position; a failed one may come without.

Every row is checked before anything is kept: a bad one stops the import with one line naming
the file (or event) and the row, so a file is kept whole or not at all.

>>> t = reports_from_rows([{"order_id": "A-1", "lat": "37.78", "lon": "-122.41",
...                         "delivered_at": "2026-11-30T17:05:00-08:00", "outcome": "Delivered"}])
>>> t.column("delivered_at")[0].as_py(), t.column("outcome")[0].as_py()
(datetime.datetime(2026, 12, 1, 1, 5), 'delivered')
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa

from addressing import io as aio
from addressing.errors import InputError

OUTCOMES = ("delivered", "failed")
REQUIRED = ("order_id", "delivered_at", "outcome")
#: the checked reports' schema
SCHEMA = pa.schema([("order_id", pa.string()), ("lat", pa.float64()), ("lon", pa.float64()),
                    ("delivered_at", pa.timestamp("us")), ("outcome", pa.string()), ("reason", pa.string())])
#: the longest reason kept (a driver's note, not a document)
MAX_REASON_CHARS = 500


def _number(value, name: str, low: float, high: float, where: str, row: int | None) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} {str(value)[:40]!r} is not a number", where, row) from None
    if not math.isfinite(x) or not low <= x <= high:
        raise InputError(f"{name} {x} is outside {low:g}..{high:g}", where, row)
    return x


def _time(value, where: str, row: int | None) -> dt.datetime:
    if isinstance(value, dt.datetime):
        t = value
    else:
        text = str(value or "").strip()
        if not text:
            raise InputError("delivered_at is empty", where, row)
        try:
            t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise InputError(f"delivered_at {text[:40]!r} is not an ISO 8601 time (2026-11-30T17:05:00Z)",
                             where, row) from None
    if t.tzinfo is not None:
        t = t.astimezone(dt.UTC).replace(tzinfo=None)
    return t


def _check(rec: dict, where: str, row: int | None) -> dict:
    names = {str(k).strip().lower(): v for k, v in rec.items()}
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise InputError(f"no {', '.join(missing)} column (a report has order_id, lat, lon, delivered_at, "
                         "outcome, reason)", where, row)
    order_id = str(names["order_id"] or "").strip()
    if not order_id:
        raise InputError("order_id is empty", where, row)
    outcome = str(names["outcome"] or "").strip().lower()
    if outcome not in OUTCOMES:
        raise InputError(f"outcome {str(names['outcome'])[:40]!r} is not one of {', '.join(OUTCOMES)}", where, row)
    lat = _number(names.get("lat"), "lat", -90.0, 90.0, where, row)
    lon = _number(names.get("lon"), "lon", -180.0, 180.0, where, row)
    if (lat is None) != (lon is None):
        raise InputError("lat and lon come together or not at all", where, row)
    if outcome == "delivered" and lat is None:
        raise InputError("a delivered report needs lat and lon (where the parcel was left)", where, row)
    reason = names.get("reason")
    reason = str(reason).strip()[:MAX_REASON_CHARS] or None if reason is not None else None
    return {"order_id": order_id, "lat": lat, "lon": lon, "delivered_at": _time(names["delivered_at"], where, row),
            "outcome": outcome, "reason": reason}


def _table(rows: list[dict]) -> pa.Table:
    return pa.table({f.name: pa.array([r[f.name] for r in rows], f.type) for f in SCHEMA}, schema=SCHEMA)


def reports_from_rows(rows: Iterable[dict], where: str = "delivery report") -> pa.Table:
    """Checked reports from dicts (an event's payload); rows are numbered from 1."""
    return _table([_check(dict(r), where, i) for i, r in enumerate(rows, start=1)])


def _check_header(names: list[str], path: Path) -> None:
    lower = {n.strip().lower() for n in names}
    missing = [c for c in REQUIRED if c not in lower]
    if missing:
        shown = ", ".join(n[:40] for n in names[:10]) or "none"
        raise InputError(f"no {', '.join(missing)} column (columns: {shown}); a delivery report has order_id, "
                         "lat, lon, delivered_at, outcome, reason", str(path))


def read_reports(path: str | Path) -> pa.Table:
    """Checked reports from a file; ``InputError`` naming the file and row at the first bad one."""
    path = Path(path)
    out: list[dict] = []
    for batch in aio.read_orders(path, check=_check_header):
        problems = batch.column(aio.PROBLEM).to_pylist() if aio.PROBLEM in batch.column_names else None
        numbers = batch.column(aio.ROW).to_pylist() if aio.ROW in batch.column_names else None
        keep = [c for c in batch.column_names if c not in aio.INTERNAL_COLUMNS]
        for i, rec in enumerate(batch.select(keep).to_pylist()):
            row = numbers[i] if numbers else None
            if problems and problems[i]:
                raise InputError(problems[i], str(path), row)
            out.append(_check(rec, str(path), row))
    if not out:
        raise InputError("no delivery reports in the file", str(path))
    return _table(out)
