"""House-number and unit evidence per candidate: what a backend found (``backends``: evidence
parts) turned into aligned arrays, one row per candidate (``Evidence``), with the positions it
gives worked out by ``addressing.geocode``.

Owns which point stands for an address (the number's own, else its integer part's; a unit's
where one asked for is found; the building's own point where no unit is asked), which unit a
query means (the best-ranked of ``queries.unit_tries`` that the address has), which range and
which neighbours place a number, and that evidence is gathered once per distinct question.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from addressing import geocode
from addressing.match.backends import Backend
from addressing.match.queries import unit_norm
from addressing.parse.standardize import house_number_int
from addressing.schema import ParsedAddress

#: neighbours further apart in number than this are no interpolation's ends
NEIGHBOUR_MAX_SPAN = 200


@dataclass(slots=True)
class Evidence:
    """Evidence per candidate, every field an array aligned with the candidates."""

    has_number: np.ndarray      # bool: the query's house number has an integer part
    number_int: np.ndarray      # int64: that integer part (-1: none)
    exact: np.ndarray           # bool: the address of the number as written (or with the unit found)
    base: np.ndarray            # bool: only the address of its integer part (``1016-18`` -> ``1016``)
    pt_lat: np.ndarray          # float: that address's point (the unit's, the building's), NaN: none
    pt_lon: np.ndarray
    n_units: np.ndarray         # int64: units the address has
    has_base: np.ndarray        # bool: the address has a point of its own besides its units
    spelled: np.ndarray         # object: the unit found, as the gazetteer writes it
    unit_known: np.ndarray      # int8: 1 the unit asked is there, 0 it is not, -1 nothing to check
    unit_found: np.ndarray      # bool: a unit tried is there
    unit_asked: np.ndarray      # bool: the parse has a unit, or a unit tried is there
    guess: np.ndarray           # object: (unit, unit type, correction code) of a unit found elsewhere than the unit field
    rng_lat: np.ndarray         # float: the number along the TIGER range holding it, NaN: none
    rng_lon: np.ndarray
    parity_ok: np.ndarray       # bool: that range is on the side the number's parity says
    has_range: np.ndarray       # bool
    nb_lat: np.ndarray          # float: the number between its numbered neighbours, NaN: none
    nb_lon: np.ndarray
    has_nbr: np.ndarray         # bool
    nb_span: np.ndarray         # float: metres between the two neighbours (how far off it may be)

    def take(self, ix: np.ndarray) -> Evidence:
        return Evidence(*(getattr(self, f.name)[ix] for f in fields(self)))

    @staticmethod
    def concat(a: Evidence, b: Evidence) -> Evidence:
        return Evidence(*(np.concatenate([getattr(a, f.name), getattr(b, f.name)]) for f in fields(a)))


def gather(backend: Backend, C: dict, cq: list[ParsedAddress], ct: list[tuple]) -> Evidence:
    """Evidence for candidates ``C`` (``street_id``, ``n_points``, ``n_segments`` per row) of the
    queries ``cq`` with the units to try ``ct``, gathered once per distinct (street, number,
    units to try, unit asked): many queries of a batch ask the same address, and evidence
    depends on nothing else."""
    keys = [(sid, p.house_number, t, p.unit is not None) for sid, p, t in zip(C["street_id"], cq, ct)]
    first: dict[tuple, int] = {}
    inverse = np.fromiter((first.setdefault(k, len(first)) for k in keys), np.int64, len(keys))
    if len(first) == len(keys):
        return _evidence_of(backend, C["street_id"], C["n_points"], C["n_segments"], cq, ct)
    rep = np.unique(inverse, return_index=True)[1]      # the first candidate of each distinct key
    sub = {k: [C[k][i] for i in rep] for k in ("street_id", "n_points", "n_segments")}
    ev = _evidence_of(backend, sub["street_id"], sub["n_points"], sub["n_segments"], [cq[i] for i in rep],
                      [ct[i] for i in rep])
    return ev.take(inverse)


def _evidence_of(backend: Backend, street_ids: list[int], n_points: list[int], n_segments: list[int],
                 cq: list[ParsedAddress], tries: list[tuple]) -> Evidence:
    """Evidence for each candidate. A unit the parse put elsewhere (``unit_tries``) is tried
    too, and kept only where the address has it."""
    cn = len(street_ids)
    numbers = [p.house_number for p in cq]
    number_int = number_ints(numbers)
    ctab = pa.table({
        "cid": pa.array(np.arange(cn), pa.int64()),
        "street_id": pa.array(street_ids, pa.int64()),
        "number": numbers,
        "number_int": pa.array(np.where(number_int >= 0, number_int, 0), pa.int64(), mask=number_int < 0),
        "units_try": [[unit_norm(t[0]) for t in ts] or None for ts in tries],
    })
    numbered = number_int >= 0
    parts = backend.evidence(ctab.filter(pa.array(numbered)), np.asarray(n_points, np.int64)[numbered],
                             np.asarray(n_segments, np.int64)[numbered])
    pts, base, upts, rng, nbr = (parts[name] for name in ("point", "base", "unit", "range", "neighbour"))

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
    guess = np.empty(cn, dtype=object)
    for c in np.flatnonzero(unit_found):
        if tries[c][found[c]][2] is not None:
            guess[c] = tries[c][found[c]]

    rng_lat = np.full(cn, np.nan)
    rng_lon = np.full(cn, np.nan)
    parity_ok = np.zeros(cn, bool)
    if rng.num_rows:
        # best range per candidate: parity first, then the narrowest range, then the segment
        # and side (both sides of one edge may hold the number, the backends list them in
        # different orders)
        cid, ok = _ints(rng, "cid"), _bools(rng, "parity_ok")
        a, b = _floats(rng, "a"), _floats(rng, "b")
        width = np.abs(np.nan_to_num(b) - np.nan_to_num(a))
        right = pc.equal(rng.column("side"), "R").to_numpy(zero_copy_only=False)
        order = np.lexsort((right, _ints(rng, "seg"), width, ~ok, cid))
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
    nb_span = np.full(cn, np.nan)
    if nbr.num_rows:
        cols = {k: _floats(nbr, k) for k in ("lo_n", "lo_lon", "lo_lat", "hi_n", "hi_lon", "hi_lat")}
        cids = _ints(nbr, "cid")
        ok = ~np.isnan(cols["lo_n"]) & ~np.isnan(cols["hi_n"]) & (cols["hi_n"] - cols["lo_n"] <= NEIGHBOUR_MAX_SPAN)
        if ok.any():
            lon, lat = geocode.interpolate_between_points(number_int[cids[ok]].astype(float), *(cols[k][ok] for k in (
                "lo_n", "lo_lon", "lo_lat", "hi_n", "hi_lon", "hi_lat")))
            nb_lon[cids[ok]], nb_lat[cids[ok]] = lon, lat
            nb_span[cids[ok]] = geocode.distance_m(cols["lo_lon"][ok], cols["lo_lat"][ok], cols["hi_lon"][ok],
                                                   cols["hi_lat"][ok])
    return Evidence(
        has_number=number_int >= 0, number_int=number_int, exact=exact, base=based, pt_lat=pt_lat, pt_lon=pt_lon,
        n_units=n_units, has_base=has_base, spelled=spelled, unit_known=unit_known, unit_found=unit_found,
        unit_asked=asked, guess=guess, rng_lat=rng_lat, rng_lon=rng_lon, parity_ok=parity_ok,
        has_range=~np.isnan(rng_lat), nb_lat=nb_lat, nb_lon=nb_lon, has_nbr=~np.isnan(nb_lat), nb_span=nb_span)


def number_ints(numbers: list[str | None]) -> np.ndarray:
    """Each house number's integer part, worked out once per distinct number; -1 where it has
    none (``o23]73``) or it is too long for int64.

    >>> number_ints(["12", "1016-18", "12 1/2", None, "o23]73"]).tolist()
    [12, 1016, 12, -1, -1]
    """
    memo: dict[str | None, int] = {}
    out = np.empty(len(numbers), np.int64)
    for i, n in enumerate(numbers):
        v = memo.get(n)
        if v is None:
            v = memo[n] = -1 if (x := house_number_int(n) if n else None) is None or x >= 2**62 else x
        out[i] = v
    return out


def _floats(t: pa.Table, name: str) -> np.ndarray:
    return t.column(name).to_numpy().astype(float)     # nulls come out as NaN


def _ints(t: pa.Table, name: str) -> np.ndarray:
    return t.column(name).to_numpy().astype(np.int64)


def _bools(t: pa.Table, name: str) -> np.ndarray:
    return pc.fill_null(t.column(name), False).to_numpy()
