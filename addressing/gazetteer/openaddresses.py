"""OpenAddresses points -> address points.

The standard OA CSV (https://github.com/openaddresses/openaddresses/blob/master/CONTRIBUTING.md),
one point per row::

    LON,LAT,NUMBER,STREET,UNIT,CITY,DISTRICT,REGION,POSTCODE,ID,HASH
    -74.0310957,40.7498567,1016,Willow Avenue,,Hoboken,,NJ,07030,,

or OA GeoJSON (features with lower-case ``number``, ``street``... properties). Local
schemas (San Francisco EAS, Alameda SPAD, ...) are read with a ``ColumnMap`` instead of
code per county: each OA field names one source column or several joined with spaces,
and constants fill what the source lacks (``city = "SAN FRANCISCO"``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from addressing.errors import ConfigError, GazetteerError
from addressing.gazetteer.model import (
    POINT_SCHEMA,
    LoadReport,
    batches_from_rows,
    chunked,
    number_columns,
    street_columns,
    unit_columns,
)
from addressing.gazetteer.tiger import _geojson_features
from addressing.parse import places
from addressing.parse.standardize import state_code, zip_parts

FIELDS = ("lon", "lat", "number", "street", "unit", "unit_type", "city", "district", "region", "postcode", "id")
DEFAULT_COLUMNS = {
    "lon": ["LON"], "lat": ["LAT"], "number": ["NUMBER"], "street": ["STREET"], "unit": ["UNIT"],
    "city": ["CITY"], "district": ["DISTRICT"], "region": ["REGION"], "postcode": ["POSTCODE"], "id": ["ID"],
}


@dataclass
class ColumnMap:
    """Which source columns hold each OpenAddresses field, and constants for missing ones."""

    columns: dict[str, list[str]] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, spec: str | None, constants: str | None = None) -> ColumnMap:
        """``"number=ADDR_NUM,street=ST_NAME+ST_TYPE"`` and ``"city=SAN FRANCISCO,region=CA"``."""
        cm = cls()
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
        cm = cls()
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
        return f"{cols};{consts}"

    def resolve(self, header: list[str], path: Path) -> dict[str, list[str]]:
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
                raise GazetteerError(f"column mapping names missing columns {', '.join(missing)}", str(path))
        for key in ("lon", "lat"):
            if key not in out:
                raise GazetteerError(f"no {key.upper()} column (have: {', '.join(header[:12])}); "
                                     "give a column mapping", str(path))
        if "number" not in out or ("street" not in out):
            raise GazetteerError("no NUMBER/STREET columns; give a column mapping (e.g. number=ADDR_NUM,"
                                 "street=ST_NAME+ST_TYPE)", str(path))
        return out


_NUMBER_IN_STREET = re.compile(r"^\s*(\d+(?:-\d+)?[A-Za-z]?)\s+(\S.*)$")


def _rows_to_batch(rows: dict[str, list], report: LoadReport, path: Path, offset: int) -> pa.RecordBatch | None:
    n = len(rows["lon"])
    lon = [_float(v) for v in rows["lon"]]
    lat = [_float(v) for v in rows["lat"]]
    numbers = list(rows["number"])
    streets = list(rows["street"])
    # malformed rows seen in real OA files: NUMBER holds "1016-18 WILLOW AVE", STREET the full line
    for i in range(n):
        num, street = numbers[i], streets[i]
        if num and street and " " in str(num).strip():
            m = _NUMBER_IN_STREET.match(str(num))
            if m:
                numbers[i] = m.group(1)
                sm = _NUMBER_IN_STREET.match(str(street))
                streets[i] = sm.group(2) if sm and sm.group(1) == m.group(1) else m.group(2)
    keep = []
    swapped = 0
    for i in range(n):
        if lon[i] is None or lat[i] is None:
            report.skip("no coordinates")
            continue
        if not (-180 <= lon[i] <= 180 and -90 <= lat[i] <= 90):
            if -90 <= lon[i] <= 90 and -180 <= lat[i] <= 180:
                swapped += 1
            report.skip("coordinates out of range")
            continue
        if not numbers[i] or not streets[i]:
            report.skip("no number or street")
            continue
        keep.append(i)
    if swapped and swapped * 2 >= n:
        raise GazetteerError(
            f"rows {offset + 2}..{offset + n + 1}: latitude outside -90..90 in {swapped} of {n} rows; "
            "are the LON and LAT columns swapped?", str(path))
    if not keep:
        return None
    pick = lambda col: [col[i] for i in keep]  # noqa: E731
    postcode = [zip_parts(str(v).split(".")[0] if v else None)[0] or (str(v).strip() or None) if v else None
                for v in pick(rows["postcode"])]
    region = [state_code(v) if v else None for v in pick(rows["region"])]
    city = [" ".join(str(v).upper().split()) if v else None for v in pick(rows["city"])]
    for i, z in enumerate(postcode):
        info = places.zip_info(z)
        if info:
            region[i] = region[i] or info.state
            city[i] = city[i] or info.city
    std_numbers, number_ints = number_columns(pick(numbers))
    utypes, units = unit_columns(pick(rows["unit"]), pick(rows["unit_type"]))
    cols = {
        "source_key": [str(v) if v else str(offset + i + 2) for v, i in zip(pick(rows["id"]), keep)],
        "country": ["US" if r else None for r in region],
        "state": region,
        "city": city,
        "postal_code": postcode,
        "number": std_numbers,
        "number_int": number_ints,
        "unit_type": utypes,
        "unit": units,
        "lat": pick(lat),
        "lon": pick(lon),
    }
    cols.update(street_columns([str(s) for s in pick(streets)]))
    return batches_from_rows(cols, POINT_SCHEMA)


def _float(v) -> float | None:
    if v is None or v == "":
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _gather(get, fields: dict[str, list[str]], constants: dict[str, str], n: int) -> dict[str, list]:
    rows: dict[str, list] = {}
    for key in FIELDS:
        if key in fields:
            parts = [get(c) for c in fields[key]]
            if len(parts) == 1:
                rows[key] = [None if v is None or str(v).strip() == "" else str(v).strip() for v in parts[0]]
            else:
                rows[key] = [" ".join(str(p[i]).strip() for p in parts if p[i] not in (None, "")) or None
                             for i in range(n)]
        elif key in constants:
            rows[key] = [constants[key]] * n
        else:
            rows[key] = [None] * n
    return rows


def read_oa_csv(path: Path, columns: ColumnMap, report: LoadReport) -> Iterator[pa.RecordBatch]:
    try:
        with open(path, "rb") as f:
            head = f.read(65536)
    except OSError as exc:
        raise GazetteerError(f"cannot read ({exc.strerror})", str(path)) from exc
    if not head.strip():
        raise GazetteerError("empty file", str(path))
    if head[:4] == b"PK\x03\x04" or b"\x00" in head:
        raise GazetteerError("binary data, not CSV text (wrong extension?)", str(path))
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:
            raise GazetteerError(f"not UTF-8 text (byte {exc.start}: {head[exc.start]:#x}); re-save as UTF-8",
                                 str(path)) from exc
    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=8 << 20),
            convert_options=pacsv.ConvertOptions(column_types={}, strings_can_be_null=True, auto_dict_encode=False),
            parse_options=pacsv.ParseOptions(newlines_in_values=False),
        )
        header = reader.schema.names
        fields = columns.resolve(header, path)
        cast = pa.schema([pa.field(h, pa.string()) for h in header])
        offset = 0
        for batch in reader:
            batch = batch.cast(cast) if batch.schema != cast else batch
            n = batch.num_rows
            get = lambda c, b=batch: b.column(c).to_pylist()  # noqa: E731
            rows = _gather(get, fields, columns.constants, n)
            for small in _split(rows, n):
                out = _rows_to_batch(small, report, path, offset)
                if out is not None:
                    yield out
                offset += len(small["lon"])
    except pa.ArrowInvalid as exc:
        msg = str(exc).split("\n")[0]
        if "UTF8" in msg or "utf8" in msg.lower():
            raise GazetteerError("not UTF-8 text; re-save the file as UTF-8", str(path)) from exc
        raise GazetteerError(f"malformed CSV ({msg})", str(path)) from exc


def _split(rows: dict[str, list], n: int, size: int = 50_000) -> Iterator[dict[str, list]]:
    for start in range(0, n, size):
        yield {k: v[start : start + size] for k, v in rows.items()}


def read_oa_geojson(path: Path, columns: ColumnMap, report: LoadReport) -> Iterator[pa.RecordBatch]:
    offset = 0
    for chunk in chunked(_geojson_features(path)):
        props = [f.get("properties") or {} for f in chunk]
        header = sorted({k for p in props for k in p})
        cm = ColumnMap(columns={k: v for k, v in columns.columns.items()}, constants=columns.constants)
        for key in ("number", "street", "unit", "city", "district", "region", "postcode", "id"):
            cm.columns.setdefault(key, [key])
        cm.columns.pop("lon", None)
        cm.columns.pop("lat", None)
        by_upper = {h.upper(): h for h in header}
        fields = {k: [by_upper[c.upper()] for c in v] for k, v in cm.columns.items()
                  if all(c.upper() in by_upper for c in v)}
        if "number" not in fields or "street" not in fields:
            raise GazetteerError("features lack number/street properties; give a column mapping", str(path))
        n = len(chunk)
        get = lambda c: [p.get(c) for p in props]  # noqa: E731
        rows = _gather(get, fields, cm.constants, n)
        coords = [((f.get("geometry") or {}).get("coordinates") or [None, None]) for f in chunk]
        rows["lon"] = [c[0] if len(c) >= 2 else None for c in coords]
        rows["lat"] = [c[1] if len(c) >= 2 else None for c in coords]
        out = _rows_to_batch(rows, report, path, offset)
        if out is not None:
            yield out
        offset += n


def read_openaddresses(path: Path, columns: ColumnMap | None, report: LoadReport) -> Iterator[pa.RecordBatch]:
    if not path.exists():
        raise GazetteerError("no such file", str(path))
    if path.is_dir():
        raise GazetteerError("is a folder, not a file", str(path))
    columns = columns or ColumnMap()
    suffix = path.suffix.lower()
    if suffix == ".csv":
        yield from read_oa_csv(path, columns, report)
    elif suffix in (".geojson", ".geojsonl", ".json", ".ndjson"):
        yield from read_oa_geojson(path, columns, report)
    else:
        raise GazetteerError("unknown OpenAddresses file type (expected .csv or .geojson)", str(path))
