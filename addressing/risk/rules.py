"""Risk rules: each a small function over the whole batch that returns, per record, the
values to fill its message with, or ``None`` when the rule does not fire.

A batch is a dict of equal-length lists, the facts the pipeline knows about each record:
``status``, ``precision``, ``confidence``, ``kind``, ``zip_type``, ``zip_active``,
``postal_code``, ``n_units``, ``has_base``, ``unit``, ``unit_known``, ``lat``, ``lon``,
``n_candidates``, ``corrections``, ``address_key``, ``customer``, ``reason``, ``timezone``,
``coverage_gap`` (the place the matcher has no street data for, else ``None``), ``pmb`` (the
private mailbox number, else ``None``), ``failures`` (failed deliveries at the address, from
proof of delivery) and, when the orders name one, ``carrier``. ``assess`` adds ``_zones``: the point/polygon
pairs of its one STRtree query.

``shared_address`` is not here: it counts customers over the whole batch, across chunks,
so it runs where the chunks are assembled (``addressing.batch``).
"""

from __future__ import annotations

from collections.abc import Callable
from fnmatch import fnmatchcase

import numpy as np

from addressing.risk.config import RuleConfig

Batch = dict[str, list]
Hits = list[dict | None]
GOOD_PRECISION = {"delivery_point", "address_point", "interpolated", "street"}
#: delivery lines that are never located better than their ZIP, and need no street match
BOX_KINDS = {"po_box", "military", "rural_route", "highway_contract", "general_delivery"}
SERVICE_AREA, RISK_ZONE = 0, 1


def invalid_address(b: Batch, cfg: RuleConfig, ctx) -> Hits:
    return [{"reason": r or "unreadable"} if s == "invalid" else None for s, r in zip(b["status"], b["reason"])]


def undeliverable(b: Batch, cfg: RuleConfig, ctx) -> Hits:
    """Unmatched, or matched only to a ZIP or place although it is a street address, where the
    gazetteer could check it (``outside_coverage`` is the rule for where it could not)."""
    out: Hits = []
    for s, p, k, r, gap in zip(b["status"], b["precision"], b["kind"], b["reason"], b["coverage_gap"]):
        if gap is None and (s == "unmatched" or (s == "matched" and p not in GOOD_PRECISION and k not in BOX_KINDS)):
            out.append({"precision": p, "detail": r or f"located only to {p.replace('_', ' ')}"})
        else:
            out.append(None)
    return out


def outside_coverage(b: Batch, cfg: RuleConfig, ctx) -> Hits:
    """No street data loaded for the place the order names: not checked, so not known to be wrong."""
    return [{"where": gap} if gap else None for gap in b["coverage_gap"]]


def ambiguous_match(b: Batch, cfg: RuleConfig, ctx) -> Hits:
    return [{"n_candidates": n} if s == "ambiguous" else None for s, n in zip(b["status"], b["n_candidates"])]


def low_confidence(b: Batch, cfg: RuleConfig, ctx) -> Hits:
    t = float(cfg.params["threshold"])
    return [{"confidence": c, "threshold": t} if s == "matched" and c < t else None
            for s, c in zip(b["status"], b["confidence"])]


def po_box(b: Batch, cfg: RuleConfig, ctx) -> Hits:
    """PO boxes, for the couriers that cannot deliver to them.

    With ``carriers`` empty every PO box is flagged. With a list, an order whose carrier
    column names another carrier (the postal service, say) is not; an order naming no
    carrier is, since the courier is not known to be able to.
    """
    cannot = {c.strip().lower() for c in cfg.params["carriers"]}
    carriers = b.get("carrier") or [None] * len(b["kind"])
    out: Hits = []
    for k, carrier in zip(b["kind"], carriers):
        name = str(carrier).strip() if carrier is not None else ""
        if k != "po_box" or (cannot and name and name.lower() not in cannot):
            out.append(None)
        else:
            out.append({"carrier": name or "the courier"})
    return out


def pmb(b: Batch, cfg: RuleConfig, ctx) -> Hits:
    """A private mailbox, as the parser marked it (a PO box is ``po_box``'s)."""
    return [{"pmb": box} if box else None for box in b["pmb"]]


def military(b: Batch, cfg: RuleConfig, ctx) -> Hits:
    """APO/FPO/DPO: by the parsed delivery line or by the ZIP's type (``USS Nimitz, FPO AP 96620``)."""
    return [{"postal_code": z} if k == "military" or t == "MILITARY" else None
            for k, t, z in zip(b["kind"], b["zip_type"], b["postal_code"])]


def general_delivery(b: Batch, cfg: RuleConfig, ctx) -> Hits:
    return [{"postal_code": z} if k == "general_delivery" else None for k, z in zip(b["kind"], b["postal_code"])]


def po_box_only_zip(b: Batch, cfg: RuleConfig, ctx) -> Hits:
    """A street address in a ZIP that has no street delivery at all."""
    return [{"postal_code": z} if t == "PO BOX" and k not in ("po_box", "military", "general_delivery") else None
            for t, z, k in zip(b["zip_type"], b["postal_code"], b["kind"])]


def unique_zip(b: Batch, cfg: RuleConfig, ctx) -> Hits:
    return [{"postal_code": z} if t == "UNIQUE" else None for t, z in zip(b["zip_type"], b["postal_code"])]


