"""The gazetteer's one model: every loader converts its source into these Arrow batches.

Later stages never see a source's own column names. Street names are split and keyed here
with the same standardizer the parser uses, so a parsed ``N MAIN ST`` and a TIGER
``N Main St`` meet on equal keys.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache, wraps
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

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


#: distinct arguments a ``memoized`` function keeps results for (the house numbers and ZIPs of
#: a few counties; some 10 MB each, whatever the size of the build)
MEMO_SIZE = 65_536


def memoized(fn: Callable) -> Callable:
    """``fn`` with its result kept per distinct arguments, told apart by type (``1``, ``1.0``
    and ``True`` are three arguments); arguments that cannot be keys are computed each time."""
    cached = lru_cache(maxsize=MEMO_SIZE, typed=True)(fn)

    @wraps(fn)
    def call(*args):
        try:
            return cached(*args)
        except TypeError:
            return fn(*args)

    return call


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


def per_distinct(fn: Callable[..., tuple], columns: list[pa.Array | np.ndarray], types: list[pa.DataType],
                 ) -> list[pa.Array]:
    """``fn`` called once per distinct combination of the columns' values (street names repeat
    20-50 times in a file, a (region, postcode) pair thousands of times), its results put back
    in row order: one Arrow array per result of ``fn``, typed by ``types``. Nulls are values too
    (``fn`` receives None). Columns are Arrow arrays or numpy arrays of equal length.

    >>> per_distinct(lambda v: (v and v.upper(),), [pa.array(["a", None, "a"])], [pa.string()])[0].to_pylist()
    ['A', None, 'A']
    >>> per_distinct(lambda v: (v,), [pa.array([], pa.string())], [pa.string()])[0].to_pylist()
    []
    """
    combo = None
    for col in columns:
        codes, size = _codes(col)
        # kept below n * size at every step by numbering the combinations seen so far
        combo = codes if combo is None else _first_seen(combo * size + codes)
    first = _first_rows(combo)
    args = [_values_at(col, first) for col in columns]
    results = [fn(*vals) for vals in zip(*args)]
    rows = pa.array(combo)
    return [pa.array([r[j] for r in results], type=t).take(rows) for j, t in enumerate(types)]


def _codes(col: pa.Array | np.ndarray) -> tuple[np.ndarray, int]:
    """Each row's value as an integer numbered in the order values first appear (equal values,
    equal integers), and how many there are; numbered by hashing, in one pass, not by sorting."""
    if isinstance(col, np.ndarray) and col.dtype.kind not in "biuf":
        uniq, codes = np.unique(col, return_inverse=True)
        return _first_seen(codes.reshape(-1).astype(np.int64)), max(len(uniq), 1)
    enc = pc.dictionary_encode(pa.array(col) if isinstance(col, np.ndarray) else col, null_encoding="encode")
    return enc.indices.to_numpy(zero_copy_only=False).astype(np.int64), max(len(enc.dictionary), 1)


def _first_seen(keys: np.ndarray) -> np.ndarray:
    """Integer keys renumbered 0, 1, ... in the order each first appears."""
    return pc.dictionary_encode(pa.array(keys)).indices.to_numpy(zero_copy_only=False).astype(np.int64)


def _first_rows(codes: np.ndarray) -> np.ndarray:
    """Where each code of ``codes`` (numbered in the order of first appearance) first appears,
    by code: a row holds a code's first appearance where the running maximum rises.

    >>> _first_rows(np.array([0, 1, 0, 2, 1, 3])).tolist()
    [0, 1, 3, 5]
    """
    top = np.maximum.accumulate(codes)
    rises = np.ones(len(codes), dtype=bool)
    rises[1:] = top[1:] > top[:-1]
    return np.flatnonzero(rises)


def _values_at(col: pa.Array | np.ndarray, rows: np.ndarray) -> list:
    if isinstance(col, np.ndarray):
        return col[rows].tolist()
    return col.take(pa.array(rows, type=pa.int64())).to_pylist()


def present(col: pa.Array) -> np.ndarray:
    """Rows whose text is there: neither null nor empty (what ``bool(value)`` says of a row)."""
    return pc.fill_null(pc.greater(pc.binary_length(col), 0), False).to_numpy(zero_copy_only=False)


STREET_PARTS = ("predir", "name", "type", "postdir", "name_key", "sound_key")


def street_parts(full: str | None) -> tuple[str | None, str | None, str | None, str | None, str, str]:
    """A source's street name -> standardized (predir, name, type, postdir, name_key, sound_key)."""
    a, b, c, d = split_full_name(full)
    return a, b, c, d, name_key(b), sound_key(b)


def forget_street_names() -> None:
    """Empty the street-name caches of ``keys``. A build calls it after each source, so that
    they hold one source's names, not every name of the build (83,000 names of a national
    build's first 80 sources took 46 MB; they keep up to 500,000)."""
    for fn in (split_full_name, name_key, sound_key):
        fn.cache_clear()


def street_columns(full_names: list[str | None] | pa.Array) -> dict[str, pa.Array]:
    """Split source street names into standardized parts and keys, once per distinct name."""
    names = full_names if isinstance(full_names, pa.Array) else pa.array(full_names, type=pa.string())
    return dict(zip(STREET_PARTS, per_distinct(street_parts, [names], [pa.string()] * len(STREET_PARTS))))


_NUMBER_LETTER = re.compile(r"^(\d+) ([A-Z])$")


def standard_number(number: str | None) -> tuple[str | None, int | None]:
    """A standardized house number and its integer. A number and a one-letter suffix kept in
    two columns (SF's ``ADDR_NUM`` 745, ``ADDR_N_SFX`` A) are written as the parser writes
    ``745A``."""
    std = house_number(_clean_number(number))
    if std and " " in std:
        std = _NUMBER_LETTER.sub(r"\1\2", std)
    return std, house_number_int(std)


def _clean_number(n: str | None) -> str | None:
    if n is None:
        return None
    n = str(n).strip()
    if n.endswith(".0") and n[:-2].isdigit():
        n = n[:-2]
    return n or None


_UNIT_WITH_TYPE = re.compile(r"^\s*([A-Za-z]+)\.?\s+#?\s*(\S.*)$")


def standard_unit(unit: str | None, kind: str | None = None) -> tuple[str | None, str | None]:
    """(unit type, unit value) of a unit and the type a source gives it apart; a type written in
    the unit (``APT 4``) wins; a unit without a known type is ``#``."""
    u = _clean_number(unit)
    t = kind
    if u:
        m = _UNIT_WITH_TYPE.match(u)
        if m and unit_type(m.group(1)):
            t, u = m.group(1), m.group(2)
    return ((unit_type(t) or "#") if u else None), (unit_value(u) if u else None)


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
