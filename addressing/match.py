"""Match parsed addresses against the gazetteer and geocode them, a whole batch at a time.

1. Spell each query's street a few ways (``street_variants``): as parsed; with a street
   type that belongs to the name (``LAKE SHR`` -> ``LAKE SHORE``); cut before words that
   cannot be street (``HAYES ST ON ARRIVAL`` -> ``HAYES ST``).
2. Block candidate streets in DuckDB, in two rounds. Round one: the exact name key within
   the state, nearest ZIP/city first, a few per query. Round two, only for queries that
   round one did not settle: every street in the query's ZIP or city, with its sound key,
   or sharing name trigrams in its state (so a misspelt street, a wrong ZIP or a missing
   city still finds candidates). No query is compared with every street.
3. Score street names with ``rapidfuzz.process.cpdist`` over all candidate pairs at once,
   and the other components (type, directionals, ZIP, city, house number, unit) with numpy
   over the same arrays. ``WEIGHTS`` were tuned with ``benchmarks/match_accuracy.py``.
4. Gather house-number evidence in SQL: the address point (and the unit's point), the TIGER
   range that holds the number on the right parity, or the nearest numbered points either
   side; ``addressing.geocode`` does the maths. A number outside every known range gets
   ``street`` precision and ``house_number_out_of_range``, never a made-up point.
5. Decide matched / ambiguous / unmatched, record a correction code for every component
   changed or inferred, and turn the raw score into a calibrated confidence (``calibrate``:
   a monotone map fitted on held-out data, stored in ``addressing/data/calibration.json``).

Helpers live beside it: ``match_sql`` (the SQL, and the one place it runs), ``match_local``
(the same blocking and evidence for a few queries, from cached street rows: a single order
without DuckDB's milliseconds of planning per query), ``match_score`` (query spellings, unit
guesses, component scores) and ``calibration`` (raw score -> confidence).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cache
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from rapidfuzz import fuzz, process

from addressing import geocode, match_local
from addressing.calibration import (  # noqa: F401  (re-exported: the stage's public names)
    DEFAULT_CALIBRATION,
    RANGE,
    STRATA,
    WIDE,
    calibrate,
    calibration,
    raw_score,
    reload_calibration,
)
from addressing.gazetteer import Gazetteer, PostalInfo
from addressing.gazetteer.keys import name_key, sound_key
from addressing.match_score import (  # noqa: F401
    AS_WRITTEN,
    TYPO_CODES,
    Variant,
    _obj,
    city_score,
    component_score,
    same_digits,
    street_variants,
    unit_norm,
    unit_tries,
    zip_score,
)
from addressing.match_sql import (  # noqa: F401
    CANDIDATE_ORDER,
    EVIDENCE_PARTS,
    base_point_sql,
    block_members_sql,
    coverage_sql,
    evidence_sql,
    exact_candidates_sql,
    locality_sql,
    neighbour_evidence_sql,
    pair_candidates_sql,
    point_evidence_sql,
    range_evidence_sql,
    run,
    sound_candidates_sql,
    trigram_candidates_sql,
    unit_point_sql,
)
from addressing.parse.places import zips_by_city
from addressing.parse.standardize import house_number_int
from addressing.row_cache import RowCache
from addressing.runtime import freeze_long_lived
from addressing.schema import Kind, MatchStatus, ParsedAddress, Precision

#: component weights of the match score (they sum to 1), from ``benchmarks/match_accuracy.py --tune``
#: (coordinate search on the fit half of the SF + Oakland queries and on Autauga TIGER-range queries)
WEIGHTS = {"name": 0.2, "number": 0.139, "unit": 0.097, "postal": 0.153, "city": 0.092, "type": 0.097,
           "dirs": 0.222}
FUZZY_NAME_MIN = 72.0       # name-key similarity (0..100) a fuzzy-blocked street needs
MATCH_MIN = 0.72            # best score below this: unmatched
SETTLED = 0.93              # round-one best score at or above this: no fuzzy round
AMBIGUOUS_MARGIN = 0.035    # best and a rival elsewhere closer than this: ambiguous
SAME_PLACE_M = 60.0         # candidates closer than this are the same place, not rivals
SAME_STREET_M = 1500.0      # street centroids of one name closer than this: one street split by ZIPs
SAME_NUMBER_M = 150.0       # one number placed on both halves of a street split by ZIPs, this close: one place
WIDE_GAP_M = 100.0          # neighbours further apart than this: an interpolation between them is rough
MAX_CANDIDATES = 5
EXACT_PER_QUERY = 10        # round one keeps this many same-name streets per query spelling
TRIGRAM_PER_QUERY = 20      # round two keeps this many trigram neighbours per query spelling
LOCAL_MAX_QUERIES = 64      # batches of at most this many street queries are matched in memory (``match_local``)
DIGITS_DIFFER = 0.8         # name similarity kept when the numbers in the names differ (COUNTY 40 / 43)
#: a street's type and directionals against the query's: (query has none, candidate has none, they differ)
TYPE_SCORES = (0.9, 0.75, 0.55)
DIR_SCORES = (0.6, 0.5, 0.1)
RANGE_SCORE = 0.97          # the number inside a TIGER range, on the side its parity says
WRONG_SIDE_SCORE = 0.8      # inside a range, on the other side
NO_NUMBER_SCORE = 0.5       # the street has no address or range for the number
#: confidence ceilings where the delivery point is not fully identified
UNIT_UNKNOWN_CAP = 0.6
MISSING_UNIT_CAP = 0.6
AMBIGUOUS_CAP = 0.45

STREET_KINDS = {Kind.STREET.value, Kind.INTERSECTION.value}
BOX_KINDS = {Kind.PO_BOX.value, Kind.MILITARY.value, Kind.RURAL_ROUTE.value, Kind.HIGHWAY_CONTRACT.value,
             Kind.GENERAL_DELIVERY.value}
#: ZIP types without street delivery: no streets loaded for them is what they are, not a gap
NO_STREET_ZIP_TYPES = {"PO BOX", "UNIQUE", "MILITARY"}


@dataclass(slots=True)
class MatchResult:
    status: str = MatchStatus.UNMATCHED.value
    precision: str = Precision.NONE.value
    confidence: float = 0.0
    lat: float | None = None
    lon: float | None = None
    house_number: str | None = None
    predirectional: str | None = None
    street_name: str | None = None
    street_type: str | None = None
    postdirectional: str | None = None
    unit_type: str | None = None
    unit: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None
    corrections: list[str] = field(default_factory=list)
    candidates: list[dict] = field(default_factory=list)
    reason: str | None = None
    score: float = 0.0
    margin: float = 1.0
    zip_type: str | None = None
    zip_active: bool | None = None
    timezone: str | None = None
    n_units: int = 0
    has_base: bool = True
    unit_known: bool | None = None
    stratum: str | None = None      # which calibration map the confidence came from (STRATA)
    as_written: bool = False        # found by the street as written, not by the parser's typo reading
    #: the place the order names that has no street data loaded ("ZIP 06042", "MILLBROOK, AL", "GB"):
    #: the street could not be checked, so unmatched says nothing about whether it exists
    coverage_gap: str | None = None

    @property
    def outside_coverage(self) -> bool:
        return self.coverage_gap is not None


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
    t = run(gaz, coverage_sql()).to_pydict()
    kinds: dict[str, set] = {"zip": set(), "city": set(), "state": set()}
    for k, v in zip(t["k"], t["v"]):
        kinds[k].add(v)
    return Coverage(frozenset(kinds["zip"]), frozenset(kinds["city"]), frozenset(kinds["state"]))


def coverage(gaz: Gazetteer) -> Coverage:
    return _coverage(str(gaz.path), gaz.version, gaz)


def q_keys_of(qs: _Queries, vix: np.ndarray) -> list[str]:
    return [qs.keys[v] for v in vix]


# --------------------------------------------------------------------------- the stage


def match_batch(parsed: list[ParsedAddress], gaz: Gazetteer) -> list[MatchResult]:
    """Match and geocode a batch of parsed addresses (distinct ones; callers dedupe)."""
    results = [MatchResult() for _ in parsed]
    postal = gaz.postal()
    freeze_long_lived(f"gazetteer:{gaz.path}")
    street_q: list[int] = []
    cov = coverage(gaz)
    for i, p in enumerate(parsed):
        r = results[i]
        r.country = p.country or "US"
        if p.invalid_reason:
            r.status = MatchStatus.INVALID.value
            r.reason = p.invalid_reason
            continue
        _copy_components(p, r)
        if r.country != "US":
            _match_foreign(p, r, postal, gaz)
        elif p.street_name and (p.kind in STREET_KINDS or (p.kind == Kind.PO_BOX.value and p.house_number)):
            # a house number and a street with a "box" is a street address with a private mailbox
            if cov.beyond(p):
                _street_unmatched(p, r, postal, gaz)     # what searching would conclude, without the queries
            else:
                street_q.append(i)
        elif p.kind in BOX_KINDS:
            _match_box(p, r, postal)
        else:
            _fallback_area(p, r, postal, gaz, "no street address, only a place")
    if street_q:
        _match_streets([parsed[i] for i in street_q], [results[i] for i in street_q], gaz, postal)
    for p, r in zip(parsed, results):
        _zip_facts(r, postal)
        if p.corrections:
            codes = [c for c in p.corrections if c not in TYPO_CODES] if r.as_written else p.corrections
            r.corrections = list(dict.fromkeys(codes + r.corrections))
    _localities([r for r in results if r.precision == Precision.NONE.value and r.city and r.status !=
                 MatchStatus.INVALID.value and r.country == "US"], gaz)
    return results


def _copy_components(p: ParsedAddress, r: MatchResult) -> None:
    r.house_number = p.house_number
    r.predirectional, r.street_name, r.street_type, r.postdirectional = (
        p.predirectional, p.street_name, p.street_type, p.postdirectional)
    r.unit_type, r.unit = p.unit_type, p.unit
    r.city, r.state, r.postal_code = p.city, p.state, p.postal_code


def _zip_facts(r: MatchResult, postal: dict[tuple[str, str], PostalInfo]) -> None:
    info = postal.get((r.country or "US", r.postal_code)) if r.postal_code else None
    if info:
        r.zip_type, r.zip_active, r.timezone = info.type, info.active, info.timezone


def _postal_lookup(country: str, code: str | None, postal: dict) -> PostalInfo | None:
    if not code:
        return None
    code = code.upper()
    for key in (code, code.replace(" ", ""), code.split(" ")[0], code.split("-")[0], code[:3]):
        info = postal.get((country, key))
        if info:
            return info
    return None


def _set_point(r: MatchResult, lat, lon, precision: str) -> bool:
    if lat is None or lon is None or (isinstance(lat, float) and np.isnan(lat)):
        return False
    r.lat, r.lon, r.precision = float(lat), float(lon), precision
    return True


def _match_foreign(p: ParsedAddress, r: MatchResult, postal: dict, gaz: Gazetteer) -> None:
    info = None
    if p.postal_code:
        code = p.postal_code.upper()
        tries = list(dict.fromkeys([code, code.replace(" ", ""), code.split(" ")[0], code.split("-")[0], code[:3]]))
        found = gaz.postal_lookup(r.country, tries)
        info = next((found[t] for t in tries if t in found), None)
    r.status = MatchStatus.UNMATCHED.value
    r.reason = f"no street-level data for {r.country}; located by postal code or locality only"
    r.coverage_gap = r.country      # streets abroad are never searched
    if info and _set_point(r, info.lat, info.lon, Precision.POSTAL_CODE.value):
        r.confidence = 0.5
        if not p.city and info.city:
            r.city = info.city
            r.corrections.append("city_inferred")
        return
    if p.postal_code and not info:
        r.reason = f"postal code {p.postal_code} not known for {r.country}; located by locality only"


#: a box is validated by its last line only (the ZIP exists, is in the state, serves the city)
BOX_CONFIDENCE = {"agrees": 0.9, "city_replaced": 0.75}


def _match_box(p: ParsedAddress, r: MatchResult, postal: dict) -> None:
    """PO boxes, military, rural routes: validate the last line (ZIP, city, state)."""
    info = _postal_lookup("US", p.postal_code, postal) if p.postal_code else None
    if info is None and p.city and p.state:
        from addressing.parse.places import zips_by_city

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
    elif p.city != info.city and p.city not in info.acceptable_cities and p.city not in ("APO", "FPO", "DPO"):
        r.city = info.city
        r.corrections.append("city_replaced")
        how = "city_replaced"
    r.status = MatchStatus.MATCHED.value
    r.score = r.confidence = BOX_CONFIDENCE[how]
    if not _set_point(r, info.lat, info.lon, Precision.POSTAL_CODE.value):
        r.precision = Precision.NONE.value


def _fallback_area(p: ParsedAddress | None, r: MatchResult, postal: dict, gaz: Gazetteer, reason: str) -> None:
    """Unmatched: locate by ZIP centroid, else (later, in bulk) by locality."""
    r.status = MatchStatus.UNMATCHED.value
    r.reason = reason
    info = _postal_lookup("US", r.postal_code, postal)
    if info and _set_point(r, info.lat, info.lon, Precision.POSTAL_CODE.value):
        r.confidence = min(r.confidence, 0.3)


_locality_cache = RowCache()   # (gazetteer, country, state, city) -> [(lat, lon)] or []


def clear_caches() -> None:
    """Forget every gazetteer row this process keeps (for cold-start measurements and tests)."""
    match_local.clear_caches()
    _block_cache.clear()
    _locality_cache.clear()


def _localities(results: list[MatchResult], gaz: Gazetteer) -> None:
    """Place what has only a town at the town, with the answers kept per town: a single order
    would otherwise pay the query's planning (~8 ms) for a town asked a minute ago."""
    if not results:
        return
    tag = gaz.key

    def fetch(missing: list[tuple]) -> dict[tuple, list]:
        keys = pa.table({"country": [k[1] for k in missing], "state": [k[2] for k in missing],
                         "city": [k[3] for k in missing]})
        return {(tag, d["country"], d["state"], d["city"]): [(d["lat"], d["lon"])]
                for d in run(gaz, locality_sql(), {"_l": keys}).to_pylist()}

    where = _locality_cache.get_many([(tag, r.country, r.state, r.city) for r in results], fetch)
    for r in results:
        found = where[(tag, r.country, r.state, r.city)]
        if found:
            _set_point(r, *found[0], Precision.LOCALITY.value)


