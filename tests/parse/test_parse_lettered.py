"""Streets named by one letter (Washington DC, Sacramento, Anchorage, Cedar Rapids...) are
streets, not house-number suffixes or directionals; a letter that is a number suffix stays one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from addressing.parse import parse, parse_batch
from addressing.parse.backends import parse_usaddress

STREET = ("house_number", "predirectional", "street_name", "street_type", "postdirectional")
LETTERED = [json.loads(line) for line in
            (Path(__file__).resolve().parents[1] / "data" / "parse_lettered_streets.jsonl").read_text().splitlines()]

#: the real streets named in issue 15, with their real ZIPs
REAL = [
    ("1100 K Street NW, Washington, DC 20005", ("1100", None, "K", "ST", "NW"), "20005"),
    ("1 E St SE, Washington, DC 20003", ("1", None, "E", "ST", "SE"), "20003"),
    ("1610 P ST NW, Washington DC 20036", ("1610", None, "P", "ST", "NW"), "20036"),
    ("1300 Q Place Southeast, Washington DC 20020", ("1300", None, "Q", "PL", "SE"), "20020"),
    ("2020 J St, Sacramento, CA 95811", ("2020", None, "J", "ST", None), "95811"),
    ("1500 L Street Sacramento CA 95814", ("1500", None, "L", "ST", None), "95814"),
    ("810 I St, Anchorage, AK 99501", ("810", None, "I", "ST", None), "99501"),
    ("425 G Street, Anchorage AK 99501", ("425", None, "G", "ST", None), "99501"),
    ("1100 K ST NW APT 5 WASHINGTON DC 20005", ("1100", None, "K", "ST", "NW"), "20005"),
    ("2020 j st sacramento ca 95811", ("2020", None, "J", "ST", None), "95811"),
    ("100 N St, Lincoln, NE 68508", ("100", None, "N", "ST", None), "68508"),
    ("900 S St NW, Washington, DC 20001", ("900", None, "S", "ST", "NW"), "20001"),
]

#: a letter glued to the number, or before a street that has its own name, is the number's suffix
NOT_LETTERED = [
    ("123A Main St, Springfield IL 62701", ("123A", None, "MAIN", "ST", None)),
    ("123 B Main St, Springfield IL 62701", ("123B", None, "MAIN", "ST", None)),
    ("12 A Park Ave, Springfield IL 62701", ("12A", None, "PARK", "AVE", None)),
    ("500 E Main St, Springfield IL 62701", ("500", "E", "MAIN", "ST", None)),
    ("2 North St Springfield MA 01105", ("2", None, "NORTH", "ST", None)),
    ("100 W Park Ave, Springfield IL 62701", ("100", "W", "PARK", "AVE", None)),
]


def street(p) -> tuple:
    return tuple(getattr(p, k) for k in STREET)


@pytest.mark.parametrize("text, expected, zip_code", REAL, ids=[r[0] for r in REAL])
def test_real_lettered_streets(text, expected, zip_code):
    p = parse(text)
    assert street(p) == expected
    assert p.postal_code == zip_code
    assert p.invalid_reason is None


@pytest.mark.parametrize("text, expected", NOT_LETTERED, ids=[r[0] for r in NOT_LETTERED])
def test_number_suffixes_and_directionals_stay(text, expected):
    assert street(parse(text)) == expected


def test_unit_letter_after_a_lettered_street():
    p = parse("1704 D Ave NE A Cedar Rapids IA 52402")
    assert street(p) == ("1704", None, "D", "AVE", "NE")
    assert p.unit == "A"


def test_interstate_still_a_highway():
    assert parse("1200 I 95, Springfield IL 62701").street_name == "I 95"


def test_usaddress_training_lettered_streets_all_right():
    """74 real lettered-street addresses labeled in usaddress's own training data
    (``tests/data/lettered_build.py``): every one right."""
    parsed = parse_batch([c["input"] for c in LETTERED])
    wrong = [(c["input"], street(p)) for c, p in zip(LETTERED, parsed)
             if street(p) != tuple(c["expected"][k] for k in STREET)]
    assert not wrong


def test_never_worse_than_usaddress_on_lettered_streets():
    """The rules parser stands in front of usaddress: on lettered streets it must be right at
    least wherever plain usaddress is."""
    parsed = parse_batch([c["input"] for c in LETTERED])
    worse = []
    for c, p in zip(LETTERED, parsed):
        want = tuple(c["expected"][k] for k in STREET)
        u = parse_usaddress(c["input"])
        if u is not None and street(u) == want and street(p) != want:
            worse.append(c["input"])
    assert not worse
