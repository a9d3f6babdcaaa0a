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
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import shapely

from addressing.errors import GazetteerError
from addressing.gazetteer.geojson import read_features
from addressing.gazetteer.model import (
    ALT_NAME_SCHEMA,
    SEGMENT_SCHEMA,
    LoadReport,
    batches_from_rows,
    check_swapped,
    chunked,
    county_fips,
    memoized,
    street_columns,
)
from addressing.gazetteer.shapefiles import read_shapes
from addressing.parse import places
from addressing.parse.postcodes import postal_text, us_zip
from addressing.parse.standardize import house_number, house_number_int

STATE_FIPS = {
    "01": "AL", "02": "AK", "04": "AZ", "05": "AR", "06": "CA", "08": "CO", "09": "CT", "10": "DE",
    "11": "DC", "12": "FL", "13": "GA", "15": "HI", "16": "ID", "17": "IL", "18": "IN", "19": "IA",
    "20": "KS", "21": "KY", "22": "LA", "23": "ME", "24": "MD", "25": "MA", "26": "MI", "27": "MN",
    "28": "MS", "29": "MO", "30": "MT", "31": "NE", "32": "NV", "33": "NH", "34": "NJ", "35": "NM",
    "36": "NY", "37": "NC", "38": "ND", "39": "OH", "40": "OK", "41": "OR", "42": "PA", "44": "RI",
    "45": "SC", "46": "SD", "47": "TN", "48": "TX", "49": "UT", "50": "VT", "51": "VA", "53": "WA",
    "54": "WV", "55": "WI", "56": "WY", "60": "AS", "66": "GU", "69": "MP", "72": "PR", "78": "VI",
}
# segments carry their vertices as Python tuples until shapely takes them: smaller batches
SEGMENT_BATCH_ROWS = 10_000
REQUIRED = ("TLID", "FULLNAME", "LFROMHN", "LTOHN", "RFROMHN", "RTOHN", "ZIPL", "ZIPR")
_NEEDED = {"FULLNAME", "LFROMHN", "RFROMHN"}  # without them a feature is no ADDRFEAT record
#: the attributes ``read_addrfeat`` reads
FIELDS = (*REQUIRED, "PARITYL", "PARITYR")


def _int(v) -> int | None:
    """A range end as the integer the parser gives the same house number (``12-34`` -> 12,
    ``N1234`` -> 1234); None for ends that are not house numbers (``PR00`` in Meagher 2016)."""
    if v is None:
        return None
    s = str(v).strip()
    return house_number_int(house_number(s)) if s else None


def _parity(v, lo: int | None, hi: int | None) -> str | None:
    v = (v or "").strip().upper() if isinstance(v, str) else None
    if v in ("O", "E", "B"):
        return v
    if lo is None or hi is None:
        return None
    if lo % 2 == hi % 2:
        return "E" if lo % 2 == 0 else "O"
    return "B"


def _zip(value, state: str | None) -> str | None:
    """A ZIP field as text: the 5-digit ZIP, with the zeros back where the source kept it as a
    number (a numeric ZIPL of 2118 in Massachusetts is 02118); else the value as written."""
    return us_zip(value, state) or postal_text(value)


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
        checked = False
        for attrs, shape in read_shapes(path, FIELDS):
            if not checked:
                missing = [c for c in REQUIRED if c not in attrs]
                if missing:
                    raise GazetteerError(f"not an ADDRFEAT shapefile: missing fields {', '.join(missing)}", str(path))
                checked = True
            yield attrs, shape.points
        return
    if suffix in (".geojson", ".geojsonl", ".json", ".ndjson") or name.endswith((".geojson.gz", ".geojsonl.gz")):
        for feat in read_features(path):
            geom = feat.get("geometry") or {}
            coords = geom.get("coordinates") or []
            if geom.get("type") == "MultiLineString":
                coords = [c for part in coords for c in part]
            try:
                pts = [(float(c[0]), float(c[1])) for c in coords]
            except (TypeError, ValueError, IndexError):
                pts = []
            yield feat.get("properties") or {}, pts
        return
    raise GazetteerError("unknown TIGER file type (expected .zip, .shp, .geojson, .geojsonl or Nominatim .csv)",
                         str(path))


@memoized
def _ends(lfrom, lto, rfrom, rto) -> tuple[int | None, int | None, int | None, int | None]:
    """``_int`` of an ADDRFEAT record's four range ends (they repeat: one call per distinct four)."""
    return _int(lfrom), _int(lto), _int(rfrom), _int(rto)


@memoized
def _zips(left, right, fallback_state: str | None) -> tuple[str | None, str | None, str | None, str | None]:
    """(ZIPL, ZIPR, state, city) of an ADDRFEAT record: the state and city of its left ZIP, else
    its right one, else the county's state."""
    zl, zr = _zip(left, fallback_state), _zip(right, fallback_state)
    state, city = _state_of(zl or zr, fallback_state)
    return zl, zr, state, city


