"""Risk policy: which rules run, their severities and thresholds, read from TOML.

Validated once at start-up; every error names the key (and the file), so a bad policy stops
the run before any batch is processed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import tomllib

from addressing.errors import ConfigError

SEVERITIES = ("none", "low", "medium", "high")
ACTIONS = ("deliver", "review", "hold")

#: rule code -> (default severity, message template, parameters with defaults)
RULES: dict[str, tuple[str, str, dict]] = {
    "invalid_address": ("high", "the address could not be read: {reason}", {}),
    "undeliverable": ("high", "no match at street level or better ({precision})", {}),
    "ambiguous_match": ("medium", "{n_candidates} candidate addresses are too close to call", {}),
    "low_confidence": ("medium", "match confidence {confidence:.2f} is below {threshold}", {"threshold": 0.8}),
    "po_box": ("medium", "PO box: the courier cannot deliver to post office boxes", {}),
    "military": ("medium", "military address (APO/FPO/DPO): needs the postal service", {}),
    "general_delivery": ("medium", "general delivery: held at the post office for pickup", {}),
    "po_box_only_zip": ("medium", "ZIP {postal_code} serves PO boxes only", {}),
    "unique_zip": ("low", "ZIP {postal_code} is a unique ZIP of one organisation", {}),
    "inactive_zip": ("medium", "ZIP {postal_code} is no longer active", {}),
    "missing_unit": ("medium", "the building has {n_units} units and the order names none", {"min_units": 2}),
    "unknown_unit": ("medium", "unit {unit} is not one of the building's units", {}),
    "outside_service_area": ("high", "outside every service area", {"files": []}),
    "high_risk_zone": ("medium", "in a high-risk zone: {zone_reason}", {"files": []}),
    "forwarder": ("high", "known freight forwarder / reshipper: {forwarder}", {"file": ""}),
    "shared_address": ("medium", "the same address is on orders of {n_customers} different customers",
                       {"min_customers": 3, "customer_column": "customer_id"}),
    "corrected_heavily": ("low", "{n_corrections} components were corrected; ask the customer to confirm",
                          {"min_corrections": 3}),
}


@dataclass(frozen=True)
class RuleConfig:
    code: str
    enabled: bool
    severity: str
    message: str
    params: dict


@dataclass(frozen=True)
class RiskPolicy:
    rules: dict[str, RuleConfig]
    action_for: dict[str, str] = field(default_factory=lambda: {"none": "deliver", "low": "deliver",
                                                                   "medium": "review", "high": "hold"})
    delivery_window: tuple[str, str] = ("08:00", "20:00")
    base_dir: Path = Path(".")

    def rule(self, code: str) -> RuleConfig:
        return self.rules[code]

    def enabled(self, code: str) -> bool:
        return code in self.rules and self.rules[code].enabled

    @classmethod
    def default(cls) -> RiskPolicy:
        return cls.from_dict({})

    @classmethod
    def from_toml(cls, path: str | Path) -> RiskPolicy:
        path = Path(path)
        if not path.is_file():
            raise ConfigError("no such risk policy file", path=str(path))
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"not valid TOML ({exc})", path=str(path)) from exc
        return cls.from_dict(data, base_dir=path.parent, source=str(path))

    @classmethod
    def from_dict(cls, data: dict, base_dir: Path = Path("."), source: str | None = None) -> RiskPolicy:
        unknown_top = set(data) - {"rules", "actions", "delivery_window"}
        if unknown_top:
            raise ConfigError(f"unknown section(s) {', '.join(sorted(unknown_top))}", path=source)
        rules_in = data.get("rules", {})
        unknown = set(rules_in) - set(RULES)
        if unknown:
            raise ConfigError(f"unknown rule(s) {', '.join(sorted(unknown))}; known: {', '.join(RULES)}",
                              key="rules", path=source)
        rules = {}
        for code, (severity, message, defaults) in RULES.items():
            given = dict(rules_in.get(code, {}))
            enabled = given.pop("enabled", True)
            sev = given.pop("severity", severity)
            msg = given.pop("message", message)
            if not isinstance(enabled, bool):
                raise ConfigError("enabled must be true or false", key=f"rules.{code}.enabled", path=source)
            if sev not in SEVERITIES:
                raise ConfigError(f"severity {sev!r} is not one of {', '.join(SEVERITIES)}",
                                  key=f"rules.{code}.severity", path=source)
            bad = set(given) - set(defaults)
            if bad:
                raise ConfigError(f"unknown setting(s) {', '.join(sorted(bad))}; this rule takes "
                                  f"{', '.join(defaults) or 'none'}", key=f"rules.{code}", path=source)
            params = {**defaults, **given}
            for k, v in params.items():
                d = defaults[k]
                if isinstance(d, (int, float)) and not isinstance(d, bool) and not isinstance(v, (int, float)):
                    raise ConfigError(f"must be a number, got {v!r}", key=f"rules.{code}.{k}", path=source)
                if isinstance(d, list) and not (isinstance(v, list) and all(isinstance(x, str) for x in v)):
                    raise ConfigError("must be a list of file names", key=f"rules.{code}.{k}", path=source)
            rules[code] = RuleConfig(code, enabled, sev, msg, params)
        actions = dict(RiskPolicy.__dataclass_fields__["action_for"].default_factory())
        for level, action in (data.get("actions") or {}).items():
            if level not in SEVERITIES:
                raise ConfigError(f"unknown risk level {level!r}", key=f"actions.{level}", path=source)
            if action not in ACTIONS:
                raise ConfigError(f"action {action!r} is not one of {', '.join(ACTIONS)}", key=f"actions.{level}",
                                  path=source)
            actions[level] = action
        window = data.get("delivery_window") or {}
        start, end = window.get("start", "08:00"), window.get("end", "20:00")
        for k, v in (("start", start), ("end", end)):
            if not (isinstance(v, str) and len(v) == 5 and v[2] == ":" and v[:2].isdigit() and v[3:].isdigit()):
                raise ConfigError(f"must be HH:MM, got {v!r}", key=f"delivery_window.{k}", path=source)
        return cls(rules=rules, action_for=actions, delivery_window=(start, end), base_dir=base_dir)
