"""Risk policy: which rules run, their severities, messages and thresholds, read from TOML.

Validated once at start-up; every error names the file and the key, so a bad policy stops
the run before any batch is processed.

>>> p = RiskPolicy.from_dict({"rules": {"low_confidence": {"threshold": 0.9}}})
>>> p.rule("low_confidence").params["threshold"], p.action_for["medium"]
(0.9, 'review')
>>> RiskPolicy.from_dict({"rules": {"po_boxes": {}}})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
addressing.errors.ConfigError: [rules] unknown rule(s) po_boxes; known: ...
"""

from __future__ import annotations

import datetime as dt
import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple

from addressing.errors import ConfigError
from addressing.schema import Precision

SEVERITIES = ("none", "low", "medium", "high")
#: a severity's place in ``SEVERITIES``: the one order of severities (higher is worse)
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}
ACTIONS = ("deliver", "review", "hold")
PRECISIONS = tuple(p.value for p in Precision if p is not Precision.NONE)
DEFAULT_ACTIONS = {"none": "deliver", "low": "deliver", "medium": "review", "high": "hold"}
#: days operator decisions (customer location data) are kept before the nightly run purges them,
#: unless the policy says otherwise (issue 17: a year, one full cycle of seasonal reorders)
DEFAULT_RETENTION_DAYS = 365


class RuleSpec(NamedTuple):
    severity: str
    message: str
    params: dict
    #: the placeholders the rule fills in its message, with a sample value to check templates
    fields: dict


RULES: dict[str, RuleSpec] = {
    "invalid_address": RuleSpec("high", "the address could not be read: {reason}", {}, {"reason": "empty"}),
    "undeliverable": RuleSpec("high", "no match at street level or better: {detail}", {},
                              {"detail": "street not found", "precision": "postal_code"}),
    # medium (review by default): nobody has checked the address, which is not the same as
    # finding it does not exist (undeliverable, high)
    "outside_coverage": RuleSpec("medium", "no street data loaded for {where}: the address could not be checked", {},
                                 {"where": "ZIP 06042"}),
    "ambiguous_match": RuleSpec("medium", "{n_candidates} candidate addresses are too close to call", {},
                                {"n_candidates": 2}),
    "low_confidence": RuleSpec("medium", "match confidence {confidence:.2f} is below {threshold}",
                               {"threshold": 0.8}, {"confidence": 0.5, "threshold": 0.8}),
    "po_box": RuleSpec("medium", "PO box: {carrier} cannot deliver to post office boxes",
                       {"carriers": [], "carrier_column": "carrier"}, {"carrier": "the courier"}),
    # low (deliver by default): a mail receiving agency is a shop that signs for parcels, so the
    # parcel arrives; the flag tells routing it goes to a counter open in business hours, not a
    # door, and a policy that wants a human to look raises it to medium (review)
    "pmb": RuleSpec("low", "private mailbox {pmb}: a commercial mail receiving agency, so the parcel goes to a "
                    "mailbox store, not a door", {}, {"pmb": "512"}),
    "military": RuleSpec("medium", "military address (APO/FPO/DPO): needs the postal service", {},
                         {"postal_code": "09499"}),
    "general_delivery": RuleSpec("medium", "general delivery: held at the post office for pickup", {},
                                 {"postal_code": "36067"}),
    "po_box_only_zip": RuleSpec("medium", "ZIP {postal_code} serves PO boxes only", {}, {"postal_code": "36068"}),
    "unique_zip": RuleSpec("low", "ZIP {postal_code} is a unique ZIP of one organisation", {},
                           {"postal_code": "94137"}),
    "inactive_zip": RuleSpec("medium", "ZIP {postal_code} is no longer active", {}, {"postal_code": "94101"}),
    "missing_unit": RuleSpec("medium", "the building has {n_units} units and the order names none",
                             {"min_units": 2}, {"n_units": 2}),
    "unknown_unit": RuleSpec("medium", "unit {unit} is not one of the building's units", {}, {"unit": "3A"}),
    "outside_service_area": RuleSpec("high", "outside every service area (position from {precision})",
                                     {"files": [], "precisions": list(PRECISIONS)}, {"precision": "address_point"}),
    "high_risk_zone": RuleSpec("medium", "in a high-risk zone: {zone_reason}",
                               {"files": [], "precisions": ["delivery_point", "address_point", "interpolated"]},
                               {"zone_reason": "theft", "precision": "address_point"}),
    "forwarder": RuleSpec("high", "known freight forwarder / reshipper: {forwarder}", {"file": ""},
                          {"forwarder": "Example Forwarding"}),
    "shared_address": RuleSpec("medium", "the same address is on orders of {n_customers} different customers",
                               {"min_customers": 3, "customer_column": "customer_id"}, {"n_customers": 3}),
    "corrected_heavily": RuleSpec("low", "{n_corrections} components were corrected; ask the customer to confirm",
                                  {"min_corrections": 3, "ignore": ["*_inferred"]},
                                  {"n_corrections": 3, "corrections": "street_name_corrected"}),
    # the two rules of operator decisions (``addressing.confirmations``), applied where an order's
    # input has a recorded decision, right after ``assess``: a confirmed address the refreshed
    # gazetteer no longer holds goes to a human (medium: review), and an order an operator held is
    # held again with their reason (always ``hold``: the operator's word, whatever the level)
    "confirmation_contradicted": RuleSpec("medium", "{operator} confirmed this address on {date} (decision "
                                          "{decision}), but the gazetteer now {now}", {},
                                          {"operator": "ops", "date": "2026-11-25", "decision": "c-1",
                                           "now": "has no such address"}),
    "operator_hold": RuleSpec("high", "held by {operator} on {date} (decision {decision}): {reason}", {},
                              {"operator": "ops", "date": "2026-11-25", "decision": "c-1", "reason": "fraud"}),
    # proof of delivery (``addressing.deliveries``): drivers failed at this address (address +
    # unit) at least ``min_failures`` times in the last ``window_days`` (issue 17: 2 in 90 days);
    # medium: a human looks before the next attempt (call the customer, fix the unit)
    "failed_before": RuleSpec("medium", "{n_failures} failed deliveries here in the last {window_days} days: "
                              "{failures}", {"min_failures": 2, "window_days": 90},
                              {"n_failures": 2, "window_days": 90, "failures": "2026-11-20 no access"}),
}

