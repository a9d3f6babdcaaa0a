"""TIGER/Line address ranges -> street segments.

Two source layouts:

ADDRFEAT (https://www2.census.gov/geo/tiger/TIGER2021/ADDRFEAT/, spec: TIGER/Line technical
documentation, "Address Range-Feature Shapefile"), as the Census ships it (``tl_2021_30059_
addrfeat.zip``), the unzipped ``.shp`` set, or GeoJSON / newline GeoJSON. One record::

    {'TLID': 166706795, 'FULLNAME': 'Hwy 360', 'LFROMHN': '1101', 'LTOHN': '1199',
     'RFROMHN': '', 'RTOHN': '', 'ZIPL': '59645', 'ZIPR': '', 'PARITYL': 'O', 'PARITYR': '',
     'OFFSETL': 'N', 'OFFSETR': 'N', ...}  + a NAD83 lon/lat polyline

Nominatim's TIGER CSV (osm-search/Nominatim ``test/testdb/tiger``), one side of one range
per row, ``;``-separated, WKT geometry::

    from;to;interpolation;street;city;state;postcode;geometry
    1047;1075;all;Spring St;Autauga;AL;36067;LINESTRING(-86.466995 32.428956,...)

Nominatim's ``city`` column holds the county, so the city comes from the ZIP.
"""

from __future__ import annotations

import csv
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import shapely

from addressing.errors import GazetteerError
from addressing.gazetteer.model import (
    SEGMENT_SCHEMA,
    LoadReport,
    batches_from_rows,
    chunked,
    street_columns,
)
from addressing.parse import places

STATE_FIPS = {
    "01": "AL", "02": "AK", "04": "AZ", "05": "AR", "06": "CA", "08": "CO", "09": "CT", "10": "DE",
    "11": "DC", "12": "FL", "13": "GA", "15": "HI", "16": "ID", "17": "IL", "18": "IN", "19": "IA",
    "20": "KS", "21": "KY", "22": "LA", "23": "ME", "24": "MD", "25": "MA", "26": "MI", "27": "MN",
    "28": "MS", "29": "MO", "30": "MT", "31": "NE", "32": "NV", "33": "NH", "34": "NJ", "35": "NM",
    "36": "NY", "37": "NC", "38": "ND", "39": "OH", "40": "OK", "41": "OR", "42": "PA", "44": "RI",
    "45": "SC", "46": "SD", "47": "TN", "48": "TX", "49": "UT", "50": "VT", "51": "VA", "53": "WA",
    "54": "WV", "55": "WI", "56": "WY", "60": "AS", "66": "GU", "69": "MP", "72": "PR", "78": "VI",
}
REQUIRED = ("TLID", "FULLNAME", "LFROMHN", "LTOHN", "RFROMHN", "RTOHN", "ZIPL", "ZIPR")


def _int(v) -> int | None:
    if v is None:
        return None
    s = str(v).strip()
    if not s:
        return None
    digits = "".join(ch for ch in s if ch.isdigit())
    return int(digits) if digits and len(digits) <= 9 else None


def _parity(v, lo: int | None, hi: int | None) -> str | None:
    v = (v or "").strip().upper() if isinstance(v, str) else None
    if v in ("O", "E", "B"):
        return v
    if lo is None or hi is None:
        return None
    if lo % 2 == hi % 2:
        return "E" if lo % 2 == 0 else "O"
    return "B"


def _state_of(zip_code: str | None, fallback: str | None) -> tuple[str | None, str | None]:
    info = places.zip_info(zip_code)
    if info:
        return info.state, info.city
    return fallback, None


def _addrfeat_records(path: Path) -> Iterator[tuple[dict, list]]:
    """(attributes, [(lon, lat), ...]) for each edge, streamed."""
    suffix = path.suffix.lower()
    name = path.name.lower()
    if suffix in (".zip", ".shp"):
        import shapefile

        try:
            reader = shapefile.Reader(str(path))
        except Exception as exc:  # pyshp raises its own ShapefileException and plain errors
            raise GazetteerError(f"not a readable TIGER shapefile ({exc})", str(path)) from exc
        try:
            fields = [f[0] for f in reader.fields[1:]]
            missing = [c for c in REQUIRED if c not in fields]
            if missing:
                raise GazetteerError(f"not an ADDRFEAT shapefile: missing fields {', '.join(missing)}", str(path))
            for i, rec in enumerate(reader.iterShapeRecords()):
                try:
                    pts = rec.shape.points
                except Exception as exc:
                    raise GazetteerError(f"shape {i} unreadable ({exc}); is the file truncated?", str(path)) from exc
                yield rec.record.as_dict(), pts
            if i + 1 != len(reader):  # noqa: F821 - defined by the loop
                raise GazetteerError(f"read {i + 1} shapes of {len(reader)}; the file is truncated", str(path))
        except (shapefile.ShapefileException, OSError, ValueError, IndexError) as exc:
            raise GazetteerError(f"shapefile unreadable ({exc}); is it truncated?", str(path)) from exc
        finally:
            reader.close()
        return
    if suffix in (".geojson", ".geojsonl", ".json", ".ndjson") or name.endswith(".geojson.gz"):
        for feat in _geojson_features(path):
            geom = feat.get("geometry") or {}
            coords = geom.get("coordinates") or []
            if geom.get("type") == "MultiLineString":
                coords = [c for part in coords for c in part]
            yield feat.get("properties") or {}, [tuple(c[:2]) for c in coords]
        return
    raise GazetteerError("unknown TIGER file type (expected .zip, .shp, .geojson or .geojsonl)", str(path))