# --------------------------------------------------------------------------- street matching


@dataclass
class _Queries:
    """The street queries of a batch, each spelled one or more ways (one row per spelling)."""

    parsed: list[ParsedAddress]
    variants: list[Variant]
    qid: np.ndarray          # spelling -> query
    keys: list[str]          # spelling -> name key
    table: pa.Table          # what the blocking SQL sees
    tries: list[tuple]       # spelling -> units to look for (``unit_tries``)
    local: bool              # few queries: blocking and evidence in memory (``match_local``), not SQL

    @classmethod
    def of(cls, parsed: list[ParsedAddress]) -> _Queries:
        variants: list[Variant] = []
        qid: list[int] = []
        for i, p in enumerate(parsed):
            for v in street_variants(p):
                variants.append(v)
                qid.append(i)
        q = np.asarray(qid, np.int64)
        keys = [name_key(v.name) for v in variants]
        table = pa.table({
            "vix": pa.array(np.arange(len(variants)), pa.int64()),
            "state": [parsed[i].state for i in qid],
            "postal_code": [parsed[i].postal_code for i in qid],
            "city": [parsed[i].city for i in qid],
            "name_key": keys,
            "sound_key": [sound_key(v.name) for v in variants],
        })
        tries = [tuple(unit_tries(parsed[i], v)) for i, v in zip(qid, variants)]
        return cls(parsed, variants, q, keys, table, tries, len(parsed) <= LOCAL_MAX_QUERIES)


