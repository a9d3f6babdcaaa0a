"""Interpolation error on real streets: pelias/interpolation's Willow Ave (Hoboken) and W 26th St
(Manhattan) sets: OSM centrelines (encoded polylines, precision 6) + OpenAddresses points.

    .venv/bin/python benchmarks/interpolation.py

Each address point is assigned to the nearest centreline of its street (within 60 m; the
polyline files also hold other towns' Willow Avenues and a Vancouver W 26th St). Two ways to
put a number on the line (pure maths, NaN = "no answer"), the first as the product does it in
``addressing.geocode``, the second with ``pelias_geometry.py`` beside this script:

- ``ranges``: TIGER-style segments. For each line and side, the numbers at the line's two ends
  are fitted (least squares of number against position along the line) from the points on that
  side *other than the one being placed* (leave-one-out), then ``interpolate_on_segments``.
- ``vertices``: pelias-style. Each other point of the same line, side and parity is a known
  (number, position) vertex; the number is placed between the nearest known numbers below and
  above it (``interpolate_between_vertices``).

Each is run with the default offset to the side of the street (``geocode.DEFAULT_OFFSET_M``,
what the matcher uses on TIGER ranges) and with the street's own setback (the leave-one-out
mean distance of the other addresses on that side from the centreline). A number outside what
the other points span gets no answer (counted, never extrapolated).
The error is the distance from the interpolated position to the address's real point (the mean
of its rows: OA repeats an address once per building entrance).
"""

from __future__ import annotations

import csv
import os
import re
import sys
from pathlib import Path

import numpy as np
import shapely

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

import pelias_geometry  # noqa: E402  (beside this script)

from addressing import geocode  # noqa: E402

SETS = ("willow_ave", "west26th")
ASSIGN_M = 60.0
_NUMBER = re.compile(r"^\s*(\d+)")


def realdata() -> Path:
    return Path(os.environ.get("ADDRESSING_REALDATA") or PROJECT.parent / "shared" / "data")


def read_lines(path: Path) -> list:
    """``<polyline>\\0<name>`` per line -> shapely LineStrings (lon, lat)."""
    lines = []
    for row in path.read_text(encoding="utf-8").splitlines():
        enc = row.split("\0", 1)[0]
        coords = pelias_geometry.decode_polyline(enc, precision=6)
        if len(coords) >= 2:
            lines.append(shapely.LineString(coords))
    return lines