def inactive_zip(b: Batch, cfg: RuleConfig, ctx) -> Hits:
    return [{"postal_code": z} if a is False else None for a, z in zip(b["zip_active"], b["postal_code"])]


def missing_unit(b: Batch, cfg: RuleConfig, ctx) -> Hits:
    """Several units at the address, the order names none, and the building itself is no address."""
    need = int(cfg.params["min_units"])
    return [{"n_units": n} if s in ("matched", "ambiguous") and not u and n >= need and not base else None
            for s, u, n, base in zip(b["status"], b["unit"], b["n_units"], b["has_base"])]


def unknown_unit(b: Batch, cfg: RuleConfig, ctx) -> Hits:
    return [{"unit": u} if u and known is False else None for u, known in zip(b["unit"], b["unit_known"])]


def _in_layer(b: Batch, layer: int, ctx) -> dict[int, list[str]]:
    """Point index -> reasons of the layer's polygons that contain it (from assess's one query)."""
    pt_idx, poly_idx = b.get("_zones") or (np.empty(0, np.intp), np.empty(0, np.intp))
    out: dict[int, list[str]] = {}
    if pt_idx.size:
        sel = ctx.zones.layers[poly_idx] == layer
        for p, z in zip(pt_idx[sel].tolist(), poly_idx[sel].tolist()):
            out.setdefault(p, []).append(ctx.zones.reasons[z])
    return out


def _located(b: Batch, cfg: RuleConfig) -> np.ndarray:
    ok = set(cfg.params["precisions"])
    lon, lat = b["lat_lon"]
    return np.isfinite(lon) & np.isfinite(lat) & np.fromiter((p in ok for p in b["precision"]), bool, len(lon))


def outside_service_area(b: Batch, cfg: RuleConfig, ctx) -> Hits:
    if ctx.zones is None or not (ctx.zones.layers == SERVICE_AREA).any():
        return [None] * len(b["status"])
    inside = _in_layer(b, SERVICE_AREA, ctx)
    located = _located(b, cfg)
    return [{"precision": p} if located[i] and i not in inside else None for i, p in enumerate(b["precision"])]


def high_risk_zone(b: Batch, cfg: RuleConfig, ctx) -> Hits:
    if ctx.zones is None:
        return [None] * len(b["status"])
    hits = _in_layer(b, RISK_ZONE, ctx)
    located = _located(b, cfg)
    return [{"zone_reason": "; ".join(dict.fromkeys(hits[i])), "precision": p} if located[i] and i in hits else None
            for i, p in enumerate(b["precision"])]


def forwarder(b: Batch, cfg: RuleConfig, ctx) -> Hits:
    if ctx.forwarders is None or not len(ctx.forwarders):
        return [None] * len(b["status"])
    return [{"forwarder": name} if name else None for name in ctx.forwarders.lookup(b["address_key"])]


def corrected_heavily(b: Batch, cfg: RuleConfig, ctx) -> Hits:
    """Several components changed (inferred ones, filling a blank, do not count by default)."""
    need = int(cfg.params["min_corrections"])
    ignore = cfg.params["ignore"]
    out: Hits = []
    for cs in b["corrections"]:
        counted = [c for c in cs or () if not any(fnmatchcase(c, pat) for pat in ignore)]
        out.append({"n_corrections": len(counted), "corrections": ", ".join(counted)} if len(counted) >= need else None)
    return out


def failed_before(b: Batch, cfg: RuleConfig, ctx) -> Hits:
    """Failed deliveries at the address in the policy's window (``failures``: per record, the
    ``(date, reason)`` of each, newest first, as ``addressing.deliveries`` found them)."""
    need = int(cfg.params["min_failures"])
    out: Hits = []
    for fails in b.get("failures") or [None] * len(b["status"]):
        if not fails or len(fails) < need:
            out.append(None)
            continue
        said = "; ".join(f"{day} {reason or 'no reason given'}" for day, reason in fails)
        out.append({"n_failures": len(fails), "window_days": cfg.params["window_days"], "failures": said})
    return out


RULE_FUNCTIONS: dict[str, Callable[[Batch, RuleConfig, object], Hits]] = {
    "invalid_address": invalid_address,
    "undeliverable": undeliverable,
    "outside_coverage": outside_coverage,
    "ambiguous_match": ambiguous_match,
    "low_confidence": low_confidence,
    "po_box": po_box,
    "pmb": pmb,
    "military": military,
    "general_delivery": general_delivery,
    "po_box_only_zip": po_box_only_zip,
    "unique_zip": unique_zip,
    "inactive_zip": inactive_zip,
    "missing_unit": missing_unit,
    "unknown_unit": unknown_unit,
    "outside_service_area": outside_service_area,
    "high_risk_zone": high_risk_zone,
    "forwarder": forwarder,
    "corrected_heavily": corrected_heavily,
    "failed_before": failed_before,
}

#: rules whose position comes from the one zone query, and the layer each reads
ZONE_RULES = {"outside_service_area": SERVICE_AREA, "high_risk_zone": RISK_ZONE}


def lat_lon_arrays(b: Batch) -> tuple[np.ndarray, np.ndarray]:
    """(lon, lat) as float arrays, NaN where unknown."""
    lon = np.array([np.nan if v is None else v for v in b["lon"]], dtype=float)
    lat = np.array([np.nan if v is None else v for v in b["lat"]], dtype=float)
    return lon, lat
