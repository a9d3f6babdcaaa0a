"""Honouring operator decisions while a batch is cleaned (the hook ``pipeline.clean_table`` calls).

Between parse and match, every input's key (``keys.input_key``) is looked up in the decisions
store (an in-memory copy per process, read again when the file changes: a lookup is a dict
get). An input whose answer is a live decision younger than the policy's ``retention_days``:

- ``accept`` / ``edit`` that delivered: the confirmed address is matched in the current
  gazetteer beside the input itself. When the gazetteer still finds it (same number, street
  and ZIP, within ``AGREE_M`` of the confirmed point), the order takes the confirmed result:
  ``match_status`` ``matched``, correction ``operator_confirmed``, ``confirmation`` = the
  decision id, and the flags the operator accepted are waived (they do not count towards the
  level or the action). A flag the operator did not see still counts: a changed policy
  (service areas, forwarders), a unit the gazetteer now knows of. ``shared_address`` is
  counted over the whole batch after this hook: a row whose operator accepted it is left out
  of that count (``batch_keys``), so it is not flagged again, while an address no operator
  looked at is counted as before. A confirmed result the
  gazetteer could not place at street level (outside coverage) is taken as the operator gave
  it: there is nothing in the gazetteer to contradict it.
- The same, when the gazetteer no longer finds it: the order keeps its own fresh match and
  gets ``confirmation_contradicted`` (review by default) saying what changed; neither side is
  trusted blindly.
- ``hold``: the order gets its own match, ``operator_hold`` with the operator's reason, and
  action ``hold`` whatever its level (the operator's word).

An ``edit`` that did not validate (held) answers nothing: the order is cleaned as usual.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from addressing.confirmations import keys, store
from addressing.gazetteer.keys import name_key
from addressing.geocode import distance_m
from addressing.match import MatchResult
from addressing.parse import parse_batch
from addressing.risk import RiskPolicy, sort_by_severity
from addressing.risk.config import SEVERITIES, SEVERITY_RANK
from addressing.schema import MatchStatus, ParsedAddress, Precision

CONFIRMED = "operator_confirmed"
CONTRADICTED = "confirmation_contradicted"
HOLD = "operator_hold"
SHARED = "shared_address"
#: an accepted ambiguous match comes back ``matched`` with the confidence it had as ambiguous (when
#: today's gazetteer still finds it ambiguous): its low confidence is the doubt the operator settled
SAME_DOUBT = {"ambiguous_match": "low_confidence"}
#: the gazetteer agrees with a confirmed point when its match of the confirmed address lies this
#: close: the distance the accuracy benchmark counts as confidently wrong beyond (README, Accuracy)
AGREE_M = 50.0
#: precisions the gazetteer can contradict: it placed the confirmed address on a street
CHECKED_PRECISIONS = frozenset({Precision.DELIVERY_POINT.value, Precision.ADDRESS_POINT.value,
                                Precision.INTERPOLATED.value, Precision.STREET.value})
_LIVE_STATUS = (MatchStatus.MATCHED.value, MatchStatus.AMBIGUOUS.value)


@dataclass(frozen=True)
class Confirmation:
    """A live decision on an input, as the hook uses it."""

    id: str
    decision: str
    action: str | None
    operator: str
    decided_at: dt.datetime
    reason: str | None
    accepted_flags: frozenset[str]
    result: dict

    @property
    def confirms(self) -> bool:
        """An accepted or validated edited address: later orders take it."""
        return self.decision in ("accept", "edit") and self.action == "deliver"

    @property
    def holds(self) -> bool:
        return self.decision == "hold"

    @property
    def text(self) -> str:
        return ", ".join(x for x in (self.result.get("line1"), self.result.get("line2")) if x)

    @property
    def date(self) -> str:
        return self.decided_at.date().isoformat()


def _confirmation(row: dict) -> Confirmation:
    return Confirmation(row["id"], row["decision"], row["action"], row["operator"], row["decided_at"], row["reason"],
                        frozenset(row["accepted_flags"] or ()), {f: row[f] for f in store.RESULT_FIELDS})


# ----------------------------------------------------------------------------- the copy in memory

class Answers:
    """The live decisions of a store as this process holds them: the answers' Arrow table and
    an index by input key; a row becomes a ``Confirmation`` the first time an order asks."""

    def __init__(self, table: pa.Table):
        self.table = table
        self.index = {k: i for i, k in enumerate(table.column("input_key").to_pylist())} if table.num_rows else {}
        self._made: dict[int, Confirmation] = {}

    def __len__(self) -> int:
        return len(self.index)

    def get(self, key: str | None) -> Confirmation | None:
        i = self.index.get(key) if key is not None else None
        if i is None:
            return None
        c = self._made.get(i)
        if c is None:
            c = self._made[i] = _confirmation(self.table.slice(i, 1).to_pylist()[0])
        return c

    def values(self) -> list[Confirmation]:
        return [self.get(k) for k in self.index]


_copies: dict[str, tuple[tuple, Answers]] = {}
_copies_lock = threading.Lock()
_NONE = Answers(pa.table({}))


def answers(path: Path) -> Answers:
    """The live decisions, from this process's copy of the store (read again when the file has
    changed since)."""
    stamp = store.file_stamp(path)
    if stamp is None:
        return _NONE
    key = str(path)
    got = _copies.get(key)
    if got is not None and got[0] == stamp:
        return got[1]
    with _copies_lock:
        got = _copies.get(key)
        if got is not None and got[0] == stamp:
            return got[1]
        table = Answers(store.answers_table(path))
        _copies[key] = (store.file_stamp(path) or stamp, table)
        return table


# ----------------------------------------------------------------------------- the hook


@dataclass
class Plan:
    """The decisions that answer some rows of one batch, and what the hook found out about them."""

    n: int
    found: dict[int, Confirmation]
    #: rows whose confirmed address is matched too: row -> index in ``extra``
    checked: dict[int, int]
    extra: list[ParsedAddress]
    #: row -> what the gazetteer says now, for the confirmations it contradicts
    contradicted: dict[int, str]
    #: rows that took their confirmed result
    taken: set[int]

    def to_match(self, parsed: list[ParsedAddress]) -> list[ParsedAddress]:
        """The inputs, then the confirmed addresses to check (matched in the same batch)."""
        return list(parsed) + self.extra

    def settle(self, results: list[MatchResult]) -> list[MatchResult]:
        """The rows' results (``results`` as matched: the inputs', then the checks'), with each
        confirmation the gazetteer agrees with in place of its row's own."""
        own, checks = list(results[:self.n]), results[self.n:]
        for i, c in self.found.items():
            if not c.confirms:
                continue
            check = checks[self.checked[i]] if i in self.checked else None
            now = None if check is None else _disagreement(c, check)
            if now is None:
                own[i] = _confirmed(c, check or own[i])
                self.taken.add(i)
            else:
                self.contradicted[i] = now
        return own

    def fill(self, out: dict[str, list]) -> None:
        """The output columns the match result does not carry, for the rows that took their
        confirmed result (lines, box, ZIP+4 as confirmed; no candidates), and ``confirmation``."""
        for i in self.taken:
            was = self.found[i].result
            for name in ("line1", "line2", "po_box", "zip4"):
                out[name][i] = was.get(name)
            out["candidates"][i] = []
            out["reason"][i] = None
        out["confirmation"] = self.provenance()

    def judge(self, risk_out: dict[str, list], policy: RiskPolicy) -> dict[str, list]:
        """``assess``'s flags, levels and actions with the decisions applied (in place)."""
        flags, reasons, levels, actions = (risk_out[k] for k in ("risk_flags", "risk_reasons", "risk_level", "action"))
        severity_of = {code: r.severity for code, r in policy.rules.items()}
        for i, c in self.found.items():
            if i in self.contradicted:
                if policy.enabled(CONTRADICTED):
                    rule = policy.rule(CONTRADICTED)
                    note = rule.message.format(operator=c.operator, date=c.date, decision=c.id,
                                               now=self.contradicted[i])
                    flags[i], reasons[i] = sort_by_severity(flags[i] + [CONTRADICTED], reasons[i] + [note],
                                                            severity_of)
                    levels[i] = _worst(levels[i], rule.severity)
                    actions[i] = policy.action_for[levels[i]]
            elif c.holds:
                if policy.enabled(HOLD):
                    rule = policy.rule(HOLD)
                    note = rule.message.format(operator=c.operator, date=c.date, decision=c.id,
                                               reason=c.reason or "no reason given")
                    flags[i], reasons[i] = sort_by_severity(flags[i] + [HOLD], reasons[i] + [note], severity_of)
                    levels[i] = _worst(levels[i], rule.severity)
                    actions[i] = "hold"
            elif i in self.taken:
                waived = c.accepted_flags | {SAME_DOUBT[f] for f in c.accepted_flags if f in SAME_DOUBT}
                keep = [k for k, f in enumerate(flags[i]) if f not in waived]
                level = max((SEVERITY_RANK[severity_of[flags[i][k]]] for k in keep), default=0)
                levels[i] = SEVERITIES[level]
                actions[i] = policy.action_for[levels[i]]
        return risk_out

    def batch_keys(self, address_keys: list[str | None]) -> list[str | None]:
        """The address keys the batch-wide ``shared_address`` count reads: none for the rows
        whose confirmation accepted that flag."""
        out = list(address_keys)
        for i in self.taken:
            if SHARED in self.found[i].accepted_flags:
                out[i] = None
        return out

    def provenance(self) -> list[str | None]:
        """The ``confirmation`` column: the id of the decision that answered, held or was
        contradicted on each row."""
        out: list[str | None] = [None] * self.n
        for i, c in self.found.items():
            out[i] = c.id
        return out