def _blocked(gaz: Gazetteer, qs: _Queries, vix: np.ndarray | None) -> pa.Table:
    """Candidate (spelling, street) rows: round one for all spellings when ``vix`` is None,
    else round two for those spellings."""
    if vix is None:
        if qs.local:
            return match_local.exact_candidates(gaz, qs.table, EXACT_PER_QUERY)
        return run(gaz, exact_candidates_sql(), {"_q": qs.table}, [EXACT_PER_QUERY])
    sub = qs.table.take(pa.array(vix))
    pairs = _block_pairs(gaz, sub)
    if qs.local:
        parts = [match_local.pair_and_sound_candidates(gaz, pairs, sub)]
    else:
        parts = [run(gaz, f"{pair_candidates_sql()} UNION ALL {sound_candidates_sql()} {CANDIDATE_ORDER}",
                     {"_p": pairs, "_r": sub})]
    # trigrams (the costliest block) only for queries none of whose spellings found a close
    # name in its ZIP or city
    found_q = np.unique(qs.qid[pairs["vix"].to_numpy()]) if pairs.num_rows else np.empty(0, np.int64)
    lost = sub.filter(pa.array(~np.isin(qs.qid[sub["vix"].to_numpy()], found_q)))
    if lost.num_rows and qs.local and match_local.fits(gaz, set(lost["state"].to_pylist())):
        parts.append(match_local.trigram_candidates(gaz, lost, TRIGRAM_PER_QUERY))
    elif lost.num_rows:
        parts.append(run(gaz, f"{trigram_candidates_sql()} {CANDIDATE_ORDER}", {"_r": lost}, [TRIGRAM_PER_QUERY]))
    return pa.concat_tables([t for t in parts if t.num_rows] or parts[:1])


_block_cache = RowCache()      # (gazetteer, "zip" or "city", block) -> {name key: street ids}