#: lower bounds of integer parameters; float parameters in 0..1
_MIN_INT = {"min_units": 2, "min_customers": 2, "min_corrections": 1, "min_failures": 1, "window_days": 1}
_UNIT_INTERVAL = {"threshold"}


@dataclass(frozen=True)
class RuleConfig:
    code: str
    enabled: bool
    severity: str
    message: str
    params: dict
    #: the severity of every rule of the same policy, so that a rule applied after ``assess``
    #: (the batch-wide ``shared_address``) can keep a row's flags worst first
    peer_severity: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class RiskPolicy:
    rules: dict[str, RuleConfig]
    action_for: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_ACTIONS))
    delivery_window: tuple[str, str] = ("08:00", "20:00")
    base_dir: Path = Path(".")
    #: operator decisions older than this many days are purged (``addressing.confirmations``)
    retention_days: int = DEFAULT_RETENTION_DAYS

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
        unknown_top = set(data) - {"rules", "actions", "delivery_window", "retention_days"}
        if unknown_top:
            raise ConfigError(f"unknown section(s) {', '.join(sorted(unknown_top))}; known: rules, actions, "
                              "delivery_window, retention_days", path=source)
        rules_in = _table(data, "rules", source)
        unknown = set(rules_in) - set(RULES)
        if unknown:
            raise ConfigError(f"unknown rule(s) {', '.join(sorted(unknown))}; known: {', '.join(RULES)}",
                              key="rules", path=source)
        rules = {code: _rule(code, _table(rules_in, code, source, prefix="rules."), source) for code in RULES}
        severities = {code: r.severity for code, r in rules.items()}
        rules = {code: replace(r, peer_severity=severities) for code, r in rules.items()}
        return cls(rules=rules, action_for=_actions(_table(data, "actions", source), source),
                   delivery_window=_window(_table(data, "delivery_window", source), source), base_dir=base_dir,
                   retention_days=_retention(data.get("retention_days", DEFAULT_RETENTION_DAYS), source))


def _retention(value, source: str | None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"must be a whole number of days, at least 1, got {value!r}", key="retention_days",
                          path=source)
    return value


def _table(data: dict, key: str, source: str | None, prefix: str = "") -> dict:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"must be a table ([{prefix}{key}]), got {value!r}", key=f"{prefix}{key}", path=source)
    return value