def _geojson_features(path: Path) -> Iterator[dict]:
    """Features of a GeoJSON file, one line at a time when the file has one feature per line
    (newline GeoJSON, and the layout GDAL and OpenAddresses write), else the whole file."""
    try:
        with open(path, encoding="utf-8") as f:
            first = f.read(4096)
            f.seek(0)
            if '"features"' in first and first.count("\n") < 3 and len(first) >= 4096:
                data = json.load(f)
                yield from data.get("features", [])
                return
            for n, line in enumerate(f, 1):
                line = line.strip().rstrip(",")
                if not line.startswith("{") or '"Feature"' not in line:
                    if '"FeatureCollection"' in line and '"features"' in line and line.endswith("}"):
                        yield from json.loads(line).get("features", [])
                    continue
                try:
                    feat = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise GazetteerError(f"line {n}: broken GeoJSON feature ({exc.msg})", str(path)) from exc
                if feat.get("type") == "Feature":
                    yield feat
    except UnicodeDecodeError as exc:
        raise GazetteerError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", str(path)) from exc


def _fips_state(path: Path) -> str | None:
    import re

    m = re.search(r"(?<!\d)(\d{2})(\d{3})(?!\d)", path.name) or re.search(r"(?<!\d)(\d{2})(\d{3})(?!\d)", path.parent.name)
    return STATE_FIPS.get(m.group(1)) if m else None


def _segment_batch(rows: list[dict], report: LoadReport) -> pa.RecordBatch:
    cols: dict[str, list] = {f.name: [] for f in SEGMENT_SCHEMA}
    lines = []
    for r in rows:
        for k in cols:
            if k in r:
                cols[k].append(r[k])
        lines.append(r["coords"])
    lengths = np.fromiter((len(c) for c in lines), dtype=np.int64, count=len(lines))
    flat = np.array([xy[:2] for c in lines for xy in c], dtype=float).reshape(-1, 2)
    geoms = shapely.linestrings(flat, indices=np.repeat(np.arange(len(lines)), lengths))
    mids = shapely.line_interpolate_point(geoms, 0.5, normalized=True)
    cols["geom"] = list(shapely.to_wkb(geoms))
    cols["lon"] = list(shapely.get_x(mids))
    cols["lat"] = list(shapely.get_y(mids))
    cols.update(street_columns([r["full_name"] for r in rows]))
    return batches_from_rows(cols, SEGMENT_SCHEMA)


def read_addrfeat(path: Path, report: LoadReport) -> Iterator[pa.RecordBatch]:
    """Stream ADDRFEAT edges as segment batches. Edges without any range are skipped."""
    fallback_state = _fips_state(path)

    def rows() -> Iterator[dict]:
        for attrs, pts in _addrfeat_records(path):
            if any(k not in attrs for k in ("FULLNAME", "LFROMHN", "RFROMHN")):
                raise GazetteerError("not ADDRFEAT data: features lack FULLNAME / LFROMHN / RFROMHN", str(path))
            lf, lt, rf, rt = (_int(attrs.get(k)) for k in ("LFROMHN", "LTOHN", "RFROMHN", "RTOHN"))
            if (lf is None or lt is None) and (rf is None or rt is None):
                report.skip("no address range")
                continue
            if not attrs.get("FULLNAME"):
                report.skip("no street name")
                continue
            if len(pts) < 2 or not _valid_coords(pts):
                report.skip("bad geometry")
                continue
            zl, zr = (attrs.get("ZIPL") or None), (attrs.get("ZIPR") or None)
            zip_code = zl or zr
            state, city = _state_of(zip_code, fallback_state)
            yield {
                "source_key": str(attrs.get("TLID")),
                "country": "US",
                "state": state,
                "city": city,
                "postal_code": zip_code,
                "zip_left": zl,
                "zip_right": zr,
                "from_left": lf if lt is not None else None,
                "to_left": lt if lf is not None else None,
                "from_right": rf if rt is not None else None,
                "to_right": rt if rf is not None else None,
                "parity_left": _parity(attrs.get("PARITYL"), lf, lt),
                "parity_right": _parity(attrs.get("PARITYR"), rf, rt),
                "sided": True,
                "full_name": attrs.get("FULLNAME"),
                "coords": pts,
            }

    for chunk in chunked(rows()):
        yield _segment_batch(chunk, report)


