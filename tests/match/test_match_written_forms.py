"""What the customer wrote decides where the gazetteer holds look-alikes, and misspelt street
types and directionals are read as what they are (issue 15, faults 3 and 4).

Look-alikes: Autauga County's real TIGER data (in the demo gazetteer) has streets of one name and
ZIP that differ only in type (``BOOTH LN`` / ``BOOTH ST``, ``RIVERVIEW CT`` / ``RD`` / ``LN``),
read from the gazetteer itself; the SF case is built from real parts: a real SF building with
units, and a copy of its street under another type.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from addressing.gazetteer import open_gazetteer, query_arrow
from addressing.gazetteer.store import SourceSpec, build
from addressing.geocode import distance_m
from addressing.match import MatchResult, backends, decision, match_batch, scoring
from addressing.parse import parse_batch
from addressing.pipeline import clean_order


@pytest.fixture(autouse=True, params=["memory", "sql"])
def path(request, monkeypatch) -> str:
    """Both backends: a few queries in memory, and the SQL of large batches."""
    if request.param == "sql":
        monkeypatch.setattr(backends, "MEMORY_MAX_QUERIES", 0)
    return request.param


def run(gaz, texts: list[str]) -> list[MatchResult]:
    return match_batch(parse_batch(texts), gaz)


@pytest.fixture(scope="module")
def lookalikes(gaz) -> list[dict]:
    """Pairs of Autauga streets of one name in one ZIP, of different types, whose TIGER ranges
    both hold a number (the highest such number of the pair)."""
    return query_arrow(gaz.cursor(), """
        WITH g AS (SELECT street_id, name, predir, postdir, type, postal_code, city,
                          from_left fl, to_left tl, from_right fr, to_right tr FROM segments WHERE state = 'AL'),
        r AS (SELECT street_id, name, predir, postdir, type, postal_code, city, least(fl, tl) lo, greatest(fl, tl) hi
              FROM g WHERE fl > 0 AND tl > 0
              UNION ALL
              SELECT street_id, name, predir, postdir, type, postal_code, city, least(fr, tr), greatest(fr, tr)
              FROM g WHERE fr > 0 AND tr > 0)
        SELECT a.name, a.postal_code, a.city, a.type AS type_a, a.predir AS pre_a, a.postdir AS post_a,
               b.type AS type_b, b.predir AS pre_b, b.postdir AS post_b, max(greatest(a.lo, b.lo)) AS number
        FROM r a JOIN r b ON a.name = b.name AND a.postal_code = b.postal_code AND a.type < b.type
        WHERE greatest(a.lo, b.lo) <= least(a.hi, b.hi)
        GROUP BY ALL ORDER BY a.name, a.postal_code, type_a, type_b""").to_pylist()


def written(pair: dict, side: str | None) -> str:
    typ, pre, post = (pair[f"type_{side}"], pair[f"pre_{side}"], pair[f"post_{side}"]) if side else (None, None, None)
    street = " ".join(str(x) for x in (pair["number"], pre, pair["name"].title(), typ, post) if x)
    return f"{street}, {pair['city'].title()}, AL {pair['postal_code']}"


def test_the_written_type_decides_between_real_lookalikes(gaz, lookalikes):
    assert len(lookalikes) >= 60                      # Autauga's real look-alike pairs with a shared number
    texts = [written(p, side) for p in lookalikes for side in ("a", "b")]
    want = [(p[f"type_{side}"], p[f"pre_{side}"], p[f"post_{side}"]) for p in lookalikes for side in ("a", "b")]
    wrong = [(t, r.status, r.street_type, r.candidates) for t, w, r in zip(texts, want, run(gaz, texts))
             if r.status != "matched" or (r.street_type, r.predirectional, r.postdirectional) != w]
    assert not wrong


def test_a_number_on_the_wrong_side_does_not_outweigh_the_written_type(gaz, lookalikes):
    """``554 BOOTH LN``: the number is on the wrong side of BOOTH LN's range by its parity and on
    the right side of BOOTH ST's; the customer wrote LN, and a range's parity is soft evidence."""
    booth = next(p for p in lookalikes if p["name"] == "BOOTH" and {p["type_a"], p["type_b"]} == {"LN", "ST"})
    for side in ("a", "b"):
        r = run(gaz, [written(booth, side)])[0]
        assert (r.status, r.street_type) == ("matched", booth[f"type_{side}"])
        assert r.margin >= scoring.AMBIGUOUS_MARGIN


def test_no_type_written_stays_ambiguous(gaz, lookalikes):
    """Where the two streets hold the number alike (neither on the wrong side of its range) and
    differ only in type, a customer who wrote no type has not chosen: the tie is real. (Where the
    two places are within SAME_PLACE_M, a court off its drive, they are one place, not rivals.)"""
    plain = [p for p in lookalikes if not (p["pre_a"] or p["post_a"] or p["pre_b"] or p["post_b"])]
    typed = run(gaz, [written(p, side) for p in plain for side in ("a", "b")])
    alike = [p for i, p in enumerate(plain)
             if not any(c.startswith("house_number") for r in typed[2 * i: 2 * i + 2] for c in r.corrections)
             and distance_m(typed[2 * i].lon, typed[2 * i].lat, typed[2 * i + 1].lon, typed[2 * i + 1].lat)
             > decision.SAME_PLACE_M]
    assert len(alike) >= 20
    results = run(gaz, [written(p, None) for p in alike])
    assert [r.status for r in results] == ["ambiguous"] * len(alike)
    for p, r in zip(alike, results):
        assert {c["line1"].split()[-1] for c in r.candidates} >= {p["type_a"], p["type_b"]}


def test_an_omitted_directional_does_not_outweigh_the_written_type(gaz):
    """``149 Poplar St``: the street type agrees with ``E POPLAR ST`` and contradicts
    ``POPLAR CT``; leaving out the E is the common slip."""
    r = run(gaz, ["149 Poplar St, Prattville, AL 36066"])[0]
    assert (r.status, r.predirectional, r.street_name, r.street_type) == ("matched", "E", "POPLAR", "ST")
    assert "directional_added" in r.corrections


@pytest.fixture(scope="module")
def sf_twin(tmp_path_factory, gaz) -> Path:
    """A real SF building with units and its street, plus the same street under another type
    400 m north with the same numbers and units: CT beside ST in one ZIP."""
    rows = query_arrow(gaz.cursor(), """
        WITH b AS (SELECT a.street_id, a.number FROM address_points a JOIN streets s USING (street_id)
                   WHERE s.state = 'CA' AND s.type = 'ST' AND s.predir IS NULL AND NOT s.alt
                   GROUP BY ALL HAVING count(*) >= 3 AND count(a.unit) = count(*) ORDER BY a.street_id, a.number LIMIT 1)
        SELECT a.lon, a.lat, a.number, s.name, a.unit, s.city, s.postal_code
        FROM address_points a JOIN streets s USING (street_id) WHERE a.street_id = (SELECT street_id FROM b)
        ORDER BY a.number_int, a.unit""").to_pylist()
    folder = tmp_path_factory.mktemp("twin")
    src = folder / "twin.csv"
    with open(src, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["LON", "LAT", "NUMBER", "STREET", "UNIT", "CITY", "REGION", "POSTCODE"])
        for r in rows:
            for typ, dlat in (("ST", 0.0), ("CT", 0.0036)):
                w.writerow([r["lon"], r["lat"] + dlat, r["number"], f"{r['name']} {typ}", r["unit"] or "",
                            r["city"], "CA", r["postal_code"]])
    db = folder / "twin.duckdb"
    build(db, [SourceSpec("openaddresses", src, name="oa:twin")], with_zipcodes=True)
    return db


def test_the_written_type_keeps_the_missing_unit_flag(sf_twin, risk_ctx):
    """An order without its unit, for a building whose street has a look-alike in the ZIP: it
    is the written street's building, and the flag it deserves is ``missing_unit``."""
    twin = open_gazetteer(sf_twin)
    number, name, city, zip_code = query_arrow(twin.cursor(), """
        SELECT a.number, s.name, s.city, s.postal_code FROM address_points a JOIN streets s USING (street_id)
        WHERE s.type = 'ST' GROUP BY ALL HAVING count(*) >= 3 AND count(a.unit) = count(*)
        ORDER BY a.number LIMIT 1""").to_pylist()[0].values()
    for typ in ("Street", "Court"):
        out = clean_order({"order_id": "1", "address": f"{number} {name.title()} {typ}, {city.title()}, CA {zip_code}"},
                          twin, risk_ctx)
        assert out["match_status"] == "matched"
        assert out["street_type"] == {"Street": "ST", "Court": "CT"}[typ]
        assert "missing_unit" in out["risk_flags"]
        assert "ambiguous_match" not in out["risk_flags"]