def _fips_state(path: Path) -> str | None:
    fips = county_fips(path)
    return STATE_FIPS.get(fips[:2]) if fips else None


class Segment(NamedTuple):
    """One address range as ``_segment_batch`` takes it."""

    source_key: str
    country: str
    state: str | None
    city: str | None
    postal_code: str | None
    zip_left: str | None
    zip_right: str | None
    from_left: int | None
    to_left: int | None
    from_right: int | None
    to_right: int | None
    parity_left: str | None
    parity_right: str | None
    sided: bool
    full_name: str
    coords: list | np.ndarray


class AltName(NamedTuple):
    """A range repeated under another name: ``full_name`` is another name of ``of_full_name``."""

    source_key: str
    full_name: str
    of_full_name: str
    country: str
    state: str | None
    postal_code: str | None


def _segment_batch(rows: list[Segment], report: LoadReport, path: Path, where: str) -> pa.RecordBatch | None:
    """Segments -> one segment batch; lines with any vertex off the map are skipped, and a batch
    mostly valid only with lon/lat swapped is an error."""
    lengths = np.fromiter((len(r.coords) for r in rows), dtype=np.int64, count=len(rows))
    flat = np.array([xy[:2] for r in rows for xy in r.coords], dtype=float).reshape(-1, 2)
    ok_vertex = check_swapped(flat[:, 0], flat[:, 1], np.ones(len(flat), bool), path, where)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    ok = np.logical_and.reduceat(ok_vertex, starts) if len(flat) else np.zeros(len(rows), bool)
    if not ok.all():
        report.skip("coordinates off the map", int((~ok).sum()))
        keep = np.flatnonzero(ok)
        if keep.size == 0:
            return None
        vmask = np.repeat(ok, lengths)
        rows = [rows[i] for i in keep]
        flat, lengths = flat[vmask], lengths[keep]
    geoms = shapely.linestrings(flat, indices=np.repeat(np.arange(len(rows)), lengths))
    mids = shapely.line_interpolate_point(geoms, 0.5, normalized=True)
    cols: dict = dict(zip(Segment._fields, zip(*rows)))
    cols["geom"] = shapely.to_wkb(geoms)
    cols["lon"] = shapely.get_x(mids)
    cols["lat"] = shapely.get_y(mids)
    cols.update(street_columns(list(cols["full_name"])))
    return batches_from_rows(cols, SEGMENT_SCHEMA)


def _alt_batch(rows: list[AltName]) -> pa.RecordBatch:
    """Other names of an edge (ADDRFEAT repeats an edge's record once per name of its street)."""
    given = dict(zip(AltName._fields, zip(*rows)))
    cols: dict = {k: given[k] for k in ("source_key", "country", "state", "postal_code")}
    cols.update(street_columns(list(given["full_name"])))
    of = street_columns(list(given["of_full_name"]))
    for k in ("predir", "name_key", "type", "postdir"):
        cols[f"of_{k}"] = of[k]
    return batches_from_rows(cols, ALT_NAME_SCHEMA)


def _batches(rows: Iterator[Segment | AltName], report: LoadReport, path: Path,
             ) -> Iterator[tuple[str, pa.RecordBatch]]:
    done = 0
    for chunk in chunked(rows, SEGMENT_BATCH_ROWS):
        segs = [r for r in chunk if isinstance(r, Segment)]
        alts = [r for r in chunk if isinstance(r, AltName)]
        if segs:
            batch = _segment_batch(segs, report, path, f"records {done + 1:,}..{done + len(chunk):,}")
            if batch is not None:
                yield "segments", batch
        if alts:
            yield "alt_names", _alt_batch(alts)
        done += len(chunk)


def read_addrfeat(path: Path, report: LoadReport) -> Iterator[tuple[str, pa.RecordBatch]]:
    """Stream ADDRFEAT address ranges as segment batches. Ranges without numbers are skipped;
    a range repeated under another street name (``Hwy 360`` / ``State Hwy 360``) becomes an
    alternate name of the first."""
    fallback_state = _fips_state(path)

    def rows() -> Iterator[Segment | AltName]:
        prev: dict | None = None
        for attrs, pts in _addrfeat_records(path):
            if not attrs.keys() >= _NEEDED:
                raise GazetteerError("not ADDRFEAT data: features lack FULLNAME / LFROMHN / RFROMHN", str(path))
            lf, lt, rf, rt = _ends(attrs.get("LFROMHN"), attrs.get("LTOHN"), attrs.get("RFROMHN"), attrs.get("RTOHN"))
            if (lf is None or lt is None) and (rf is None or rt is None):
                report.skip("no address range")
                continue
            if not attrs.get("FULLNAME"):
                report.skip("no street name")
                continue
            if len(pts) < 2:
                report.skip("bad geometry")
                continue
            zl, zr, state, city = _zips(attrs.get("ZIPL"), attrs.get("ZIPR"), fallback_state)
            zip_code = zl or zr
            tlid = str(attrs.get("TLID"))
            ranges = (tlid, lf, lt, rf, rt, zl, zr)
            if prev is not None and prev["ranges"] == ranges and prev["full_name"] != attrs["FULLNAME"]:
                # the same edge and ranges again under another name: a name variant, not a segment
                yield AltName(tlid, attrs["FULLNAME"], prev["full_name"], "US", prev["state"], zip_code)
                continue
            prev = {"ranges": ranges, "full_name": attrs["FULLNAME"], "state": state}
            yield Segment(
                tlid, "US", state, city, zip_code, zl, zr,
                lf if lt is not None else None, lt if lf is not None else None,
                rf if rt is not None else None, rt if rf is not None else None,
                _parity(attrs.get("PARITYL"), lf, lt), _parity(attrs.get("PARITYR"), rf, rt),
                True, attrs.get("FULLNAME"), pts,
            )

    yield from _batches(rows(), report, path)


