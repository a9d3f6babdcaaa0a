"""What a candidate scores: every candidate pair of a batch scored at once (``evaluate``), names
with ``rapidfuzz.process.cpdist``, the other components with numpy, into ``Scored``.

Owns every number of the match score, each with where it comes from:

- ``WEIGHTS``, the share of each component in the score: **fitted** by
  ``benchmarks/match_accuracy.py --tune`` (coordinate search on the fit regions: San Francisco,
  Oakland, Autauga and the copies derived from them). Nothing else here is searched.
- The component scores (``NUMBER``, ``UNIT``, ``TYPE``, ``DIRECTIONAL``, ``ZIP``, ``CITY``,
  ``DIGITS_DIFFER``, ``VARIANT_PENALTY``): **set by hand** by the rule written beside each
  (mostly an order: which evidence speaks more surely for a candidate), on a 0..1 scale where 1
  is full agreement; ``--tune`` scales them only through their weights, and
  ``benchmarks/match_accuracy.py`` is what shows a change to them helps or hurts.
- The thresholds on the score (``FUZZY_NAME_MIN``, ``MATCH_MIN``, ``SETTLED``,
  ``AMBIGUOUS_MARGIN``): **set by hand**, checked the same way.
- ``lookalike_penalty``: **derived** from the others by the rule in its docstring.

What a score means as a probability is not decided here: ``calibration`` maps the raw score to
a confidence with maps fitted by ``--fit``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import pyarrow as pa
from rapidfuzz import fuzz, process

from addressing import geocode
from addressing.gazetteer import PostalCodes
from addressing.match import evidence
from addressing.match.backends import Backend
from addressing.match.calibration import RANGE, WIDE
from addressing.match.evidence import Evidence
from addressing.match.queries import EXTRA_WORDS_DROPPED, Queries
from addressing.schema import ParsedAddress

#: component weights of the match score (they sum to 1); fitted by ``benchmarks/match_accuracy.py
#: --tune`` (coordinate search on the fit half of the SF + Oakland queries and on Autauga TIGER-range queries)
WEIGHTS = {"name": 0.2, "number": 0.139, "unit": 0.097, "postal": 0.153, "city": 0.092, "type": 0.097,
           "dirs": 0.222}


class NumberScores(NamedTuple):
    """The house-number component, by the best evidence a candidate street has for the number.
    Rule: an address point of the number beats a TIGER range on the number's side, which beats
    the address of its integer part, which beats an interpolation between numbered neighbours
    (close ones before far ones); a range on the other side counts as much as close neighbours;
    a number nowhere on the street is evidence against the street, and no number at all is
    neutral-to-weak (it cannot be wrong, and it cannot confirm)."""

    address: float = 1.0            # the number's own address point
    integer_part: float = 0.9       # only an address of its integer part (``1016-18``, ``12 1/2``, ``32B``)
    range: float = 0.97             # inside a TIGER range, on the side its parity says
    near_neighbours: float = 0.8    # between numbered points at most WIDE_GAP_M apart
    far_neighbours: float = 0.7     # between numbered points further apart
    wrong_side: float = 0.8         # inside a range, on the other side
    not_found: float = 0.5          # the street has no address, range or neighbours for the number
    no_number: float = 0.55         # the query has no house number


class UnitScores(NamedTuple):
    """The unit component, by what the candidate's address says about the unit. Rule: a unit
    the address has is full agreement, one it does not have is strong evidence against; where
    nothing can check the unit (no point for the number, or an address listed without units) it
    is mild evidence against; no unit written is nearly neutral, except at a building of units
    only, where the unit is missing."""

    found: float = 1.0              # a unit asked, and the address has it
    not_found: float = 0.5          # a unit asked, the address has units, not that one
    unchecked: float = 0.85         # a unit asked where no list of the address's units can say
    none_needed: float = 1.0        # no unit asked, at an address without units
    has_own_point: float = 0.95     # no unit asked, at a building with a point of its own besides its units
    no_point: float = 0.95          # no unit asked, and no address point to say whether one is needed
    missing: float = 0.75           # no unit asked, at a building of units only


class ComponentScores(NamedTuple):
    """A component both may have (street type, directional): 1 when equal or both absent, else
    the score of how they disagree."""

    query_none: float       # the customer wrote none, the street has one (an omission is common)
    candidate_none: float   # the customer wrote one the street does not have
    differ: float           # both have one, and they differ


class ZipScores(NamedTuple):
    """The ZIP component. Rule: a slip of the last digit or the next ZIP over (same first four
    digits) is weak evidence against a street, the same first three (the same sectional
    centre) somewhat stronger, a ZIP from elsewhere strong; no ZIP written is nearly neutral."""

    same: float = 1.0
    four_digits: float = 0.75       # the first four digits agree
    three_digits: float = 0.65      # the first three agree
    elsewhere: float = 0.5
    query_none: float = 0.9         # the customer wrote no ZIP
    candidate_none: float = 0.8     # the street has none


class CityScores(NamedTuple):
    """The city component. Rule: the candidate's town or a name USPS accepts for its ZIP is
    full agreement; no city written nearly neutral; another town scores its name's similarity,
    at least ``floor``, times ``other``, so that even a near spelling counts below agreement."""

    query_none: float = 0.92
    floor: float = 0.3
    other: float = 0.9


NUMBER = NumberScores()
UNIT = UnitScores()
#: the type: none written is mild (customers leave it out), one the street has not is worse, a
#: different one worst; directionals are left out more often than types, and a wrong one is
#: nearly always another street
TYPE = ComponentScores(0.9, 0.75, 0.55)
DIRECTIONAL = ComponentScores(0.6, 0.5, 0.1)
ZIP = ZipScores()
CITY = CityScores()
#: name similarity kept when the numbers in the names differ (``COUNTY 40`` / ``43``): a number
#: is never a typo the way a letter is
DIGITS_DIFFER = 0.8
#: what a reading loses that cut words off the parsed street name (``HAYES ST ON ARRIVAL``): it
#: must lose to a street of the whole name, and beat any fuzzier one
VARIANT_PENALTY = 0.04
#: neighbours further apart than this (metres): an interpolation between them is rough
#: (``NUMBER.far_neighbours``, and its own calibration stratum ``calibration.WIDE``)
WIDE_GAP_M = 100.0

#: name-key similarity (0..100) a fuzzy-blocked street needs to be a candidate at all
FUZZY_NAME_MIN = 72.0
#: best score below this: unmatched
MATCH_MIN = 0.72
#: round-one best score at or above this: no fuzzy round for the query
SETTLED = 0.93
#: the best and a rival elsewhere closer than this: ambiguous
AMBIGUOUS_MARGIN = 0.035


def number_score(ev: Evidence) -> np.ndarray:
    """``NUMBER`` of each candidate, by its best evidence."""
    return np.where(ev.exact, NUMBER.address,
           np.where(ev.base, NUMBER.integer_part,
           np.where(ev.has_range & ev.parity_ok, NUMBER.range,
           np.where(ev.has_nbr, np.where(ev.nb_span <= WIDE_GAP_M, NUMBER.near_neighbours, NUMBER.far_neighbours),
           np.where(ev.has_range, NUMBER.wrong_side,
           np.where(ev.has_number, NUMBER.not_found, NUMBER.no_number))))))


def unit_score(ev: Evidence) -> np.ndarray:
    """``UNIT`` of each candidate."""
    asked = ev.unit_asked
    known = ev.unit_known
    return np.where(~(ev.exact | ev.base), np.where(asked, UNIT.unchecked, UNIT.no_point),
           np.where(asked, np.where(known == 1, UNIT.found, np.where(known == 0, UNIT.not_found, UNIT.unchecked)),
           np.where(ev.n_units == 0, UNIT.none_needed, np.where(ev.has_base, UNIT.has_own_point, UNIT.missing))))


def objects(values) -> np.ndarray:
    """An object array of ``values``, empty strings as ``None``."""
    out = np.empty(len(values), dtype=object)
    out[:] = [v if v else None for v in values]
    return out


def component_score(q: np.ndarray, c: np.ndarray, scores: ComponentScores) -> np.ndarray:
    """Agreement of one component over candidate pairs (object arrays, ``None`` for absent):
    1 when equal (or both absent), else ``scores``.

    >>> component_score(objects(["ST", None, "AVE", None]), objects(["ST", "ST", "ST", None]), TYPE).tolist()
    [1.0, 0.9, 0.55, 1.0]
    """
    qn = np.equal(q, None)
    cn = np.equal(c, None)
    eq = np.asarray(q == c, bool)
    return np.where(eq | (qn & cn), 1.0, np.where(qn, scores.query_none,
                                                  np.where(cn, scores.candidate_none, scores.differ)))


def zip_score(q: list, c: list) -> np.ndarray:
    """``ZIP`` over candidate pairs.

    >>> zip_score(["94103", "94104", "94188", None, "10001"], ["94103"] * 5).tolist()
    [1.0, 0.75, 0.65, 0.9, 0.5]
    >>> zip_score([], []).size
    0
    """
    a = np.asarray([z or "" for z in q], dtype="U5")
    b = np.asarray([z or "" for z in c], dtype="U5")
    if a.size == 0:
        return np.array([])
    same = np.cumprod(a.view(np.uint32).reshape(-1, 5) == b.view(np.uint32).reshape(-1, 5), axis=1).sum(axis=1)
    qn = np.char.str_len(a) == 0
    cn = np.char.str_len(b) == 0
    differ = np.select([same >= 4, same == 3], [ZIP.four_digits, ZIP.three_digits], ZIP.elsewhere)
    return np.where(qn, ZIP.query_none, np.where(cn, ZIP.candidate_none, np.where(same == 5, ZIP.same, differ)))


def city_score(q_city: list, c_city: list, c_zip: list, postal: PostalCodes) -> np.ndarray:
    """``CITY`` over candidate pairs: 1 when the city is the candidate's or a name USPS accepts
    for its ZIP."""
    memo: dict[tuple, float] = {}
    out = np.empty(len(q_city))
    postal.prefetch(list(set(c_zip)))
    for i, key in enumerate(zip(q_city, c_city, c_zip)):
        s = memo.get(key)
        if s is None:
            s = memo[key] = _city_pair(*key, postal)
        out[i] = s
    return out


def _city_pair(a: str | None, b: str | None, z: str | None, postal: PostalCodes) -> float:
    if not a:
        return CITY.query_none
    if a == b:
        return 1.0
    info = postal.get(("US", z)) if z else None
    if info and (a == info.city or a in info.acceptable_cities):
        return 1.0
    return max(CITY.floor, fuzz.ratio(a, b or "") / 100.0) * CITY.other


@lru_cache(maxsize=100_000)
def _digits(key: str) -> str:
    return re.sub(r"\D", "", key)


def same_digits(a: list[str], b: list[str]) -> np.ndarray:
    """Whether the numbers in two name keys agree (``DIGITS_DIFFER``).

    >>> same_digits(["CR40", "MAIN", "5TH"], ["CR43", "MAINE", "5TH"]).tolist()
    [False, True, True]
    """
    return np.fromiter((_digits(x) == _digits(y) for x, y in zip(a, b)), bool, count=len(a))


def lookalike_penalty() -> float:
    """What a candidate loses when the street type or directional the customer wrote belongs to a
    look-alike beside it (``225 CLAUDE ST`` written, ``CLAUDE ST`` and ``CLAUDE CT`` in the ZIP).

    Sized from the other scores so that the written word outweighs the soft evidence that may
    speak for the other street, an omitted directional and a number on the wrong side of a
    range together, by AMBIGUOUS_MARGIN; and does not outweigh a number that the agreeing street
    does not have (then the answer stays ambiguous, or goes to the street with the number)."""
    w = WEIGHTS
    soft = w["dirs"] * (1 - DIRECTIONAL.query_none) / 2 + w["number"] * (NUMBER.range - NUMBER.wrong_side)
    return max(0.0, soft + AMBIGUOUS_MARGIN - w["type"] * (1 - TYPE.differ))


# --------------------------------------------------------------------------- scoring a batch's candidates


@dataclass
class Scored:
    """Candidate pairs with their evidence and score; every array is aligned with the rows of
    ``C`` (the candidate columns of ``backends``, as lists, plus ``vix``, ``qid`` and
    ``name_sim`` arrays)."""

    C: dict
    score: np.ndarray           # the match score, 0..1 (less a look-alike's penalty)
    lat: np.ndarray             # where the candidate puts the address (``geocode.precision_ladder``)
    lon: np.ndarray
    precision: np.ndarray       # ``Precision`` values
    stratum: np.ndarray         # its calibration map (``calibration.STRATA``)
    ev: Evidence

    @staticmethod
    def concat(a: Scored | None, b: Scored | None) -> Scored | None:
        if a is None or b is None:
            return a or b
        C = {k: list(a.C[k]) + list(b.C[k]) if isinstance(a.C[k], list) else np.concatenate([a.C[k], b.C[k]])
             for k in a.C}
        return Scored(C, np.concatenate([a.score, b.score]), np.concatenate([a.lat, b.lat]),
                      np.concatenate([a.lon, b.lon]), np.concatenate([a.precision, b.precision]),
                      np.concatenate([a.stratum, b.stratum]), Evidence.concat(a.ev, b.ev))


def evaluate(cand_table: pa.Table, qs: Queries, backend: Backend, postal: PostalCodes) -> Scored | None:
    """Score every candidate row (``backends``: candidates) of the queries ``qs``: one row per
    (spelling, street), its best-matching name row; ``None`` when no row is close enough."""
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
    ev = evidence.gather(backend, C, cq, [qs.tries[v] for v in C["vix"]])

    type_s = component_score(objects([v.type for v in cv]), objects(C["type"]), TYPE)
    pre_s = component_score(objects([v.predir for v in cv]), objects(C["predir"]), DIRECTIONAL)
    post_s = component_score(objects([v.postdir for v in cv]), objects(C["postdir"]), DIRECTIONAL)
    zip_s = zip_score([p.postal_code for p in cq], C["postal_code"])
    city_s = city_score([p.city for p in cq], C["city"], C["postal_code"], postal)
    name_s = C["name_sim"] * np.where(same_digits([qs.keys[v] for v in C["vix"]], C["name_key"]), 1.0,
                                      DIGITS_DIFFER) \
        - np.asarray([VARIANT_PENALTY if v.code == EXTRA_WORDS_DROPPED else 0.0 for v in cv])
    w = WEIGHTS
    score = (w["name"] * name_s + w["number"] * number_score(ev) + w["unit"] * unit_score(ev) + w["postal"] * zip_s
             + w["city"] * city_s + w["type"] * type_s + w["dirs"] * (pre_s + post_s) / 2)
    lat, lon, precision = geocode.precision_ladder(
        ev.exact, ev.base, ev.has_range, ev.has_nbr, ev.pt_lat, ev.pt_lon, ev.rng_lat, ev.rng_lon, ev.nb_lat,
        ev.nb_lon, np.asarray(C["lat"], float), np.asarray(C["lon"], float))
    has_point = ev.exact | ev.base
    stratum = np.where(~has_point & ev.has_range, RANGE,
              np.where(~has_point & ev.has_nbr & (ev.nb_span > WIDE_GAP_M), WIDE, precision))
    return Scored(C, score, lat, lon, precision, stratum, ev)


def contrast_lookalikes(qs: Queries, s: Scored) -> None:
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