@pytest.fixture(scope="module")
def sf_street(gaz) -> dict:
    return query_arrow(gaz.cursor(), """
        SELECT a.number, s.name, s.postal_code, a.lat, a.lon FROM addresses a JOIN streets s USING (street_id)
        WHERE s.state = 'CA' AND s.type = 'ST' AND s.predir IS NULL AND NOT s.alt AND a.n_units = 0 AND regexp_full_match(s.name, '[A-Z]{5,}') AND regexp_full_match(a.number, '[0-9]+')
        ORDER BY s.name, a.number_int LIMIT 1""").to_pylist()[0]


@pytest.mark.parametrize("template", ["{n} {name} Streeet", "{n} {name} Stret", "{n} {name} Sreet", "{n} {name} Streetr",
                                      "{n} {name} STREEET"])
def test_misspelt_street_type_is_corrected(gaz, sf_street, template):
    text = template.format(n=sf_street["number"], name=sf_street["name"].title())
    r = run(gaz, [f"{text}, San Francisco, CA {sf_street['postal_code']}"])[0]
    assert (r.status, r.street_name, r.street_type) == ("matched", sf_street["name"], "ST")
    assert "street_type_corrected" in r.corrections
    assert r.precision == "address_point"


@pytest.fixture(scope="module")
def al_directional(gaz) -> dict:
    """An Autauga street with a pre-directional and a type, and a number in its range."""
    return query_arrow(gaz.cursor(), """
        SELECT s.predir, s.name, s.type, s.city, s.postal_code, greatest(g.from_left, g.to_left) AS number
        FROM segments g JOIN streets s USING (street_id)
        WHERE s.state = 'AL' AND s.predir IN ('N', 'S') AND s.type IN ('ST', 'RD', 'DR', 'AVE') AND NOT s.alt
          AND g.from_left > 0 AND g.to_left > 0 AND regexp_full_match(s.name, '[A-Z]{4,}')
        ORDER BY s.name LIMIT 1""").to_pylist()[0]


