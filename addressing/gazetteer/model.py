"""The gazetteer's one model: every loader converts its source into these Arrow batches.

Later stages never see a source's own column names. Street names are split and keyed here
with the same standardizer the parser uses, so a parsed ``N MAIN ST`` and a TIGER
``N Main St`` meet on equal keys.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from addressing.errors import GazetteerError
from addressing.gazetteer.keys import name_key, sound_key, split_full_name
from addressing.parse.standardize import house_number, house_number_int, unit_type, unit_value

#: the standardized street parts and blocking keys every street-bearing table carries
_STREET = [
    ("predir", pa.string()),
    ("name", pa.string()),
    ("type", pa.string()),
    ("postdir", pa.string()),
    ("name_key", pa.string()),
    ("sound_key", pa.string()),
]
_PLACE = [
    ("country", pa.string()),
    ("state", pa.string()),
    ("city", pa.string()),
    ("postal_code", pa.string()),
]

POINT_SCHEMA = pa.schema(
    [
        ("source_key", pa.string()),
        *_PLACE,
        ("number", pa.string()),
        ("number_int", pa.int64()),
        *_STREET,
        ("unit_type", pa.string()),
        ("unit", pa.string()),
        ("lat", pa.float64()),
        ("lon", pa.float64()),
    ]
)

SEGMENT_SCHEMA = pa.schema(
    [
        ("source_key", pa.string()),
        *_PLACE,
        ("zip_left", pa.string()),
        ("zip_right", pa.string()),
        *_STREET,
        ("from_left", pa.int64()),
        ("to_left", pa.int64()),
        ("from_right", pa.int64()),
        ("to_right", pa.int64()),
        ("parity_left", pa.string()),
        ("parity_right", pa.string()),
        ("sided", pa.bool_()),
        ("geom", pa.binary()),
        ("lat", pa.float64()),
        ("lon", pa.float64()),
    ]
)

ALT_NAME_SCHEMA = pa.schema(
    [
        ("source_key", pa.string()),
        *_STREET,
        # the street it is another name of (its key in ``streets``)
        ("country", pa.string()),
        ("state", pa.string()),
        ("postal_code", pa.string()),
        ("of_predir", pa.string()),
        ("of_name_key", pa.string()),
        ("of_type", pa.string()),
        ("of_postdir", pa.string()),
    ]
)

POSTAL_SCHEMA = pa.schema(
    [
        ("country", pa.string()),
        ("postal_code", pa.string()),
        ("type", pa.string()),
        ("active", pa.bool_()),
        ("city", pa.string()),
        ("acceptable_cities", pa.list_(pa.string())),
        ("state", pa.string()),
        ("county", pa.string()),
        ("timezone", pa.string()),
        ("lat", pa.float64()),
        ("lon", pa.float64()),
    ]
)

BATCH_ROWS = 50_000


@dataclass
class SqlSelect:
    """A loader's rows as a SELECT that DuckDB runs over the file itself (for big, simple
    files); ``checks`` are (SQL counting bad rows of the source in ``{table}``, message) run
    after the insert."""

    sql: str
    params: list
    path: str
    checks: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class LoadReport:
    rows: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str, n: int = 1) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + n


def file_checksum(paths: list[Path]) -> str:
    """SHA-256 over the bytes of a source's files (all parts of a shapefile)."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        with open(path, "rb") as f:
            while block := f.read(1 << 20):
                digest.update(block)
    return digest.hexdigest()


_YEAR = re.compile(r"(?<!\d)(19|20)\d{2}(?!\d)")
_FIPS_COUNTY = re.compile(r"(?<!\d)(\d{2})(\d{3})(?!\d)")


def vintage_of(path: Path) -> str | None:
    """The year in a source's file name (``tl_2021_30059_addrfeat.zip``, ``2016.geojsonl``)."""
    m = _YEAR.search(path.name)
    return m.group(0) if m else None


def county_fips(path: Path) -> str | None:
    """The 5-digit state+county FIPS code in a TIGER file's name or its folder's name."""
    for text in (_YEAR.sub("", path.name), path.parent.name):
        m = _FIPS_COUNTY.search(text)
        if m:
            return m.group(0)
    return None


