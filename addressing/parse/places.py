"""US ZIP codes and city names from the ``zipcodes`` package, as lookup tables for parsing.

The parser reads the last line of an address from the right (ZIP, state, city); knowing
which city names exist in a state is what tells where the street ends and the city starts
in ``3359 QUEEN CITY AVE CINCINNATI OH 45238``.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import cache

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


@cache
def zip_table() -> dict[str, ZipInfo]:
    """Every US ZIP (42,789) keyed by its five digits."""
    with _lock:
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
