"""Risk rules: each a small function over the whole batch that returns, per record, the
values to fill its message with, or ``None`` when the rule does not fire.

A batch is a dict of equal-length lists (``status``, ``precision``, ``confidence``,
``kind``, ``zip_type``, ``zip_active``, ``postal_code``, ``n_units``, ``has_base``,
``unit``, ``unit_known``, ``lat``, ``lon``, ``n_candidates``, ``corrections``,
``address_key``, ``customer``, ``reason``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from addressing.risk.config import RuleConfig

Batch = dict[str, list]
Hits = list[dict | None]
GOOD_PRECISION = {"address_point", "interpolated", "street"}


def invalid_address(b: Batch, cfg: RuleConfig, ctx) -> Hits:
    return [{"reason": r or "unreadable"} if s == "invalid" else None for s, r in zip(b["status"], b["reason"])]


def undeliverable(b: Batch, cfg: RuleConfig, ctx) -> Hits:
    box_ok = {"po_box", "military", "rural_route", "highway_contract", "general_delivery"}
    return [
        {"precision": p} if s in ("unmatched",) or (s == "matched" and p not in GOOD_PRECISION and k not in box_ok)
        else None
        for s, p, k in zip(b["status"], b["precision"], b["kind"])
    ]


def ambiguous_match(b: Batch, cfg: RuleConfig, ctx) -> Hits:
    return [{"n_candidates": n} if s == "ambiguous" else None for s, n in zip(b["status"], b["n_candidates"])]


def low_confidence(b: Batch, cfg: RuleConfig, ctx) -> Hits:
    t = float(cfg.params["threshold"])
    return [{"confidence": c, "threshold": t} if s == "matched" and c < t else None
            for s, c in zip(b["status"], b["confidence"])]


def _kind(kind: str) -> Callable:
    def rule(b: Batch, cfg: RuleConfig, ctx) -> Hits:
        return [{} if k == kind else None for k in b["kind"]]
    rule.__name__ = kind
    return rule


po_box = _kind("po_box")
military = _kind("military")
general_delivery = _kind("general_delivery")


def po_box_only_zip(b: Batch, cfg: RuleConfig, ctx) -> Hits:
    return [{"postal_code": z} if t == "PO BOX" and k not in ("po_box", "military") else None
            for t, z, k in zip(b["zip_type"], b["postal_code"], b["kind"])]


def unique_zip(b: Batch, cfg: RuleConfig, ctx) -> Hits:
    return [{"postal_code": z} if t == "UNIQUE" else None for t, z in zip(b["zip_type"], b["postal_code"])]


def inactive_zip(b: Batch, cfg: RuleConfig, ctx) -> Hits:
    return [{"postal_code": z} if a is False and t != "MILITARY" else None
            for a, t, z in zip(b["zip_active"], b["zip_type"], b["postal_code"])]


def missing_unit(b: Batch, cfg: RuleConfig, ctx) -> Hits:
    need = int(cfg.params["min_units"])
    return [{"n_units": n} if s in ("matched", "ambiguous") and not u and n >= need and not base else None
            for s, u, n, base in zip(b["status"], b["unit"], b["n_units"], b["has_base"])]


def unknown_unit(b: Batch, cfg: RuleConfig, ctx) -> Hits:
    return [{"unit": u} if u and known is False else None for u, known in zip(b["unit"], b["unit_known"])]


def outside_service_area(b: Batch, cfg: RuleConfig, ctx) -> Hits:
    zones = ctx.service_areas
    if zones is None:
        return [None] * len(b["status"])
    inside = zones.containing(b["lat_lon"][0], b["lat_lon"][1])
    return [{} if lat == lat and not zs else None for zs, lat in zip(inside, b["lat_lon"][1])]


def high_risk_zone(b: Batch, cfg: RuleConfig, ctx) -> Hits:
    zones = ctx.risk_zones
    if zones is None:
        return [None] * len(b["status"])
    inside = zones.containing(b["lat_lon"][0], b["lat_lon"][1])
    return [{"zone_reason": "; ".join(dict.fromkeys(zs))} if zs else None for zs in inside]


def forwarder(b: Batch, cfg: RuleConfig, ctx) -> Hits:
    known = ctx.forwarders
    out: Hits = []
    for k in b["address_key"]:
        name = None
        if k:
            name = known.get(k)
            if name is None and k.count("|") == 6:
                parts = k.split("|")
                parts[5] = ""
                name = known.get("|".join(parts))  # a whole-building entry covers its suites
        out.append({"forwarder": name} if name else None)
    return out


def corrected_heavily(b: Batch, cfg: RuleConfig, ctx) -> Hits:
    need = int(cfg.params["min_corrections"])
    informative = lambda cs: [c for c in cs if not c.endswith("_inferred")]  # noqa: E731
    return [{"n_corrections": len(informative(cs))} if len(informative(cs)) >= need else None
            for cs in b["corrections"]]


RULE_FUNCTIONS: dict[str, Callable[[Batch, RuleConfig, object], Hits]] = {
    "invalid_address": invalid_address,
    "undeliverable": undeliverable,
    "ambiguous_match": ambiguous_match,
    "low_confidence": low_confidence,
    "po_box": po_box,
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
}


def lat_lon_arrays(b: Batch) -> tuple[np.ndarray, np.ndarray]:
    lon = np.array([np.nan if v is None else v for v in b["lon"]], dtype=float)
    lat = np.array([np.nan if v is None else v for v in b["lat"]], dtype=float)
    return lon, lat
