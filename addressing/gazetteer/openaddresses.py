"""OpenAddresses points -> address points (and their alternate street names).

The standard OA CSV (https://github.com/openaddresses/openaddresses/blob/master/CONTRIBUTING.md),
one point per row::

    LON,LAT,NUMBER,STREET,UNIT,CITY,DISTRICT,REGION,POSTCODE,ID,HASH
    -74.0310957,40.7498567,1016,Willow Avenue,,Hoboken,,NJ,07030,,

OA GeoJSON (features with lower-case ``number``, ``street``... properties), and the county
files OA itself starts from: CSVs with local column names and zipped point or parcel
shapefiles in lon/lat. Local schemas (San Francisco EAS, Alameda SPAD, Trumbull County...)
are read with a ``ColumnMap`` instead of code per county: each OA field names one source
column or several joined with spaces, constants fill what the source lacks
(``city = "SAN FRANCISCO"``), ``address`` takes a whole delivery line (``162 N CLARK ST``)
and ``alt_street`` a second name for the same street (Trumbull's ``ALTNAME`` ``ST RTE 169``)::

    columns = { number = "HOUSENUM", street = ["ST_PREFIX", "ST_NAME", "ST_TYPE", "ST_SUFFIX"],
                alt_street = ["ALTPREFIX", "ALTNAME", "ALTTYPE", "ALTSUFFIX"], postcode = "ZIPCODE" }
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import shapely
import shapely.geometry

from addressing.errors import ConfigError, GazetteerError
from addressing.gazetteer.geojson import read_features
from addressing.gazetteer.model import (
    ALT_NAME_SCHEMA,
    POINT_SCHEMA,
    LoadReport,
    batches_from_rows,
    check_swapped,
    chunked,
    per_distinct,
    plausible_us,
    present,
    standard_number,
    standard_unit,
    street_columns,
)
from addressing.gazetteer.shapefiles import read_shapes
from addressing.parse import places
from addressing.parse.postcodes import postal_text, us_zip
from addressing.parse.standardize import state_code

FIELDS = ("lon", "lat", "number", "street", "address", "unit", "unit_type", "alt_street", "city", "district",
          "region", "postcode", "country", "id")
DEFAULT_COLUMNS = {
    "lon": ["LON"], "lat": ["LAT"], "number": ["NUMBER"], "street": ["STREET"], "unit": ["UNIT"],
    "city": ["CITY"], "district": ["DISTRICT"], "region": ["REGION"], "postcode": ["POSTCODE"], "id": ["ID"],
}
BATCH_ROWS = 50_000
_COUNTRY_NAMES = {"USA": "US", "UNITED STATES": "US", "UNITED STATES OF AMERICA": "US"}


@dataclass
class ColumnMap:
    """Which source columns hold each OpenAddresses field, constants for missing ones, and the
    text encoding of the file (UTF-8 unless said otherwise: county exports are often cp1252)."""

    columns: dict[str, list[str]] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)
    encoding: str = "utf-8"

    @classmethod
    def parse(cls, spec: str | None, constants: str | None = None, encoding: str | None = None) -> ColumnMap:
        """``"number=ADDR_NUM,street=ST_NAME+ST_TYPE"`` and ``"city=SAN FRANCISCO,region=CA"``."""
        cm = cls(encoding=_encoding(encoding))
        for part in filter(None, (s.strip() for s in (spec or "").split(","))):
            key, _, value = part.partition("=")
            key = key.strip().lower()
            if key not in FIELDS or not value.strip():
                raise ConfigError(f"bad column mapping {part!r}; fields are {', '.join(FIELDS)}", key="columns")
            cm.columns[key] = [v.strip() for v in value.split("+") if v.strip()]
        for part in filter(None, (s.strip() for s in (constants or "").split(","))):
            key, _, value = part.partition("=")
            key = key.strip().lower()
            if key not in FIELDS:
                raise ConfigError(f"bad constant {part!r}; fields are {', '.join(FIELDS)}", key="set")
            cm.constants[key] = value.strip()
        return cm

    @classmethod
    def from_dict(cls, d: dict) -> ColumnMap:
        cm = cls(encoding=_encoding(d.get("encoding")))
        for key, value in (d.get("columns") or {}).items():
            if key not in FIELDS:
                raise ConfigError(f"unknown field {key!r}; fields are {', '.join(FIELDS)}", key=f"columns.{key}")
            cm.columns[key] = [value] if isinstance(value, str) else list(value)
        for key, value in (d.get("constants") or {}).items():
            if key not in FIELDS:
                raise ConfigError(f"unknown field {key!r}", key=f"constants.{key}")
            cm.constants[key] = str(value)
        return cm

    def describe(self) -> str:
        cols = ",".join(f"{k}={'+'.join(v)}" for k, v in sorted(self.columns.items()))
        consts = ",".join(f"{k}={v}" for k, v in sorted(self.constants.items()))
        enc = "" if self.encoding == "utf-8" else f";encoding={self.encoding}"
        return f"{cols};{consts}{enc}"

    def resolve(self, header: list[str], path: Path, need_coordinates: bool = True) -> dict[str, list[str]]:
        """Field -> source columns for this file; case-insensitive; errors name what is missing."""
        by_upper = {h.upper(): h for h in header}
        out: dict[str, list[str]] = {}
        for key in FIELDS:
            wanted = self.columns.get(key) or DEFAULT_COLUMNS.get(key)
            if not wanted:
                continue
            cols = [by_upper.get(w.upper()) for w in wanted]
            if all(c is not None for c in cols):
                out[key] = cols  # type: ignore[assignment]
            elif key in self.columns:
                missing = [w for w, c in zip(wanted, cols) if c is None]
                raise GazetteerError(f"column mapping names missing columns {', '.join(missing)} "
                                     f"(have: {_shown(header)})", str(path))
        if "address" in out:  # a whole delivery line: the default NUMBER/STREET columns do not apply
            for key in ("number", "street"):
                if key not in self.columns:
                    out.pop(key, None)
        if need_coordinates:
            for key in ("lon", "lat"):
                if key not in out:
                    raise GazetteerError(f"no {key.upper()} column (have: {_shown(header)}); give a column "
                                         "mapping", str(path))
        if "address" not in out and ("number" not in out or "street" not in out):
            raise GazetteerError(f"no NUMBER/STREET columns (have: {_shown(header)}); give a column mapping "
                                 "(e.g. number=ADDR_NUM,street=ST_NAME+ST_TYPE)", str(path))
        return out


def _shown(header: list[str]) -> str:
    return ", ".join(header[:12]) + (", ..." if len(header) > 12 else "")


def _encoding(name: str | None) -> str:
    if not name:
        return "utf-8"
    try:
        return codecs.lookup(str(name)).name
    except LookupError as exc:
        raise ConfigError(f"unknown text encoding {name!r}", key="encoding") from exc


# ----------------------------------------------------------------------------- converting rows

_NUMBER_IN_STREET = re.compile(r"^\s*(\d+(?:-\d+)?[A-Za-z]?)\s+(\S.*)$")
_ADDRESS_LINE = re.compile(r"^\s*(\d+[A-Za-z]?(?:[-/]\d+[A-Za-z]?)?(?:\s+1/2)?)\s+(\S.*?)"
                           r"(?:\s+(APT|APARTMENT|UNIT|STE|SUITE|#|RM|ROOM|BLDG|FL|FLOOR|LOT|SPC|TRLR)\.?\s*#?\s*(\S+))?\s*$",
                           re.I)
_FLOAT_INT = re.compile(r"^-?\d+\.0+$")


def _text(v) -> str | None:
    """A source value as text: blanks are None; whole numbers a float column made of them lose ``.0``."""
    if v is None:
        return None
    s = str(v).strip()
    if not s:
        return None
    return s[: s.index(".")] if _FLOAT_INT.match(s) else s


def _gather(get, fields: dict[str, list[str]], constants: dict[str, str], n: int) -> dict[str, pa.Array]:
    """The OA fields of ``n`` rows as text columns (``lon``/``lat`` as the source gives them);
    ``get(column)`` returns a column's values, an Arrow array or a list."""
    rows: dict[str, pa.Array] = {}
    for key in FIELDS:
        if key in fields:
            parts = [get(c) for c in fields[key]]
            if key in ("lon", "lat"):
                rows[key] = parts[0]
            elif len(parts) == 1:
                rows[key] = _texts(parts[0])
            else:
                rows[key] = per_distinct(_joined, [_texts(p) for p in parts], [pa.string()])[0]
        elif key in constants:
            rows[key] = pa.array([constants[key]] * n, type=pa.string())
        else:
            rows[key] = pa.nulls(n, type=pa.string())
    return rows


