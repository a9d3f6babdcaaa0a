"""The interpolation benchmark's street geometry (``benchmarks/pelias_geometry.py``): polylines,
points located on lines, numbers placed between known vertices; on pelias's real sets where
ADDRESSING_REALDATA is set."""

from __future__ import annotations

import csv
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import pelias_geometry as pg  # noqa: E402

from addressing import geocode  # noqa: E402

NORTH = shapely.LineString([(-86.0, 32.0), (-86.0, 32.001)])   # ~111 m, walking north


def test_interpolate_between_vertices():
    lon, lat = pg.interpolate_between_vertices([NORTH] * 3, [20, 30, 41], [10] * 3, [0.2] * 3, [40] * 3,
                                                    [0.8] * 3, [None] * 3, offset_m=0.0)
    assert lat[0] == pytest.approx(32.0 + 0.001 * 0.4, abs=1e-9)
    assert lat[1] == pytest.approx(32.0 + 0.001 * 0.6, abs=1e-9)
    assert np.isnan(lat[2])


def test_locate_on_lines_inverts_point_at():
    lines = np.asarray([NORTH] * 4, dtype=object)
    frac = np.array([0.1, 0.4, 0.6, 0.9])
    sides = ["L", "R", "L", "R"]
    lon, lat = geocode.point_at(lines, frac, sides, offset_m=12.0)
    back, back_sides = pg.locate_on_lines(lines, lon, lat)
    assert back == pytest.approx(frac, abs=1e-6)
    assert list(back_sides) == sides


def test_decode_polyline_reference_and_precision():
    # Google's documented example, precision 5
    assert pg.decode_polyline("_p~iF~ps|U_ulLnnqC_mqNvxq`@", precision=5) == [
        (-120.2, 38.5), (-120.95, 40.7), (-126.453, 43.252)]
    # the same deltas read at precision 6 are ten times smaller
    assert pg.decode_polyline("_p~iF~ps|U", precision=6) == [(-12.02, 3.85)]
    assert pg.decode_polyline("") == []
    with pytest.raises(ValueError):
        pg.decode_polyline("_p~iF~ps|")


# --------------------------------------------------------------------------- real data


def _pelias(real, name):
    folder = real / "pelias_interpolation"
    lines = []
    for row in (folder / f"{name}_osm.polylines").read_text(encoding="utf-8").splitlines():
        coords = pg.decode_polyline(row.split("\0", 1)[0], precision=6)
        if len(coords) >= 2:
            lines.append(shapely.LineString(coords))
    with open(folder / f"{name}_oa.csv", newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["NUMBER"][:1].isdigit()]
    return lines, rows


def test_pelias_polylines_are_precision_6(real):
    lines, rows = _pelias(real, "willow_ave")
    lon = np.asarray([float(r["LON"]) for r in rows])
    lat = np.asarray([float(r["LAT"]) for r in rows])
    tree = shapely.STRtree(lines)
    _, dist = tree.query_nearest(shapely.points(lon, lat), return_distance=True, all_matches=False)
    # at precision 6 the Hoboken centrelines run through the points (tens of metres away)
    assert np.median(dist) * 111_000 < 60
    coords = np.asarray([c for line in lines for c in line.coords])
    assert (np.abs(coords[:, 0]) <= 180).all() and (np.abs(coords[:, 1]) <= 90).all()


def test_pelias_west26th_interpolation_error(real):
    """Each address placed between the nearest other numbers on its line and side (no answer
    outside them): median error under 25 m."""
    lines, rows = _pelias(real, "west26th")
    num = np.asarray([int(r["NUMBER"].split("-")[0]) for r in rows], float)
    lon = np.asarray([float(r["LON"]) for r in rows])
    lat = np.asarray([float(r["LAT"]) for r in rows])
    tree = shapely.STRtree(lines)
    idx = tree.query_nearest(shapely.points(lon, lat), all_matches=False)[1]
    L = np.asarray(lines, dtype=object)[idx]
    frac, side = pg.locate_on_lines(L, lon, lat)
    lo_n, lo_f, hi_n, hi_f = (np.full(len(num), np.nan) for _ in range(4))
    for i in range(len(num)):
        same = (idx == idx[i]) & (side == side[i])
        same[i] = False
        below = np.flatnonzero(same & (num < num[i]))
        above = np.flatnonzero(same & (num > num[i]))
        if below.size and above.size:
            b, a = below[np.argmax(num[below])], above[np.argmin(num[above])]
            lo_n[i], lo_f[i], hi_n[i], hi_f[i] = num[b], frac[b], num[a], frac[a]
    x, y = pg.interpolate_between_vertices(L, num, lo_n, lo_f, hi_n, hi_f, side)
    err = geocode.distance_m(x, y, lon, lat)
    answered = ~np.isnan(err)
    assert answered.sum() >= 0.9 * len(num)
    assert np.median(err[answered]) < 25
    # no answer is given where the number is outside its neighbours
    assert math.isnan(err[np.argmax(num)]) or not np.isnan(hi_n[np.argmax(num)])
