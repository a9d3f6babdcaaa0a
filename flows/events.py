"""The events routing and imports send to Prefect: ``order.imported`` (``addressing-flows
orders import FILE``) and ``delivery.reported`` (``addressing-flows deliveries report FILE``).

The event names the file (or carries the order rows themselves, for small imports) and a
batch id; the ``clean-imported-orders`` deployment has a trigger on it (see prefect.yaml)
that passes ``event.payload`` as the flow's parameters.

    {"event": "order.imported",
     "resource": {"prefect.resource.id": "order.import.import-webshop-4fecb2c4b6d5",
                  "prefect.resource.name": "webshop.csv"},
     "payload": {"batch_id": "import-webshop-4fecb2c4b6d5", "file": "/abs/path/webshop.csv"}}

``delivery.reported`` carries proof-of-delivery reports (inline, up to ``MAX_INLINE_ROWS``, or
a file's path); the ``on-delivery`` deployment's trigger runs ``import-deliveries`` with them.

    {"event": "delivery.reported",
     "resource": {"prefect.resource.id": "delivery.report.4fecb2c4b6d5", "prefect.resource.name": "2 reports"},
     "payload": {"reports": [{"order_id": "D000002", "lat": 37.77, "lon": -122.41,
                              "delivered_at": "2026-12-01T17:00:00Z", "outcome": "delivered"}, ...]}}

An event is sent over the events websocket and confirmed by the server before this returns,
so a command that printed an event id really delivered it.
"""

from __future__ import annotations

import hashlib
import json
import re
import urllib.error
from pathlib import Path
from typing import Any

from addressing import io as aio
from addressing.batch.outputs import stem
from addressing.errors import AddressingError, InputError

EVENT = "order.imported"
RESOURCE_PREFIX = "order.import."
#: rows sent inline at most; bigger imports are sent as a file path
MAX_INLINE_ROWS = 500


_BATCH_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def check_batch_id(batch_id: str) -> str:
    """A batch id names a folder under the output folder: letters, digits, ``._-``, no path."""
    if not isinstance(batch_id, str) or not _BATCH_ID.fullmatch(batch_id) or ".." in batch_id:
        raise InputError(f"batch id {batch_id!r} must be 1-128 letters, digits, '.', '_' or '-' "
                         "(not starting with '.' or '-', no '..')")
    return batch_id


def default_batch_id(file: str | Path | None = None, orders: list[dict] | None = None) -> str:
    """``import-<name>-<content hash>``: the same content gives the same batch, so a repeated
    import rewrites its outputs instead of adding a second copy."""
    if file is not None:
        path = Path(file)
        return f"import-{stem(path)}-{aio.sha256_file(path)[:12]}"
    blob = json.dumps(orders or [], sort_keys=True, default=str).encode()
    return f"import-rows-{hashlib.sha256(blob).hexdigest()[:12]}"


def order_imported_event(file: str | Path | None = None, orders: list[dict] | None = None,
                         batch_id: str | None = None, extra: dict[str, Any] | None = None):
    """Build (not send) the event for a file or for inline rows."""
    if (file is None) == (orders is None):
        raise InputError("give either a file or the order rows")
    payload: dict[str, Any] = {}
    if file is not None:
        path = Path(file).resolve()
        aio.input_format(path)
        if not path.is_file():
            raise InputError("no such file", str(file))
        payload["file"] = str(path)
        name = path.name
    else:
        if len(orders) > MAX_INLINE_ROWS:
            raise InputError(f"{len(orders)} rows is too many to send inline (at most {MAX_INLINE_ROWS}); "
                             "send the file instead")
        payload["orders"] = orders
        name = f"{len(orders)} orders"
    batch_id = check_batch_id(batch_id or default_batch_id(file, orders))
    payload["batch_id"] = batch_id
    payload.update(extra or {})
    from prefect.events import Event  # after the checks: a bad file fails fast, without Prefect

    return Event(event=EVENT, resource={"prefect.resource.id": RESOURCE_PREFIX + batch_id,
                                        "prefect.resource.name": name}, payload=payload)


DELIVERY_EVENT = "delivery.reported"
DELIVERY_RESOURCE_PREFIX = "delivery.report."


def delivery_reported_event(file: str | Path | None = None, reports: list[dict] | None = None):
    """Build (not send) the event for a file of delivery reports or for inline reports; the
    reports are checked first, so a bad one fails here with its row, not in a flow run."""
    from addressing.deliveries.reports import read_reports, reports_from_rows

    if (file is None) == (reports is None):
        raise InputError("give either a file or the reports")
    if file is not None:
        path = Path(file).resolve()
        read_reports(path)
        payload: dict[str, Any] = {"file": str(path)}
        name, digest = path.name, aio.sha256_file(path)
    else:
        if len(reports) > MAX_INLINE_ROWS:
            raise InputError(f"{len(reports)} reports is too many to send inline (at most {MAX_INLINE_ROWS}); "
                             "send the file instead")
        reports_from_rows(reports)
        payload = {"reports": reports}
        name = f"{len(reports)} reports"
        digest = hashlib.sha256(json.dumps(reports, sort_keys=True, default=str).encode()).hexdigest()
    from prefect.events import Event

    return Event(event=DELIVERY_EVENT, resource={"prefect.resource.id": DELIVERY_RESOURCE_PREFIX + digest[:12],
                                                 "prefect.resource.name": name}, payload=payload)


def read_rows(file: str | Path) -> list[dict]:
    """An orders file's rows as dicts of text (for an inline import)."""
    rows: list[dict] = []
    for t in aio.read_orders(Path(file), MAX_INLINE_ROWS + 1):
        keep = [c for c in t.column_names if not c.startswith("_")]
        rows += t.select(keep).to_pylist()
        if len(rows) > MAX_INLINE_ROWS:
            break
    return rows


def _api_url(url: str | None = None) -> str:
    from prefect.settings import PREFECT_API_URL

    from flows.common import api_request

    url = url or PREFECT_API_URL.value()
    if not url:
        raise AddressingError("PREFECT_API_URL is not set: start the server (`prefect server start`) and "
                              "export PREFECT_API_URL=http://127.0.0.1:4200/api")
    try:
        api_request("/health", api_url=url)
    except urllib.error.HTTPError as exc:
        raise AddressingError(f"the Prefect API at {url} refused the request ({exc}); check "
                              "PREFECT_API_AUTH_STRING") from exc
    except OSError as exc:
        raise AddressingError(f"the Prefect API at {url} does not answer ({exc}); is `prefect server start` "
                              "running?") from exc
    return url


def emit(event, api_url: str | None = None) -> str:
    """Send ``event`` and wait until the server confirms it; returns the event id.
    ``api_url`` defaults to the PREFECT_API_URL setting."""
    import asyncio

    from prefect.events.clients import PrefectEventsClient

    url = _api_url(api_url)

    async def send() -> None:
        async with PrefectEventsClient(api_url=url, reconnection_attempts=2) as client:
            await client.emit(event)

    try:
        asyncio.run(send())
    except Exception as exc:  # websockets / connection errors: one line for the CLI
        raise AddressingError(f"could not send {event.event} to {url}: {type(exc).__name__}: {exc}") from exc
    return str(event.id)


def emit_order_imported(file: str | Path | None = None, orders: list[dict] | None = None,
                        batch_id: str | None = None, extra: dict[str, Any] | None = None,
                        api_url: str | None = None) -> str:
    """Emit ``order.imported`` for a file or inline rows; returns the event id."""
    return emit(order_imported_event(file, orders, batch_id, extra), api_url)