def _texts(values: pa.Array | list) -> pa.Array:
    """``_text`` of every value. An Arrow column's plain values (most of them: ids, numbers,
    names) stay as they are, ``_text`` runs once per distinct other value; a list's values
    (feature properties: numbers or anything else JSON holds) go one by one."""
    if not isinstance(values, pa.Array):
        return pa.array([_text(v) for v in values], type=pa.string())
    todo = _not_plain(values)
    if not todo.any():
        return values
    [fixed] = per_distinct(lambda v: (_text(v),), [values.take(pa.array(np.flatnonzero(todo)))], [pa.string()])
    return pc.replace_with_mask(values, pa.array(todo), fixed)


def _not_plain(values: pa.Array) -> np.ndarray:
    """Rows ``_text`` may change: empty, not printable ASCII at either end (a blank to strip,
    or any other character: Python's ``strip`` knows more blanks than ASCII), or a whole
    number written as a float (``12.0``). Null rows are left as they are."""
    raw = values.cast(pa.binary())
    ends = [pc.binary_slice(raw, 0, 1), pc.binary_slice(raw, -1, _LONGEST)]
    plain = pc.and_(*(pc.and_(pc.greater_equal(e, b"!"), pc.less_equal(e, b"~")) for e in ends))
    todo = pc.fill_null(pc.invert(plain), False).to_numpy(zero_copy_only=False)
    zero = np.flatnonzero(pc.fill_null(pc.ends_with(values, "0"), False).to_numpy(zero_copy_only=False))
    if zero.size:
        todo[zero] |= pc.match_substring_regex(values.take(pa.array(zero)), _FLOAT_INT.pattern).to_numpy(
            zero_copy_only=False)
    return todo


