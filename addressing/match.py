"""Match parsed addresses against the gazetteer and geocode them, a whole batch at a time.

1. Block candidate streets in DuckDB: exact name key within the state; for queries with no
   exact hit in their ZIP or city, every street in the ZIP, the city, or with the same
   sound key (so a misspelt street, a wrong ZIP or a missing city still finds candidates).
2. Score street names with ``rapidfuzz.process.cpdist`` over all candidate pairs at once,
   and the other components (type, directionals, ZIP, city, house number evidence) with
   numpy over the same arrays.
3. Gather house-number evidence in SQL: the address point, the TIGER range that holds the
   number on the right parity, or the nearest numbered points either side.
4. Decide matched / ambiguous / unmatched, geocode down the precision ladder, and record a
   correction code for every component that was changed or inferred.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import numpy as np
import pyarrow as pa
import shapely
from rapidfuzz import fuzz, process

from addressing import geocode
from addressing.gazetteer import Gazetteer, PostalInfo, query_arrow
from addressing.gazetteer.keys import name_key, sound_key
from addressing.parse.standardize import house_number_int
from addressing.schema import Kind, MatchStatus, ParsedAddress, Precision

WEIGHTS = {"name": 0.40, "number": 0.22, "postal": 0.12, "city": 0.08, "type": 0.08, "dirs": 0.10}
FUZZY_NAME_MIN = 72.0
MATCH_MIN = 0.72
AMBIGUOUS_MARGIN = 0.035
SAME_PLACE_M = 60.0
MAX_CANDIDATES = 5

STREET_KINDS = {Kind.STREET.value, Kind.INTERSECTION.value}
BOX_KINDS = {Kind.PO_BOX.value, Kind.MILITARY.value, Kind.RURAL_ROUTE.value, Kind.HIGHWAY_CONTRACT.value,
             Kind.GENERAL_DELIVERY.value}


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


# --------------------------------------------------------------------------- SQL builders


def exact_candidates_sql() -> str:
    """Streets with the query's exact name key in its state (or anywhere when no state)."""
    return """
        SELECT q.qid, s.street_id, s.postal_code, s.city, s.state, s.predir, s.name, s.type, s.postdir,
               s.name_key, s.lat, s.lon, s.n_points, s.n_segments
        FROM _q q JOIN streets s
          ON s.name_key = q.name_key AND (q.state IS NULL OR s.state = q.state)
    """


def fuzzy_candidates_sql() -> str:
    """Streets sharing the query's ZIP, city or sound key (queries without exact hits)."""
    cols = ("q.qid, s.street_id, s.postal_code, s.city, s.state, s.predir, s.name, s.type, s.postdir, "
            "s.name_key, s.lat, s.lon, s.n_points, s.n_segments")
    return f"""
        SELECT {cols} FROM _r q JOIN streets s ON s.postal_code = q.postal_code AND s.country = 'US'
        UNION
        SELECT {cols} FROM _r q JOIN streets s ON s.city = q.city AND s.state = q.state
        UNION
        SELECT {cols} FROM _r q JOIN streets s ON s.sound_key = q.sound_key AND s.state = q.state
    """


def point_evidence_sql() -> str:
    return """
        SELECT c.cid, a.n_units, a.has_base, a.units, a.lat, a.lon
        FROM _c c JOIN addresses a ON a.street_id = c.street_id AND a.number = c.number
    """


def unit_point_sql() -> str:
    return """
        SELECT c.cid, avg(p.lat) AS lat, avg(p.lon) AS lon, any_value(p.unit) AS unit
        FROM _c c JOIN address_points p
          ON p.street_id = c.street_id AND p.number = c.number AND p.unit = c.unit
        GROUP BY c.cid
    """


def range_evidence_sql() -> str:
    """Segments whose left or right range holds the number, with parity agreement."""
    side = """
        SELECT c.cid, g.rowid AS seg, '{s}' AS side, g.from_{side} AS a, g.to_{side} AS b,
               (g.parity_{side} IS NULL OR g.parity_{side} = 'B'
                OR (g.parity_{side} = 'O' AND c.number_int % 2 = 1)
                OR (g.parity_{side} = 'E' AND c.number_int % 2 = 0)) AS parity_ok,
               g.sided, g.geom
        FROM _c c JOIN segments g ON g.street_id = c.street_id
        WHERE c.number_int BETWEEN least(g.from_{side}, g.to_{side}) AND greatest(g.from_{side}, g.to_{side})
    """
    return (side.format(s="L", side="left") + " UNION ALL " + side.format(s="R", side="right"))


