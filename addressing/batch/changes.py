"""What counts as a changed result when an order is cleaned again, and how a change is told.

An order cleaned again (a re-check after a gazetteer refresh) has changed when something
routing or an operator acts on is different: its match status, action, risk level or
precision, its cleaned lines, its flags (as a set: their order follows severity), or its point
by more than ``MOVE_TOLERANCE_M``. Everything else (confidence, the wording of reasons,
candidates, the gazetteer version it was cleaned with) may differ without the order changing.

    >>> old = {"match_status": "unmatched", "action": "hold", "risk_flags": ["undeliverable"], "lat": None}
    >>> new = {"match_status": "matched", "action": "deliver", "risk_flags": [], "lat": 37.77, "lon": -122.42}
    >>> changed_fields(old, new)
    ['match_status', 'action', 'point', 'risk_flags']
    >>> changed_fields(old, old)
    []
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from addressing.geocode import distance_m

#: the fields whose values are compared as they are
COMPARED = ("match_status", "action", "risk_level", "precision", "line1", "line2")
#: what an order's old and new result are told by (the compared fields, the point, the flags)
SHOWN = (*COMPARED, "lat", "lon", "risk_flags")
#: a point that moved less than this is the same point: below any distance routing acts on (a
#: house's frontage is about 10 m; the accuracy benchmark calls a point right within 25 m) and
#: far above the float noise of a point derived again from the same evidence
MOVE_TOLERANCE_M = 1.0


@dataclass(frozen=True)
class Change:
    """One order whose result changed: where it is, and its old and new ``SHOWN`` values."""

    order_id: str | None
    batch_id: str | None
    #: the cleaned output the order is in, and its row there (0-based, in input order)
    output: str
    row: int
    old: dict
    new: dict
    #: metres between the old and the new point (``None`` when either has none)
    moved_m: float | None
    flags_added: tuple[str, ...]
    flags_removed: tuple[str, ...]
    fields: tuple[str, ...]
    #: the batch's review queue was redacted: its addresses are not shown beyond the outputs
    redacted: bool = False

    def as_dict(self) -> dict:
        return {"order_id": self.order_id, "batch_id": self.batch_id, "output": self.output, "row": self.row,
                "old": self.old, "new": self.new, "moved_m": self.moved_m, "flags_added": list(self.flags_added),
                "flags_removed": list(self.flags_removed), "fields": list(self.fields), "redacted": self.redacted}


def _point(row: dict) -> tuple[float, float] | None:
    lon, lat = row.get("lon"), row.get("lat")
    if lon is None or lat is None or math.isnan(lon) or math.isnan(lat):
        return None
    return float(lon), float(lat)


def moved_m(old: dict, new: dict) -> float | None:
    """Metres between two results' points; ``None`` when either has no point."""
    a, b = _point(old), _point(new)
    if a is None or b is None:
        return None
    return float(distance_m(a[0], a[1], b[0], b[1]))


def changed_fields(old: dict, new: dict, tolerance_m: float = MOVE_TOLERANCE_M) -> list[str]:
    """The fields that differ between two results of one order (``point`` for lat/lon), in
    ``COMPARED`` order, then ``point``, then ``risk_flags``; empty when it did not change."""
    out = [f for f in COMPARED if old.get(f) != new.get(f)]
    a, b = _point(old), _point(new)
    if (a is None) != (b is None) or (a is not None and moved_m(old, new) > tolerance_m):
        out.append("point")
    if set(old.get("risk_flags") or []) != set(new.get("risk_flags") or []):
        out.append("risk_flags")
    return out


def change(old: dict, new: dict, row: int, output: str, batch_id: str | None, redacted: bool = False,
           tolerance_m: float = MOVE_TOLERANCE_M) -> Change | None:
    """The change from ``old`` to ``new`` (two results of the order in ``row`` of ``output``), or
    ``None`` when nothing routing or an operator acts on changed."""
    fields = changed_fields(old, new, tolerance_m)
    if not fields:
        return None
    was, now = old.get("risk_flags") or [], new.get("risk_flags") or []
    return Change(order_id=new.get("order_id", old.get("order_id")), batch_id=batch_id, output=output, row=row,
                  old={k: _plain(old.get(k)) for k in SHOWN}, new={k: _plain(new.get(k)) for k in SHOWN},
                  moved_m=moved_m(old, new), flags_added=tuple(f for f in now if f not in was),
                  flags_removed=tuple(f for f in was if f not in now), fields=tuple(fields), redacted=redacted)


def _plain(value):
    """A value as plain data (lists stay lists, NaN is ``None``)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    return list(value) if isinstance(value, tuple) else value