def read_points(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows with a number: integer number (``1016-18`` -> 1016), lon, lat, the number as written."""
    num, lon, lat, raw = [], [], [], []
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            m = _NUMBER.match(row["NUMBER"] or "")
            if m:
                num.append(int(m.group(1)))
                lon.append(float(row["LON"]))
                lat.append(float(row["LAT"]))
                raw.append(row["NUMBER"].split(" ")[0])
    return np.asarray(num, float), np.asarray(lon), np.asarray(lat), np.asarray(raw, dtype=object)


def distinct(line_ix, num, lon, lat, raw) -> tuple[np.ndarray, ...]:
    """One row per (line, number as written): OA repeats an address once per entrance, and
    the same number exists on other towns' Willow Avenues."""
    keys = np.asarray([f"{a}|{r}" for a, r in zip(line_ix, raw)])
    uniq, inv = np.unique(keys, return_inverse=True)
    count = np.bincount(inv)
    first = np.zeros(len(uniq), int)
    first[inv[::-1]] = np.arange(len(inv))[::-1]
    return (line_ix[first], num[first], np.bincount(inv, lon) / count, np.bincount(inv, lat) / count, raw[first])


def assign(lines: list, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Index of the nearest line within ASSIGN_M metres, -1 for none (one STRtree query)."""
    tree = shapely.STRtree(lines)
    pts = shapely.points(lon, lat)
    idx = tree.query_nearest(pts, all_matches=False, return_distance=False)
    out = np.full(len(lon), -1)
    out[idx[0]] = idx[1]
    near = shapely.shortest_line(np.asarray(lines, dtype=object)[np.maximum(out, 0)], pts)
    a, b = shapely.get_point(near, 0), shapely.get_point(near, 1)
    d = geocode.distance_m(shapely.get_x(a), shapely.get_y(a), shapely.get_x(b), shapely.get_y(b))
    out[d > ASSIGN_M] = -1
    return out


def by_ranges(line_ix, frac, side, num) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Leave-one-out least-squares range per (line, side): the start and end numbers."""
    n = len(num)
    start = np.full(n, np.nan)
    end = np.full(n, np.nan)
    group = np.asarray([f"{a}|{s}" for a, s in zip(line_ix, side)])
    for g in np.unique(group):
        ix = np.flatnonzero(group == g)
        f, y = frac[ix], num[ix]
        s1, sf, sy, sff, sfy = len(ix), f.sum(), y.sum(), (f * f).sum(), (f * y).sum()
        # sums without each point in turn
        k = s1 - 1
        if k < 2:
            continue
        lf, ly, lff, lfy = sf - f, sy - y, sff - f * f, sfy - f * y
        den = k * lff - lf * lf
        with np.errstate(invalid="ignore", divide="ignore"):
            slope = np.where(np.abs(den) > 1e-12, (k * lfy - lf * ly) / den, np.nan)
        icpt = (ly - slope * lf) / k
        start[ix], end[ix] = icpt, icpt + slope
    return start, end, group


def setbacks(line_ix, side, perp) -> np.ndarray:
    """Leave-one-out mean distance of the other addresses of the same line and side from the
    centreline (how far back this street's buildings stand); the default offset when alone."""
    group = np.asarray([f"{a}|{s}" for a, s in zip(line_ix, side)])
    _, inv = np.unique(group, return_inverse=True)
    total = np.bincount(inv, perp)[inv]
    count = np.bincount(inv)[inv]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 1, (total - perp) / (count - 1), geocode.DEFAULT_OFFSET_M)


def by_vertices(line_ix, frac, side, num) -> tuple[np.ndarray, ...]:
    """Nearest other numbers below and above on the same line, side and parity."""
    n = len(num)
    lo_n, lo_f, hi_n, hi_f = (np.full(n, np.nan) for _ in range(4))
    for i in range(n):
        same = (line_ix == line_ix[i]) & (side == side[i]) & (num % 2 == num[i] % 2)
        same[i] = False
        below = np.flatnonzero(same & (num < num[i]))
        above = np.flatnonzero(same & (num > num[i]))
        if below.size and above.size:
            b = below[np.argmax(num[below])]
            a = above[np.argmin(num[above])]
            lo_n[i], lo_f[i], hi_n[i], hi_f[i] = num[b], frac[b], num[a], frac[a]
    return lo_n, lo_f, hi_n, hi_f


def prepare(name: str, data: Path) -> tuple:
    """The set's centrelines and distinct addresses, each on its line: (lines, rows read, rows
    near a line, line index, number, lon, lat, number as written, line per address, fraction, side)."""
    folder = data / "pelias_interpolation"
    lines = read_lines(folder / f"{name}_osm.polylines")
    num, lon, lat, raw = read_points(folder / f"{name}_oa.csv")
    line_ix = assign(lines, lon, lat)
    on = line_ix >= 0
    n_rows = len(num)
    line_ix, num, lon, lat, raw = distinct(line_ix[on], num[on], lon[on], lat[on], raw[on])
    L = np.asarray(lines, dtype=object)[line_ix]
    frac, side = pelias_geometry.locate_on_lines(L, lon, lat)
    return lines, n_rows, int(on.sum()), line_ix, num, lon, lat, raw, L, frac, side


def range_errors(data: Path) -> np.ndarray:
    """Errors (m) of the TIGER-style range interpolation with the default offset, both sets
    (NaN: no answer). Used by ``match_accuracy.py --fit`` for the range calibration map."""
    out = []
    for name in SETS:
        _, _, _, line_ix, num, lon, lat, _, L, frac, side = prepare(name, data)
        start, end, _ = by_ranges(line_ix, frac, side, num)
        x, y = geocode.interpolate_on_segments(L, num, start, end, side)
        out.append(geocode.distance_m(x, y, lon, lat))
    return np.concatenate(out)


def run_set(name: str, data: Path) -> None:
    lines, n_rows, n_on, line_ix, num, lon, lat, raw, L, frac, side = prepare(name, data)
    print(f"\n== {name}: {len(lines)} centrelines; {n_rows:,} OA rows, {n_on:,} within {ASSIGN_M:.0f} m of one"
          f" -> {len(num):,} distinct addresses (hyphenated, read by their first number: {sum('-' in r for r in raw)})")
    plon, plat = geocode.point_at(L, frac, side, offset_m=0.0)
    offset = setbacks(line_ix, side, geocode.distance_m(plon, plat, lon, lat))
    start, end, _ = by_ranges(line_ix, frac, side, num)
    lo_n, lo_f, hi_n, hi_f = by_vertices(line_ix, frac, side, num)
    print(f"{'method':<10} {'offset':<22} {'answered':>9} {'no answer':>10} {'median m':>9} {'p75 m':>7}"
          f" {'p90 m':>7} {'p95 m':>7}")
    for label, off_label, off in (("ranges", f"{geocode.DEFAULT_OFFSET_M:.0f} m (default)", geocode.DEFAULT_OFFSET_M),
                                  ("ranges", "street's setback", offset),
                                  ("vertices", f"{geocode.DEFAULT_OFFSET_M:.0f} m (default)", geocode.DEFAULT_OFFSET_M),
                                  ("vertices", "street's setback", offset)):
        if label == "ranges":
            x, y = geocode.interpolate_on_segments(L, num, start, end, side, offset_m=off)
        else:
            x, y = pelias_geometry.interpolate_between_vertices(L, num, lo_n, lo_f, hi_n, hi_f, side, offset_m=off)
        err = geocode.distance_m(x, y, lon, lat)
        ok = ~np.isnan(err)
        e = err[ok]
        print(f"{label:<10} {off_label:<22} {ok.sum():>9,} {(~ok).sum():>10,} {np.median(e):>9.1f}"
              f" {np.percentile(e, 75):>7.1f} {np.percentile(e, 90):>7.1f} {np.percentile(e, 95):>7.1f}")
    print(f"(addresses stand a median {np.median(geocode.distance_m(plon, plat, lon, lat)):.1f} m from the centreline)")


def main() -> int:
    data = realdata()
    if not (data / "pelias_interpolation").is_dir():
        print(f"no real data at {data} (set ADDRESSING_REALDATA)", file=sys.stderr)
        return 2
    for name in SETS:
        run_set(name, data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