NOMINATIM_COLUMNS = ["from", "to", "interpolation", "street", "city", "state", "postcode", "geometry"]


def read_nominatim_csv(path: Path, report: LoadReport) -> Iterator[tuple[str, pa.RecordBatch]]:
    """Stream Nominatim's TIGER CSV as segment batches (each row is one side of a range)."""

    def rows() -> Iterator[Segment | AltName]:
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
                        raise GazetteerError(f"row {n} has {len(rec)} fields, expected {len(header)} "
                                             "(truncated or not ;-separated?)", str(path))
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
                    interp = rec[at["interpolation"]].strip().lower()
                    parity = {"odd": "O", "even": "E", "all": "B"}.get(interp, _parity(None, lo, hi))
                    written_state = rec[at["state"]].strip().upper() or None
                    zip_code = _zip(rec[at["postcode"]], written_state)
                    state, city = _state_of(zip_code, written_state)
                    yield Segment(f"{n}", "US", state, city, zip_code, zip_code, None, lo, hi, None, None, parity,
                                  None, False, rec[at["street"]], shapely.get_coordinates(geom))
        except UnicodeDecodeError as exc:
            raise GazetteerError(f"not UTF-8 text ({exc.reason})", str(path)) from exc
        except csv.Error as exc:
            raise GazetteerError(f"malformed CSV ({exc})", str(path)) from exc

    yield from _batches(rows(), report, path)


def sniff(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(512)


def is_nominatim_csv(path: Path) -> bool:
    if path.suffix.lower() != ".csv":
        return False
    head = sniff(path).split(b"\n", 1)[0].decode("utf-8", "replace").strip().lower()
    return head.startswith("from;to;interpolation")


_ZIP_MAGIC = b"PK\x03\x04"


def read_tiger(path: Path, report: LoadReport) -> Iterator[tuple[str, pa.RecordBatch]]:
    """``(table, batch)`` pairs (``segments``, ``alt_names``) from any supported TIGER layout,
    chosen by extension and checked against the content."""
    if not path.exists():
        raise GazetteerError("no such file", str(path))
    head = sniff(path)
    suffix = path.suffix.lower()
    if not head:
        raise GazetteerError("empty file", str(path))
    if suffix == ".csv":
        if head.startswith(_ZIP_MAGIC) or b"\x00" in head:
            raise GazetteerError("binary data, not CSV text (wrong extension?)", str(path))
        if not is_nominatim_csv(path):
            raise GazetteerError("CSV is not Nominatim's TIGER layout (from;to;interpolation;...)", str(path))
        yield from read_nominatim_csv(path, report)
        return
    if suffix == ".zip" and not head.startswith(_ZIP_MAGIC):
        what = "HTML (an error page saved as .zip?)" if re.match(rb"\s*<", head) else "not a zip archive"
        raise GazetteerError(f"{what}; expected the Census ADDRFEAT .zip", str(path))
    if suffix == ".shp" and head[:4] != b"\x00\x00\x27\x0a":
        raise GazetteerError("not a shapefile (the .shp header is wrong; wrong extension?)", str(path))
    if suffix in (".geojson", ".geojsonl", ".json", ".ndjson") and head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] != b"{":
        raise GazetteerError(f"not GeoJSON: the file starts with {head[:20]!r} (wrong extension?)", str(path))
    if suffix == ".zip":
        try:
            with zipfile.ZipFile(path) as z:
                bad = z.testzip()
        except zipfile.BadZipFile as exc:
            raise GazetteerError("not a readable zip file (corrupt or truncated download?)", str(path)) from exc
        if bad:
            raise GazetteerError(f"zip member {bad} is corrupt (CRC mismatch)", str(path))
    yield from read_addrfeat(path, report)


def tiger_files(path: Path) -> list[Path]:
    """The files whose bytes make up a TIGER source (all parts of a shapefile)."""
    if path.suffix.lower() == ".shp":
        return sorted(p for p in path.parent.glob(path.stem + ".*")
                      if p.suffix.lower() in (".shp", ".shx", ".dbf", ".prj", ".cpg"))
    return [path]


__all__ = ["read_tiger", "tiger_files", "STATE_FIPS"]
