"""Geocoding maths: ranges, interpolation along lines and between address points, distances.
(The benchmark's own street geometry: tests/benchmarks/test_bench_pelias_geometry.py.)"""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from addressing import geocode

NORTH = shapely.LineString([(-86.0, 32.0), (-86.0, 32.001)])   # ~111 m, walking north


def test_range_fraction_inside_outside_and_reversed():
    frac = geocode.range_fraction([100, 150, 198, 99, 200], [100] * 5, [198] * 5)
    assert frac[:3] == pytest.approx([0.0, 50 / 98, 1.0])
    assert np.isnan(frac[3:]).all()
    # ranges may run down the line
    assert geocode.range_fraction([150], [198], [100])[0] == pytest.approx(48 / 98)
    # a one-number range sits mid-segment
    assert geocode.range_fraction([7], [7], [7])[0] == 0.5


def test_range_fraction_nan_and_empty():
    assert np.isnan(geocode.range_fraction([np.nan], [1], [9])[0])
    assert geocode.range_fraction([], [], []).size == 0


def test_interpolate_on_segments_position_and_side():
    lon, lat = geocode.interpolate_on_segments([NORTH] * 3, [150, 150, 150], [100] * 3, [200] * 3, ["L", "R", None],
                                               offset_m=10.0)
    assert lat == pytest.approx([32.0005] * 3, abs=1e-7)
    # walking north, left is west (smaller longitude), right is east
    assert lon[0] < -86.0 < lon[1]
    assert lon[2] == pytest.approx(-86.0)
    d = geocode.distance_m(lon[:2], lat[:2], [-86.0, -86.0], lat[:2])
    assert d == pytest.approx([10.0, 10.0], rel=1e-3)


def test_interpolate_on_segments_says_no_answer_outside_the_range():
    lon, lat = geocode.interpolate_on_segments([NORTH, NORTH], [99, 201], [100, 100], [200, 200], ["L", "L"])
    assert np.isnan(lon).all() and np.isnan(lat).all()


def test_interpolate_on_segments_empty():
    lon, lat = geocode.interpolate_on_segments([], [], [], [], [])
    assert lon.size == 0 and lat.size == 0


def test_offset_per_line():
    lon, _ = geocode.point_at(np.asarray([NORTH, NORTH], dtype=object), np.array([0.5, 0.5]), ["R", "R"],
                              offset_m=np.array([5.0, 20.0]))
    east = geocode.distance_m(lon, [32.0005] * 2, [-86.0] * 2, [32.0005] * 2)
    assert east == pytest.approx([5.0, 20.0], rel=1e-3)


def test_interpolate_between_points_no_answer_outside():
    lon, lat = geocode.interpolate_between_points(np.array([15.0, 25.0]), np.array([10.0, 10.0]),
                                                  np.array([0.0, 0.0]), np.array([0.0, 0.0]),
                                                  np.array([20.0, 20.0]), np.array([1.0, 1.0]),
                                                  np.array([1.0, 1.0]))
    assert (lon[0], lat[0]) == pytest.approx((0.5, 0.5))
    assert np.isnan(lon[1])


def test_distance_m():
    assert geocode.distance_m(0, 0, 0, 1) == pytest.approx(111_195, rel=1e-3)
    assert geocode.distance_m(-122.4, 37.7, -122.4, 37.7) == 0
    assert np.isnan(geocode.distance_m(np.nan, 0, 0, 0))