def _valid_coords(pts) -> bool:
    lon, lat = pts[0][0], pts[0][1]
    return -180 <= lon <= 180 and -90 <= lat <= 90


NOMINATIM_COLUMNS = ["from", "to", "interpolation", "street", "city", "state", "postcode", "geometry"]


def read_nominatim_csv(path: Path, report: LoadReport) -> Iterator[pa.RecordBatch]:
    """Stream Nominatim's TIGER CSV as segment batches (each row is one side of a range)."""

    def rows() -> Iterator[dict]:
        try:
            with open(path, encoding="utf-8", newline="") as f:
                reader = csv.reader(f, delimiter=";")
                header = next(reader, None)
                if header is None:
                    raise GazetteerError("empty file", str(path))
                header = [h.strip().lower() for h in header]
                missing = [c for c in NOMINATIM_COLUMNS if c not in header]
                if missing:
                    raise GazetteerError(f"not a Nominatim TIGER CSV: missing columns {', '.join(missing)}", str(path))
                at = {c: header.index(c) for c in NOMINATIM_COLUMNS}
                for n, rec in enumerate(reader, 2):
                    if len(rec) != len(header):
                        raise GazetteerError(f"row {n} has {len(rec)} fields, expected {len(header)}", str(path))
                    lo, hi = _int(rec[at["from"]]), _int(rec[at["to"]])
                    if lo is None or hi is None:
                        report.skip("no address range")
                        continue
                    try:
                        geom = shapely.from_wkt(rec[at["geometry"]])
                    except shapely.errors.GEOSException:
                        report.skip("bad geometry")
                        continue
                    if geom is None or geom.geom_type != "LineString" or geom.is_empty:
                        report.skip("bad geometry")
                        continue
                    pts = list(geom.coords)
                    if not _valid_coords(pts):
                        raise GazetteerError(f"row {n}: coordinates out of range; are lon and lat swapped?", str(path))
                    interp = rec[at["interpolation"]].strip().lower()
                    parity = {"odd": "O", "even": "E", "all": "B"}.get(interp, _parity(None, lo, hi))
                    zip_code = rec[at["postcode"]].strip() or None
                    state, city = _state_of(zip_code, rec[at["state"]].strip().upper() or None)
                    yield {
                        "source_key": f"{n}",
                        "country": "US",
                        "state": state,
                        "city": city,
                        "postal_code": zip_code,
                        "zip_left": zip_code,
                        "zip_right": None,
                        "from_left": lo,
                        "to_left": hi,
                        "from_right": None,
                        "to_right": None,
                        "parity_left": parity,
                        "parity_right": None,
                        "sided": False,
                        "full_name": rec[at["street"]],
                        "coords": pts,
                    }
        except UnicodeDecodeError as exc:
            raise GazetteerError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", str(path)) from exc
        except csv.Error as exc:
            raise GazetteerError(f"malformed CSV ({exc})", str(path)) from exc

    for chunk in chunked(rows()):
        yield _segment_batch(chunk, report)


def is_nominatim_csv(path: Path) -> bool:
    if path.suffix.lower() != ".csv":
        return False
    with open(path, "rb") as f:
        head = f.readline().decode("utf-8", "replace").strip().lower()
    return head.startswith("from;to;interpolation")


def read_tiger(path: Path, report: LoadReport) -> Iterator[pa.RecordBatch]:
    """Any supported TIGER layout, chosen by content."""
    if not path.exists():
        raise GazetteerError("no such file", str(path))
    if path.suffix.lower() == ".csv":
        if not is_nominatim_csv(path):
            raise GazetteerError("CSV is not Nominatim's TIGER layout (from;to;interpolation;...)", str(path))
        yield from read_nominatim_csv(path, report)
        return
    if path.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except zipfile.BadZipFile as exc:
            raise GazetteerError("not a zip file (corrupt or truncated download?)", str(path)) from exc
        if not any(n.lower().endswith(".shp") for n in names):
            raise GazetteerError("zip holds no .shp file", str(path))
    yield from read_addrfeat(path, report)


def tiger_files(path: Path) -> list[Path]:
    """The files whose bytes make up a TIGER source (all parts of a shapefile)."""
    if path.suffix.lower() == ".shp":
        return [p for p in path.parent.glob(path.stem + ".*") if p.suffix.lower() in (".shp", ".shx", ".dbf", ".prj", ".cpg")]
    return [path]


__all__ = ["read_tiger", "tiger_files"]