def _blocks(gaz: Gazetteer, wanted: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, list[int]]]:
    """The streets of ZIP and city blocks by name key, cached per gazetteer version: deliveries
    come from a few hundred ZIPs, so a warm process rarely asks the file again."""
    tag = gaz.key

    def fetch(missing: list[tuple]) -> dict[tuple, dict[str, list[int]]]:
        zips = [z for _, k, z in missing if k == "zip"]
        cities = [c.split("|", 1) for _, k, c in missing if k == "city"]
        ask = pa.table({"postal_code": pa.array(zips + [None] * len(cities), pa.string()),
                        "state": pa.array([None] * len(zips) + [c[0] for c in cities], pa.string()),
                        "city": pa.array([None] * len(zips) + [c[1] for c in cities], pa.string())})
        members = run(gaz, block_members_sql(), {"_r": ask}).to_pydict()
        found: dict[tuple, dict[str, list[int]]] = {k: {} for k in missing}
        for kind, block, sid, key in zip(members["kind"], members["block"], members["street_id"], members["name_key"]):
            if (tag, kind, block) in found:
                found[(tag, kind, block)].setdefault(key or "", []).append(sid)
        return found

    got = _block_cache.get_many([(tag, *b) for b in wanted], fetch)
    return {b: got[(tag, *b)] for b in wanted}


def _block_pairs(gaz: Gazetteer, sub: pa.Table) -> pa.Table:
    """(spelling, street) pairs whose names are close enough, within the spelling's ZIP and
    city blocks: one ``rapidfuzz.process.cdist`` per block over its distinct names."""
    queries: dict[tuple[str, str], list[int]] = {}
    cols = sub.select(["vix", "postal_code", "state", "city", "name_key"]).to_pydict()
    key_of = dict(zip(cols["vix"], cols["name_key"]))
    for v, z, st, c in zip(cols["vix"], cols["postal_code"], cols["state"], cols["city"]):
        if z:
            queries.setdefault(("zip", z), []).append(v)
        if st and c:
            queries.setdefault(("city", f"{st}|{c}"), []).append(v)
    blocks = _blocks(gaz, list(queries))
    out_v: list[int] = []
    out_s: list[int] = []
    for block, vixes in queries.items():
        names = blocks.get(block)
        if not names:
            continue
        keys = list(names)
        sims = process.cdist([key_of[v] or "" for v in vixes], keys, scorer=fuzz.ratio,
                             score_cutoff=FUZZY_NAME_MIN, dtype=np.uint8, workers=1)
        for q, k in zip(*np.nonzero(sims)):
            ids = names[keys[k]]
            out_v += [vixes[q]] * len(ids)
            out_s += ids
    return pa.table({"vix": pa.array(out_v, pa.int64()), "street_id": pa.array(out_s, pa.int64())})


@dataclass
class _Scored:
    """Candidate pairs with their evidence and score; arrays are aligned by row."""

    C: dict
    score: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    precision: np.ndarray
    stratum: np.ndarray
    flags: dict


def _match_streets(parsed: list[ParsedAddress], results: list[MatchResult], gaz: Gazetteer, postal: dict) -> None:
    qs = _Queries.of(parsed)
    if not qs.variants:
        for p, r in zip(parsed, results):
            _street_unmatched(p, r, postal, gaz)
        return
    first = _evaluate(_blocked(gaz, qs, None), qs, gaz, postal)
    best = np.zeros(len(parsed))
    local = np.zeros(len(parsed), bool)
    if first is not None:
        np.maximum.at(best, first.C["qid"], first.score)
        local[first.C["qid"][_exact_and_local(first, qs)]] = True
    # a street found by its exact name in the query's own ZIP or city is settled: a fuzzy
    # search can only find worse names (a low score there is about the number or the unit)
    unsettled = np.flatnonzero((best < SETTLED) & ~local)
    scored = first
    if unsettled.size:
        vix = np.flatnonzero(np.isin(qs.qid, unsettled))
        second = _evaluate(_blocked(gaz, qs, vix), qs, gaz, postal)
        scored = _concat(first, second)
    if scored is None:
        for p, r in zip(parsed, results):
            _street_unmatched(p, r, postal, gaz)
        return
    _contrast_lookalikes(qs, scored)
    _decide(qs, scored, results, gaz, postal)


def lookalike_penalty() -> float:
    """What a candidate loses when the street type or directional the customer wrote belongs to a
    look-alike beside it (``225 CLAUDE ST`` written, ``CLAUDE ST`` and ``CLAUDE CT`` in the ZIP).

    Sized from the other scores so that the written word outweighs the soft evidence that may
    speak for the other street, an omitted directional and a number on the wrong side of a
    range together, by AMBIGUOUS_MARGIN; and does not outweigh a number that the agreeing street
    does not have (then the answer stays ambiguous, or goes to the street with the number)."""
    w = WEIGHTS
    soft = w["dirs"] * (1 - DIR_SCORES[0]) / 2 + w["number"] * (RANGE_SCORE - WRONG_SIDE_SCORE)
    return max(0.0, soft + AMBIGUOUS_MARGIN - w["type"] * (1 - TYPE_SCORES[2]))


def _contrast_lookalikes(qs: _Queries, s: _Scored) -> None:
    """Among a query's candidates of one name in one town or ZIP (look-alikes: ``CLAUDE ST`` /
    ``CLAUDE CT``, ``E POPLAR ST`` / ``POPLAR CT``), the ones that contradict the type or a
    directional the customer wrote lose ``lookalike_penalty`` when one of them agrees with all
    of it. With only one street of the name a wrong type is a slip and costs what it always
    costs; with no type written nothing is contrasted, and the tie stays ambiguous."""
    C = s.C
    groups: dict[tuple, list[int]] = {}
    for j, (q, name, city, z) in enumerate(zip(C["qid"], C["out_name"], C["city"], C["postal_code"])):
        groups.setdefault((q, name, city or z), []).append(j)
    penalty = None
    for (q, _, _), js in groups.items():
        if len(js) < 2:
            continue
        p = qs.parsed[q]
        if not (p.street_type or p.predirectional or p.postdirectional):
            continue
        agree = [_agrees(p, C["out_type"][j], C["out_predir"][j], C["out_postdir"][j]) for j in js]
        if any(agree) and not all(agree):
            penalty = lookalike_penalty() if penalty is None else penalty
            for j, ok in zip(js, agree):
                if not ok:
                    s.score[j] -= penalty


