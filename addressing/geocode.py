"""Geocoding: interpolation along street segments and between address points, and the
precision ladder (``precision_ladder``: which evidence places an address, at which precision).

Pure functions over arrays, no I/O. Outside the known range they answer "nothing" (NaN)
rather than extrapolate.

>>> import shapely
>>> line = shapely.LineString([(-86.0, 32.0), (-86.0, 32.001)])
>>> lon, lat = interpolate_on_segments([line], [100], [100], [198], ["R"], offset_m=0.0)
>>> round(float(lat[0]), 6)
32.0
>>> interpolate_on_segments([], [], [], [], [])[0].size
0
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely

from addressing.schema import Precision

EARTH_RADIUS_M = 6_371_008.8
EARTH_M_PER_DEG = EARTH_RADIUS_M * np.pi / 180   # ~111,195 m: the same sphere as distance_m
DEFAULT_OFFSET_M = 8.0


def range_fraction(number: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Where ``number`` sits between ``start`` and ``end`` (0..1), NaN when outside."""
    number = np.asarray(number, dtype=float)
    start = np.asarray(start, dtype=float)
    end = np.asarray(end, dtype=float)
    span = end - start
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(span == 0, 0.5, (number - start) / np.where(span == 0, 1, span))
    return np.where((frac >= 0) & (frac <= 1), frac, np.nan)


def interpolate_on_segments(
    lines: Sequence,
    numbers: Sequence[float],
    starts: Sequence[float],
    ends: Sequence[float],
    sides: Sequence[str | None],
    offset_m: float | np.ndarray = DEFAULT_OFFSET_M,
) -> tuple[np.ndarray, np.ndarray]:
    """Position of each house number along its segment, set ``offset_m`` to its side.

    ``starts``/``ends`` are the range's numbers at the line's first and last vertex;
    ``sides`` is ``"L"``/``"R"`` (walking from first to last vertex) or ``None`` when unknown.
    NaN where the number is outside its range.
    """
    lines = np.asarray(lines, dtype=object)
    if lines.size == 0:
        return np.array([]), np.array([])
    return point_at(lines, range_fraction(numbers, starts, ends), sides, offset_m)


def point_at(lines: np.ndarray, frac: np.ndarray, sides: Sequence[str | None],
             offset_m: float | np.ndarray = DEFAULT_OFFSET_M) -> tuple[np.ndarray, np.ndarray]:
    """The point at ``frac`` (0..1) along each line, moved ``offset_m`` (one value, or one per
    line) to the left (``"L"``) or right (``"R"``) of it; NaN where ``frac`` is NaN."""
    frac = np.asarray(frac, float)
    ok = ~np.isnan(frac)
    frac_safe = np.where(ok, frac, 0.5)
    lengths = shapely.length(lines)
    pts = shapely.line_interpolate_point(lines, frac_safe, normalized=True)
    eps = np.maximum(lengths * 1e-3, 1e-7)
    dist = frac_safe * lengths
    a = shapely.line_interpolate_point(lines, np.clip(dist - eps, 0, lengths))
    b = shapely.line_interpolate_point(lines, np.clip(dist + eps, 0, lengths))
    x, y = shapely.get_x(pts), shapely.get_y(pts)
    coslat = np.cos(np.radians(y))
    dx = (shapely.get_x(b) - shapely.get_x(a)) * coslat
    dy = shapely.get_y(b) - shapely.get_y(a)
    norm = np.hypot(dx, dy)
    norm = np.where(norm == 0, 1, norm)
    sign = np.array([1.0 if s == "L" else -1.0 if s == "R" else 0.0 for s in sides])
    off_deg = np.asarray(offset_m, float) / EARTH_M_PER_DEG
    # left normal of (dx, dy) is (-dy, dx)
    ox = sign * (-dy / norm) * off_deg / np.where(coslat == 0, 1, coslat)
    oy = sign * (dx / norm) * off_deg
    lon = np.where(ok, x + ox, np.nan)
    lat = np.where(ok, y + oy, np.nan)
    return lon, lat


def interpolate_between_points(
    number: np.ndarray, lo_n: np.ndarray, lo_lon: np.ndarray, lo_lat: np.ndarray,
    hi_n: np.ndarray, hi_lon: np.ndarray, hi_lat: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Linear position of ``number`` between the two nearest numbered points of its street
    (same parity), as pelias/interpolation does for point-only streets; NaN when outside."""
    frac = range_fraction(number, lo_n, hi_n)
    lon = np.asarray(lo_lon, float) + frac * (np.asarray(hi_lon, float) - np.asarray(lo_lon, float))
    lat = np.asarray(lo_lat, float) + frac * (np.asarray(hi_lat, float) - np.asarray(lo_lat, float))
    return lon, lat


def distance_m(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Great-circle distance in metres (haversine), elementwise."""
    lon1, lat1, lon2, lat2 = (np.radians(np.asarray(v, dtype=float)) for v in (lon1, lat1, lon2, lat2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def precision_ladder(exact: np.ndarray, base: np.ndarray, has_range: np.ndarray, has_nbr: np.ndarray,
                     pt_lat: np.ndarray, pt_lon: np.ndarray, rng_lat: np.ndarray, rng_lon: np.ndarray,
                     nb_lat: np.ndarray, nb_lon: np.ndarray, street_lat: np.ndarray, street_lon: np.ndarray,
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each address is placed and at which precision, by the best evidence it has
    (aligned arrays, one row per address), best first:

    1. an address point of the number as written (``exact``): ``address_point``, at the point;
    2. an address point of its integer part (``base``: ``1016-18`` at ``1016``): ``interpolated``,
       at that point;
    3. a TIGER range holding the number: ``interpolated``, along the range (``rng_*``);
    4. numbered points either side of it on its street: ``interpolated``, between them (``nb_*``);
    5. otherwise ``street``, at the street's centroid; never a made-up point.

    Returns ``(lat, lon, precision)``.

    >>> no, yes = np.array([False]), np.array([True])
    >>> nan = np.array([np.nan])
    >>> precision_ladder(no, no, yes, no, nan, nan, np.array([32.5]), np.array([-86.5]), nan, nan,
    ...                  np.array([32.4]), np.array([-86.4]))[2].tolist()
    ['interpolated']
    >>> precision_ladder(*[np.array([], bool)] * 4, *[np.array([])] * 8)[2].size
    0
    """
    has_point = exact | base
    lat = np.where(has_point, pt_lat, np.where(has_range, rng_lat, np.where(has_nbr, nb_lat, street_lat)))
    lon = np.where(has_point, pt_lon, np.where(has_range, rng_lon, np.where(has_nbr, nb_lon, street_lon)))
    precision = np.where(exact, Precision.ADDRESS_POINT.value,
                np.where(base | has_range | has_nbr, Precision.INTERPOLATED.value, Precision.STREET.value))
    return lat, lon, precision
