"""Delivery risk: flags, a level from the worst flag, and an action by policy.

``load_risk`` reads and checks the policy and every file it names (polygons, forwarder
list) once at start-up; ``assess`` runs the enabled rules over a batch.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from addressing.errors import ConfigError
from addressing.risk.config import SEVERITIES, RiskPolicy
from addressing.risk.rules import RULE_FUNCTIONS, lat_lon_arrays
from addressing.risk.zones import Zones

__all__ = ["RiskContext", "load_risk", "assess", "address_key", "RiskPolicy"]

_RANK = {s: i for i, s in enumerate(SEVERITIES)}


@dataclass
class RiskContext:
    policy: RiskPolicy
    service_areas: Zones | None = None
    risk_zones: Zones | None = None
    forwarders: dict[str, str] = field(default_factory=dict)


def address_key(house_number, predir, street_name, street_type, postdir, unit, po_box, postal_code) -> str | None:
    """Standardized address identity; the unit designator is left out so ``STE 100`` = ``#100``."""
    if po_box and not street_name:
        return f"BOX|{po_box}|{(postal_code or '')[:5]}"
    if not (house_number and street_name):
        return None
    parts = (house_number, predir or "", street_name, street_type or "", postdir or "", unit or "", (postal_code or "")[:5])
    return "|".join(parts)


def _resolve(base: Path, name: str) -> Path:
    p = Path(name)
    return p if p.is_absolute() else base / p


def _load_forwarders(path: Path) -> dict[str, str]:
    from addressing.parse import parse_batch

    if not path.is_file():
        raise ConfigError("forwarder list not found", path=str(path))
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    if rows and not {"name", "address"} <= set(rows[0]):
        raise ConfigError("forwarder list needs columns name,address", path=str(path))
    parsed = parse_batch([r["address"] for r in rows])
    out = {}
    for r, p in zip(rows, parsed):
        if p.invalid_reason:
            raise ConfigError(f"forwarder {r['name']!r}: address unreadable ({p.invalid_reason})", path=str(path))
        key = address_key(p.house_number, p.predirectional, p.street_name, p.street_type, p.postdirectional, p.unit,
                          p.po_box, p.postal_code)
        if key:
            out[key] = r["name"]
    return out


def load_risk(policy_path: str | Path | None = None) -> RiskContext:
    """Read the policy and everything it refers to; raise ConfigError on any problem."""
    policy = RiskPolicy.from_toml(policy_path) if policy_path else RiskPolicy.default()
    ctx = RiskContext(policy=policy)
    base = policy.base_dir
    if policy.enabled("outside_service_area") and policy.rule("outside_service_area").params["files"]:
        ctx.service_areas = Zones.from_files([_resolve(base, f) for f in policy.rule("outside_service_area").params["files"]])
    if policy.enabled("high_risk_zone") and policy.rule("high_risk_zone").params["files"]:
        ctx.risk_zones = Zones.from_files([_resolve(base, f) for f in policy.rule("high_risk_zone").params["files"]])
    if policy.enabled("forwarder") and policy.rule("forwarder").params["file"]:
        ctx.forwarders = _load_forwarders(_resolve(base, policy.rule("forwarder").params["file"]))
    return ctx


def assess(batch: dict[str, list], ctx: RiskContext) -> dict[str, list]:
    """Flags, reasons, level and action for every record of the batch."""
    n = len(batch["status"])
    batch = dict(batch)
    batch["lat_lon"] = lat_lon_arrays(batch)
    flags: list[list[str]] = [[] for _ in range(n)]
    reasons: list[list[str]] = [[] for _ in range(n)]
    level = [0] * n
    for code, fn in RULE_FUNCTIONS.items():
        if not ctx.policy.enabled(code):
            continue
        cfg = ctx.policy.rule(code)
        hits = fn(batch, cfg, ctx)
        sev = _RANK[cfg.severity]
        for i, h in enumerate(hits):
            if h is None:
                continue
            flags[i].append(code)
            try:
                reasons[i].append(cfg.message.format(**h))
            except (KeyError, ValueError, IndexError):
                reasons[i].append(cfg.message)
            level[i] = max(level[i], sev)
    levels = [SEVERITIES[x] for x in level]
    actions = [ctx.policy.action_for[lv] for lv in levels]
    start, end = ctx.policy.delivery_window
    windows = [f"{start}-{end} {tz}" if tz else None for tz in batch["timezone"]]
    return {"risk_flags": flags, "risk_reasons": reasons, "risk_level": levels, "action": actions,
            "delivery_window": windows}
