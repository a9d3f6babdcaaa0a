"""Delivery risk: flags, a level from the worst flag, and an action by policy.

``load_risk`` reads and checks the policy and every file it names (polygons, forwarder
list) once at start-up; ``assess`` runs the enabled rules over a batch. A row's flags and
reasons come worst first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from addressing.risk.config import SEVERITIES, SEVERITY_RANK, RiskPolicy
from addressing.risk.forwarders import Forwarders, address_key
from addressing.risk.rules import RISK_ZONE, RULE_FUNCTIONS, SERVICE_AREA, ZONE_RULES, lat_lon_arrays
from addressing.risk.zones import Zones

__all__ = ["RiskContext", "load_risk", "risk_context", "assess", "address_key", "RiskPolicy", "sort_by_severity"]



@dataclass
class RiskContext:
    policy: RiskPolicy
    service_areas: Zones | None = None
    risk_zones: Zones | None = None
    #: service areas and risk zones in one tree (``layers`` says which is which)
    zones: Zones | None = None
    forwarders: Forwarders | None = None


def _resolve(base: Path, name: str) -> Path:
    p = Path(name)
    return p if p.is_absolute() else base / p


def load_risk(policy_path: str | Path | None = None) -> RiskContext:
    """Read the policy and everything it refers to; raise ConfigError on any problem."""
    policy = RiskPolicy.from_toml(policy_path) if policy_path else RiskPolicy.default()
    ctx = RiskContext(policy=policy)
    base = policy.base_dir
    layers = []
    for code, layer in ZONE_RULES.items():
        files = policy.rule(code).params["files"]
        if policy.enabled(code) and files:
            zones = Zones.from_files([_resolve(base, f) for f in files], layer=layer)
            layers.append(zones)
            if layer == SERVICE_AREA:
                ctx.service_areas = zones
            elif layer == RISK_ZONE:
                ctx.risk_zones = zones
    if layers:
        ctx.zones = Zones.combine(layers)
    if policy.enabled("forwarder") and policy.rule("forwarder").params["file"]:
        ctx.forwarders = Forwarders.from_csv(_resolve(base, policy.rule("forwarder").params["file"]))
    return ctx


_loaded: dict[str, RiskContext] = {}


def risk_context(policy_path: str | Path | None = None) -> RiskContext:
    """``load_risk``, once per process and policy: every chunk of a batch, and every import a
    warm worker cleans, shares it (loading reads the zone and ZIP tables: about a second)."""
    key = str(policy_path)
    if key not in _loaded:
        _loaded[key] = load_risk(policy_path)
    return _loaded[key]


def _zone_query(batch: dict, ctx: RiskContext) -> tuple[np.ndarray, np.ndarray]:
    """One STRtree query for every located point any enabled zone rule looks at."""
    lon, lat = batch["lat_lon"]
    precisions = set()
    for code in ZONE_RULES:
        if ctx.policy.enabled(code):
            precisions |= set(ctx.policy.rule(code).params["precisions"])
    wanted = np.isfinite(lon) & np.isfinite(lat) & np.fromiter((p in precisions for p in batch["precision"]), bool,
                                                               len(lon))
    idx = np.flatnonzero(wanted)
    pt, poly = ctx.zones.query(lon[idx], lat[idx])
    return idx[pt], poly


def sort_by_severity(flags: list[str], reasons: list[str], severity_of: dict[str, str]) -> tuple[list, list]:
    """Flags and their reasons worst first (rule order among equals)."""
    order = sorted(range(len(flags)), key=lambda i: -SEVERITY_RANK[severity_of.get(flags[i], "none")])
    return [flags[i] for i in order], [reasons[i] for i in order]


def assess(batch: dict[str, list], ctx: RiskContext) -> dict[str, list]:
    """Flags, reasons (worst first), level, action and local delivery window for every record."""
    n = len(batch["status"])
    batch = dict(batch)
    batch["lat_lon"] = lat_lon_arrays(batch)
    if ctx.zones is not None and any(ctx.policy.enabled(c) for c in ZONE_RULES):
        batch["_zones"] = _zone_query(batch, ctx)
    flags: list[list[str]] = [[] for _ in range(n)]
    reasons: list[list[str]] = [[] for _ in range(n)]
    level = [0] * n
    for code, fn in RULE_FUNCTIONS.items():
        if not ctx.policy.enabled(code):
            continue
        cfg = ctx.policy.rule(code)
        hits = fn(batch, cfg, ctx)
        sev = SEVERITY_RANK[cfg.severity]
        for i, h in enumerate(hits):
            if h is None:
                continue
            flags[i].append(code)
            try:
                reasons[i].append(cfg.message.format(**h))
            except (KeyError, ValueError, IndexError, TypeError):  # templates are checked at load; belt and braces
                reasons[i].append(cfg.message)
            level[i] = max(level[i], sev)
    severity_of = {code: r.severity for code, r in ctx.policy.rules.items()}
    for i in range(n):
        if len(flags[i]) > 1:
            flags[i], reasons[i] = sort_by_severity(flags[i], reasons[i], severity_of)
    levels = [SEVERITIES[x] for x in level]
    actions = [ctx.policy.action_for[lv] for lv in levels]
    start, end = ctx.policy.delivery_window
    windows = [f"{start}-{end} {tz}" if tz else None for tz in batch.get("timezone") or [None] * n]
    return {"risk_flags": flags, "risk_reasons": reasons, "risk_level": levels, "action": actions,
            "delivery_window": windows}
