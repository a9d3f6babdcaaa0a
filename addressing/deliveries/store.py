"""The ``deliveries`` table of the decisions store: reports kept, drop points and failures read.

The file, its locks, purge and erase are ``confirmations.store``'s; this module owns what is
asked of the deliveries in it, each as one SQL text:

- ``append``: joined reports, each kept once (its id is a digest of order, time and outcome:
  the same file or event imported twice adds nothing);
- ``drop_points``: per delivery point, the robust centre of its successful drops;
- ``failures``: per delivery point, its failed attempts in a window;
- ``accuracy``: how far our geocodes were from where drivers delivered, per precision.

A store written before deliveries existed has no such table: it reads as empty.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pyarrow as pa

from addressing.confirmations import store
from addressing.geocode import EARTH_RADIUS_M

#: a drop further than this from the median of its point's drops is an outlier (a parcel left
#: at a neighbour's, a GPS jump) and is left out of the centre (issue 17: 150 m)
OUTLIER_M = 150.0
#: successful drops a point needs, after outliers, before its centre is trusted (issue 17: 3)
MIN_DROPS = 3
#: "close enough" in the live accuracy figure: about a house frontage and a driveway
WITHIN_M = 25.0
#: hex digits of a report's id (a digest of order, time and outcome)
ID_CHARS = 16


def report_id(order_id: str, delivered_at: dt.datetime, outcome: str) -> str:
    """The id of a report: the same attempt reported twice has one id."""
    blob = f"{order_id}|{delivered_at.isoformat()}|{outcome}".encode()
    return "d-" + hashlib.sha256(blob).hexdigest()[:ID_CHARS]


def append(path: Path, rows: list[dict], imported_at: dt.datetime | None = None) -> tuple[int, int]:
    """Keep joined reports (``join.Joined.rows``) in one transaction; returns (added, already
    kept)."""
    if not rows:
        return 0, 0
    at = imported_at or store.now()
    with store.writing(path) as con:
        seq = con.execute("SELECT coalesce(max(seq), 0) FROM deliveries").fetchall()[0][0]
        ids = [report_id(r["order_id"], r["delivered_at"], r["outcome"]) for r in rows]
        known = {r[0] for r in con.execute("SELECT id FROM deliveries WHERE list_contains(?, id)", [ids]).fetchall()}
        new, seen = [], set()
        for rid, r in zip(ids, rows):
            if rid in known or rid in seen:
                continue
            seen.add(rid)
            seq += 1
            new.append({**{c: r.get(c) for c in store.DELIVERY_COLUMN_NAMES}, "seq": seq, "id": rid,
                        "imported_at": at})
        if new:
            con.register("new_rows", store.as_delivery_table(new))
            con.execute(f"INSERT INTO deliveries ({', '.join(store.DELIVERY_COLUMN_NAMES)}) SELECT * FROM new_rows")
            con.unregister("new_rows")
        return len(new), len(rows) - len(new)


def _metres(lat1: str, lon1: str, lat2: str, lon2: str) -> str:
    """SQL: metres between two points (equirectangular: exact to well under a metre at the
    hundreds of metres it is used for)."""
    return (f"{EARTH_RADIUS_M} * sqrt(pow(radians({lat2} - {lat1}), 2) + "
            f"pow(cos(radians({lat1})) * radians({lon2} - {lon1}), 2))")


#: per point: the median of its successful drops, the drops within OUTLIER_M of it, and the
#: median of those (component-wise medians: robust to a few stray drops in any direction)
_DROP_POINTS_SQL = f"""
WITH d AS (SELECT point_key, lat, lon FROM deliveries
           WHERE outcome = 'delivered' AND point_key IS NOT NULL AND lat IS NOT NULL AND delivered_at >= $since),
m AS (SELECT point_key, median(lat) AS mlat, median(lon) AS mlon FROM d GROUP BY point_key
      HAVING count(*) >= $min_drops),
k AS (SELECT d.* FROM d JOIN m USING (point_key) WHERE {_metres('m.mlat', 'm.mlon', 'd.lat', 'd.lon')} <= $outlier)
SELECT point_key, median(lat) AS lat, median(lon) AS lon, count(*) AS drops FROM k GROUP BY point_key
HAVING count(*) >= $min_drops ORDER BY point_key
"""

_FAILURES_SQL = """
SELECT point_key, list(struct_pack(day := strftime(delivered_at, '%Y-%m-%d'), reason := reason)
                       ORDER BY delivered_at DESC, id) AS failures
FROM deliveries WHERE outcome = 'failed' AND point_key IS NOT NULL AND delivered_at >= $since
GROUP BY point_key ORDER BY point_key
"""

_ACCURACY_SQL = """
SELECT geocode_precision AS precision, count(*) AS deliveries, median(distance_m) AS median_m,
       quantile_cont(distance_m, 0.9) AS p90_m, avg((distance_m <= $within)::INTEGER) AS within
FROM deliveries WHERE outcome = 'delivered' AND distance_m IS NOT NULL AND delivered_at >= $since
GROUP BY ALL ORDER BY median_m
"""


def _has_table(con) -> bool:
    return bool(con.execute("SELECT 1 FROM duckdb_tables() WHERE table_name = 'deliveries'").fetchall())


def _arrow(path: Path, sql: str, params: dict) -> pa.Table | None:
    with store.reading(path) as con:
        if con is None or not _has_table(con):
            return None
        cur = con.execute(sql, params)
        fetch = getattr(cur, "to_arrow_table", None) or cur.fetch_arrow_table
        return fetch()


def drop_points(path: Path, since: dt.datetime) -> pa.Table | None:
    """``point_key``, ``lat``, ``lon``, ``drops``: the points with at least ``MIN_DROPS``
    successful drops since ``since`` near their median (``None``: no deliveries kept)."""
    return _arrow(path, _DROP_POINTS_SQL, {"since": since, "min_drops": MIN_DROPS, "outlier": OUTLIER_M})


def failures(path: Path, since: dt.datetime) -> pa.Table | None:
    """``point_key``, ``failures`` (a list of ``{day, reason}``, newest first) of the points
    with failed attempts since ``since``."""
    return _arrow(path, _FAILURES_SQL, {"since": since})


def accuracy(path: Path, since: dt.datetime) -> list[dict]:
    """Per precision of our geocode: successful deliveries since ``since``, the median and 90th
    percentile distance from geocode to drop, and the share within ``WITHIN_M``."""
    t = _arrow(path, _ACCURACY_SQL, {"since": since, "within": WITHIN_M})
    return [] if t is None else t.to_pylist()


def counts(path: Path) -> dict[str, int]:
    """Reports kept, by outcome."""
    t = _arrow(path, "SELECT outcome, count(*) AS n FROM deliveries GROUP BY ALL", {})
    return {} if t is None else {r["outcome"]: r["n"] for r in t.to_pylist()}