_LONGEST = 2**31 - 1  # a slice's end: to the end of the value


def _joined(*parts: str | None) -> tuple[str | None]:
    return (" ".join(p for p in parts if p) or None,)


_SPLIT_FIELDS = ("address", "number", "street", "unit", "unit_type")


def _split_numbers(rows: dict[str, pa.Array]) -> None:
    """``_split_lines`` on the rows that need it: those with an address line and no number or
    street, and those whose number holds a space."""
    number, street = present(rows["number"]), present(rows["street"])
    spaced = pc.fill_null(pc.match_substring(rows["number"], " "), False).to_numpy(zero_copy_only=False)
    todo = (present(rows["address"]) & ~(number & street)) | (number & street & spaced)
    if not todo.any():
        return
    at = pa.array(np.flatnonzero(todo))
    sub = {k: rows[k].take(at).to_pylist() for k in _SPLIT_FIELDS}
    _split_lines(sub)
    mask = pa.array(todo)
    for k in ("number", "street", "unit", "unit_type"):
        rows[k] = pc.replace_with_mask(rows[k], mask, pa.array(sub[k], type=pa.string()))


def _split_lines(rows: dict[str, list]) -> None:
    """Numbers and streets from an ``address`` line, and the malformed rows real OA files hold
    (NUMBER ``1016-18 WILLOW AVE``, STREET the full line)."""
    numbers, streets, units, utypes = rows["number"], rows["street"], rows["unit"], rows["unit_type"]
    for i, line in enumerate(rows["address"]):
        if line and not (numbers[i] and streets[i]):
            m = _ADDRESS_LINE.match(line)
            if m:
                numbers[i], streets[i] = m.group(1), m.group(2)
                if m.group(4) and not units[i]:
                    utypes[i], units[i] = m.group(3), m.group(4)
    for i, (num, street) in enumerate(zip(numbers, streets)):
        if num and street and " " in num:
            m = _NUMBER_IN_STREET.match(num)
            # "1016-18 WILLOW AVE", not "32 A" (a number and its suffix) or "12 1/2"
            if m and (len(m.group(2)) > 3 or street.startswith(m.group(1))) and "/" not in m.group(2):
                numbers[i] = m.group(1)
                sm = _NUMBER_IN_STREET.match(street)
                streets[i] = sm.group(2) if sm and sm.group(1) == m.group(1) else m.group(2)


def _floats(values: pa.Array | list) -> np.ndarray:
    """Numbers from text; blanks and non-numbers become NaN. A text column Arrow reads whole is
    read by Arrow; one with a value it refuses (``" 1.5"``, ``1_000``) goes value by value."""
    if isinstance(values, pa.Array):
        try:
            return pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            values = values.to_pylist()
    try:
        return np.array(["nan" if v is None or v == "" else v for v in values], dtype=float)
    except (TypeError, ValueError):
        out = np.full(len(values), np.nan)
        for i, v in enumerate(values):
            with contextlib.suppress(TypeError, ValueError):
                out[i] = float(v)
        return out


