"""US ZIP codes and city names from the ``zipcodes`` package, as lookup tables for parsing.

The parser reads the last line of an address from the right (ZIP, state, city); knowing
which city names exist in a state is what tells where the street ends and the city starts
in ``3359 QUEEN CITY AVE CINCINNATI OH 45238``.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import re
import tempfile
import threading
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from addressing.user_cache import cache_dir

_lock = threading.Lock()
_PUNCT = re.compile(r"[^A-Z0-9 ]+")


def plain_upper(text: str) -> str:
    """Upper case, accents folded, punctuation dropped, single spaces."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).upper()
    text = text.replace("'", "")
    return " ".join(_PUNCT.sub(" ", text).split())


@dataclass(frozen=True, slots=True)
class ZipInfo:
    zip_code: str
    type: str
    active: bool
    city: str
    acceptable_cities: tuple[str, ...]
    state: str
    county: str
    timezone: str
    lat: float | None
    lon: float | None


_CITY_WORD_VARIANTS = {"SAINT": "ST", "ST": "SAINT", "MOUNT": "MT", "MT": "MOUNT", "FORT": "FT", "FT": "FORT",
                       "SAINTE": "STE", "STE": "SAINTE"}


def city_variants(name: str) -> set[str]:
    """A city name and its common short forms (SAINT LOUIS / ST LOUIS)."""
    words = name.split()
    out = {name}
    for i, w in enumerate(words):
        if w in _CITY_WORD_VARIANTS:
            out.add(" ".join(words[:i] + [_CITY_WORD_VARIANTS[w]] + words[i + 1 :]))
    return out


#: the prepared table's layout; a table cached under another revision is made again
TABLE_REVISION = "1"
_ZIP_FIELDS = ("zip_code", "type", "active", "city", "acceptable_cities", "state", "county", "timezone", "lat", "lon")


@cache
def zip_table() -> dict[str, ZipInfo]:
    """Every US ZIP (42,789) keyed by its five digits.

    Preparing it from ``zipcodes`` (reading its data, folding every city name) takes seconds,
    which a fresh worker's first order cannot afford; the prepared table is kept in the user's
    cache, one file per ``zipcodes`` release, and read back in a fraction of that."""
    with _lock:
        path = _cached_table_path()
        table = _read_cached(path) if path is not None else None
        if table is None:
            table = prepare_zip_table()
            if path is not None:
                _write_cached(table, path)
        return table


def prepare_zip_table() -> dict[str, ZipInfo]:
    """The table made from ``zipcodes`` itself (what ``zip_table`` keeps in the cache)."""
    import zipcodes

    table = {}
    for z in zipcodes.list_all():
        try:
            lat, lon = float(z["lat"]), float(z["long"])
        except (TypeError, ValueError):
            lat = lon = None
        if lat == 0 and lon == 0:  # military ZIPs: unknown, not a point in the Atlantic
            lat = lon = None
        table[z["zip_code"]] = ZipInfo(
            zip_code=z["zip_code"],
            type=z["zip_code_type"],
            active=bool(z["active"]),
            city=plain_upper(z["city"]),
            acceptable_cities=tuple(plain_upper(c) for c in z["acceptable_cities"]),
            state=z["state"],
            county=z["county"],
            timezone=z["timezone"],
            lat=lat,
            lon=lon,
        )
    return table


def _cached_table_path() -> Path | None:
    try:
        version = importlib.metadata.version("zipcodes")
    except importlib.metadata.PackageNotFoundError:
        return None
    return cache_dir("tables", f"zip-table-{version}-r{TABLE_REVISION}.arrow")


def _read_cached(path: Path) -> dict[str, ZipInfo] | None:
    """The cached table, or ``None`` when there is none or it cannot be read (it is made again)."""
    import pyarrow as pa

    try:
        with pa.memory_map(str(path)) as source:
            columns = pa.ipc.open_file(source).read_all().to_pydict()
    except (OSError, pa.ArrowException):
        return None
    if list(columns) != list(_ZIP_FIELDS):
        return None
    columns["acceptable_cities"] = [tuple(c) for c in columns["acceptable_cities"]]
    return {z: ZipInfo(*row) for z, row in zip(columns["zip_code"], zip(*columns.values()), strict=True)}


def _write_cached(table: dict[str, ZipInfo], path: Path) -> None:
    """Best effort: a cache that cannot be written only costs the next process the preparation."""
    import pyarrow as pa

    rows = list(table.values())
    data = pa.table({f: [getattr(r, f) for r in rows] for f in _ZIP_FIELDS})
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name, dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as sink, pa.ipc.new_file(sink, data.schema) as writer:
                writer.write_table(data)
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    except OSError:
        return


@cache
def cities_by_state() -> dict[str, dict[str, str]]:
    """state -> {written city name (with variants) -> preferred spelling}."""
    out: dict[str, dict[str, str]] = {}
    for info in zip_table().values():
        names = out.setdefault(info.state, {})
        for city in (info.city, *info.acceptable_cities):
            for v in city_variants(city):
                names.setdefault(v, city)
    return out


@cache
def city_states() -> dict[str, frozenset[str]]:
    """written city name -> the states that have a place of that name."""
    tmp: dict[str, set[str]] = {}
    for state, names in cities_by_state().items():
        for name in names:
            tmp.setdefault(name, set()).add(state)
    return {k: frozenset(v) for k, v in tmp.items()}


@cache
def max_city_words() -> int:
    return max(len(name.split()) for name in city_states())


@cache
def zips_by_city() -> dict[tuple[str, str], tuple[str, ...]]:
    """(state, preferred or acceptable city) -> its ZIP codes, standard ones first."""
    tmp: dict[tuple[str, str], list[tuple[int, str]]] = {}
    rank = {"STANDARD": 0, "UNIQUE": 1, "PO BOX": 2, "MILITARY": 3}
    for info in zip_table().values():
        for city in {info.city, *info.acceptable_cities}:
            tmp.setdefault((info.state, city), []).append((rank.get(info.type, 4), info.zip_code))
    return {k: tuple(z for _, z in sorted(v)) for k, v in tmp.items()}


def zip_info(code: str | None) -> ZipInfo | None:
    if not code:
        return None
    return zip_table().get(code[:5])