def _rule(code: str, given: dict, source: str | None) -> RuleConfig:
    spec = RULES[code]
    given = dict(given)
    enabled = given.pop("enabled", True)
    sev = given.pop("severity", spec.severity)
    msg = given.pop("message", spec.message)
    key = f"rules.{code}"
    if not isinstance(enabled, bool):
        raise ConfigError(f"must be true or false, got {enabled!r}", key=f"{key}.enabled", path=source)
    if sev not in SEVERITIES:
        raise ConfigError(f"severity {sev!r} is not one of {', '.join(SEVERITIES)}", key=f"{key}.severity",
                          path=source)
    if not isinstance(msg, str):
        raise ConfigError(f"must be text, got {msg!r}", key=f"{key}.message", path=source)
    try:
        msg.format(**spec.fields)
    except (KeyError, IndexError, ValueError, TypeError) as exc:
        names = [n for _, n, _, _ in string.Formatter().parse(msg) if n is not None]
        bad = [n for n in names if n not in spec.fields]
        why = f"unknown placeholder {{{bad[0]}}}" if bad else f"bad template ({exc})"
        raise ConfigError(f"{why}; this rule fills {', '.join('{' + f + '}' for f in spec.fields) or 'none'}",
                          key=f"{key}.message", path=source) from exc
    bad = set(given) - set(spec.params)
    if bad:
        raise ConfigError(f"unknown setting(s) {', '.join(sorted(bad))}; this rule takes enabled, severity, "
                          f"message{''.join(', ' + p for p in spec.params)}", key=key, path=source)
    params = {**spec.params, **given}
    for name, value in params.items():
        _check_param(name, value, spec.params[name], f"{key}.{name}", source)
    return RuleConfig(code, enabled, sev, msg, params, {})


def _check_param(name: str, value, default, key: str, source: str | None) -> None:
    def fail(why: str) -> None:
        raise ConfigError(f"{why}, got {value!r}", key=key, path=source)

    if isinstance(default, bool):
        if not isinstance(value, bool):
            fail("must be true or false")
    elif isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            fail("must be a whole number")
        if value < _MIN_INT.get(name, 0):
            fail(f"must be at least {_MIN_INT.get(name, 0)}")
    elif isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fail("must be a number")
        if name in _UNIT_INTERVAL and not 0 <= value <= 1:
            fail("must be between 0 and 1")
    elif isinstance(default, str):
        if not isinstance(value, str):
            fail("must be text")
    elif isinstance(default, list):
        if not (isinstance(value, list) and all(isinstance(x, str) and x for x in value)):
            fail("must be a list of names" if name != "files" else "must be a list of file names")
        if name == "precisions":
            wrong = [x for x in value if x not in PRECISIONS]
            if wrong:
                fail(f"unknown precision {wrong[0]!r} (known: {', '.join(PRECISIONS)})")


def _actions(given: dict, source: str | None) -> dict[str, str]:
    actions = dict(DEFAULT_ACTIONS)
    for level, action in given.items():
        if level not in SEVERITIES:
            raise ConfigError(f"unknown risk level {level!r} (known: {', '.join(SEVERITIES)})",
                              key=f"actions.{level}", path=source)
        if action not in ACTIONS:
            raise ConfigError(f"action {action!r} is not one of {', '.join(ACTIONS)}", key=f"actions.{level}",
                              path=source)
        actions[level] = action
    return actions


def _window(given: dict, source: str | None) -> tuple[str, str]:
    bad = set(given) - {"start", "end"}
    if bad:
        raise ConfigError(f"unknown setting(s) {', '.join(sorted(bad))}; takes start, end",
                          key="delivery_window", path=source)
    out = []
    for k, default in (("start", "08:00"), ("end", "20:00")):
        v = given.get(k, default)
        if isinstance(v, dt.time):  # TOML local time: start = 08:00:00
            v = v.strftime("%H:%M")
        try:
            if not (isinstance(v, str) and len(v) == 5):
                raise ValueError
            dt.datetime.strptime(v, "%H:%M")
        except ValueError:
            raise ConfigError(f"must be a time HH:MM, got {v!r}", key=f"delivery_window.{k}", path=source) from None
        out.append(v)
    if out[0] == out[1]:
        raise ConfigError(f"start and end are both {out[0]}: the window would be empty", key="delivery_window",
                          path=source)
    return out[0], out[1]