def plan(store_file: Path, parsed: list[ParsedAddress], retention_days: int) -> Plan | None:
    """The decisions that answer rows of this batch, or ``None`` when none does (no store, or
    no input with a live decision younger than ``retention_days``)."""
    table = answers(store_file)
    if not len(table):
        return None
    oldest = store.now() - dt.timedelta(days=retention_days)
    found: dict[int, Confirmation] = {}
    for i, p in enumerate(parsed):
        if p.invalid_reason:
            continue
        c = table.get(keys.input_key(p))
        if c is not None and c.decided_at >= oldest and (c.confirms or c.holds):
            found[i] = c
    if not found:
        return None
    to_check = [i for i, c in found.items() if c.confirms and c.result.get("precision") in CHECKED_PRECISIONS]
    extra = parse_batch([found[i].text for i in to_check], [found[i].result.get("country") for i in to_check])
    return Plan(len(parsed), found, {i: j for j, i in enumerate(to_check)}, extra, {}, set())


def _worst(level: str, severity: str) -> str:
    return level if SEVERITY_RANK[level] >= SEVERITY_RANK[severity] else severity


def _disagreement(c: Confirmation, now: MatchResult) -> str | None:
    """What the gazetteer says now, in words, when it no longer finds the confirmed address
    where the operator confirmed it; ``None`` when it agrees."""
    was = c.result
    if now.status not in _LIVE_STATUS or now.precision not in CHECKED_PRECISIONS:
        return f"finds no such address ({now.status}, located only to {now.precision.replace('_', ' ')})"
    same = (now.house_number == was.get("house_number") and name_key(now.street_name) == name_key(was.get(
        "street_name")) and (now.postal_code or "")[:keys.ZIP5] == (was.get("postal_code") or "")[:keys.ZIP5])
    if not same:
        return "matches it to another address"
    if was.get("precision") == Precision.DELIVERY_POINT.value:
        return None  # the confirmed point is where drivers delivered, not the gazetteer's: nothing to compare
    if None in (now.lat, now.lon, was.get("lat"), was.get("lon")):
        return "has no point for it"
    d = float(distance_m(np.float64(now.lon), np.float64(now.lat), np.float64(was["lon"]), np.float64(was["lat"])))
    if d > AGREE_M:
        return f"places it {d:,.0f} m from the confirmed point"
    return None


