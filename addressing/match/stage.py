"""The match stage over a batch (``match_batch``): each parsed address goes the way its kind
says (invalid, abroad, a street address, a box, only a place), street addresses through two
rounds of blocking, scoring and a decision, every result then gets its ZIP facts and the
parser's corrections, and what is left with only a town is placed at the town.

Owns that routing, the two rounds (a query settled by round one skips the fuzzy round), the
one choice of backend per batch, and ``clear_caches`` for every cache the matcher keeps.
"""

from __future__ import annotations

import numpy as np

from addressing.gazetteer import Gazetteer
from addressing.match import blocking, places, row_cache
from addressing.match.backends import Backend, backend_for
from addressing.match.decision import decide
from addressing.match.queries import TYPO_CODES, Queries
from addressing.match.result import MatchResult
from addressing.match.scoring import SETTLED, Scored, contrast_lookalikes, evaluate
from addressing.runtime import freeze_long_lived
from addressing.schema import Kind, MatchStatus, ParsedAddress, Precision

#: kinds matched against streets (a PO box with a house number too: a private mailbox at a street address)
STREET_KINDS = {Kind.STREET.value, Kind.INTERSECTION.value}
#: kinds validated by their last line only
BOX_KINDS = {Kind.PO_BOX.value, Kind.MILITARY.value, Kind.RURAL_ROUTE.value, Kind.HIGHWAY_CONTRACT.value,
             Kind.GENERAL_DELIVERY.value}


def match_batch(parsed: list[ParsedAddress], gaz: Gazetteer) -> list[MatchResult]:
    """Match and geocode a batch of parsed addresses (distinct ones; callers dedupe), one
    result per address, in order; an empty batch gives an empty list."""
    results = [MatchResult() for _ in parsed]
    postal = gaz.postal()
    postal.prefetch([p.postal_code for p in parsed])
    freeze_long_lived(f"gazetteer:{gaz.path}")
    street_q: list[int] = []
    cov = places.coverage(gaz)
    for i, p in enumerate(parsed):
        r = results[i]
        r.country = p.country or "US"
        if p.invalid_reason:
            r.status = MatchStatus.INVALID.value
            r.reason = p.invalid_reason
            continue
        _copy_components(p, r)
        if r.country != "US":
            places.match_foreign(p, r, gaz)
        elif p.street_name and (p.kind in STREET_KINDS or (p.kind == Kind.PO_BOX.value and p.house_number)):
            if cov.beyond(p):
                places.street_unmatched(p, r, postal, gaz)     # what searching would conclude, without the queries
            else:
                street_q.append(i)
        elif p.kind in BOX_KINDS:
            places.match_box(p, r, postal)
        else:
            places.fallback_area(r, postal, "no street address, only a place")
    if street_q:
        _match_streets([parsed[i] for i in street_q], [results[i] for i in street_q], gaz, postal)
    for p, r in zip(parsed, results):
        places.zip_facts(r, postal)
        if p.corrections:
            codes = [c for c in p.corrections if c not in TYPO_CODES] if r.as_written else p.corrections
            r.corrections = list(dict.fromkeys(codes + r.corrections))
    places.localities([r for r in results if r.precision == Precision.NONE.value and r.city and r.status !=
                       MatchStatus.INVALID.value and r.country == "US"], gaz)
    return results


def _copy_components(p: ParsedAddress, r: MatchResult) -> None:
    r.house_number = p.house_number
    r.predirectional, r.street_name, r.street_type, r.postdirectional = (
        p.predirectional, p.street_name, p.street_type, p.postdirectional)
    r.unit_type, r.unit = p.unit_type, p.unit
    r.city, r.state, r.postal_code = p.city, p.state, p.postal_code


def _match_streets(parsed: list[ParsedAddress], results: list[MatchResult], gaz: Gazetteer, postal: dict) -> None:
    qs = Queries.of(parsed)
    if not qs.variants:
        for p, r in zip(parsed, results):
            places.street_unmatched(p, r, postal, gaz)
        return
    backend: Backend = backend_for(gaz, len(parsed))
    first = evaluate(blocking.round_one(backend, qs), qs, backend, postal)
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
        second = evaluate(blocking.round_two(backend, qs, vix), qs, backend, postal)
        scored = Scored.concat(first, second)
    if scored is None:
        for p, r in zip(parsed, results):
            places.street_unmatched(p, r, postal, gaz)
        return
    contrast_lookalikes(qs, scored)
    decide(qs, scored, results, gaz, postal)


def _exact_and_local(s: Scored, qs: Queries) -> np.ndarray:
    """Candidates whose name is exactly the query's (as spelled) and that lie in its ZIP or city."""
    out = np.zeros(len(s.score), bool)
    for j, (q, sim, z, c) in enumerate(zip(s.C["qid"], s.C["name_sim"], s.C["postal_code"], s.C["city"])):
        p = qs.parsed[q]
        out[j] = sim >= 1.0 and ((p.postal_code is not None and z == p.postal_code) or (p.city is not None and c == p.city))
    return out


def clear_caches() -> None:
    """Forget every gazetteer row this process keeps (for cold-start measurements and tests)."""
    row_cache.clear_all()
