"""Matching and geocoding on the demo gazetteer (real SF points, real Autauga TIGER ranges).

Every expectation is read from the gazetteer itself (which address has which units, which
segment holds which range), never typed in.
"""

from __future__ import annotations

import json
import re
from importlib import resources

import numpy as np
import pytest
import shapely
from match_helpers import spy_sql

from addressing.gazetteer import query_arrow
from addressing.geocode import distance_m
from addressing.match import MatchResult, backends, blocking, decision, match_batch, places, scoring
from addressing.match.calibration import RANGE, STRATA, calibrate, calibration, raw_score
from addressing.match.queries import Queries, street_variants, unit_norm, unit_tries
from addressing.parse import parse_batch
from addressing.schema import ParsedAddress, Precision


@pytest.fixture(autouse=True, params=["memory", "sql"])
def path(request, monkeypatch) -> str:
    """Every test runs with both backends: a few queries in memory, and the SQL that larger
    batches run."""
    if request.param == "sql":
        monkeypatch.setattr(backends, "MEMORY_MAX_QUERIES", 0)
    return request.param


def rows(gaz, sql: str, params: list | None = None) -> list[dict]:
    return query_arrow(gaz.cursor(), sql, params).to_pylist()


def run(gaz, *texts: str) -> list[MatchResult]:
    return match_batch(parse_batch(list(texts)), gaz)


def off_m(r: MatchResult, lat: float, lon: float) -> float:
    return float(distance_m(r.lon, r.lat, lon, lat))


@pytest.fixture(scope="module")
def plain(gaz) -> dict:
    """An SF address without units, on a street without directionals, with a long name."""
    return rows(gaz, """
        SELECT s.name, s.type, s.postal_code, a.number, a.lat, a.lon
        FROM addresses a JOIN streets s USING (street_id)
        WHERE NOT s.alt AND s.state = 'CA' AND a.n_units = 0 AND s.predir IS NULL AND s.postdir IS NULL
          AND s.type IS NOT NULL AND length(s.name) >= 7 AND regexp_full_match(s.name, '[A-Z]+')
          AND regexp_full_match(a.number, '[0-9]+')
        ORDER BY s.name, a.number_int LIMIT 1""")[0]


def line(p: dict, number=None, name=None, typ="keep", city="San Francisco", zip_="keep", unit="") -> str:
    typ = p["type"] if typ == "keep" else typ
    zip_ = p["postal_code"] if zip_ == "keep" else zip_
    street = " ".join(x for x in (str(number or p["number"]), name or p["name"].title(), typ) if x)
    last = " ".join(x for x in ("CA", zip_) if x)
    return ", ".join(x for x in (street + (f" {unit}" if unit else ""), city, last) if x)


# --------------------------------------------------------------------------- address points


def test_exact_address_point(gaz, plain):
    [r] = run(gaz, line(plain))
    assert (r.status, r.precision, r.stratum) == ("matched", "address_point", "address_point")
    assert off_m(r, plain["lat"], plain["lon"]) < 1
    assert r.corrections == []
    assert r.confidence >= 0.9
    assert (r.street_name, r.street_type, r.house_number) == (plain["name"], plain["type"], plain["number"])


def _typo(name: str) -> str:
    i = len(name) // 2
    return name[:i] + name[i + 1] + name[i] + name[i + 2:]


@pytest.mark.parametrize("change, code", [
    ("typo", "street_name_corrected"),
    ("no_type", "street_type_added"),
    ("wrong_zip", "postal_code_corrected"),
    ("no_zip", "postal_code_inferred"),
    ("no_city_no_zip", "city_inferred"),
    ("wrong_city", "city_replaced"),
])
def test_every_change_has_a_correction_code(gaz, plain, change, code):
    p = plain
    zips = [z for z in ("94102", "94103") if z != p["postal_code"]]
    text = {
        "typo": line(p, name=_typo(p["name"]).title()),
        "no_type": line(p, typ=None),
        "wrong_zip": line(p, zip_=zips[0]),
        "no_zip": line(p, zip_=None),
        "no_city_no_zip": line(p, city=None, zip_=None),
        "wrong_city": line(p, city="Sacramento"),
    }[change]
    [r] = run(gaz, text)
    assert r.status == "matched", (text, r.reason)
    assert off_m(r, p["lat"], p["lon"]) < 1
    assert code in r.corrections
    assert (r.street_name, r.postal_code) == (p["name"], p["postal_code"])


def test_misspelt_street_found_without_zip_or_city(gaz, plain):
    """A consonant slip changes the sound key; the trigram block still finds the street."""
    name = plain["name"]
    i = next(k for k in range(2, len(name) - 1) if name[k] not in "AEIOU")
    bad = name[:i] + ("T" if name[i] != "T" else "D") + name[i + 1:]
    [r] = run(gaz, f"{plain['number']} {bad} {plain['type']} CA")
    assert r.status == "matched"
    assert "street_name_corrected" in r.corrections and "postal_code_inferred" in r.corrections
    assert off_m(r, plain["lat"], plain["lon"]) < 1


