"""Delivery reports joined to the cleaned orders they were about.

A report names an order; what we learn is about the order's delivery point: its cleaned
address and unit (``risk.address_key``, the key the batch-wide rules use), with the geocode we
gave routing. The cleaned orders are found in finished outputs (a cleaned batch file, or a
folder searched for manifests: only outputs whose manifest was written count, never a half
written one). An order cleaned more than once (a rerun, a re-check) is taken from its newest
output. Redacted outputs hold no address and cannot be joined.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from addressing import io as aio
from addressing.errors import InputError
from addressing.geocode import distance_m
from addressing.risk import address_key

MANIFEST_GLOB = "*.manifest.json"
#: the cleaned output's columns the join reads
ORDER_COLUMNS = ("order_id", "house_number", "predirectional", "street_name", "street_type", "postdirectional",
                 "unit", "po_box", "postal_code", "lat", "lon", "precision", "match_status")
#: output formats the join reads (GeoJSON is for maps, not for joining)
READABLE = (".parquet", ".csv", ".jsonl")


@dataclass
class Joined:
    """Reports with the facts of their orders (``rows``: one dict per report that found its
    order) and the reports whose order was in none of the outputs."""

    rows: list[dict] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    outputs: int = 0


def cleaned_outputs(paths: list[str | Path]) -> list[tuple[Path, str | None]]:
    """The finished cleaned outputs under ``paths`` (files, or folders searched for manifests),
    oldest first, each with its batch id."""
    found: dict[Path, tuple[float, str | None]] = {}
    for given in paths:
        p = Path(given)
        if p.is_dir():
            for m in p.rglob(MANIFEST_GLOB):
                try:
                    manifest = json.loads(m.read_text(encoding="utf-8"))
                    out = Path(manifest["outputs"]["cleaned"]["path"])
                except (OSError, ValueError, KeyError, TypeError):
                    continue  # not a manifest of ours
                out = out if out.is_absolute() and out.exists() else m.parent / out.name
                if out.suffix in READABLE and out.exists():
                    found[out] = (out.stat().st_mtime, manifest.get("batch_id"))
        elif p.is_file():
            if p.suffix not in READABLE:
                raise InputError(f"cannot join to a {p.suffix or 'suffix-less'} file; give a cleaned "
                                 f"{', '.join(READABLE)} output or its folder", str(p))
            found[p] = (p.stat().st_mtime, None)
        else:
            raise InputError("no such file or folder of cleaned orders", str(p))
    return [(p, batch) for p, (_, batch) in sorted(found.items(), key=lambda kv: (kv[1][0], str(kv[0])))]


def _orders(outputs: list[tuple[Path, str | None]], wanted: set[str], customer_column: str) -> dict[str, dict]:
    facts: dict[str, dict] = {}

    def keep(names: list[str], path: Path) -> None:
        lower = {n.lower() for n in names}
        if "order_id" not in lower or "match_status" not in lower:
            raise InputError("not a cleaned batch (no order_id and match_status columns); give the output of "
                             "`addressing clean`, not its input", str(path))

    for path, batch_id in outputs:
        for t in aio.read_orders(path, check=keep):
            names = {c.lower(): c for c in t.column_names}
            if names.get("line1") and _redacted(t, names["line1"]):
                break
            cols = {c: t.column(names[c]).to_pylist() if c in names else [None] * t.num_rows
                    for c in (*ORDER_COLUMNS, customer_column.lower())}
            for i, oid in enumerate(cols["order_id"]):
                if oid is None or oid not in wanted:
                    continue
                row = {c: cols[c][i] for c in ORDER_COLUMNS}
                row["customer_id"] = cols[customer_column.lower()][i]
                row["batch_id"] = batch_id
                facts[oid] = row  # newest output last: it wins
    return facts


def _redacted(t: pa.Table, column: str) -> bool:
    return any(v == aio.REDACTED for v in t.column(column).to_pylist()[:1])


def _float(v) -> float | None:
    if v is None or v == "":
        return None
    return float(v)


def join(reports: pa.Table, order_paths: list[str | Path], customer_column: str = "customer_id") -> Joined:
    """Each report with its order's delivery point (``point_key``), customer, batch and geocode,
    and the distance from that geocode to where the driver was."""
    outputs = cleaned_outputs(order_paths)
    if not outputs:
        raise InputError("no finished cleaned outputs there (no *.manifest.json beside a cleaned batch)",
                         ", ".join(str(p) for p in order_paths))
    wanted = set(reports.column("order_id").to_pylist())
    facts = _orders(outputs, wanted, customer_column)
    out = Joined(outputs=len(outputs))
    for r in reports.to_pylist():
        o = facts.get(r["order_id"])
        if o is None:
            out.unknown.append(r["order_id"])
            continue
        key = None
        if o["match_status"] != "invalid":
            key = address_key(o["house_number"], o["predirectional"], o["street_name"], o["street_type"],
                              o["postdirectional"], o["unit"], o["po_box"], o["postal_code"])
        glat, glon = _float(o["lat"]), _float(o["lon"])
        d = None
        if None not in (glat, glon, r["lat"], r["lon"]):
            d = float(distance_m(glon, glat, r["lon"], r["lat"]))
        out.rows.append({**r, "customer_id": o["customer_id"], "batch_id": o["batch_id"], "point_key": key,
                         "geocode_lat": glat, "geocode_lon": glon, "geocode_precision": o["precision"],
                         "distance_m": d})
    return out
