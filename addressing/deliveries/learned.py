"""What a cleaning process has learned from deliveries, and the hook that applies it.

Per delivery point (``risk.address_key`` of the cleaned result: address and unit) the store
gives the robust centre of its successful drops and its recent failed attempts; a process
keeps both in memory (read again when the store file changes, or the day turns: the windows
are counted in days), so a lookup is a dict get.

``apply`` is what ``pipeline.clean_table`` calls between match and assess:

- a matched order whose delivery point has a drop centre is placed there, with precision
  ``delivery_point`` (above ``address_point``: where drivers really left parcels, not the
  rooftop point); an ambiguous or invalid one is not (its point is not known to be this one);
- every order gets the failed attempts at its point in the policy's ``failed_before`` window,
  for the rule to judge.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from pathlib import Path

from addressing.confirmations import store as decisions_store
from addressing.deliveries import store
from addressing.schema import MatchStatus, Precision

#: statuses whose delivery point is the order's own
_PLACED = (MatchStatus.MATCHED.value,)


@dataclass(frozen=True)
class Learned:
    """Drop centres ``point key -> (lat, lon, drops)`` and failures ``point key -> [(day, reason)]``."""

    centres: dict[str, tuple[float, float, int]]
    failed: dict[str, list[tuple[str, str | None]]]

    def __bool__(self) -> bool:
        return bool(self.centres or self.failed)

    def apply(self, keys: list[str | None], facts: dict[str, list]) -> int:
        """Place matched rows at their drop centres and add ``facts["failures"]`` (in place);
        returns how many rows were placed."""
        placed = 0
        for i, k in enumerate(keys):
            c = self.centres.get(k) if k is not None else None
            if c is not None and facts["status"][i] in _PLACED:
                facts["lat"][i], facts["lon"][i] = c[0], c[1]
                facts["precision"][i] = Precision.DELIVERY_POINT.value
                placed += 1
        facts["failures"] = [self.failed.get(k) if k is not None else None for k in keys]
        return placed


_NOTHING = Learned({}, {})
_copies: dict[tuple, Learned] = {}
_copies_lock = threading.Lock()


def learned(path: Path, retention_days: int, failure_days: int) -> Learned:
    """The store's drop centres (from drops of the last ``retention_days``) and failures (of
    the last ``failure_days``), from this process's copy when the file has not changed."""
    stamp = decisions_store.file_stamp(path)
    if stamp is None:
        return _NOTHING
    today = decisions_store.now().date()
    key = (str(path), stamp, today, retention_days, failure_days)
    got = _copies.get(key)
    if got is not None:
        return got
    with _copies_lock:
        got = _copies.get(key)
        if got is not None:
            return got
        start = dt.datetime.combine(today, dt.time())
        centres_t = store.drop_points(path, start - dt.timedelta(days=retention_days))
        failed_t = store.failures(path, start - dt.timedelta(days=failure_days))
        centres = {} if centres_t is None else {
            k: (la, lo, n) for k, la, lo, n in zip(*(centres_t.column(c).to_pylist()
                                                    for c in ("point_key", "lat", "lon", "drops")))}
        failed = {} if failed_t is None else {
            k: [(f["day"], f["reason"]) for f in fs] for k, fs in zip(failed_t.column("point_key").to_pylist(),
                                                                        failed_t.column("failures").to_pylist())}
        got = Learned(centres, failed) if centres or failed else _NOTHING
        for old in [k for k in _copies if k[0] == key[0]]:
            del _copies[old]
        _copies[key] = got
        return got
