"""Addresses answered by their place rather than a street: PO boxes and the like (validated by
their last line), addresses abroad (by postal code), what is left unmatched (the ZIP centroid,
else the town, ``fallback_area`` and ``localities``), and the gazetteer's coverage (``Coverage``:
where an unmatched street says the street does not exist, and where it says only that no
street data is loaded).

Owns those answers, their confidences (``BOX_CONFIDENCE``, ``FOREIGN_CONFIDENCE``), the reasons
an unmatched address gives, and the ZIP facts every result carries (``zip_facts``).
"""

from __future__ import annotations

from functools import cache
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from addressing.gazetteer import Gazetteer, PostalCodes, PostalInfo
from addressing.match import sql
from addressing.match.result import MatchResult
from addressing.match.row_cache import RowCache
from addressing.match.scoring import MATCH_MIN
from addressing.parse.places import zips_by_city
from addressing.schema import Kind, MatchStatus, ParsedAddress, Precision

#: ZIP types without street delivery: no streets loaded for them is what they are, not a gap
NO_STREET_ZIP_TYPES = {"PO BOX", "UNIQUE", "MILITARY"}
#: a box is validated by its last line only (the ZIP exists, is in the state, serves the city):
#: a stated rule, below any street match with its address point, and lower where the city was
#: replaced by the ZIP's
BOX_CONFIDENCE = {"agrees": 0.9, "city_replaced": 0.75}
#: an address abroad placed at its postal code (no street data abroad): a stated rule, a coin
#: toss that the code's centroid is near enough
FOREIGN_CONFIDENCE = 0.5
#: military post offices: their city is the designator, never the ZIP's own town name
MILITARY_CITIES = ("APO", "FPO", "DPO")


class Coverage(NamedTuple):
    """Where the gazetteer has street data: ZIPs, ``STATE|CITY`` and states."""

    zips: frozenset
    cities: frozenset
    states: frozenset

    def beyond(self, p: ParsedAddress) -> bool:
        """No street can be a candidate for ``p``: every search (exact and fuzzy names in its
        state, the streets of its ZIP and city) is confined to places without street data."""
        return p.state is not None and p.state not in self.states and p.postal_code not in self.zips

    def gap(self, p: ParsedAddress, zip_info: PostalInfo | None) -> str | None:
        """The place ``p`` names that should have streets but has none loaded, or ``None`` when
        the gazetteer covers what it names (only then is a street not found there known not to
        exist). Its ZIP counts where it exists in its state and has street delivery; its town
        where it is a real town and not one of the ZIP's own names (a covered ZIP answers for
        those). Coverage is known per ZIP and town: a ZIP loaded only in part (at a county edge
        of the sources) counts as covered."""
        here = zip_info if zip_info is not None and p.state in (None, zip_info.state) else None
        town = f"{p.state}|{p.city}" if p.city and p.state else None
        zip_covered = (here.postal_code if here is not None else p.postal_code) in self.zips
        town_covered = town in self.cities
        if here is not None and here.type not in NO_STREET_ZIP_TYPES and not zip_covered:
            return f"ZIP {here.postal_code}"
        own_town = here is not None and p.city in (here.city, *here.acceptable_cities)
        if town and not town_covered and not own_town and (p.state, p.city) in zips_by_city():
            return f"{p.city}, {p.state}"
        streetless_zip = here is not None and here.type in NO_STREET_ZIP_TYPES
        if not (zip_covered or town_covered or streetless_zip):
            return f"ZIP {p.postal_code}" if p.postal_code else f"{p.city or '?'}, {p.state or '?'}"
        return None


@cache
def _coverage(gaz_path: str, version: str, gaz: Gazetteer) -> Coverage:
    t = sql.run(gaz, sql.coverage_sql()).to_pydict()
    kinds: dict[str, set] = {"zip": set(), "city": set(), "state": set()}
    for k, v in zip(t["k"], t["v"]):
        kinds[k].add(v)
    return Coverage(frozenset(kinds["zip"]), frozenset(kinds["city"]), frozenset(kinds["state"]))


def coverage(gaz: Gazetteer) -> Coverage:
    """Where ``gaz`` has street data (read once per file and version)."""
    return _coverage(str(gaz.path), gaz.version, gaz)


def zip_facts(r: MatchResult, postal: PostalCodes) -> None:
    """The result's ZIP type, whether it is active, and its time zone."""
    info = postal.get((r.country or "US", r.postal_code)) if r.postal_code else None
    if info:
        r.zip_type, r.zip_active, r.timezone = info.type, info.active, info.timezone


def code_forms(code: str) -> list[str]:
    """The forms a postal code is looked up by, best first: as written, without spaces, its
    first part, its first three characters.

    >>> code_forms("sw1a 1aa"), code_forms("02118-1234")
    (['SW1A 1AA', 'SW1A1AA', 'SW1A', 'SW1'], ['02118-1234', '02118', '021'])
    """
    code = code.upper()
    return list(dict.fromkeys([code, code.replace(" ", ""), code.split(" ")[0], code.split("-")[0], code[:3]]))


def postal_lookup(country: str, code: str | None, postal: PostalCodes) -> PostalInfo | None:
    """The postal code's record (from ``postal``), by the first of its ``code_forms`` known."""
    if not code:
        return None
    for key in code_forms(code):
        info = postal.get((country, key))
        if info:
            return info
    return None


def set_point(r: MatchResult, lat, lon, precision: str) -> bool:
    """Place ``r`` at (lat, lon) with ``precision``; False (and nothing set) without a point."""
    if lat is None or lon is None or (isinstance(lat, float) and np.isnan(lat)):
        return False
    r.lat, r.lon, r.precision = float(lat), float(lon), precision
    return True