@pytest.mark.parametrize("typo", [{"N": "Norht", "S": "Sotuh"}, {"N": "Nrth", "S": "Souht"}])
def test_misspelt_directional_is_corrected(gaz, al_directional, typo):
    d = al_directional
    text = f"{d['number']} {typo[d['predir']]} {d['name'].title()} {d['type']}, {d['city'].title()}, AL {d['postal_code']}"
    r = run(gaz, [text])[0]
    assert (r.status, r.predirectional, r.street_name, r.street_type) == ("matched", d["predir"], d["name"], d["type"])
    assert "directional_corrected" in r.corrections


@pytest.fixture(scope="module")
def hamilton(tmp_path_factory) -> Path:
    """Real Hamilton County, OH streets whose last word is one edit from a street type (from the
    voter file in the shared data: ``1235 CLIFF LAINE DR``, ``6003 RED TAIL LN``, ``7330 POST AND
    RAIL LN``), placed at their real ZIPs' centres."""
    import zipcodes

    folder = tmp_path_factory.mktemp("hamilton")
    src = folder / "hamilton.csv"
    with open(src, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["LON", "LAT", "NUMBER", "STREET", "UNIT", "CITY", "REGION", "POSTCODE"])
        for number, street, zip_code in (("1235", "CLIFF LAINE DR", "45208"), ("6003", "RED TAIL LN", "45247"),
                                         ("7330", "POST AND RAIL LN", "45243")):
            z = zipcodes.matching(zip_code)[0]
            w.writerow([z["long"], z["lat"], number, street, "", "CINCINNATI", "OH", zip_code])
    db = folder / "hamilton.duckdb"
    build(db, [SourceSpec("openaddresses", src, name="oa:hamilton-sample")])
    return db


@pytest.mark.parametrize("text, street", [("1235 Cliff Laine, Cincinnati, OH 45208", ("CLIFF LAINE", "DR")),
                                          ("6003 Red Tail, Cincinnati OH 45247", ("RED TAIL", "LN")),
                                          ("7330 Post and Rail, Cincinnati, OH 45243", ("POST AND RAIL", "LN"))])
def test_a_name_that_really_holds_the_word_is_kept(hamilton, text, street):
    """The parser reads ``LAINE`` as a misspelt LANE, but the gazetteer has a street called
    CLIFF LAINE: that street, with only its type added."""
    r = run(open_gazetteer(hamilton), [text])[0]
    assert (r.status, r.street_name, r.street_type) == ("matched", *street)
    assert "street_type_corrected" not in r.corrections
    assert "street_type_added" in r.corrections
