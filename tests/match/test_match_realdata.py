"""Matching accuracy and calibration on real San Francisco + Oakland points (ADDRESSING_REALDATA).

A small, seeded version of ``benchmarks/match_accuracy.py``: messy queries made from distinct
real addresses, matched against a gazetteer built from both files.
"""

from __future__ import annotations

import numpy as np
import pytest
from match_helpers import differences

from addressing.demo import synth
from addressing.gazetteer import open_gazetteer
from addressing.gazetteer.openaddresses import ColumnMap
from addressing.gazetteer.store import SourceSpec, build
from addressing.geocode import distance_m
from addressing.match import match_batch
from addressing.match.queries import unit_norm
from addressing.parse import parse_batch

SF = {"columns": {"lon": "lon", "lat": "lat", "number": ["ADDR_NUM", "ADDR_N_SFX"], "street": ["ST_NAME", "ST_TYPE"],
                  "unit": "UNIT_NUM", "postcode": "ZIPCODE", "id": "EAS_SUBID"},
      "constants": {"city": "SAN FRANCISCO", "region": "CA"}}
OAKLAND = {"columns": {"lon": "lon", "lat": "lat", "number": "ST_NUM", "street": ["DIRPRE", "FEANME", "FEATYP", "DIRSUF"],
                       "unit": "UNIT", "postcode": "ZIPCODE", "city": "CITY", "id": "SPADID"},
           "constants": {"region": "CA"}}


@pytest.fixture(scope="module")
def sf_oakland(real, tmp_path_factory):
    oa = real / "openaddresses"
    db = tmp_path_factory.mktemp("sfoak") / "sf_oakland.duckdb"
    build(db, [SourceSpec("openaddresses", oa / "sf_eas_addresses_with_units.csv", name="oa:sf",
                          columns=ColumnMap.from_dict(SF)),
               SourceSpec("openaddresses", oa / "alameda_spad_oakland.csv", name="oa:oakland",
                          columns=ColumnMap.from_dict(OAKLAND))])
    return open_gazetteer(db)


@pytest.fixture(scope="module")
def outcome(sf_oakland):
    gaz = sf_oakland
    # distinct addresses; not the source's "0 UNKNOWN" rows nor SF number suffixes the loader reads as streets
    points = [p for p in synth.address_points(gaz) if p["name"] != "UNKNOWN" and p["number"] != "0"
              and not (len(p["name"]) == 1 and p["type"] is None)]
    texts, picks = synth.messy_queries(points, 600, seed=7)
    res = match_batch(parse_batch(texts), gaz)
    err = distance_m([np.nan if r.lon is None else r.lon for r in res], [np.nan if r.lat is None else r.lat for r in res],
                     [p["lon"] for p in picks], [p["lat"] for p in picks])
    unit_ok = np.asarray([unit_norm(r.unit) == unit_norm(p["unit"]) for r, p in zip(res, picks)])
    right = np.asarray([r.status == "matched" for r in res]) & (err <= 50) & unit_ok
    conf = np.asarray([r.confidence for r in res])
    return res, right, conf, err, unit_ok


def test_most_messy_queries_find_the_right_point(outcome):
    res, right, conf, err, unit_ok = outcome
    assert right.mean() >= 0.97
    matched = np.asarray([r.status == "matched" for r in res])
    assert np.median(err[matched]) < 1


def test_never_confidently_wrong(outcome):
    res, right, conf, err, unit_ok = outcome
    wrong = ~((err <= 50) & unit_ok)
    assert ((conf >= 0.9) & wrong).mean() <= 0.005


@pytest.mark.parametrize("c", [0.5, 0.7, 0.9])
def test_reliability(outcome, c):
    """Of the records with confidence >= c, at least a share c is right."""
    res, right, conf, err, unit_ok = outcome
    sel = conf >= c
    assert sel.sum() >= 100
    assert right[sel].mean() >= c


def test_dual_addressed_oakland_point(sf_oakland):
    """Oakland gives some parcels two street names at one point (PARK VIEW TRL / PARK WAY):
    a customer writing 'Park View' (parsed as PARK + VW) gets that point, by its own name."""
    [r] = match_batch(parse_batch(["282 Park View, Oakland, CA 94610"]), sf_oakland)
    assert (r.status, r.precision, r.street_name, r.street_type) == ("matched", "address_point", "PARK VIEW", "TRL")


def test_one_order_at_a_time_gives_what_the_batch_gives(sf_oakland):
    """Single orders (the in-memory backend) against the batch (SQL), on hard queries over the
    real SF and Oakland points (units, fractions and letters in the numbers)."""
    points = [p for p in synth.address_points(sf_oakland) if p["name"] != "UNKNOWN"]
    texts, _ = synth.messy_queries(points, 400, seed=8, hard=True)
    parsed = parse_batch(texts)
    batch = match_batch(parsed, sf_oakland)
    single = [match_batch([p], sf_oakland)[0] for p in parsed]
    assert not differences(batch, single, texts)