def _countries(rows: dict[str, pa.Array], lon: np.ndarray, lat: np.ndarray) -> tuple[pa.Array, pa.Array, pa.Array]:
    """(country, state, postcode) columns, ``_place`` once per distinct (country, region,
    postcode, whether the point can lie in the US either way round)."""
    us_either = plausible_us(lon, lat) | plausible_us(lat, lon)
    country, state, postcode = per_distinct(_place, [rows["country"], rows["region"], rows["postcode"], us_either],
                                            [pa.string()] * 3)
    return country, state, postcode


def _place(country: str | None, region: str | None, postcode: str | None, us_either: bool,
           ) -> tuple[str | None, str | None, str | None]:
    """(country, state, postcode) of a row. US when the file says so, when the region is a US
    state, or when the postcode is a US ZIP and the point lies in the US either way round (a
    Berlin ``10117`` is not New York's ``10117``). A US ZIP the source kept as a number
    (``6042``, ``601``) gets its zeros back where the row's state, if any, agrees; postcodes of
    other countries stay as written."""
    c = _COUNTRY_NAMES.get(country.upper(), country.upper()) if country else None
    st = state_code(region) if region else None
    raw_pc = postal_text(postcode)
    z = us_zip(raw_pc, st)
    if c is None and (st or (z and places.zip_info(z) and us_either)):
        c = "US"
    if c == "US":
        info = places.zip_info(z)
        return c, st or (info.state if info else (region.upper() if region else None)), \
            z or (raw_pc.upper() if raw_pc else None)
    return c, region.upper() if region else None, " ".join(raw_pc.upper().split()) if raw_pc else None


def _city(city: str | None, country: str | None, postcode: str | None) -> tuple[str | None]:
    """The city as written, upper case; a US row without one gets its ZIP's."""
    out = " ".join(city.upper().split()) if city else None
    if country == "US" and not out:
        info = places.zip_info(postcode)
        out = info.city if info else None
    return (out,)


def _numbered(number: str | None) -> tuple[bool]:
    # placeholders such as "-9" or "N/A" are not house numbers
    return (bool(number) and any(ch.isdigit() for ch in number) and not number.startswith("-"),)


def _rows_to_batches(rows: dict[str, pa.Array], report: LoadReport, path: Path, offset: int,
                     ) -> Iterator[tuple[str, pa.RecordBatch]]:
    n = len(rows["number"])
    lon, lat = _floats(rows["lon"]), _floats(rows["lat"])
    _split_numbers(rows)
    country, state, postcode = _countries(rows, lon, lat)
    us = pc.fill_null(pc.equal(country, "US"), False).to_numpy(zero_copy_only=False)
    where = f"rows {offset + 2:,}..{offset + n + 1:,}"
    ok = check_swapped(lon, lat, us, path, where)
    have = ~(np.isnan(lon) | np.isnan(lat))
    if (~have).any():
        report.skip("no coordinates", int((~have).sum()))
    if (have & ~ok).any():
        report.skip("coordinates off the map", int((have & ~ok).sum()))
    named = present(rows["number"]) & present(rows["street"])
    if (ok & ~named).any():
        report.skip("no number or street", int((ok & ~named).sum()))
    numbered = per_distinct(_numbered, [rows["number"]], [pa.bool_()])[0].to_numpy(zero_copy_only=False)
    if (ok & named & ~numbered).any():
        report.skip("house number without digits", int((ok & named & ~numbered).sum()))
    keep = np.flatnonzero(ok & named & numbered)
    if keep.size == 0:
        return
    at = pa.array(keep)

    def pick(col: pa.Array) -> pa.Array:
        return col.take(at)

    kept_state, kept_pc, kept_country = pick(state), pick(postcode), pick(country)
    [city] = per_distinct(_city, [pick(rows["city"]), kept_country, kept_pc], [pa.string()])
    std_numbers, number_ints = per_distinct(standard_number, [pick(rows["number"])], [pa.string(), pa.int64()])
    utypes, units = per_distinct(standard_unit, [pick(rows["unit"]), pick(rows["unit_type"])], [pa.string()] * 2)
    ids = pick(rows["id"])
    keys = pc.if_else(present(ids), ids, pa.array(keep + offset + 2).cast(pa.string()))
    streets = street_columns(pick(rows["street"]))
    cols = {
        "source_key": keys,
        "country": kept_country,
        "state": kept_state,
        "city": city,
        "postal_code": kept_pc,
        "number": std_numbers,
        "number_int": number_ints,
        "unit_type": utypes,
        "unit": units,
        "lat": lat[keep],
        "lon": lon[keep],
        **streets,
    }
    yield "address_points", batches_from_rows(cols, POINT_SCHEMA)
    alts = pick(rows["alt_street"])
    has_alt = np.flatnonzero(present(alts))
    if has_alt.size:
        yield from _alt_names(alts, has_alt, cols, streets)


