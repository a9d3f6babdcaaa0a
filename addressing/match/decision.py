"""From scored candidates to an answer per query: the best candidate, its rival elsewhere, the
status (matched / ambiguous / unmatched), the address as the gazetteer writes it with a
correction code for every component changed or inferred, and the confidence.

Owns what counts as a rival (``same_place``: ``SAME_PLACE_M``, ``SAME_STREET_M``,
``SAME_NUMBER_M``), what an ambiguous answer lists (``MAX_CANDIDATES``), the correction codes
of street matches, and the confidence: the raw score through the calibration maps
(``calibration``), capped where the delivery point is not fully identified.
"""

from __future__ import annotations

import math

import numpy as np

from addressing import geocode
from addressing.gazetteer import Gazetteer, PostalCodes
from addressing.gazetteer.keys import name_key
from addressing.match.calibration import calibrate, raw_score
from addressing.match.places import street_unmatched
from addressing.match.queries import AS_WRITTEN, EXTRA_WORDS_DROPPED, Queries, Variant
from addressing.match.result import MatchResult
from addressing.match.scoring import AMBIGUOUS_MARGIN, MATCH_MIN, Scored
from addressing.schema import Kind, MatchStatus, ParsedAddress, Precision

#: candidates closer than this (metres) are the same place, not rivals: a stated rule, the size
#: of a large building's lot
SAME_PLACE_M = 60.0
#: centroids of one street name closer than this (metres): one street that a ZIP boundary splits
SAME_STREET_M = 1500.0
#: one number placed on both halves of a street split by ZIPs, this close (metres): one place
SAME_NUMBER_M = 150.0
#: an ambiguous answer lists at most this many candidates (those within twice AMBIGUOUS_MARGIN)
MAX_CANDIDATES = 5
#: confidence ceilings where the delivery point is not fully identified: stated rules, below the
#: default low-confidence threshold of the risk policy (0.8), so that such an answer is never
#: let through on its score alone
UNIT_UNKNOWN_CAP = 0.6       # the unit written is not one the address has
MISSING_UNIT_CAP = 0.6       # no unit written, at a building of units only
AMBIGUOUS_CAP = 0.45         # a rival elsewhere is too close to call


def decide(qs: Queries, s: Scored, results: list[MatchResult], gaz: Gazetteer, postal: PostalCodes) -> None:
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
            street_unmatched(p, r, postal, gaz)
            continue
        best = js[0]
        s1 = float(s.score[best])
        s2, rival = 0.0, None
        for j in js[1:]:
            if not same_place(s, best, j):
                s2, rival = float(s.score[j]), j
                break
        r.score, r.margin = s1, s1 - s2
        if s1 < MATCH_MIN:
            street_unmatched(p, r, postal, gaz, near=(s.C, best, s1))
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
    confidence(results)


def same_place(s: Scored, a: int, b: int) -> bool:
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


def confidence(results: list[MatchResult]) -> None:
    """The confidence of every matched or ambiguous result: its raw score through the map of its
    stratum, capped (``UNIT_UNKNOWN_CAP``, ``MISSING_UNIT_CAP``, ``AMBIGUOUS_CAP``)."""
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


def _apply_candidate(p: ParsedAddress, r: MatchResult, s: Scored, j: int, v: Variant, postal: PostalCodes) -> None:
    """The address as candidate ``j`` writes it, and a correction code for every change."""
    C, ev = s.C, s.ev
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
    if v.code == EXTRA_WORDS_DROPPED:
        fix.append(EXTRA_WORDS_DROPPED)
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
    if not ev.has_number[j]:
        if p.kind != Kind.INTERSECTION.value:
            fix.append("house_number_missing")
    elif ev.base[j]:
        fix.append("house_number_approximated")
    elif not (ev.exact[j] or ev.has_range[j] or ev.has_nbr[j]):
        fix.append("house_number_out_of_range")
    elif ev.has_range[j] and not ev.parity_ok[j] and not ev.exact[j]:
        fix.append("house_number_wrong_side")
    r.n_units, r.has_base = int(ev.n_units[j]), bool(ev.has_base[j])
    known = int(ev.unit_known[j])
    r.unit_known = None if known < 0 else bool(known)
    if ev.guess[j] is not None:
        unit, utype, code = ev.guess[j]
        r.unit, r.unit_type, r.unit_known = ev.spelled[j] or unit, utype or r.unit_type or "#", True
        fix.append(code)
        if code == "unit_from_house_number":
            r.house_number = str(ev.number_int[j])
    elif r.unit and known == 1:
        r.unit = ev.spelled[j] or r.unit      # the gazetteer's spelling: 04 -> 4, 1A2 -> 1A-2
    r.predirectional, r.street_name, r.street_type, r.postdirectional = (
        C["out_predir"][j], C["out_name"][j], C["out_type"][j], C["out_postdir"][j])
    r.city, r.state, r.postal_code = city, C["state"][j], z or p.postal_code
    r.corrections = list(dict.fromkeys(fix))


def _candidate(s: Scored, j: int, p: ParsedAddress) -> dict:
    """One candidate of an ambiguous answer: its lines, score, precision and point."""
    C = s.C
    line1 = " ".join(x for x in (p.house_number, C["out_predir"][j], C["out_name"][j], C["out_type"][j],
                                 C["out_postdir"][j]) if x)
    line2 = " ".join(x for x in (C["city"][j], C["state"][j], C["postal_code"][j]) if x)
    lat, lon = s.lat[j], s.lon[j]
    return {"line1": line1, "line2": line2, "score": round(float(s.score[j]), 4), "precision": str(s.precision[j]),
            "lat": None if np.isnan(lat) else float(lat), "lon": None if np.isnan(lon) else float(lon)}
