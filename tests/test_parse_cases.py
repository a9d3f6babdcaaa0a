"""The hard cases real orders contain, each pinned with its expected components."""

from __future__ import annotations

import pytest

from addressing.parse import parse

CASES = [
    ("1600 pennsylvania av nw apt 2 washington dc 20500",
     dict(house_number="1600", street_name="PENNSYLVANIA", street_type="AVE", postdirectional="NW", unit_type="APT",
          unit="2", city="WASHINGTON", state="DC", postal_code="20500")),
    ("3359 QUEEN CITY AVE CINCINNATI OH 45238",
     dict(house_number="3359", street_name="QUEEN CITY", street_type="AVE", city="CINCINNATI", state="OH")),
    ("11939 LAKE CIRCLE DR CINCINNATI OH 45246", dict(street_name="LAKE CIRCLE", street_type="DR")),
    ("123 Main St #4B, Prattville AL 36067", dict(unit_type="#", unit="4B", city="PRATTVILLE")),
    ("55 Oak St, Unit 7, San Francisco CA 94102", dict(unit_type="UNIT", unit="7", city="SAN FRANCISCO")),
    ("500 Fifth Avenue Suite 200 New York NY 10110", dict(street_name="5TH", street_type="AVE", unit_type="STE", unit="200")),
    ("P.O. Box 123, Prattville, AL 36067", dict(kind="po_box", po_box="123", city="PRATTVILLE", postal_code="36067")),
    ("POB 77 Prattville AL 36067", dict(kind="po_box", po_box="77")),
    ("Box 12, Prattville AL 36067", dict(kind="po_box", po_box="12")),
    ("123 Main St PMB 456, Prattville AL 36067", dict(kind="street", po_box="456", street_name="MAIN")),
    ("RR 2 Box 15, Springfield IL 62701", dict(kind="rural_route", street_name="RR 2", po_box="15")),
    ("HC 1 Box 5 Ely NV 89301", dict(kind="highway_contract", street_name="HC 1", po_box="5")),
    ("PSC 802 Box 74, APO AE 09499", dict(kind="military", street_name="PSC 802", po_box="74", city="APO", state="AE")),
    ("UNIT 2050 BOX 4190 APO AP 96278", dict(kind="military", street_name="UNIT 2050", po_box="4190", state="AP")),
    ("Main St & 5th Ave, Springfield IL", dict(kind="intersection", street_name="MAIN", intersecting_street="5TH AVE")),
    ("c/o John Smith, 742 Evergreen Terrace, Springfield IL 62701",
     dict(house_number="742", street_name="EVERGREEN", street_type="TER")),
    ("Acme Corp 500 Fifth Avenue New York NY 10110", dict(building="ACME CORP", house_number="500")),
    ("100 diamond st san francisco ca 94114 san francisco 100 diamond st",
     dict(house_number="100", street_name="DIAMOND", street_type="ST", city="SAN FRANCISCO", postal_code="94114")),
    ("W1234 County Rd K, Random Lake WI 53075", dict(house_number="W1234", street_name="COUNTY ROAD K")),
    ("N89W16785 Main St, Menomonee Falls WI 53051", dict(house_number="N89W16785", street_name="MAIN")),
    ("1016-18 Willow Ave Hoboken NJ 07030", dict(house_number="1016-18", street_name="WILLOW", street_type="AVE")),
    ("12 1/2 Elm St Springfield IL 62701", dict(house_number="12 1/2", street_name="ELM")),
    ("123\tMain   Street,\n Springfield,  IL 62701", dict(house_number="123", street_name="MAIN", street_type="ST")),
    ("45 Café Ave, Springfield IL 62701", dict(street_name="CAFE", street_type="AVE")),
    ("742 Evergreen Ter Springfield IL 627011234", dict(postal_code="62701", zip4="1234")),
    ("742 Evergreen Ter Springfield IL 62701-1234", dict(postal_code="62701", zip4="1234")),
    ("100 N Main St Springfield Illinois 62701", dict(predirectional="N", street_name="MAIN", state="IL")),
    ("100 North Main Street Springfield IL 62701", dict(predirectional="N", street_name="MAIN", street_type="ST")),
    ("2 North St Springfield MA 01105", dict(street_name="NORTH", street_type="ST")),
    ("100 Saint Charles Ave New Orleans LA 70130", dict(street_name="ST CHARLES", street_type="AVE")),
]


@pytest.mark.parametrize("text,expected", CASES, ids=[c[0][:40] for c in CASES])
def test_hard_case(text, expected):
    p = parse(text)
    assert p.invalid_reason is None, p
    got = {k: getattr(p, k) for k in expected}
    assert got == expected


def test_notes_keep_phone_email_and_instructions():
    p = parse("123 Main Street, Springfield, IL 62701 call 555-123-4567 leave at back door john@example.com")
    assert p.street_name == "MAIN" and p.postal_code == "62701"
    joined = " | ".join(p.notes)
    assert "555-123-4567" in joined and "leave at back door" in joined and "john@example.com" in joined


@pytest.mark.parametrize("bad", [None, "", "   ", "\t\n", "x" * 100_000, "\x00\x01\x02", "🚚📦",
                                 "'; DROP TABLE orders; --", "=HYPERLINK(\"http://x\")", "asdf qwer", float("nan"), 12.5])
def test_bad_input_is_invalid_not_an_exception(bad):
    p = parse(bad)
    assert p.invalid_reason, p


def test_foreign_addresses_go_to_libpostal():
    p = parse("Potsdamer Platz 1, 10785 Berlin, Germany")
    assert p.parser == "libpostal" and p.country == "DE" and p.postal_code == "10785"
    q = parse("1 Yonge St, Toronto ON M5E 1W7")
    assert q.country == "CA" and q.postal_code == "M5E 1W7"