def _alt_names(alts: pa.Array, has_alt: np.ndarray, cols: dict[str, pa.Array], streets: dict[str, pa.Array],
               ) -> Iterator[tuple[str, pa.RecordBatch]]:
    """The ``alt_street`` names of the points at ``has_alt``, but those equal to the point's street."""
    at = pa.array(has_alt)
    alt = street_columns(alts.take(at))
    acols = {"source_key": cols["source_key"].take(at).to_pylist(), **{k: v.to_pylist() for k, v in alt.items()}}
    for k in ("country", "state", "postal_code"):
        acols[k] = cols[k].take(at).to_pylist()
    for k in ("predir", "name_key", "type", "postdir"):
        acols[f"of_{k}"] = streets[k].take(at).to_pylist()
    same = [all(acols[k][j] == acols[f"of_{k}"][j] for k in ("predir", "name_key", "type", "postdir"))
            for j in range(len(has_alt))]
    if any(same):
        acols = {k: [v for v, s in zip(vals, same) if not s] for k, vals in acols.items()}
    if acols["source_key"]:
        yield "alt_names", batches_from_rows(acols, ALT_NAME_SCHEMA)


# ----------------------------------------------------------------------------- file formats


def _check_text(path: Path, encoding: str) -> None:
    try:
        with open(path, "rb") as f:
            head = f.read(65536)
    except OSError as exc:
        raise GazetteerError(f"cannot read ({exc.strerror})", str(path)) from exc
    if not head.strip():
        raise GazetteerError("empty file", str(path))
    if head[:4] == b"PK\x03\x04" or b"\x00" in head:
        raise GazetteerError("binary data, not CSV text (wrong extension?)", str(path))
    if encoding == "utf-8":
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:
                line = head[: exc.start].count(b"\n") + 1
                raise GazetteerError(f"not UTF-8 text (line {line}, byte {head[exc.start]:#x}); re-save it as "
                                     "UTF-8 or give its encoding (e.g. encoding = \"cp1252\")", str(path)) from exc


def _csv_header(path: Path, encoding: str) -> list[str]:
    """The column names on a CSV's first line, read apart so that every column can be declared
    text before Arrow sees a value (its type inference reads POSTCODE ``06042`` as the int 6042)."""
    try:
        with open(path, encoding="utf-8-sig" if encoding == "utf-8" else encoding, newline="") as f:
            return next(csv.reader(f), [])
    except (UnicodeDecodeError, csv.Error) as exc:
        raise GazetteerError(f"unreadable header line ({exc})", str(path)) from exc


def read_oa_csv(path: Path, columns: ColumnMap, report: LoadReport) -> Iterator[tuple[str, pa.RecordBatch]]:
    """Every column is read as text: no inference decides that a postcode, id or unit is a number."""
    _check_text(path, columns.encoding)
    header = _csv_header(path, columns.encoding)
    text = dict.fromkeys(header, pa.string())
    offset = 0
    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=8 << 20, encoding=columns.encoding),
            convert_options=pacsv.ConvertOptions(column_types=text, strings_can_be_null=True, auto_dict_encode=False),
            parse_options=pacsv.ParseOptions(newlines_in_values=False),
        )
        if reader.schema.names != header or any(t != pa.string() for t in reader.schema.types):
            raise GazetteerError(f"unreadable header line (Arrow reads the columns {_shown(reader.schema.names)})",
                                 str(path))
        fields = columns.resolve(header, path)
        for batch in reader:
            for start in range(0, batch.num_rows, BATCH_ROWS):
                part = batch.slice(start, BATCH_ROWS)
                n = part.num_rows
                rows = _gather(lambda c, b=part: b.column(c), fields, columns.constants, n)
                yield from _rows_to_batches(rows, report, path, offset)
                offset += n
    except pa.ArrowInvalid as exc:
        msg = str(exc).split("\n")[0]
        where = f" after row {offset + 1:,}" if offset else ""
        if "utf8" in msg.lower():
            raise GazetteerError(f"not UTF-8 text{where}; re-save it as UTF-8 or give its encoding "
                                 "(e.g. encoding = \"cp1252\")", str(path)) from exc
        raise GazetteerError(f"malformed CSV{where} ({msg})", str(path)) from exc