def _agrees(p: ParsedAddress, typ: str | None, pre: str | None, post: str | None) -> bool:
    """The candidate has the type and directionals the customer wrote (a directional on either
    side: ``N MAIN ST`` and ``MAIN ST N`` are written both ways)."""
    return ((p.street_type is None or p.street_type == typ)
            and all(d is None or d in (pre, post) for d in (p.predirectional, p.postdirectional)))


def _exact_and_local(s: _Scored, qs: _Queries) -> np.ndarray:
    """Candidates whose name is exactly the query's (as spelled) and that lie in its ZIP or city."""
    out = np.zeros(len(s.score), bool)
    for j, (q, sim, z, c) in enumerate(zip(s.C["qid"], s.C["name_sim"], s.C["postal_code"], s.C["city"])):
        p = qs.parsed[q]
        out[j] = sim >= 1.0 and ((p.postal_code is not None and z == p.postal_code) or (p.city is not None and c == p.city))
    return out


def _concat(a: _Scored | None, b: _Scored | None) -> _Scored | None:
    if a is None or b is None:
        return a or b
    C = {k: list(a.C[k]) + list(b.C[k]) if isinstance(a.C[k], list) else np.concatenate([a.C[k], b.C[k]])
         for k in a.C}
    return _Scored(C, np.concatenate([a.score, b.score]), np.concatenate([a.lat, b.lat]),
                   np.concatenate([a.lon, b.lon]), np.concatenate([a.precision, b.precision]),
                   np.concatenate([a.stratum, b.stratum]), {k: np.concatenate([a.flags[k], b.flags[k]]) for k in a.flags})


def _evaluate(cand_table: pa.Table, qs: _Queries, gaz: Gazetteer, postal: dict) -> _Scored | None:
    """Score every candidate pair: names with rapidfuzz, the rest with numpy, house numbers
    and units with evidence gathered in SQL."""
    if cand_table.num_rows == 0:
        return None
    vix = cand_table["vix"].to_numpy()
    q_keys = [qs.keys[v] for v in vix]
    name_sim = process.cpdist(q_keys, cand_table["name_key"].to_pylist(), scorer=fuzz.ratio, workers=1) / 100.0
    keep = np.flatnonzero(name_sim * 100 >= FUZZY_NAME_MIN)
    # one row per (spelling, street), its best-matching name: the blocks and the names overlap
    key = vix[keep] * (1 << 32) + cand_table["street_id"].to_numpy()[keep]
    order = np.lexsort((-name_sim[keep], key))
    _, first = np.unique(key[order], return_index=True)
    idx = np.sort(keep[order[first]])
    if idx.size == 0:
        return None
    C = cand_table.take(pa.array(idx)).to_pydict()
    C["vix"] = vix[idx]
    C["qid"] = qs.qid[C["vix"]]
    C["name_sim"] = name_sim[idx]
    cq = [qs.parsed[i] for i in C["qid"]]
    cv = [qs.variants[v] for v in C["vix"]]
    ev = _evidence(C, cq, [qs.tries[v] for v in C["vix"]], gaz, qs.local)

    exact, based = ev["exact"], ev["base"]
    number_s = np.where(exact, 1.0,
               np.where(based, 0.9,
               np.where(ev["has_range"] & ev["parity_ok"], RANGE_SCORE,
               np.where(ev["has_nbr"], np.where(ev["nb_span"] <= WIDE_GAP_M, 0.8, 0.7),
               np.where(ev["has_range"], WRONG_SIDE_SCORE,
               np.where(ev["has_number"], NO_NUMBER_SCORE, 0.55))))))
    asked = ev["unit_asked"]
    has_point = exact | based
    known = ev["unit_known"]
    unit_s = np.where(~has_point, np.where(asked, 0.85, 0.95),
             np.where(asked, np.where(known == 1, 1.0, np.where(known == 0, 0.5, 0.85)),
             np.where(ev["n_units"] == 0, 1.0, np.where(ev["has_base"], 0.95, 0.75))))
    type_s = component_score(_obj([v.type for v in cv]), _obj(C["type"]), *TYPE_SCORES)
    pre_s = component_score(_obj([v.predir for v in cv]), _obj(C["predir"]), *DIR_SCORES)
    post_s = component_score(_obj([v.postdir for v in cv]), _obj(C["postdir"]), *DIR_SCORES)
    zip_s = zip_score([p.postal_code for p in cq], C["postal_code"])
    city_s = city_score([p.city for p in cq], C["city"], C["postal_code"], postal)
    name_s = C["name_sim"] * np.where(same_digits(q_keys_of(qs, C["vix"]), C["name_key"]), 1.0, DIGITS_DIFFER) \
        - np.asarray([v.penalty for v in cv])
    w = WEIGHTS
    score = (w["name"] * name_s + w["number"] * number_s + w["unit"] * unit_s + w["postal"] * zip_s
             + w["city"] * city_s + w["type"] * type_s + w["dirs"] * (pre_s + post_s) / 2)
    street_lat = np.asarray(C["lat"], float)
    street_lon = np.asarray(C["lon"], float)
    lat = np.where(has_point, ev["pt_lat"], np.where(ev["has_range"], ev["rng_lat"],
                   np.where(ev["has_nbr"], ev["nb_lat"], street_lat)))
    lon = np.where(has_point, ev["pt_lon"], np.where(ev["has_range"], ev["rng_lon"],
                   np.where(ev["has_nbr"], ev["nb_lon"], street_lon)))
    precision = np.where(exact, Precision.ADDRESS_POINT.value,
                np.where(based | ev["has_range"] | ev["has_nbr"], Precision.INTERPOLATED.value,
                         Precision.STREET.value))
    stratum = np.where(~has_point & ev["has_range"], RANGE,
              np.where(~has_point & ev["has_nbr"] & (ev["nb_span"] > WIDE_GAP_M), WIDE, precision))
    flags = {k: ev[k] for k in ("exact", "base", "has_range", "parity_ok", "has_nbr", "has_number", "n_units",
                                "has_base", "unit_known", "unit_found", "spelled", "guess", "number_int")}
    return _Scored(C, score, lat, lon, precision, stratum, flags)