def default_source_name(kind: str, path: Path) -> str:
    """Stable name of a source across vintages and formats, so that a newer vintage replaces
    the older one: TIGER files are named by county (``tiger:30059`` for
    ``tl_2021_30059_addrfeat.zip``, its ``.shp`` set and ``meagher_mt_30059/2016.geojsonl``);
    other files by their name without the year (``openaddresses:us-mt-statewide``)."""
    if kind == "tiger":
        fips = county_fips(path)
        if fips:
            return f"tiger:{fips}"
    stem = path.name.split(".")[0]
    base = re.sub(r"[_-]{2,}", "_", _YEAR.sub("", stem)).strip("_-. ")
    if not base:
        base = path.parent.name
    return f"{kind}:{base}"


def plausible_us(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Whether points can be in the US or its territories (lon -180..-64 or 144..180, lat -15..72).

    Used to catch swapped coordinates: a US point read the wrong way round is never plausible,
    while the same point read correctly is.
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    return ((lat >= -15) & (lat <= 72)) & (((lon >= -180) & (lon <= -64)) | ((lon >= 144) & (lon <= 180)))


def check_swapped(lon: np.ndarray, lat: np.ndarray, us: np.ndarray, path: Path, where: str) -> np.ndarray:
    """Mask of usable coordinates; raises when most rows look like latitude/longitude swapped.

    Rows out of the world's range are unusable; US rows (``us`` mask) must also lie in the US.
    When at least half of the rows with coordinates are unusable and would be usable swapped,
    the file's columns are the wrong way round: say so rather than silently drop the rows.
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    us = np.asarray(us, dtype=bool)
    have = ~(np.isnan(lon) | np.isnan(lat))
    world = (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
    world_sw = (np.abs(lon) <= 90) & (np.abs(lat) <= 180)
    ok = have & world & (~us | plausible_us(lon, lat))
    ok_sw = have & world_sw & (~us | plausible_us(lat, lon))
    bad = have & ~ok
    swapped = int((bad & ok_sw).sum())
    n = int(have.sum())
    if n and swapped * 2 >= n:
        raise GazetteerError(f"{where}: {swapped:,} of {n:,} points are only valid with longitude and latitude "
                             "swapped; are the coordinate columns the wrong way round?", str(path))
    return ok


def street_columns(full_names: list[str | None]) -> dict[str, list]:
    """Split source street names into standardized parts and keys (cached per distinct name)."""
    pre, name, typ, post, nkey, skey = [], [], [], [], [], []
    for full in full_names:
        a, b, c, d = split_full_name(full)
        pre.append(a)
        name.append(b)
        typ.append(c)
        post.append(d)
        nkey.append(name_key(b))
        skey.append(sound_key(b))
    return {"predir": pre, "name": name, "type": typ, "postdir": post, "name_key": nkey, "sound_key": skey}


_NUMBER_LETTER = re.compile(r"^(\d+) ([A-Z])$")


def number_columns(numbers: list[str | None]) -> tuple[list[str | None], list[int | None]]:
    """Standardized house numbers and their integers. A number and a one-letter suffix kept in
    two columns (SF's ``ADDR_NUM`` 745, ``ADDR_N_SFX`` A) are written as the parser writes
    ``745A``."""
    std = [house_number(_clean_number(n)) for n in numbers]
    std = [_NUMBER_LETTER.sub(r"\1\2", n) if n and " " in n else n for n in std]
    return std, [house_number_int(n) for n in std]


def _clean_number(n: str | None) -> str | None:
    if n is None:
        return None
    n = str(n).strip()
    if n.endswith(".0") and n[:-2].isdigit():
        n = n[:-2]
    return n or None


def unit_columns(units: list[str | None], types: list[str | None] | None = None) -> tuple[list, list]:
    out_t, out_v = [], []
    for i, u in enumerate(units):
        u = _clean_number(u)
        t = types[i] if types else None
        if u:
            m = re.match(r"^\s*([A-Za-z]+)\.?\s+#?\s*(\S.*)$", u)
            if m and unit_type(m.group(1)):
                t, u = m.group(1), m.group(2)
        out_t.append((unit_type(t) or "#") if u else None)
        out_v.append(unit_value(u) if u else None)
    return out_t, out_v


def batches_from_rows(rows: dict[str, list], schema: pa.Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict({f.name: rows.get(f.name, [None] * _n(rows)) for f in schema}, schema=schema)


def _n(rows: dict[str, list]) -> int:
    for v in rows.values():
        return len(v)
    return 0


def chunked(it: Iterator, size: int = BATCH_ROWS) -> Iterator[list]:
    buf = []
    for x in it:
        buf.append(x)
        if len(buf) >= size:
            yield buf
            buf = []
    if buf:
        yield buf
