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
import itertools
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from addressing.errors import GazetteerError
from addressing.gazetteer.geojson import NotColumnar, line_feature_columns, read_features
from addressing.gazetteer.model import (
    ALT_NAME_SCHEMA,
    SEGMENT_SCHEMA,
    LoadReport,
    batches_from_rows,
    check_swapped,
    chunked,
    county_fips,
    memoized,
    per_distinct,
    present,
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
    if _is_geojson(path):
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


def _is_geojson(path: Path) -> bool:
    name = path.name.lower()
    return path.suffix.lower() in (".geojson", ".geojsonl", ".json", ".ndjson") \
        or name.endswith((".geojson.gz", ".geojsonl.gz"))


class _Records(NamedTuple):
    """ADDRFEAT records as columns, numbered from ``first`` (1-based): ``attrs`` holds each of
    ``FIELDS`` as text (None where a record lacks it); ``xy`` the vertices of all records one
    after another, ``lengths`` how many are each record's (0 where its geometry is unusable)."""

    first: int
    attrs: dict[str, pa.Array]
    xy: np.ndarray
    lengths: np.ndarray


def _as_str(value) -> str | None:
    return value if value is None or isinstance(value, str) else str(value)


def _parity_text(value) -> str | None:
    """``_parity`` reads a parity that is not text as none given."""
    return value if isinstance(value, str) else None


#: how each attribute becomes text; ``_zip`` and ``_int`` give the same for it as for the value
_AS_TEXT = {f: _as_str for f in FIELDS} | {"ZIPL": postal_text, "ZIPR": postal_text,
                                         "PARITYL": _parity_text, "PARITYR": _parity_text}


def _records_of_rows(rows: list[tuple[dict, list]], first: int, path: Path) -> _Records:
    """Records read one by one (shapefiles, FeatureCollections) -> ``_Records``."""
    for attrs, _ in rows:
        if not attrs.keys() >= _NEEDED:
            raise GazetteerError("not ADDRFEAT data: features lack FULLNAME / LFROMHN / RFROMHN", str(path))
    attrs = {f: pa.array([conv(a.get(f)) for a, _ in rows], pa.string()) for f, conv in _AS_TEXT.items()}
    lengths = np.fromiter((len(pts) for _, pts in rows), dtype=np.int64, count=len(rows))
    xy = np.array([p[:2] for _, pts in rows for p in pts], dtype=float).reshape(-1, 2)
    return _Records(first, attrs, xy, lengths)


def _records_of_columns(batch: pa.RecordBatch, first: int) -> _Records:
    """A batch of ``line_feature_columns`` -> ``_Records``: a geometry with a vertex of fewer
    than two numbers, or a null among them, is unusable, as the per-feature reader finds it."""
    attrs = {f: batch.column(f).cast(pa.string()) for f in FIELDS}
    coords = batch.column("coordinates")
    per_record = pc.fill_null(pc.list_value_length(coords), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    vertices = coords.flatten()
    numbers = pc.fill_null(pc.list_value_length(vertices), 0).to_numpy(zero_copy_only=False)
    values = vertices.values.to_numpy(zero_copy_only=False).astype(float)
    at = vertices.offsets.to_numpy()[:-1]
    usable = numbers >= 2
    last = max(len(values) - 1, 0)
    x = np.where(usable, values[np.minimum(at, last)] if len(values) else 0.0, np.nan)
    y = np.where(usable, values[np.minimum(at + 1, last)] if len(values) else 0.0, np.nan)
    bad_vertex = np.isnan(x) | np.isnan(y)
    owner = np.repeat(np.arange(len(per_record)), per_record)
    bad = np.bincount(owner, weights=bad_vertex, minlength=len(per_record)) > 0
    keep = ~np.repeat(bad, per_record)
    return _Records(first, attrs, np.column_stack([x[keep], y[keep]]), np.where(bad, 0, per_record))


def _addrfeat_columns(path: Path) -> Iterator[_Records]:
    """An ADDRFEAT file's records in batches: GeoJSON written a feature per line as columns
    (``line_feature_columns``, several times faster), the rest of it one by one from where that
    stops; other layouts one by one."""
    done = 0
    if _is_geojson(path):
        properties = [(f, pa.int64() if f == "TLID" else pa.string()) for f in FIELDS]
        try:
            for batch in line_feature_columns(path, properties, _NEEDED):
                yield _records_of_columns(batch, done + 1)
                done += batch.num_rows
            return
        except NotColumnar:
            pass
    rows = itertools.islice(_addrfeat_records(path), done, None)
    for chunk in chunked(rows, SEGMENT_BATCH_ROWS):
        yield _records_of_rows(chunk, done + 1, path)
        done += len(chunk)


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
    """One address range of a Nominatim row (``_segment_batch`` takes its fields as columns)."""

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


def _segment_batch(cols: dict[str, pa.Array | list], xy: np.ndarray, lengths: np.ndarray, report: LoadReport,
                   path: Path, where: str) -> pa.RecordBatch | None:
    """Segments (``Segment``'s fields but ``coords`` as columns, their vertices one after another
    in ``xy``, ``lengths`` per segment) -> one segment batch; lines with any vertex off the map
    are skipped, and a batch mostly valid only with lon/lat swapped is an error."""
    types = {f.name: f.type for f in SEGMENT_SCHEMA} | {"full_name": pa.string()}
    cols = {k: v if isinstance(v, pa.Array) else pa.array(v, types[k]) for k, v in cols.items()}
    ok_vertex = check_swapped(xy[:, 0], xy[:, 1], np.ones(len(xy), bool), path, where)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    ok = np.logical_and.reduceat(ok_vertex, starts) if len(xy) else np.zeros(len(lengths), bool)
    if not ok.all():
        report.skip("coordinates off the map", int((~ok).sum()))
        keep = np.flatnonzero(ok)
        if keep.size == 0:
            return None
        xy, lengths = xy[np.repeat(ok, lengths)], lengths[keep]
        cols = {k: v.take(pa.array(keep)) for k, v in cols.items()}
    geoms = shapely.linestrings(xy, indices=np.repeat(np.arange(len(lengths)), lengths))
    mids = shapely.line_interpolate_point(geoms, 0.5, normalized=True)
    cols["geom"] = shapely.to_wkb(geoms)
    cols["lon"] = shapely.get_x(mids)
    cols["lat"] = shapely.get_y(mids)
    cols.update(street_columns(cols["full_name"]))
    return batches_from_rows(cols, SEGMENT_SCHEMA)


def _alt_batch(given: dict[str, pa.Array]) -> pa.RecordBatch:
    """Other names of an edge (ADDRFEAT repeats an edge's record once per name of its street):
    ``full_name`` is another name of ``of_full_name``."""
    cols: dict = {k: given[k] for k in ("source_key", "country", "state", "postal_code")}
    cols.update(street_columns(given["full_name"]))
    of = street_columns(given["of_full_name"])
    for k in ("predir", "name_key", "type", "postdir"):
        cols[f"of_{k}"] = of[k]
    return batches_from_rows(cols, ALT_NAME_SCHEMA)


def _valid(col: pa.Array) -> np.ndarray:
    return col.is_valid().to_numpy(zero_copy_only=False)


def _same_as_before(cols: list[pa.Array]) -> np.ndarray:
    """Rows 1.. whose values all equal the row before's (null equal to null)."""
    same = np.ones(max(len(cols[0]) - 1, 0), bool)
    for col in cols:
        a, b = col[1:], col[:-1]
        eq = pc.fill_null(pc.equal(a, b), False).to_numpy(zero_copy_only=False)
        same &= eq | (~_valid(a) & ~_valid(b))
    return same


class _Edge(NamedTuple):
    """The last segment read: the next record with its ranges is another name of its street."""

    ranges: tuple
    full_name: str


def _alternates(ranges: list[pa.Array], names: np.ndarray, last: _Edge | None) -> tuple[np.ndarray, np.ndarray]:
    """Which records are another name of the segment before them, and each record's segment
    name. A run of records with equal ``ranges`` (TLID, range ends, ZIPs) is one edge: its
    first record is a segment (or the run goes on from ``last``, the batch before's), the
    others are alternate names of it, but for one written with the segment's own name, which
    is a segment again (as ADDRFEAT repeats them)."""
    first = tuple(c[0].as_py() for c in ranges)
    same = np.concatenate([[last is not None and last.ranges == first], _same_as_before(ranges)])
    run = np.cumsum(~same) - (0 if same[0] else 1)
    run_name = names[np.flatnonzero(~same)]
    if same[0]:
        run_name = np.concatenate([np.array([last.full_name], dtype=object), run_name])
    of_name = run_name[run]
    return same & (names != of_name), of_name


def _segment_columns(a: dict[str, pa.Array], take: pa.Array, ends: list[pa.Array], places: list[pa.Array],
                     ) -> dict[str, pa.Array]:
    """``Segment``'s columns (but ``coords``) of the records ``take``: ``ends`` their four range
    ends, ``places`` their ZIPL, ZIPR, state and city. A side's range needs both its ends."""
    lf, lt, rf, rt = ends
    zl, zr, state, city = places
    null = pa.nulls(len(take), pa.int64())
    parity = [per_distinct(lambda v, lo, hi: (_parity(v, lo, hi),), [a[side].take(take), lo, hi], [pa.string()])[0]
              for side, lo, hi in (("PARITYL", lf, lt), ("PARITYR", rf, rt))]
    return {
        "source_key": a["TLID"].take(take), "country": pa.array(["US"] * len(take)), "state": state, "city": city,
        "postal_code": pc.coalesce(zl, zr), "zip_left": zl, "zip_right": zr,
        "from_left": pc.if_else(lt.is_valid(), lf, null), "to_left": pc.if_else(lf.is_valid(), lt, null),
        "from_right": pc.if_else(rt.is_valid(), rf, null), "to_right": pc.if_else(rf.is_valid(), rt, null),
        "parity_left": parity[0], "parity_right": parity[1], "sided": pa.array(np.ones(len(take), bool)),
        "full_name": a["FULLNAME"].take(take),
    }


def _edges(rec: _Records, last: _Edge | None, fallback_state: str | None, report: LoadReport, path: Path,
           ) -> tuple[list[tuple[str, pa.RecordBatch]], _Edge | None]:
    """One batch of records -> its segment and alternate-name batches, and the last segment.
    Records without a range, a name or a line are skipped (counted by reason)."""
    a = rec.attrs
    ends = per_distinct(_ends, [a["LFROMHN"], a["LTOHN"], a["RFROMHN"], a["RTOHN"]], [pa.int64()] * 4)
    lf, lt, rf, rt = ends
    ranged = (_valid(lf) & _valid(lt)) | (_valid(rf) & _valid(rt))
    named = present(a["FULLNAME"])
    lined = rec.lengths >= 2
    for reason, rows in (("no address range", ~ranged), ("no street name", ranged & ~named),
                         ("bad geometry", ranged & named & ~lined)):
        if rows.any():
            report.skip(reason, int(rows.sum()))
    usable = ranged & named & lined
    if not usable.any():
        return [], last
    kept = np.flatnonzero(usable)
    xy, lengths = rec.xy[np.repeat(usable, rec.lengths)], rec.lengths[kept]
    ends = [c.take(pa.array(kept)) for c in ends]
    places = per_distinct(lambda left, right: _zips(left, right, fallback_state),
                          [a["ZIPL"].take(pa.array(kept)), a["ZIPR"].take(pa.array(kept))], [pa.string()] * 4)
    ranges = [a["TLID"].take(pa.array(kept)), *ends, *places[:2]]
    names = a["FULLNAME"].take(pa.array(kept)).to_numpy(zero_copy_only=False)
    alt, of_name = _alternates(ranges, names, last)
    out = []
    if not alt.all():
        seg = np.flatnonzero(~alt)
        cols = _segment_columns(a, pa.array(kept[seg]), [c.take(pa.array(seg)) for c in ends],
                                [c.take(pa.array(seg)) for c in places])
        where = f"records {rec.first:,}..{rec.first + len(rec.lengths) - 1:,}"
        batch = _segment_batch(cols, xy[np.repeat(~alt, lengths)], lengths[seg], report, path, where)
        if batch is not None:
            out.append(("segments", batch))
    if alt.any():
        rows = pa.array(np.flatnonzero(alt))
        zl, zr, state, _ = (c.take(rows) for c in places)
        out.append(("alt_names", _alt_batch({
            "source_key": ranges[0].take(rows), "full_name": pa.array(names[alt], pa.string()),
            "of_full_name": pa.array(of_name[alt], pa.string()), "country": pa.array(["US"] * len(rows)),
            "state": state, "postal_code": pc.coalesce(zl, zr)})))
    return out, _Edge(tuple(c[-1].as_py() for c in ranges), of_name[-1])


def read_addrfeat(path: Path, report: LoadReport) -> Iterator[tuple[str, pa.RecordBatch]]:
    """Stream ADDRFEAT address ranges as segment batches. Ranges without numbers are skipped;
    a range repeated under another street name (``Hwy 360`` / ``State Hwy 360``) becomes an
    alternate name of the first."""
    fallback_state = _fips_state(path)
    last = None
    for rec in _addrfeat_columns(path):
        out, last = _edges(rec, last, fallback_state, report, path)
        yield from out


NOMINATIM_COLUMNS = ["from", "to", "interpolation", "street", "city", "state", "postcode", "geometry"]


def read_nominatim_csv(path: Path, report: LoadReport) -> Iterator[tuple[str, pa.RecordBatch]]:
    """Stream Nominatim's TIGER CSV as segment batches (each row is one side of a range)."""

    def rows() -> Iterator[Segment]:
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

    done = 0
    for chunk in chunked(rows(), SEGMENT_BATCH_ROWS):
        cols = {f: list(v) for f, v in zip(Segment._fields, zip(*chunk)) if f != "coords"}
        lengths = np.fromiter((len(r.coords) for r in chunk), dtype=np.int64, count=len(chunk))
        xy = np.concatenate([np.asarray(r.coords, dtype=float)[:, :2] for r in chunk])
        batch = _segment_batch(cols, xy, lengths, report, path, f"records {done + 1:,}..{done + len(chunk):,}")
        if batch is not None:
            yield "segments", batch
        done += len(chunk)


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