def read_oa_geojson(path: Path, columns: ColumnMap, report: LoadReport) -> Iterator[tuple[str, pa.RecordBatch]]:
    features = ((f.get("properties") or {}, f.get("geometry")) for f in read_features(path))
    yield from _read_features(features, path, columns, report)


def read_oa_shapefile(path: Path, columns: ColumnMap, report: LoadReport) -> Iterator[tuple[str, pa.RecordBatch]]:
    """Point or parcel shapefiles (``.shp`` set or ``.zip``) in lon/lat: parcels give their
    representative point, as OpenAddresses does."""
    features = ((attrs, shape.__geo_interface__) for attrs, shape in read_shapes(path))
    yield from _read_features(features, path, columns, report)


def _point_of(geom: dict | None) -> tuple[float, float]:
    """A GeoJSON geometry's point: itself, or a representative point of a polygon or line."""
    if not geom:
        return np.nan, np.nan
    try:
        coords = geom.get("coordinates")
        if geom.get("type") == "Point":
            return float(coords[0]), float(coords[1])
        shp = shapely.geometry.shape(geom)
        if shp.is_empty:
            return np.nan, np.nan
        p = shp.representative_point() if shp.geom_type.endswith("Polygon") else shp.centroid
        return float(p.x), float(p.y)
    except (TypeError, ValueError, IndexError, KeyError, AttributeError, shapely.errors.GEOSException):
        return np.nan, np.nan


def _read_features(features: Iterator[tuple[dict, dict | None]], path: Path, columns: ColumnMap,
                   report: LoadReport) -> Iterator[tuple[str, pa.RecordBatch]]:
    offset = 0
    fields: dict[str, list[str]] | None = None
    for chunk in chunked(features, BATCH_ROWS):
        props = [p for p, _ in chunk]
        if fields is None:
            header = sorted({k for p in props[:1000] for k in p})
            cm = ColumnMap(columns=dict(columns.columns), constants=columns.constants)
            for key in ("number", "street", "unit", "city", "district", "region", "postcode", "id"):
                if key not in cm.columns and key.upper() not in {h.upper() for h in header}:
                    continue
                cm.columns.setdefault(key, [key])
            cm.columns.pop("lon", None)
            cm.columns.pop("lat", None)
            fields = cm.resolve(header, path, need_coordinates=False)
        n = len(chunk)
        rows = _gather(lambda c, ps=props: [p.get(c) for p in ps], fields, columns.constants, n)
        points = [_point_of(geom) for _, geom in chunk]
        rows["lon"] = [p[0] for p in points]
        rows["lat"] = [p[1] for p in points]
        yield from _rows_to_batches(rows, report, path, offset)
        offset += n


def read_openaddresses(path: Path, columns: ColumnMap | None, report: LoadReport,
                       ) -> Iterator[tuple[str, pa.RecordBatch]]:
    """``(table, batch)`` pairs: ``address_points`` and, where the source has them, ``alt_names``."""
    if not path.exists():
        raise GazetteerError("no such file", str(path))
    if path.is_dir():
        raise GazetteerError("is a folder, not a file", str(path))
    columns = columns or ColumnMap()
    suffix = path.suffix.lower()
    name = path.name.lower()
    with open(path, "rb") as f:
        head = f.read(512)
    if suffix == ".csv":
        yield from read_oa_csv(path, columns, report)
    elif suffix in (".geojson", ".geojsonl", ".json", ".ndjson") or name.endswith((".geojson.gz", ".geojsonl.gz")):
        if not name.endswith(".gz") and head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] not in (b"{", b""):
            raise GazetteerError(f"not GeoJSON: the file starts with {head[:20]!r} (wrong extension?)", str(path))
        yield from read_oa_geojson(path, columns, report)
    elif suffix in (".zip", ".shp"):
        if suffix == ".zip" and not head.startswith(b"PK\x03\x04"):
            raise GazetteerError("not a zip archive (wrong extension or an error page?)", str(path))
        yield from read_oa_shapefile(path, columns, report)
    else:
        raise GazetteerError("unknown OpenAddresses file type (expected .csv, .geojson or a zipped shapefile)",
                             str(path))