def _evidence(C: dict, cq: list[ParsedAddress], ct: list[tuple], gaz: Gazetteer, local: bool) -> dict:
    """House-number and unit evidence per candidate pair, gathered once per distinct (street,
    number, units to try): many queries of a batch ask the same address, and evidence depends
    on nothing else."""
    keys = [(sid, p.house_number, t, p.unit is not None) for sid, p, t in zip(C["street_id"], cq, ct)]
    first: dict[tuple, int] = {}
    inverse = np.fromiter((first.setdefault(k, len(first)) for k in keys), np.int64, len(keys))
    if len(first) == len(keys):
        return _evidence_of(C, cq, ct, gaz, local)
    rep = np.unique(inverse, return_index=True)[1]      # the first candidate of each distinct key
    sub = {k: [C[k][i] for i in rep] for k in ("qid", "street_id", "n_points", "n_segments")}
    ev = _evidence_of(sub, [cq[i] for i in rep], [ct[i] for i in rep], gaz, local)
    return {k: v[inverse] for k, v in ev.items()}


def _evidence_of(C: dict, cq: list[ParsedAddress], tries: list[tuple], gaz: Gazetteer, local: bool) -> dict:
    """House-number and unit evidence for each candidate pair, as aligned arrays.

    A unit the parse put elsewhere (``unit_tries``) is
    tried too, and kept only where the address has it."""
    cn = len(C["qid"])
    numbers = [p.house_number for p in cq]
    number_int = _number_ints(numbers)
    ctab = pa.table({
        "cid": pa.array(np.arange(cn), pa.int64()),
        "street_id": pa.array(C["street_id"], pa.int64()),
        "number": numbers,
        "number_int": pa.array(np.where(number_int >= 0, number_int, 0), pa.int64(), mask=number_int < 0),
        "units_try": [[unit_norm(t[0]) for t in ts] or None for ts in tries],
    })
    numbered = ctab.filter(pc.is_valid(ctab["number_int"]))
    if local:
        sizes = {sid: (npt, nsg) for sid, npt, nsg in zip(C["street_id"], C["n_points"], C["n_segments"])}
        parts = match_local.evidence(gaz, numbered, sizes)
    else:
        numbered_ix = np.flatnonzero(number_int >= 0)
        has_points = bool(np.any(np.asarray(C["n_points"], np.int64)[numbered_ix] > 0))
        has_ranges = bool(np.any(np.asarray(C["n_segments"], np.int64)[numbered_ix] > 0))
        any_units = any(ctab["units_try"][int(i)].is_valid for i in numbered_ix)
        found_ev = run(gaz, evidence_sql(has_points, any_units, has_ranges), {"_c": numbered})
        parts = {name: _part(found_ev, name) for name in EVIDENCE_PARTS}
    pts, base, upts, rng, nbr = (parts[name] for name in EVIDENCE_PARTS)

    exact = np.zeros(cn, bool)
    based = np.zeros(cn, bool)
    pt_lat = np.full(cn, np.nan)
    pt_lon = np.full(cn, np.nan)
    n_units = np.zeros(cn, np.int64)
    has_base = np.ones(cn, bool)
    spelled = np.empty(cn, dtype=object)
    if pts.num_rows:
        # one row per candidate: its exact number's address where there is one, else its integer part's
        cid, is_exact = _ints(pts, "cid"), _bools(pts, "exact")
        order = np.lexsort((is_exact, cid))
        last = order[np.r_[cid[order][1:] != cid[order][:-1], True]]
        c = cid[last]
        exact[c], based[c] = is_exact[last], ~is_exact[last]
        pt_lat[c], pt_lon[c] = _floats(pts, "lat")[last], _floats(pts, "lon")[last]
        n_units[c], has_base[c] = _ints(pts, "n_units")[last], _bools(pts, "has_base")[last]
    # the best-ranked unit found per candidate, at its own number (or at the integer part of
    # the number when the unit came from the house number: "414 A" is 414, unit A)
    found = np.full(cn, -1, np.int64)
    if upts.num_rows:
        u = upts.select(["cid", "exact", "hit", "spelled", "lat", "lon"]).to_pydict()
        for j, c in enumerate(u["cid"]):
            rank = [unit_norm(t[0]) for t in tries[c]].index(u["hit"][j])
            from_number = tries[c][rank][2] == "unit_from_house_number"
            fits = (u["exact"][j] and exact[c]) or (not u["exact"][j] and based[c] and from_number)
            if fits and (found[c] < 0 or rank < found[c]):
                found[c] = rank
                pt_lat[c], pt_lon[c], spelled[c] = u["lat"][j], u["lon"][j], u["spelled"][j]
    unit_found = found >= 0
    promoted = based & unit_found
    exact |= promoted
    based &= ~promoted
    parsed_unit = np.asarray([p.unit is not None for p in cq])
    asked = parsed_unit | unit_found
    if base.num_rows:
        # no unit asked: the building's own point, where the source has one apart from its units
        c = _ints(base, "cid")
        take = exact[c] & ~asked[c]
        pt_lat[c[take]], pt_lon[c[take]] = _floats(base, "lat")[take], _floats(base, "lon")[take]
    unit_known = np.where(~exact | (n_units == 0) | ~asked, -1, np.where(unit_found, 1, 0)).astype(np.int8)
    guess = np.empty(cn, dtype=object)      # (unit, unit type, correction) where a guessed unit was found
    for c in np.flatnonzero(unit_found):
        if tries[c][found[c]][2] is not None:
            guess[c] = tries[c][found[c]]
    ev: dict = {"has_number": number_int >= 0, "number_int": number_int, "exact": exact, "base": based,
                "pt_lat": pt_lat, "pt_lon": pt_lon, "n_units": n_units, "has_base": has_base, "spelled": spelled,
                "unit_known": unit_known, "unit_found": unit_found, "unit_asked": asked, "guess": guess}

    rng_lat = np.full(cn, np.nan)
    rng_lon = np.full(cn, np.nan)
    parity_ok = np.zeros(cn, bool)
    if rng.num_rows:
        # best range per candidate: parity first, then the narrowest range
        cid, ok = _ints(rng, "cid"), _bools(rng, "parity_ok")
        a, b = _floats(rng, "a"), _floats(rng, "b")
        width = np.abs(np.nan_to_num(b) - np.nan_to_num(a))
        order = np.lexsort((_ints(rng, "seg"), width, ~ok, cid))
        js = order[np.r_[True, cid[order][1:] != cid[order][:-1]]]
        cids = cid[js]
        lines = shapely.from_wkb(rng.column("geom").take(pa.array(js)).to_numpy(zero_copy_only=False))
        side, sided = rng.column("side").to_pylist(), _bools(rng, "sided")
        sides = [side[j] if sided[j] else None for j in js.tolist()]
        lon, lat = geocode.interpolate_on_segments(lines, number_int[cids], a[js], b[js], sides)
        rng_lon[cids], rng_lat[cids] = lon, lat
        parity_ok[cids] = ok[js]
    nb_lat = np.full(cn, np.nan)
    nb_lon = np.full(cn, np.nan)
    nb_span = np.full(cn, np.nan)          # metres between the two neighbours: how far off it may be
    if nbr.num_rows:
        cols = {k: _floats(nbr, k) for k in ("lo_n", "lo_lon", "lo_lat", "hi_n", "hi_lon", "hi_lat")}
        cids = _ints(nbr, "cid")
        ok = ~np.isnan(cols["lo_n"]) & ~np.isnan(cols["hi_n"]) & (cols["hi_n"] - cols["lo_n"] <= 200)
        if ok.any():
            lon, lat = geocode.interpolate_between_points(number_int[cids[ok]].astype(float), *(cols[k][ok] for k in (
                "lo_n", "lo_lon", "lo_lat", "hi_n", "hi_lon", "hi_lat")))
            nb_lon[cids[ok]], nb_lat[cids[ok]] = lon, lat
            nb_span[cids[ok]] = geocode.distance_m(cols["lo_lon"][ok], cols["lo_lat"][ok], cols["hi_lon"][ok],
                                                   cols["hi_lat"][ok])
    ev.update(rng_lat=rng_lat, rng_lon=rng_lon, parity_ok=parity_ok, has_range=~np.isnan(rng_lat),
              nb_lat=nb_lat, nb_lon=nb_lon, has_nbr=~np.isnan(nb_lat), nb_span=nb_span)
    return ev