def neighbour_evidence_sql() -> str:
    """Nearest numbered points below and above the number on the same street and parity."""
    return """
        SELECT c.cid,
               max(a.number_int) FILTER (WHERE a.number_int < c.number_int) AS lo_n,
               arg_max(a.lon, a.number_int) FILTER (WHERE a.number_int < c.number_int) AS lo_lon,
               arg_max(a.lat, a.number_int) FILTER (WHERE a.number_int < c.number_int) AS lo_lat,
               min(a.number_int) FILTER (WHERE a.number_int > c.number_int) AS hi_n,
               arg_min(a.lon, a.number_int) FILTER (WHERE a.number_int > c.number_int) AS hi_lon,
               arg_min(a.lat, a.number_int) FILTER (WHERE a.number_int > c.number_int) AS hi_lat
        FROM _c c JOIN addresses a
          ON a.street_id = c.street_id AND a.number_int % 2 = c.number_int % 2
        GROUP BY c.cid
    """


def locality_sql() -> str:
    return "SELECT l.country, l.state, l.city, l.lat, l.lon FROM _l q JOIN localities l USING (country, state, city)"


def coverage_sql() -> str:
    """ZIPs and cities that have street data at all."""
    return """
        SELECT DISTINCT 'zip' AS k, postal_code AS v FROM streets WHERE postal_code IS NOT NULL
        UNION SELECT DISTINCT 'city', state || '|' || city FROM streets WHERE city IS NOT NULL
    """


def run(gaz: Gazetteer, sql: str, tables: dict[str, pa.Table] | None = None, params: list | None = None) -> pa.Table:
    """The one place SQL meets DuckDB: register the batch tables, run, return Arrow."""
    cur = gaz.cursor()
    names = []
    try:
        for name, table in (tables or {}).items():
            cur.register(name, table)
            names.append(name)
        return query_arrow(cur, sql, params)
    finally:
        for name in names:
            cur.unregister(name)


# --------------------------------------------------------------------------- calibration


@cache
def calibration() -> tuple[np.ndarray, np.ndarray]:
    """Piecewise-linear map from raw match score to calibrated confidence (fitted on data by
    ``benchmarks/match_accuracy.py --fit``)."""
    try:
        text = resources.files("addressing").joinpath("data/calibration.json").read_text()
        data = json.loads(text)
        return np.asarray(data["raw"], float), np.asarray(data["confidence"], float)
    except FileNotFoundError:
        return np.array([0.0, MATCH_MIN, 1.0]), np.array([0.0, 0.5, 0.97])


def calibrate(raw: np.ndarray) -> np.ndarray:
    xs, ys = calibration()
    return np.interp(np.asarray(raw, float), xs, ys)


@cache
def _coverage(gaz_path: str, version: str, gaz: Gazetteer) -> tuple[frozenset, frozenset]:
    t = run(gaz, coverage_sql()).to_pydict()
    zips = frozenset(v for k, v in zip(t["k"], t["v"]) if k == "zip")
    cities = frozenset(v for k, v in zip(t["k"], t["v"]) if k == "city")
    return zips, cities


def coverage(gaz: Gazetteer) -> tuple[frozenset, frozenset]:
    return _coverage(str(gaz.path), gaz.version, gaz)


# --------------------------------------------------------------------------- scoring helpers


def _eq_score(q: list, c: list, missing: float, differ: float) -> np.ndarray:
    out = np.empty(len(q))
    for i, (a, b) in enumerate(zip(q, c)):
        if a == b:
            out[i] = 1.0
        elif not a:
            out[i] = missing
        elif not b:
            out[i] = differ + (1 - differ) / 2
        else:
            out[i] = differ
    return out


