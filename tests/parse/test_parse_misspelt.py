"""A word one or two edits from a street type or a directional, where one stands, is read as
that type or directional with a correction code; the street as written is kept for the matcher
(issue 15, fault 4). Also: a numbered street followed by a cross street."""

from __future__ import annotations

import csv

import pytest

from addressing.parse import parse
from addressing.parse.standardize import TYPO_DIRECTIONALS, TYPO_TYPES, misspelt, read_misspelt, split_street

STREET = ("house_number", "predirectional", "street_name", "street_type", "postdirectional")

#: the issue's examples, each with the street it names and the codes it must carry
MISSPELT = [
    ("12 Main Streeet, Springfield, IL 62701", ("12", None, "MAIN", "ST", None), ["street_type_corrected"]),
    ("45 Oak Drrive, Springfield, IL 62701", ("45", None, "OAK", "DR", None), ["street_type_corrected"]),
    ("9 Park Aveneu, Springfield, IL 62701", ("9", None, "PARK", "AVE", None), ["street_type_corrected"]),
    ("100 Ocean Boulevarrd, Long Beach, CA 90802", ("100", None, "OCEAN", "BLVD", None), ["street_type_corrected"]),
    ("77 Pacific Highwaay, San Diego, CA 92101", ("77", None, "PACIFIC", "HWY", None), ["street_type_corrected"]),
    ("5 Norht 5th Street, Springfield, IL 62701", ("5", "N", "5TH", "ST", None), ["directional_corrected"]),
    ("8 Nortwest 23rd Avenue, Portland, OR 97210", ("8", "NW", "23RD", "AVE", None), ["directional_corrected"]),
    ("1300 Q Place Sotuheast, Washington, DC 20020", ("1300", None, "Q", "PL", "SE"), ["directional_corrected"]),
    ("1100 K Streeet NW, Washington, DC 20005", ("1100", None, "K", "ST", "NW"), ["street_type_corrected"]),
    ("12 MAIN STREEET SPRINGFIELD IL 62701", ("12", None, "MAIN", "ST", None), ["street_type_corrected"]),
    ("45 Oak Drrive Apt 4, Springfield IL 62701", ("45", None, "OAK", "DR", None), ["street_type_corrected"]),
    ("45 Oak Drrive 4B, Springfield IL 62701", ("45", None, "OAK", "DR", None), ["street_type_corrected"]),
    ("100 Main St Sotuh, Springfield, IL 62701", ("100", None, "MAIN", "ST", "S"), ["directional_corrected"]),
    ("100 Souht Main Stret, Springfield, IL 62701", ("100", "S", "MAIN", "ST", None),
     ["street_type_corrected", "directional_corrected"]),
    ("2406 Dana Stueut Apt B, Berkeley, CA 94704", ("2406", None, "DANA", "ST", None), ["street_type_corrected"]),
    ("10 Southewst Porter St, Portland, OR 97201", ("10", "SW", "PORTER", "ST", None), ["directional_corrected"]),
    ("472 E St Sosthaest, Washington, DC 20003", ("472", None, "E", "ST", "SE"), ["directional_corrected"]),
    ("1025 S 4500 Weest, Richfield, UT 84701", ("1025", "S", "4500", None, "W"), ["directional_corrected"]),
    ("147 J Sreeet, Sacramento, CA 95811", ("147", None, "J", "ST", None), ["street_type_corrected"]),
]


@pytest.mark.parametrize("text, street, codes", MISSPELT, ids=[m[0] for m in MISSPELT])
def test_misspelt_types_and_directionals(text, street, codes):
    p = parse(text)
    assert tuple(getattr(p, k) for k in STREET) == street
    assert [c for c in p.corrections if c in ("street_type_corrected", "directional_corrected")] == codes
    assert p.as_written is not None and p.as_written[1] != p.street_name