def _number_ints(numbers: list[str | None]) -> np.ndarray:
    """Each house number's integer part, worked out once per distinct number; -1 where it has
    none ("o23]73") or it is too long for int64 (found by fuzzing)."""
    memo: dict[str | None, int] = {}
    out = np.empty(len(numbers), np.int64)
    for i, n in enumerate(numbers):
        v = memo.get(n)
        if v is None:
            v = memo[n] = -1 if (x := house_number_int(n) if n else None) is None or x >= 2**62 else x
        out[i] = v
    return out


def _part(found: pa.Table, name: str) -> pa.Table:
    """The rows of one evidence part (``ev`` = ``name``)."""
    if not found.num_rows:
        return found.slice(0, 0)
    return found.filter(pc.equal(found.column("ev"), name))


def _floats(t: pa.Table, name: str) -> np.ndarray:
    return t.column(name).to_numpy().astype(float)     # nulls come out as NaN


def _ints(t: pa.Table, name: str) -> np.ndarray:
    return t.column(name).to_numpy().astype(np.int64)


def _bools(t: pa.Table, name: str) -> np.ndarray:
    return pc.fill_null(t.column(name), False).to_numpy()


def _decide(qs: _Queries, s: _Scored, results: list[MatchResult], gaz: Gazetteer, postal: dict) -> None:
    """Best candidate per query, its rival elsewhere, status, geocode, corrections, confidence."""
    qid = np.asarray(s.C["qid"], np.int64)
    order = np.lexsort((-s.score, qid))
    starts = np.searchsorted(qid[order], np.arange(len(qs.parsed)))
    ends = np.searchsorted(qid[order], np.arange(len(qs.parsed)), side="right")
    for qi, (p, r) in enumerate(zip(qs.parsed, results)):
        js = order[starts[qi]:ends[qi]]
        # one row per street (the best spelling)
        seen: set = set()
        js = [j for j in js if not (s.C["street_id"][j] in seen or seen.add(s.C["street_id"][j]))]
        if not js:
            _street_unmatched(p, r, postal, gaz)
            continue
        best = js[0]
        s1 = float(s.score[best])
        s2, rival = 0.0, None
        for j in js[1:]:
            if not _same_place(s, best, j):
                s2, rival = float(s.score[j]), j
                break
        r.score, r.margin = s1, s1 - s2
        if s1 < MATCH_MIN:
            _street_unmatched(p, r, postal, gaz, near=(s.C, best, s1))
            continue
        _apply_candidate(p, r, s, best, qs.variants[s.C["vix"][best]], postal)
        r.lat, r.lon, r.precision = float(s.lat[best]), float(s.lon[best]), str(s.precision[best])
        r.stratum = str(s.stratum[best])
        if rival is not None and s1 - s2 < AMBIGUOUS_MARGIN:
            r.status = MatchStatus.AMBIGUOUS.value
            r.candidates = [_candidate(s, j, p) for j in js[:MAX_CANDIDATES]
                            if s.score[j] >= s1 - 2 * AMBIGUOUS_MARGIN]
            r.reason = f"{len(r.candidates)} candidates within {AMBIGUOUS_MARGIN:.3f} of each other"
        else:
            r.status = MatchStatus.MATCHED.value
    _confidence(results)


