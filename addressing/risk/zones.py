"""Service areas and high-risk zones: polygons from GeoJSON, tested with one STRtree query
over all the batch's points.

>>> z = Zones.from_features([{"type": "Feature", "properties": {"reason": "theft"},
...     "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}}])
>>> z.containing([0.5, 5.0], [0.5, 5.0])
[['theft'], []]
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely

from addressing.errors import ConfigError


@dataclass
class Zones:
    polygons: np.ndarray
    reasons: list[str]
    tree: shapely.STRtree

    @classmethod
    def from_features(cls, features: list[dict], source: str = "<features>") -> Zones:
        polys, reasons = [], []
        for i, feat in enumerate(features):
            geom = feat.get("geometry") if isinstance(feat, dict) else None
            if not geom or geom.get("type") not in ("Polygon", "MultiPolygon"):
                raise ConfigError(f"feature {i} is not a Polygon or MultiPolygon", path=source)
            try:
                shape = shapely.geometry.shape(geom)
            except (ValueError, TypeError, AttributeError, IndexError) as exc:
                raise ConfigError(f"feature {i}: invalid polygon ({exc})", path=source) from exc
            xmin, ymin, xmax, ymax = shape.bounds
            if ymin < -90 or ymax > 90:
                raise ConfigError(f"feature {i}: latitude outside -90..90; coordinates look like (lat, lon) but "
                                  "GeoJSON wants (lon, lat)", path=source)
            if xmin < -180 or xmax > 180:
                raise ConfigError(f"feature {i}: longitude outside -180..180", path=source)
            if not shape.is_valid:
                shape = shapely.make_valid(shape)
            props = feat.get("properties") or {}
            polys.append(shape)
            reasons.append(str(props.get("reason") or props.get("name") or "zone"))
        arr = np.asarray(polys, dtype=object)
        return cls(arr, reasons, shapely.STRtree(arr))

    @classmethod
    def from_files(cls, paths: list[Path]) -> Zones:
        features: list[dict] = []
        for path in paths:
            if not path.is_file():
                raise ConfigError("polygon file not found", path=str(path))
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise ConfigError(f"invalid GeoJSON ({exc})", path=str(path)) from exc
            if data.get("type") == "FeatureCollection":
                feats = data.get("features")
            elif data.get("type") == "Feature":
                feats = [data]
            elif data.get("type") in ("Polygon", "MultiPolygon"):
                feats = [{"type": "Feature", "properties": {}, "geometry": data}]
            else:
                raise ConfigError("invalid GeoJSON: expected a FeatureCollection, Feature or Polygon", path=str(path))
            if not isinstance(feats, list) or not feats:
                raise ConfigError("GeoJSON holds no features", path=str(path))
            features += [f for f in feats]
            cls.from_features(feats, source=str(path))  # validate with the file's name in errors
        return cls.from_features(features)

    def containing(self, lon, lat) -> list[list[str]]:
        """For each point, the reasons of the zones that contain it (NaN points: none)."""
        lon = np.asarray(lon, dtype=float)
        lat = np.asarray(lat, dtype=float)
        out: list[list[str]] = [[] for _ in range(lon.size)]
        if lon.size == 0 or self.polygons.size == 0:
            return out
        pts = shapely.points(lon, lat)
        pt_idx, poly_idx = self.tree.query(pts, predicate="intersects")
        for p, z in zip(pt_idx, poly_idx):
            out[int(p)].append(self.reasons[int(z)])
        return out