@pytest.mark.parametrize("text, street", [
    ("201 Easy St, Prattville, AL 36067", ("201", None, "EASY", "ST", None)),        # EASY is one edit from EAST
    ("2 North St, Springfield, MA 01105", ("2", None, "NORTH", "ST", None)),
    ("123 John Glenn, Springfield, IL 62701", ("123", None, "JOHN GLENN", None, None)),
    ("12 Main Street, Springfield, IL 62701", ("12", None, "MAIN", "ST", None)),
    ("40 Read Rd, Springfield, IL 62701", ("40", None, "READ", "RD", None)),            # READ is one edit from ROAD
    ("12 Bent Tree, Cincinnati, OH 45238", ("12", None, "BENT TREE", None, None)),       # TREE: two edits from STREET
])
def test_real_words_stay(text, street):
    p = parse(text)
    assert tuple(getattr(p, k) for k in STREET) == street
    assert p.as_written is None
    assert not {"street_type_corrected", "directional_corrected"} & set(p.corrections)


def test_misspelt_needs_one_clear_word():
    assert misspelt("PLACA", TYPO_TYPES) is None       # PLACE and PLAZA alike
    assert misspelt("ST", TYPO_TYPES) is None          # too short to tell
    assert misspelt("NOTH", TYPO_DIRECTIONALS) == "NORTH"
    assert misspelt("EATS", TYPO_DIRECTIONALS) == "EAST"
    assert misspelt("NORTHEST", TYPO_DIRECTIONALS) is None      # NORTHEAST or NORTHWEST, one letter short of each
    assert misspelt("SOSTHAEST", TYPO_DIRECTIONALS) == "SOUTHEAST"   # two edits from both; shares more with SE
    assert misspelt("", TYPO_TYPES) is None
    assert read_misspelt([]) == ([], [])


def test_few_real_street_names_read_as_misspelt(real):
    """Every distinct street of the Hamilton County voter file and of Autauga's TIGER ranges,
    written without its type (as customers often do): the words read as a misspelt type or
    directional are rare (they stay findable: the matcher also tries the street as written)."""
    names: set[tuple[str, ...]] = set()
    with open(real / "strings" / "hamilton_oh_voter_addresses.csv", newline="") as f:
        for row in csv.DictReader(f):
            pre, name, _, post = split_street(row["address"].upper().split()[1:-3])
            names.add(tuple(" ".join(x for x in (pre, name, post) if x).split()))
    with open(real / "tiger" / "autauga_al_01001" / "01001_nominatim.csv", newline="") as f:
        for row in csv.DictReader(f, delimiter=";"):
            pre, name, _, post = split_street(row["street"].upper().split())
            names.add(tuple(" ".join(x for x in (pre, name, post) if x).split()))
    read = [n for n in names if n and read_misspelt(list(n))[1]]
    assert len(names) > 10_000
    assert len(read) / len(names) < 0.001, read


def test_numbered_street_with_a_cross_street():
    p = parse("123 Main St & 5th Ave, Springfield, IL 62701")
    assert (p.kind, p.house_number, p.street_name, p.street_type) == ("street", "123", "MAIN", "ST")
    assert "cross street: 5TH AVE" in p.notes
    q = parse("123 Main St and 5th Ave, Springfield, IL 62701")
    assert (q.street_name, q.street_type, q.notes) == ("MAIN", "ST", ["cross street: 5TH AVE"])
    # AND inside a name is no intersection
    assert parse("5481 Hill and Dale Dr, Cincinnati, OH 45213").street_name == "HILL AND DALE"
    assert parse("Main St & 5th Ave, Springfield IL").kind == "intersection"


def test_a_town_name_followed_by_a_street_type_is_the_street():
    """82435 (Powell, WY) also answers to CLARK: ``N CLARK ST`` before the state is the street."""
    p = parse("109 N Clark St, WY 82435")
    assert (p.house_number, p.predirectional, p.street_name, p.street_type, p.city) == ("109", "N", "CLARK", "ST", None)