def _same_place(s: _Scored, a: int, b: int) -> bool:
    """Two candidates that are not rivals: within SAME_PLACE_M of each other, or the two
    halves of one street that a ZIP boundary splits (same name; both only the street, or
    both placing the number, and close)."""
    d = _metres(s.lon[a], s.lat[a], s.lon[b], s.lat[b])
    if d <= SAME_PLACE_M:
        return True
    C = s.C
    if not all(C[k][a] == C[k][b] for k in ("out_predir", "out_name", "out_type", "out_postdir")):
        return False
    street = Precision.STREET.value
    if s.precision[a] == street and s.precision[b] == street:
        return bool(d <= SAME_STREET_M)
    return bool(s.precision[a] != street and s.precision[b] != street and d <= SAME_NUMBER_M)


def _metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """``geocode.distance_m`` for one pair, without numpy's per-call cost (NaN stays NaN)."""
    lon1, lat1, lon2, lat2 = map(math.radians, (lon1, lat1, lon2, lat2))
    a = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * geocode.EARTH_RADIUS_M * math.asin(math.sqrt(min(max(a, 0.0), 1.0)))


def _confidence(results: list[MatchResult]) -> None:
    live = [r for r in results if r.status in (MatchStatus.MATCHED.value, MatchStatus.AMBIGUOUS.value)]
    if not live:
        return
    conf = calibrate(raw_score(np.asarray([r.score for r in live]), np.asarray([r.margin for r in live])),
                     [r.stratum or r.precision for r in live])
    for r, c in zip(live, conf):
        c = float(c)
        if r.unit_known is False:
            c = min(c, UNIT_UNKNOWN_CAP)
        if not r.unit and r.n_units > 0 and not r.has_base:
            c = min(c, MISSING_UNIT_CAP)
        if r.status == MatchStatus.AMBIGUOUS.value:
            c = min(c, AMBIGUOUS_CAP)
        r.confidence = round(c, 4)


def _apply_candidate(p: ParsedAddress, r: MatchResult, s: _Scored, j: int, v: Variant, postal: dict) -> None:
    C, f = s.C, s.flags
    fix = r.corrections
    r.as_written = v.code == AS_WRITTEN
    # what the customer wrote: the parse, or the street as written where that reading was found
    pre, name, typ, post = (v.predir, v.name, v.type, v.postdir) if r.as_written else (
        p.predirectional, p.street_name, p.street_type, p.postdirectional)
    if name_key(name) != name_key(C["out_name"][j]):
        fix.append("street_name_corrected")
    for q_val, c_val, added, changed, removed in (
        (typ, C["out_type"][j], "street_type_added", "street_type_corrected", "street_type_removed"),
        (pre, C["out_predir"][j], "directional_added", "directional_corrected", "directional_removed"),
        (post, C["out_postdir"][j], "directional_added", "directional_corrected", "directional_removed"),
    ):
        if q_val != c_val:
            fix.append(added if not q_val else removed if not c_val else changed)
    if v.code == "extra_words_dropped":
        fix.append("extra_words_dropped")
    z = C["postal_code"][j]
    if p.postal_code != z and z:
        fix.append("postal_code_inferred" if not p.postal_code else "postal_code_corrected")
    info = postal.get(("US", z)) if z else None
    city = C["city"][j] or (info.city if info else None)
    if p.city and city and p.city != city and not (info and (p.city == info.city or p.city in info.acceptable_cities)):
        fix.append("city_replaced")
    elif not p.city and city:
        fix.append("city_inferred")
    if p.city and info and (p.city == info.city or p.city in info.acceptable_cities):
        city = p.city if p.city in info.acceptable_cities else info.city
    # house number and unit
    if not f["has_number"][j]:
        if p.kind != Kind.INTERSECTION.value:
            fix.append("house_number_missing")
    elif f["base"][j]:
        fix.append("house_number_approximated")
    elif not (f["exact"][j] or f["has_range"][j] or f["has_nbr"][j]):
        fix.append("house_number_out_of_range")
    elif f["has_range"][j] and not f["parity_ok"][j] and not f["exact"][j]:
        fix.append("house_number_wrong_side")
    r.n_units, r.has_base = int(f["n_units"][j]), bool(f["has_base"][j])
    known = int(f["unit_known"][j])
    r.unit_known = None if known < 0 else bool(known)
    if f["guess"][j] is not None:
        unit, utype, code = f["guess"][j]
        r.unit, r.unit_type, r.unit_known = f["spelled"][j] or unit, utype or r.unit_type or "#", True
        fix.append(code)
        if code == "unit_from_house_number":
            r.house_number = str(f["number_int"][j])
    elif r.unit and known == 1:
        r.unit = f["spelled"][j] or r.unit      # the gazetteer's spelling: 04 -> 4, 1A2 -> 1A-2
    r.predirectional, r.street_name, r.street_type, r.postdirectional = (
        C["out_predir"][j], C["out_name"][j], C["out_type"][j], C["out_postdir"][j])
    r.city, r.state, r.postal_code = city, C["state"][j], z or p.postal_code
    r.corrections = list(dict.fromkeys(fix))


def _candidate(s: _Scored, j: int, p: ParsedAddress) -> dict:
    C = s.C
    line1 = " ".join(x for x in (p.house_number, C["out_predir"][j], C["out_name"][j], C["out_type"][j],
                                 C["out_postdir"][j]) if x)
    line2 = " ".join(x for x in (C["city"][j], C["state"][j], C["postal_code"][j]) if x)
    lat, lon = s.lat[j], s.lon[j]
    return {"line1": line1, "line2": line2, "score": round(float(s.score[j]), 4), "precision": str(s.precision[j]),
            "lat": None if np.isnan(lat) else float(lat), "lon": None if np.isnan(lon) else float(lon)}


def _street_unmatched(p: ParsedAddress, r: MatchResult, postal: dict, gaz: Gazetteer, near=None) -> None:
    zip_info = _postal_lookup("US", p.postal_code, postal)
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
    _fallback_area(p, r, postal, gaz, "; ".join(reasons))
    # a ZIP that does not exist was checked, and is wrong whatever streets are loaded
    r.coverage_gap = None if zip_missing else gap