def _city_score(q_city: list, c_city: list, c_zip: list, postal: dict) -> np.ndarray:
    out = np.empty(len(q_city))
    for i, (a, b, z) in enumerate(zip(q_city, c_city, c_zip)):
        if not a:
            out[i] = 0.92
        elif a == b:
            out[i] = 1.0
        else:
            info = postal.get(("US", z)) if z else None
            if info and (a == info.city or a in info.acceptable_cities):
                out[i] = 1.0
            else:
                out[i] = max(0.3, fuzz.ratio(a, b or "") / 100.0) * 0.9
    return out


# --------------------------------------------------------------------------- the stage


def match_batch(parsed: list[ParsedAddress], gaz: Gazetteer) -> list[MatchResult]:
    """Match and geocode a batch of parsed addresses (distinct ones; callers dedupe)."""
    results = [MatchResult() for _ in parsed]
    postal = gaz.postal()
    street_q: list[int] = []
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
        elif p.kind in STREET_KINDS and p.street_name:
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
            r.corrections = list(dict.fromkeys(p.corrections + r.corrections))
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
    if info and _set_point(r, info.lat, info.lon, Precision.POSTAL_CODE.value):
        r.confidence = 0.5
        if not p.city and info.city:
            r.city = info.city
            r.corrections.append("city_inferred")
        return
    if p.postal_code and not info:
        r.reason = f"postal code {p.postal_code} not known for {r.country}; located by locality only"


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
    score = 0.9
    if not p.city:
        r.city = info.city
        r.corrections.append("city_inferred")
    elif p.city != info.city and p.city not in info.acceptable_cities and p.city not in ("APO", "FPO", "DPO"):
        r.city = info.city
        r.corrections.append("city_replaced")
        score = 0.8
    r.status = MatchStatus.MATCHED.value
    r.score = score
    r.confidence = float(calibrate(np.array([score]))[0])
    if not _set_point(r, info.lat, info.lon, Precision.POSTAL_CODE.value):
        r.precision = Precision.NONE.value


def _fallback_area(p: ParsedAddress | None, r: MatchResult, postal: dict, gaz: Gazetteer, reason: str) -> None:
    """Unmatched: locate by ZIP centroid, else (later, in bulk) by locality."""
    r.status = MatchStatus.UNMATCHED.value
    r.reason = reason
    info = _postal_lookup("US", r.postal_code, postal)
    if info and _set_point(r, info.lat, info.lon, Precision.POSTAL_CODE.value):
        r.confidence = min(r.confidence, 0.3)


def _localities(results: list[MatchResult], gaz: Gazetteer) -> None:
    if not results:
        return
    keys = pa.table({"country": [r.country for r in results], "state": [r.state for r in results],
                     "city": [r.city for r in results]})
    found = run(gaz, locality_sql(), {"_l": keys}).to_pylist()
    where = {(d["country"], d["state"], d["city"]): d for d in found}
    for r in results:
        d = where.get((r.country, r.state, r.city))
        if d:
            _set_point(r, d["lat"], d["lon"], Precision.LOCALITY.value)


