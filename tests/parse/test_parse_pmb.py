"""A private mailbox (PMB) is a box at a mail receiving agency, not at the post office: every
back end keeps its number in ``po_box``, says it is a PMB, and keeps the street address."""

from __future__ import annotations

import pytest

from addressing.parse import parse
from addressing.parse.backends import parse_libpostal, parse_usaddress

STREET = dict(kind="street", house_number="1", street_name="MARKET", street_type="ST", po_box="512", pmb=True,
              city="SAN FRANCISCO", postal_code="94105")

RULES_FORMS = [
    "1 Market St PMB 512, San Francisco, CA 94105",
    "1 Market St PMB # 512, San Francisco, CA 94105",
    "1 Market St # PMB 512, San Francisco, CA 94105",
    "1 Market St #PMB 512, San Francisco, CA 94105",
    "1 Market St PMB#512, San Francisco, CA 94105",
    "1 Market St PMB512, San Francisco, CA 94105",
    "1 Market St Private Mailbox 512, San Francisco, CA 94105",
    "1 Market St Private Mail Box 512, San Francisco, CA 94105",
    "1 Market St, PMB 512, San Francisco, CA 94105",
    "PMB 512, 1 Market St, San Francisco, CA 94105",
    "1 Market St\nPMB 512\nSan Francisco, CA 94105",
]

#: (text, what usaddress labels the box) as usaddress 0.5 tags them
USADDRESS_FORMS = [
    "1 Market St PMB 512, San Francisco, CA 94105",  # SubaddressType / SubaddressIdentifier
    "1 Market St # PMB 512, San Francisco, CA 94105",  # and the "#" as an OccupancyIdentifier
    "PMB 512, 1 Market St, San Francisco, CA 94105",
    "1 Market St Private Mailbox 512, San Francisco, CA 94105",  # USPSBoxType / USPSBoxID
    "1 Market St PMB512, San Francisco, CA 94105",  # one OccupancyIdentifier
]

#: libpostal puts a PMB in ``po_box`` or leaves it at the end of ``road``
LIBPOSTAL_FORMS = [
    "PMB 512, 1 Market St, San Francisco, CA 94105",
    "1 Market St PMB # 512, San Francisco, CA 94105",
    "1 Market St PMB 512, San Francisco, CA 94105",
    "1 Market St # PMB 512, San Francisco, CA 94105",
]


def fields(p, names) -> dict:
    return {k: getattr(p, k) for k in names}


@pytest.mark.parametrize("text", RULES_FORMS)
def test_rules_parser_marks_the_pmb(text):
    p = parse(text)
    assert p.parser == "rules"
    assert fields(p, STREET) == STREET, p
    assert (p.unit_type, p.unit) == (None, None)
    assert p.line1() == "1 MARKET ST PMB 512"


@pytest.mark.parametrize("text", USADDRESS_FORMS)
def test_usaddress_back_end_marks_the_pmb(text):
    p = parse_usaddress(text)
    assert fields(p, STREET) == STREET, p
    assert (p.unit_type, p.unit) == (None, None)


@pytest.mark.parametrize("text", LIBPOSTAL_FORMS)
def test_libpostal_back_end_marks_the_pmb(text):
    p = parse_libpostal(text)
    assert fields(p, STREET) == STREET, p


def test_a_suite_and_a_pmb_are_both_kept():
    text = "1 Market St Ste 5 PMB 512, San Francisco, CA 94105"
    for p in (parse(text), parse_usaddress(text)):
        assert (p.unit_type, p.unit, p.po_box, p.pmb, p.kind) == ("STE", "5", "512", True, "street"), p
    assert parse(text).line1() == "1 MARKET ST STE 5 PMB 512"


@pytest.mark.parametrize("text", ["PO Box 12, San Francisco, CA 94119", "P.O. Box 77, Prattville, AL 36067"])
def test_a_po_box_is_no_pmb(text):
    for p in (parse(text), parse_usaddress(text), parse_libpostal(text)):
        assert (p.kind, p.pmb) == ("po_box", False), p
        assert p.po_box in ("12", "77")


def test_no_box_no_pmb():
    for text in ("7 Octavia St, San Francisco, CA 94102", "", None):
        assert parse(text).pmb is False