def match_foreign(p: ParsedAddress, r: MatchResult, gaz: Gazetteer) -> None:
    """An address abroad: located by its postal code (looked up in the file), else left to
    ``localities``; never searched for streets."""
    info = None
    if p.postal_code:
        tries = code_forms(p.postal_code)
        found = gaz.postal_lookup(r.country, tries)
        info = next((found[t] for t in tries if t in found), None)
    r.status = MatchStatus.UNMATCHED.value
    r.reason = f"no street-level data for {r.country}; located by postal code or locality only"
    r.coverage_gap = r.country      # streets abroad are never searched
    if info and set_point(r, info.lat, info.lon, Precision.POSTAL_CODE.value):
        r.confidence = FOREIGN_CONFIDENCE
        if not p.city and info.city:
            r.city = info.city
            r.corrections.append("city_inferred")
        return
    if p.postal_code and not info:
        r.reason = f"postal code {p.postal_code} not known for {r.country}; located by locality only"


def match_box(p: ParsedAddress, r: MatchResult, postal: PostalCodes) -> None:
    """PO boxes, military, rural routes: validate the last line (ZIP, city, state)."""
    info = postal_lookup("US", p.postal_code, postal) if p.postal_code else None
    if info is None and p.city and p.state:
        zips = zips_by_city().get((p.state, p.city), ())
        if p.kind == Kind.PO_BOX.value:
            zips = sorted(zips, key=lambda z: postal.get(("US", z)).type != "PO BOX" if postal.get(("US", z)) else 1)
        if zips:
            info = postal.get(("US", zips[0]))
            if info:
                r.postal_code = info.postal_code
                r.corrections.append("postal_code_inferred")
    if info is None:
        r.status = MatchStatus.UNMATCHED.value
        r.reason = f"ZIP {p.postal_code} does not exist" if p.postal_code else "no ZIP code and the city is unknown"
        return
    if p.state and info.state and p.state != info.state:
        r.status = MatchStatus.UNMATCHED.value
        r.reason = f"ZIP {info.postal_code} is in {info.state}, not {p.state}"
        return
    r.state = info.state
    how = "agrees"
    if not p.city:
        r.city = info.city
        r.corrections.append("city_inferred")
    elif p.city != info.city and p.city not in info.acceptable_cities and p.city not in MILITARY_CITIES:
        r.city = info.city
        r.corrections.append("city_replaced")
        how = "city_replaced"
    r.status = MatchStatus.MATCHED.value
    r.score = r.confidence = BOX_CONFIDENCE[how]
    if not set_point(r, info.lat, info.lon, Precision.POSTAL_CODE.value):
        r.precision = Precision.NONE.value


def fallback_area(r: MatchResult, postal: PostalCodes, reason: str) -> None:
    """Unmatched: located by its ZIP's centroid, else (later, in bulk) by ``localities``."""
    r.status = MatchStatus.UNMATCHED.value
    r.reason = reason
    info = postal_lookup("US", r.postal_code, postal)
    if info:
        set_point(r, info.lat, info.lon, Precision.POSTAL_CODE.value)


def street_unmatched(p: ParsedAddress, r: MatchResult, postal: PostalCodes, gaz: Gazetteer,
                     near: tuple[dict, int, float] | None = None) -> None:
    """A street address without a match: why (the closest street ``near`` = (candidate
    columns, row, score) and its score; the place without street data; the street not found),
    located by ``fallback_area``; ``coverage_gap`` where the street could not be checked."""
    zip_info = postal_lookup("US", p.postal_code, postal)
    zip_missing = bool(p.postal_code) and zip_info is None
    gap = coverage(gaz).gap(p, zip_info)
    reasons = []
    if near is not None:
        C, j, s = near
        reasons.append(f"closest street {C['name'][j]} {C['type'][j] or ''} scored {s:.2f}, below {MATCH_MIN}"
                       .replace("  ", " "))
    if gap is not None:
        reasons.append(f"no street data loaded for {gap} (outside gazetteer coverage)")
    if not reasons:
        reasons.append(f"street {p.street_name} not found near {p.postal_code or p.city or p.state}")
    if zip_missing:
        reasons.append(f"ZIP {p.postal_code} does not exist")
    fallback_area(r, postal, "; ".join(reasons))
    # a ZIP that does not exist was checked, and is wrong whatever streets are loaded
    r.coverage_gap = None if zip_missing else gap


_locality_cache = RowCache()   # (gazetteer, country, state, city) -> [(lat, lon)] or []


def localities(results: list[MatchResult], gaz: Gazetteer) -> None:
    """Place what has only a town at the town, with the answers kept per town: a single order
    would otherwise pay a query's planning for a town asked a minute ago."""
    if not results:
        return
    tag = gaz.key

    def fetch(missing: list[tuple]) -> dict[tuple, list]:
        keys = pa.table({"country": [k[1] for k in missing], "state": [k[2] for k in missing],
                         "city": [k[3] for k in missing]})
        return {(tag, d["country"], d["state"], d["city"]): [(d["lat"], d["lon"])]
                for d in sql.run(gaz, sql.locality_sql(), {"_l": keys}).to_pylist()}

    where = _locality_cache.get_many([(tag, r.country, r.state, r.city) for r in results], fetch)
    for r in results:
        found = where[(tag, r.country, r.state, r.city)]
        if found:
            set_point(r, *found[0], Precision.LOCALITY.value)