def _match_streets(parsed: list[ParsedAddress], results: list[MatchResult], gaz: Gazetteer, postal: dict) -> None:
    n = len(parsed)
    nkeys = [name_key(p.street_name) for p in parsed]
    q = pa.table({
        "qid": pa.array(range(n), pa.int64()),
        "state": [p.state for p in parsed],
        "postal_code": [p.postal_code for p in parsed],
        "city": [p.city for p in parsed],
        "name_key": nkeys,
        "sound_key": [sound_key(p.street_name) for p in parsed],
    })
    exact = run(gaz, exact_candidates_sql(), {"_q": q})
    has_local = np.zeros(n, bool)
    ex = exact.to_pydict()
    for qid, z, c in zip(ex["qid"], ex["postal_code"], ex["city"]):
        p = parsed[qid]
        if (p.postal_code and z == p.postal_code) or (p.city and c == p.city) or (not p.postal_code and not p.city):
            has_local[qid] = True
    residue = np.flatnonzero(~has_local)
    cands = [exact]
    if residue.size:
        fz = run(gaz, fuzzy_candidates_sql(), {"_r": q.take(pa.array(residue))})
        if fz.num_rows:
            cands.append(fz)
    cand = pa.concat_tables(cands).to_pydict()
    m = len(cand["qid"])
    if m == 0:
        for p, r in zip(parsed, results):
            _street_unmatched(p, r, postal, gaz)
        return
    qids = np.asarray(cand["qid"], dtype=np.int64)
    q_keys = [nkeys[i] for i in qids]
    name_sim = process.cpdist(q_keys, cand["name_key"], scorer=fuzz.ratio, workers=1) / 100.0
    keep = (name_sim * 100 >= FUZZY_NAME_MIN) | (np.asarray(cand["name_key"], dtype=object) == np.asarray(q_keys, dtype=object))
    # dedupe (exact and fuzzy blocks overlap)
    seen: set[tuple[int, int]] = set()
    idx = []
    for j in np.flatnonzero(keep):
        k = (int(qids[j]), int(cand["street_id"][j]))
        if k not in seen:
            seen.add(k)
            idx.append(j)
    idx = np.asarray(idx, dtype=np.int64)
    if idx.size == 0:
        for p, r in zip(parsed, results):
            _street_unmatched(p, r, postal, gaz)
        return
    C = {k: [v[j] for j in idx] for k, v in cand.items()}
    C["name_sim"] = name_sim[idx]
    cq = [parsed[i] for i in C["qid"]]
    # house-number evidence, in SQL over all candidate pairs
    cn = len(idx)
    ctab = pa.table({
        "cid": pa.array(range(cn), pa.int64()),
        "street_id": pa.array(C["street_id"], pa.int64()),
        "number": [p.house_number for p in cq],
        "number_int": pa.array([house_number_int(p.house_number) for p in cq], pa.int64()),
        "unit": [p.unit for p in cq],
    })
    pts = run(gaz, point_evidence_sql(), {"_c": ctab}).to_pydict()
    upts = run(gaz, unit_point_sql(), {"_c": ctab.filter(pa.compute.is_valid(ctab["unit"]))}).to_pydict()
    rng = run(gaz, range_evidence_sql(), {"_c": ctab.filter(pa.compute.is_valid(ctab["number_int"]))}).to_pydict()
    nbr = run(gaz, neighbour_evidence_sql(), {"_c": ctab.filter(pa.compute.is_valid(ctab["number_int"]))}).to_pydict()

    pt_lat = np.full(cn, np.nan)
    pt_lon = np.full(cn, np.nan)
    n_units = np.zeros(cn, np.int64)
    has_base = np.ones(cn, bool)
    units: list[list] = [[] for _ in range(cn)]
    for cid, nu, hb, us, la, lo in zip(pts["cid"], pts["n_units"], pts["has_base"], pts["units"], pts["lat"], pts["lon"]):
        pt_lat[cid], pt_lon[cid], n_units[cid], has_base[cid], units[cid] = la, lo, nu, bool(hb), us or []
    unit_lat = np.full(cn, np.nan)
    unit_lon = np.full(cn, np.nan)
    for cid, la, lo in zip(upts["cid"], upts["lat"], upts["lon"]):
        unit_lat[cid], unit_lon[cid] = la, lo
    # best range per candidate: parity first, then the narrowest range
    best_rng: dict[int, int] = {}
    for j, cid in enumerate(rng["cid"]):
        width = abs((rng["b"][j] or 0) - (rng["a"][j] or 0))
        key = (not rng["parity_ok"][j], width)
        if cid not in best_rng or key < best_rng[cid][0]:
            best_rng[cid] = (key, j)
    rng_lat = np.full(cn, np.nan)
    rng_lon = np.full(cn, np.nan)
    rng_parity = np.zeros(cn, bool)
    if best_rng:
        cids = np.fromiter(best_rng.keys(), np.int64)
        js = [best_rng[c][1] for c in cids]
        lines = shapely.from_wkb([rng["geom"][j] for j in js])
        sides = [rng["side"][j] if rng["sided"][j] else None for j in js]
        nums = [ctab["number_int"][int(c)].as_py() for c in cids]
        lon, lat = geocode.interpolate_on_segments(lines, nums, [rng["a"][j] for j in js], [rng["b"][j] for j in js], sides)
        rng_lon[cids], rng_lat[cids] = lon, lat
        rng_parity[cids] = [bool(rng["parity_ok"][j]) for j in js]
    nb_lat = np.full(cn, np.nan)
    nb_lon = np.full(cn, np.nan)
    if nbr["cid"]:
        ok = [j for j in range(len(nbr["cid"])) if nbr["lo_n"][j] is not None and nbr["hi_n"][j] is not None
              and nbr["hi_n"][j] - nbr["lo_n"][j] <= 200]
        if ok:
            cids = np.asarray([nbr["cid"][j] for j in ok])
            num = np.asarray([ctab["number_int"][int(c)].as_py() for c in cids], float)
            lon, lat = geocode.interpolate_between_points(
                num, *(np.asarray([nbr[k][j] for j in ok], float) for k in ("lo_n", "lo_lon", "lo_lat", "hi_n", "hi_lon", "hi_lat")))
            nb_lon[cids], nb_lat[cids] = lon, lat

    has_number = np.asarray([p.house_number is not None and house_number_int(p.house_number) is not None for p in cq])
    has_point = ~np.isnan(pt_lat)
    has_range = ~np.isnan(rng_lat)
    has_nbr = ~np.isnan(nb_lat)
    number_score = np.where(has_point, 1.0,
                   np.where(has_range & rng_parity, 0.97,
                   np.where(has_nbr, 0.93,
                   np.where(has_range, 0.82,
                   np.where(has_number, 0.55, 0.5)))))
    type_s = _eq_score([p.street_type for p in cq], C["type"], missing=0.9, differ=0.55)
    pre_s = _eq_score([p.predirectional for p in cq], C["predir"], missing=0.88, differ=0.4)
    post_s = _eq_score([p.postdirectional for p in cq], C["postdir"], missing=0.88, differ=0.4)
    zip_s = _eq_score([p.postal_code for p in cq], C["postal_code"], missing=0.9, differ=0.6)
    city_s = _city_score([p.city for p in cq], C["city"], C["postal_code"], postal)
    score = (WEIGHTS["name"] * C["name_sim"] + WEIGHTS["number"] * number_score + WEIGHTS["postal"] * zip_s
             + WEIGHTS["city"] * city_s + WEIGHTS["type"] * type_s + WEIGHTS["dirs"] * (pre_s + post_s) / 2)
    # where the number is best located
    loc_lat = np.where(has_point, pt_lat, np.where(has_range, rng_lat, np.where(has_nbr, nb_lat, np.asarray(C["lat"], float))))
    loc_lon = np.where(has_point, pt_lon, np.where(has_range, rng_lon, np.where(has_nbr, nb_lon, np.asarray(C["lon"], float))))
    prec = np.where(has_point, Precision.ADDRESS_POINT.value,
           np.where(has_range, Precision.INTERPOLATED.value,
           np.where(has_nbr, Precision.INTERPOLATED.value, Precision.STREET.value)))
    # group by query
    by_q: dict[int, list[int]] = {}
    for j, qid in enumerate(C["qid"]):
        by_q.setdefault(qid, []).append(j)
    for qi, (p, r) in enumerate(zip(parsed, results)):
        js = by_q.get(qi)
        if not js:
            _street_unmatched(p, r, postal, gaz)
            continue
        js.sort(key=lambda j: -score[j])
        best = js[0]
        s1 = float(score[best])
        # the runner-up must be a different place to make the answer ambiguous
        s2 = 0.0
        rival = None
        for j in js[1:]:
            d = geocode.distance_m(loc_lon[best], loc_lat[best], loc_lon[j], loc_lat[j])
            if not (d <= SAME_PLACE_M):
                s2, rival = float(score[j]), j
                break
        r.score, r.margin = s1, s1 - s2
        if s1 < MATCH_MIN:
            _street_unmatched(p, r, postal, gaz, near=(C, best, float(score[best])))
            continue
        _apply_candidate(p, r, C, best, postal)
        r.lat, r.lon, r.precision = float(loc_lat[best]), float(loc_lon[best]), str(prec[best])
        r.n_units, r.has_base = int(n_units[best]), bool(has_base[best])
        if p.unit and units[best]:
            r.unit_known = p.unit in units[best]
            if r.unit_known and not np.isnan(unit_lat[best]):
                r.lat, r.lon = float(unit_lat[best]), float(unit_lon[best])
        if has_number[best] and not (has_point[best] or has_range[best] or has_nbr[best]):
            r.corrections.append("house_number_out_of_range")
        elif has_range[best] and not rng_parity[best]:
            r.corrections.append("house_number_wrong_side")
        if not has_number[best] and p.kind != Kind.INTERSECTION.value:
            r.corrections.append("house_number_missing")
        if rival is not None and s1 - s2 < AMBIGUOUS_MARGIN:
            r.status = MatchStatus.AMBIGUOUS.value
            r.candidates = [_candidate(C, j, float(score[j]), loc_lat[j], loc_lon[j], p) for j in js[:MAX_CANDIDATES]
                            if score[j] >= s1 - 2 * AMBIGUOUS_MARGIN]
            r.reason = f"{len(r.candidates)} candidates within {AMBIGUOUS_MARGIN:.3f} of each other"
        else:
            r.status = MatchStatus.MATCHED.value
    raw = np.asarray([r.score if r.status == MatchStatus.MATCHED.value else 0.0 for r in results])
    margin_penalty = np.asarray([min(1.0, 0.6 + 4 * r.margin) for r in results])
    conf = calibrate(raw * margin_penalty)
    for r, c in zip(results, conf):
        if r.status == MatchStatus.MATCHED.value:
            r.confidence = round(float(c), 4)
        elif r.status == MatchStatus.AMBIGUOUS.value:
            r.confidence = round(float(calibrate(np.array([r.score * 0.6]))[0]), 4)