def test_directional_added(gaz):
    """A number that exists on S VAN NESS AVE only: the directional is added."""
    [p] = rows(gaz, """
        SELECT a.number, a.lat, a.lon, s.postal_code FROM addresses a JOIN streets s USING (street_id)
        WHERE NOT s.alt AND s.name = 'VAN NESS' AND s.predir = 'S' AND a.n_units = 0
          AND a.number NOT IN (SELECT a2.number FROM addresses a2 JOIN streets s2 USING (street_id)
                               WHERE s2.name = 'VAN NESS' AND s2.predir IS NULL)
        ORDER BY a.number_int LIMIT 1""")
    [r] = run(gaz, f"{p['number']} Van Ness Ave, San Francisco, CA {p['postal_code']}")
    assert (r.status, r.predirectional) == ("matched", "S")
    assert "directional_added" in r.corrections
    assert off_m(r, p["lat"], p["lon"]) < 1


def test_hyphenated_and_fractional_numbers_use_the_integer_part(gaz, plain):
    for number in (f"{plain['number']}-2", f"{plain['number']} 1/2"):
        [r] = run(gaz, line(plain, number=number))
        assert r.status == "matched"
        assert r.precision == "interpolated"      # the point of a related number, not its own
        assert "house_number_approximated" in r.corrections
        assert off_m(r, plain["lat"], plain["lon"]) < 1


# --------------------------------------------------------------------------- units


@pytest.fixture(scope="module")
def units(gaz) -> dict:
    """An SF address with several units and no point of its own (units only)."""
    return rows(gaz, """
        SELECT s.name, s.type, s.postal_code, a.number, a.units, a.n_units, a.lat, a.lon
        FROM addresses a JOIN streets s USING (street_id)
        WHERE NOT s.alt AND s.state = 'CA' AND a.n_units >= 3 AND NOT a.has_base AND s.predir IS NULL
          AND s.type IS NOT NULL AND regexp_full_match(a.number, '[0-9]+')
          AND len(list_filter(a.units, lambda u: regexp_full_match(u, '[A-Z]'))) >= 2
        ORDER BY s.name, a.number_int LIMIT 1""")[0]


def test_known_unit(gaz, units):
    unit = units["units"][0]
    [r] = run(gaz, line(units, unit=f"Apt {unit}"))
    assert (r.status, r.precision, r.unit, r.unit_known) == ("matched", "address_point", unit, True)
    assert r.confidence >= 0.9


def test_unknown_unit_is_flagged_and_not_confident(gaz, units):
    bad = next(str(n) for n in range(9000, 9999) if str(n) not in units["units"])
    [r] = run(gaz, line(units, unit=f"Apt {bad}"))
    assert r.status == "matched"
    assert r.unit_known is False
    assert r.confidence <= decision.UNIT_UNKNOWN_CAP


def test_missing_unit_inputs(gaz, units):
    [r] = run(gaz, line(units))
    assert r.status == "matched"
    assert (r.n_units, r.has_base, r.unit) == (units["n_units"], False, None)
    assert r.confidence <= decision.MISSING_UNIT_CAP


def test_unit_written_into_the_house_number(gaz, units):
    letter = next(u for u in units["units"] if re.fullmatch("[A-Z]", u))
    [r] = run(gaz, line(units, number=f"{units['number']}{letter}"))
    assert (r.house_number, r.unit, r.unit_known) == (units["number"], letter, True)
    assert "unit_from_house_number" in r.corrections
    assert r.precision == "address_point"


# --------------------------------------------------------------------------- TIGER ranges


@pytest.fixture(scope="module")
def segment(gaz) -> dict:
    """An odd-parity Autauga range on a street (in its ZIP) that has only odd ranges."""
    return rows(gaz, """
        SELECT g.name, g.type, g.postal_code, g.from_left AS a, g.to_left AS b, g.geom, g.street_id,
               s.lat AS street_lat, s.lon AS street_lon
        FROM segments g JOIN streets s ON s.street_id = g.street_id AND NOT s.alt
        WHERE g.parity_left = 'O' AND g.type IS NOT NULL AND g.predir IS NULL AND g.postdir IS NULL
          AND abs(g.to_left - g.from_left) >= 20 AND regexp_full_match(g.name, '[A-Z ]+')
          AND (SELECT count(*) FROM segments x WHERE x.street_id = g.street_id AND x.parity_left <> 'O') = 0
        ORDER BY g.name LIMIT 1""")[0]


