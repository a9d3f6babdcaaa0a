"""Street geometry for the interpolation benchmark (pelias/interpolation's Hoboken and
Manhattan sets): decode their encoded polylines, locate address points on the lines, and place
a number between the two known numbers either side of it (pelias's vertex method).

Only ``benchmarks/interpolation.py`` (and its tests) use these; the product interpolates with
``addressing.geocode`` alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely

from addressing import geocode


def locate_on_lines(lines: Sequence, lon: Sequence[float], lat: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Where each point projects on its line: (fraction 0..1 from the first vertex, side
    ``"L"``/``"R"``, walking from the first vertex). The inverse of ``geocode.point_at``."""
    lines = np.asarray(lines, dtype=object)
    if lines.size == 0:
        return np.array([]), np.array([], dtype=object)
    lon = np.asarray(lon, float)
    lat = np.asarray(lat, float)
    pts = shapely.points(lon, lat)
    frac = shapely.line_locate_point(lines, pts, normalized=True)
    lengths = shapely.length(lines)
    dist = frac * lengths
    eps = np.maximum(lengths * 1e-3, 1e-7)
    a = shapely.line_interpolate_point(lines, np.clip(dist - eps, 0, lengths))
    b = shapely.line_interpolate_point(lines, np.clip(dist + eps, 0, lengths))
    coslat = np.cos(np.radians(lat))
    dx = (shapely.get_x(b) - shapely.get_x(a)) * coslat
    dy = shapely.get_y(b) - shapely.get_y(a)
    px = (lon - shapely.get_x(a)) * coslat
    py = lat - shapely.get_y(a)
    cross = dx * py - dy * px
    return frac, np.where(cross >= 0, "L", "R").astype(object)


def decode_polyline(text: str, precision: int = 6) -> list[tuple[float, float]]:
    """Google encoded polyline -> [(lon, lat), ...]. OSM exports for pelias/interpolation use
    precision 6 (1e-6 degrees); Google's own default is 5.

    >>> decode_polyline("_p~iF~ps|U_ulLnnqC_mqNvxq`@", precision=5)
    [(-120.2, 38.5), (-120.95, 40.7), (-126.453, 43.252)]
    >>> decode_polyline("")
    []
    """
    coords: list[tuple[float, float]] = []
    index = lat = lon = 0
    factor = 10.0 ** precision
    n = len(text)
    while index < n:
        deltas = []
        for _ in range(2):
            shift = result = 0
            while True:
                if index >= n:
                    raise ValueError(f"truncated polyline at character {index}")
                b = ord(text[index]) - 63
                index += 1
                result |= (b & 0x1F) << shift
                shift += 5
                if b < 0x20:
                    break
            deltas.append(~(result >> 1) if result & 1 else result >> 1)
        lat += deltas[0]
        lon += deltas[1]
        coords.append((round(lon / factor, precision), round(lat / factor, precision)))
    return coords


def interpolate_between_vertices(
    lines: Sequence,
    numbers: Sequence[float],
    lo_n: Sequence[float],
    lo_frac: Sequence[float],
    hi_n: Sequence[float],
    hi_frac: Sequence[float],
    sides: Sequence[str | None],
    offset_m: float | np.ndarray = geocode.DEFAULT_OFFSET_M,
) -> tuple[np.ndarray, np.ndarray]:
    """Position of each number between the two known numbers either side of it, each known
    by where it lies along the line (``*_frac``, 0..1 from the first vertex), as
    pelias/interpolation does with the address points projected on a street; NaN outside.

    >>> import shapely
    >>> line = shapely.LineString([(-74.0, 40.0), (-74.0, 40.002)])
    >>> lat = interpolate_between_vertices([line], [20], [10], [0.0], [30], [0.5], [None])[1]
    >>> round(float(lat[0]), 4)
    40.0005
    """
    lines = np.asarray(lines, dtype=object)
    if lines.size == 0:
        return np.array([]), np.array([])
    t = geocode.range_fraction(numbers, lo_n, hi_n)
    lo_frac = np.asarray(lo_frac, float)
    frac = lo_frac + t * (np.asarray(hi_frac, float) - lo_frac)
    return geocode.point_at(lines, frac, sides, offset_m)