def _apply_candidate(p: ParsedAddress, r: MatchResult, C: dict, j: int, postal: dict) -> None:
    fix = r.corrections
    if name_key(p.street_name) != C["name_key"][j]:
        fix.append("street_name_corrected")
    for q_val, c_val, added, changed, removed in (
        (p.street_type, C["type"][j], "street_type_added", "street_type_corrected", "street_type_removed"),
        (p.predirectional, C["predir"][j], "directional_added", "directional_corrected", "directional_removed"),
        (p.postdirectional, C["postdir"][j], "directional_added", "directional_corrected", "directional_removed"),
    ):
        if q_val != c_val:
            fix.append(added if not q_val else removed if not c_val else changed)
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
    r.predirectional, r.street_name, r.street_type, r.postdirectional = (
        C["predir"][j], C["name"][j], C["type"][j], C["postdir"][j])
    r.city, r.state, r.postal_code = city, C["state"][j], z or p.postal_code
    r.corrections = list(dict.fromkeys(fix))


def _candidate(C: dict, j: int, score: float, lat, lon, p: ParsedAddress) -> dict:
    line1 = " ".join(x for x in (p.house_number, C["predir"][j], C["name"][j], C["type"][j], C["postdir"][j]) if x)
    line2 = " ".join(x for x in (C["city"][j], C["state"][j], C["postal_code"][j]) if x)
    return {"line1": line1, "line2": line2, "score": round(score, 4),
            "lat": None if np.isnan(lat) else float(lat), "lon": None if np.isnan(lon) else float(lon)}


def _street_unmatched(p: ParsedAddress, r: MatchResult, postal: dict, gaz: Gazetteer, near=None) -> None:
    zips, cities = coverage(gaz)
    covered = (p.postal_code in zips) or (f"{p.state}|{p.city}" in cities)
    if not covered:
        where = f"ZIP {p.postal_code}" if p.postal_code else f"{p.city or '?'}, {p.state or '?'}"
        reason = f"no street data loaded for {where} (outside gazetteer coverage)"
    elif near is not None:
        C, j, s = near
        reason = f"closest street {C['name'][j]} {C['type'][j] or ''} scored {s:.2f}, below {MATCH_MIN}".replace("  ", " ")
    else:
        reason = f"street {p.street_name} not found near {p.postal_code or p.city or p.state}"
    _fallback_area(p, r, postal, gaz, reason)
    if p.postal_code and not _postal_lookup("US", p.postal_code, postal):
        r.reason += f"; ZIP {p.postal_code} does not exist"