def test_number_in_range_is_interpolated_on_the_segment(gaz, segment):
    lo, hi = sorted((segment["a"], segment["b"]))
    n = lo + 10 + (1 - (lo + 10) % 2)      # odd, inside
    [r] = run(gaz, f"{n} {segment['name'].title()} {segment['type']}, AL {segment['postal_code']}")
    assert (r.status, r.precision, r.stratum) == ("matched", "interpolated", RANGE)
    geom = shapely.from_wkb(segment["geom"])
    near = shapely.shortest_line(geom, shapely.Point(r.lon, r.lat))
    (x0, y0), (x1, y1) = near.coords
    assert distance_m(x0, y0, x1, y1) < 15         # offset to its side, not off in a field
    assert r.confidence < 0.9                      # a range is never as sure as a point
    assert "house_number_out_of_range" not in r.corrections


def test_wrong_parity_is_reported(gaz, segment):
    lo, hi = sorted((segment["a"], segment["b"]))
    n = lo + 11 - (lo + 11) % 2            # even: this street's only range is odd
    [r] = run(gaz, f"{n} {segment['name'].title()} {segment['type']}, AL {segment['postal_code']}")
    assert (r.status, r.precision) == ("matched", "interpolated")
    assert "house_number_wrong_side" in r.corrections


def test_number_out_of_every_range_gets_the_street_not_a_point(gaz, segment):
    n = max(segment["a"], segment["b"]) + 50_001
    [r] = run(gaz, f"{n} {segment['name'].title()} {segment['type']}, AL {segment['postal_code']}")
    assert (r.status, r.precision) == ("matched", "street")
    assert "house_number_out_of_range" in r.corrections
    assert (r.lat, r.lon) == pytest.approx((segment["street_lat"], segment["street_lon"]))
    assert r.confidence < 0.5


