"""Service areas and high-risk zones: polygons from GeoJSON, tested with one STRtree query
over all the batch's points.

Every layer (service areas, risk zones) goes into one tree; a polygon remembers its layer and
its reason, so one query answers both rules.

>>> z = Zones.from_features([{"type": "Feature", "properties": {"reason": "theft"},
...     "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}}])
>>> z.containing([0.5, 5.0, float("nan")], [0.5, 5.0, float("nan")])
[['theft'], [], []]
>>> z.containing([], [])
[]
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely

from addressing.errors import ConfigError

#: a delivery zone entirely south of this latitude is taken for (lat, lon) written as (lon, lat):
#: any place in the Americas, swapped, lands there (or beyond -90)
SWAPPED_SOUTH_OF = -60.0


@dataclass
class Zones:
    polygons: np.ndarray
    reasons: list[str]
    layers: np.ndarray
    tree: shapely.STRtree

    @classmethod
    def from_features(cls, features: list, source: str = "<features>", layer: int = 0) -> Zones:
        """Polygons of GeoJSON features; raises ConfigError naming the feature on any problem."""
        polys, reasons = [], []
        for i, feat in enumerate(features):
            polys.append(_polygon(feat, i, source))
            props = (feat.get("properties") if isinstance(feat, dict) else None) or {}
            reasons.append(str(props.get("reason") or props.get("name") or "zone") if isinstance(props, dict)
                           else "zone")
        return cls.build(polys, reasons, [layer] * len(polys))

    @classmethod
    def build(cls, polygons: list, reasons: list[str], layers: list[int]) -> Zones:
        arr = np.asarray(polygons, dtype=object) if polygons else np.empty(0, dtype=object)
        return cls(arr, list(reasons), np.asarray(layers, dtype=np.int8), shapely.STRtree(arr))

    @classmethod
    def from_files(cls, paths: list[Path], layer: int = 0) -> Zones:
        """Read GeoJSON files (FeatureCollection, Feature, or bare Polygon / MultiPolygon)."""
        parts = [cls.from_features(_features(Path(p)), source=str(p), layer=layer) for p in paths]
        return cls.combine(parts)

    @classmethod
    def combine(cls, parts: list[Zones]) -> Zones:
        polys = [p for z in parts for p in z.polygons]
        return cls.build(polys, [r for z in parts for r in z.reasons], [int(x) for z in parts for x in z.layers])

    def query(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        """(point index, polygon index) of every point-in-polygon pair; NaN points hit nothing."""
        lon = np.asarray(lon, dtype=float)
        lat = np.asarray(lat, dtype=float)
        if lon.size == 0 or self.polygons.size == 0:
            return np.empty(0, np.intp), np.empty(0, np.intp)
        pts = shapely.points(lon, lat)  # NaN coordinates give empty points, which intersect nothing
        pt_idx, poly_idx = self.tree.query(pts, predicate="intersects")
        return pt_idx, poly_idx

    def containing(self, lon, lat) -> list[list[str]]:
        """For each point, the reasons of the zones that contain it."""
        out: list[list[str]] = [[] for _ in range(np.asarray(lon).size)]
        for p, z in zip(*self.query(lon, lat)):
            out[int(p)].append(self.reasons[int(z)])
        return out


def _features(path: Path) -> list:
    if not path.is_file():
        raise ConfigError("polygon file not found", path=str(path))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"invalid GeoJSON: not JSON ({exc})", path=str(path)) from exc
    kind = data.get("type") if isinstance(data, dict) else None
    if kind == "FeatureCollection":
        feats = data.get("features")
    elif kind == "Feature":
        feats = [data]
    elif kind in ("Polygon", "MultiPolygon"):
        feats = [{"type": "Feature", "properties": {}, "geometry": data}]
    else:
        raise ConfigError("invalid GeoJSON: expected a FeatureCollection, Feature, Polygon or MultiPolygon",
                          path=str(path))
    if not isinstance(feats, list):
        raise ConfigError("invalid GeoJSON: 'features' is not a list", path=str(path))
    if not feats:
        raise ConfigError("GeoJSON holds no features", path=str(path))
    return feats


def _polygon(feat, i: int, source: str):
    geom = feat.get("geometry") if isinstance(feat, dict) else None
    if not isinstance(geom, dict) or geom.get("type") not in ("Polygon", "MultiPolygon"):
        got = geom.get("type") if isinstance(geom, dict) else type(geom).__name__ if geom is not None else "nothing"
        raise ConfigError(f"feature {i} is not a Polygon or MultiPolygon (got {got})", path=source)
    try:
        shape = shapely.geometry.shape(geom)
    except (ValueError, TypeError, AttributeError, IndexError, KeyError, shapely.errors.ShapelyError) as exc:
        raise ConfigError(f"feature {i}: invalid polygon ({exc})", path=source) from exc
    if shape.is_empty:
        raise ConfigError(f"feature {i}: empty polygon", path=source)
    xmin, ymin, xmax, ymax = shape.bounds
    if not np.isfinite([xmin, ymin, xmax, ymax]).all():
        raise ConfigError(f"feature {i}: coordinates are not all numbers", path=source)
    swapped = "; coordinates look like (lat, lon) but GeoJSON wants (lon, lat)"
    if ymin < -90 or ymax > 90:
        raise ConfigError(f"feature {i}: latitude {ymin if ymin < -90 else ymax:g} outside -90..90{swapped}",
                          path=source)
    if xmin < -180 or xmax > 180:
        raise ConfigError(f"feature {i}: longitude {xmin if xmin < -180 else xmax:g} outside -180..180", path=source)
    if ymax < SWAPPED_SOUTH_OF:
        raise ConfigError(f"feature {i}: lies south of {SWAPPED_SOUTH_OF:g} degrees (Antarctica){swapped}",
                          path=source)
    if not shape.is_valid:
        shape = shapely.make_valid(shape)  # self-touching rings and the like: keep the area they mean
    return shape