def _confirmed(c: Confirmation, check: MatchResult) -> MatchResult:
    """The confirmed result as a match result: its address and point as confirmed; the facts
    the risk rules read about the place (ZIP, time zone, units) from today's gazetteer (its
    match of the confirmed address, or of the input when that was not checked)."""
    was = c.result
    r = MatchResult(
        zip_type=check.zip_type, zip_active=check.zip_active, timezone=check.timezone, n_units=check.n_units,
        has_base=check.has_base, unit_known=check.unit_known, coverage_gap=check.coverage_gap)
    for f in ("house_number", "predirectional", "street_name", "street_type", "postdirectional", "unit_type", "unit",
              "city", "state", "postal_code", "country"):
        setattr(r, f, was.get(f))
    r.status = MatchStatus.MATCHED.value
    r.precision = was.get("precision") or Precision.NONE.value
    # the matcher's confidence in the confirmed address itself when it was checked today (an
    # accepted ambiguous match is no longer ambiguous), else the one it had when confirmed
    checked = check is not None and check.status == MatchStatus.MATCHED.value and c.result.get(
        "precision") in CHECKED_PRECISIONS
    r.confidence = float(check.confidence if checked else was.get("confidence") or 0.0)
    r.lat, r.lon = was.get("lat"), was.get("lon")
    r.corrections = [CONFIRMED]
    return r