def test_two_streets_too_close_to_call_are_ambiguous_with_both_kept(gaz):
    """The same road name in two ZIPs, both with a range holding the number; no ZIP given."""
    segs = rows(gaz, """
        SELECT g.name, g.postal_code, g.street_id, least(g.from_left, g.to_left) AS lo,
               greatest(g.from_left, g.to_left) AS hi, g.parity_left AS parity
        FROM segments g
        WHERE g.type IS NULL AND g.predir IS NULL AND g.postdir IS NULL AND g.name LIKE 'AUTAUGA COUNTY %'
        ORDER BY g.name, g.street_id, lo""")
    found = None
    for a in segs:
        for b in segs:
            if a["name"] == b["name"] and a["street_id"] < b["street_id"] and a["postal_code"] != b["postal_code"]:
                lo, hi = max(a["lo"], b["lo"]), min(a["hi"], b["hi"])
                odd = [n for n in range(lo, hi + 1) if n % 2 == 1 and all(
                    s["parity"] in ("O", "B") for s in (a, b))]
                if odd:
                    found = (a, b, odd[len(odd) // 2])
                    break
        if found:
            break
    assert found, "the demo gazetteer has county roads named alike in two ZIPs"
    a, b, n = found
    [r] = run(gaz, f"{n} {a['name'].title()}, AL")
    assert r.status == "ambiguous"
    assert len(r.candidates) >= 2
    assert {c["line2"][-5:] for c in r.candidates} >= {a["postal_code"], b["postal_code"]}
    assert r.confidence <= decision.AMBIGUOUS_CAP


# --------------------------------------------------------------------------- other kinds, edges


def test_po_box_is_validated_by_its_last_line(gaz):
    [r] = run(gaz, "PO Box 123, San Francisco, CA 94142")
    assert (r.status, r.precision) == ("matched", "postal_code")
    assert r.confidence == places.BOX_CONFIDENCE["agrees"]


def test_empty_batch_and_invalid_input(gaz):
    assert match_batch([], gaz) == []
    [r] = match_batch([ParsedAddress(invalid_reason="empty address")], gaz)
    assert (r.status, r.precision, r.lat) == ("invalid", "none", None)


def test_round_one_blocking_is_bounded(gaz, plain):
    """Round one keeps at most EXACT_PER_QUERY same-name streets per spelling, whatever the
    gazetteer's size: no query is compared with every street."""
    parsed = parse_batch([line(plain, city=None, zip_=None)] * 3 + ["100 Autauga County 24, AL"])
    qs = Queries.of(parsed)
    t = blocking.round_one(backends.backend_for(gaz, len(parsed)), qs)
    per = np.bincount(np.asarray(t["vix"].to_pylist()), minlength=len(qs.variants))
    assert per.max() <= blocking.EXACT_PER_QUERY
    n_streets = rows(gaz, "SELECT count(*) AS n FROM streets")[0]["n"]
    assert t.num_rows < n_streets


# --------------------------------------------------------------------------- helpers


def test_street_variants():
    v = street_variants(ParsedAddress(street_name="PARK", street_type="VW"))
    assert ("PARK VIEW", None, "street_type_in_name") in {(x.name, x.type, x.code) for x in v}
    v = street_variants(ParsedAddress(street_name="OCTAVIA STREET SUITE COMML"))
    assert ("OCTAVIA", "ST", "COMML") in {(x.name, x.type, x.unit) for x in v}
    assert street_variants(ParsedAddress(street_name=None)) == []


def test_unit_tries_order():
    p = ParsedAddress(house_number="414 A", city="APT 7", po_box="12")
    assert [t[2] for t in unit_tries(p)] == ["unit_from_house_number", "unit_from_city", "unit_from_box"]
    assert unit_tries(ParsedAddress(house_number="12", unit="4B"))[0] == ("4B", None, None)


def test_unit_norm():
    assert unit_norm("#04-B") == unit_norm("4b") == "4B"
    assert unit_norm("0") == "0"
    assert unit_norm(None) is None and unit_norm("") is None


def test_scores():
    q = scoring.objects(["ST", "", "AVE", None])
    c = scoring.objects(["ST", "ST", "ST", None])
    scores = scoring.ComponentScores(query_none=0.9, candidate_none=0.75, differ=0.55)
    assert scoring.component_score(q, c, scores).tolist() == [1.0, 0.9, 0.55, 1.0]
    z = scoring.zip_score(["94103", "94104", "94188", None, "10001"], ["94103"] * 4 + [None])
    assert z.tolist() == [1.0, 0.75, 0.65, 0.9, 0.8]
    assert scoring.zip_score([], []).size == 0
    assert scoring.same_digits(["CR40", "5TH"], ["CR43", "5TH"]).tolist() == [False, True]


def test_raw_score_discounts_a_close_rival():
    raw = raw_score(np.array([0.95, 0.95, 0.95]), np.array([1.0, 0.1, 0.0]))
    assert raw[0] == raw[1] == pytest.approx(0.95)
    assert raw[2] < raw[1]


def test_calibration_maps_are_monotone_and_conservative():
    text = (resources.files("addressing") / "data" / "calibration.json").read_text()
    strata = json.loads(text)["strata"]
    assert set(strata) <= set(STRATA)
    assert Precision.ADDRESS_POINT.value in strata
    for name in STRATA:
        xs, ys = calibration(name)
        assert (np.diff(xs) > 0).all() and (np.diff(ys) >= 0).all()
        assert ys.min() >= 0 and ys.max() <= 1
        for b in strata.get(name, {}).get("blocks", []):
            assert b["confidence"] <= b["right"] / b["n"]          # a lower bound, never the share itself
    # a street-only answer is never confident
    assert calibrate(np.array([1.0]), Precision.STREET.value)[0] < 0.5
    assert calibrate(np.array([]), []).size == 0


def test_places_without_street_data_are_not_searched(gaz, monkeypatch):
    """An address in a state with no street data, whose ZIP has none either, is unmatched with
    the coverage reason and costs no street query; a covered ZIP is searched whatever the state says."""
    cov = places.coverage(gaz)
    state = next(s for s in ("ID", "WY", "VT", "ND") if s not in cov.states)
    asked = spy_sql(monkeypatch)
    far = run(gaz, f"12 Main St, Springfield, {state} 00000")[0]
    assert far.status == "unmatched" and "outside gazetteer coverage" in far.reason
    assert all("FROM _l q JOIN localities" in text for text in asked)      # placed by its town only
    sf = next(iter(sorted(z for z in cov.zips if z.startswith("941"))))
    plain_sf = rows(gaz, "SELECT number, name, type FROM addresses JOIN streets USING (street_id) "
                         "WHERE postal_code = ? AND NOT alt AND type IS NOT NULL ORDER BY street_id, number LIMIT 1", [sf])[0]
    asked.clear()
    near = run(gaz, f"{plain_sf['number']} {plain_sf['name']} {plain_sf['type']}, San Francisco, {state} {sf}")[0]
    assert near.status == "matched" and near.postal_code == sf
    assert any(" streets s " in text for text in asked)                 # searched


def test_orders_sharing_a_match_keep_their_own_unit_designator(gaz, units):
    """Identical parses are matched once per batch; "STE 4" and "APT 4" at one address are
    not identical: each cleaned line keeps its own designator."""
    import pyarrow as pa

    from addressing.pipeline import clean_table
    from addressing.risk import load_risk

    a = units
    base = f"{a['number']} {a['name']} {a['type']}"
    unit = a["units"][0]
    raw = pa.table({"order_id": ["1", "2"],
                    "address": [f"{base} Apt {unit}, San Francisco, CA {a['postal_code']}",
                                f"{base} Suite {unit}, San Francisco, CA {a['postal_code']}"]})
    out = clean_table(raw, gaz, load_risk(None)).to_pylist()
    assert [r["unit_type"] for r in out] == ["APT", "STE"]
