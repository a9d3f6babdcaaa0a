"""The hard cases real orders contain, each pinned with its expected components."""

from __future__ import annotations

import pytest

from addressing.parse import parse, parse_batch

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
    # no city and no ZIP: the line ends with its street type or its unit, and the state says where
    ("805 BUNCHE AVE AL", dict(parser="rules", house_number="805", street_name="BUNCHE", street_type="AVE", city=None,
                               state="AL")),
    ("65 5th Ave Ne Montana", dict(parser="rules", street_name="5TH", street_type="AVE", postdirectional="NE",
                                   state="MT")),
    ("1233 HOWARD STREET APT. 2C CALIFORNIA", dict(parser="rules", street_name="HOWARD", unit_type="APT", unit="2C",
                                                   city=None, state="CA")),
    ("104 West 26 ST NEW YORK New York", dict(street_name="26TH", city="NEW YORK", state="NY")),
    # a state's name that is the city of a ZIP in another state: the city, the state from the ZIP
    ("1600 Pennsylvania Ave NW, Washington 20500", dict(parser="rules", street_name="PENNSYLVANIA",
                                                      postdirectional="NW", city="WASHINGTON", state="DC",
                                                      postal_code="20500")),
    ("12 Elm St Nevada 64772", dict(parser="rules", street_name="ELM", city="NEVADA", state="MO")),
    ("400 Broad St Seattle Washington 98109", dict(city="SEATTLE", state="WA")),
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
    # units on line 2 or inline, in any form
    ("452 Maxwell Ave\nApt 3A\nRochester, NY 14619", dict(street_name="MAXWELL", unit_type="APT", unit="3A",
                                                         city="ROCHESTER")),
    ("Apt 3A, 452 Maxwell Ave, Rochester NY 14619", dict(house_number="452", unit_type="APT", unit="3A")),
    ("452 Maxwell Ave Rochester NY 14619 Apt 3A", dict(house_number="452", unit_type="APT", unit="3A",
                                                      postal_code="14619")),
    ("123 Main St Apt No. 456 Oakland CA 94612", dict(unit_type="APT", unit="456")),
    ("2029 Channing Way Apt. 4-A, Berkeley, Calif. 94704", dict(unit_type="APT", unit="4A", state="CA")),
    ("55 Page St Apt327, San Francisco, CA 94102", dict(unit_type="APT", unit="327", street_name="PAGE")),
    ("Planned Parenthood, 44 Court St, 6th Floor, Brooklyn NY 11201",
     dict(street_name="COURT", street_type="ST", unit_type="FL", unit="6", city="BROOKLYN")),
    ("30 West 26th Street Sixth Floor New York NY 10010", dict(street_name="26TH", unit_type="FL", unit="6")),
    ("604 Brooklyn Av Rear Oakland CA 94606", dict(street_name="BROOKLYN", street_type="AVE", unit_type="REAR",
                                                   unit=None)),
    ("Unit 8400, Box 1300\nFPO AE 09498", dict(kind="military", street_name="UNIT 8400", po_box="1300",
                                               city="FPO", unit_type=None)),
    # PO box spellings
    ("Post Office Box 950, Hoboken NJ 07030", dict(kind="po_box", po_box="950", unit_type=None)),
    ("PO BOX #332 POWELL WY 82435", dict(kind="po_box", po_box="332", unit_type=None)),
    ("pobox 1450 oakland ca 94604", dict(kind="po_box", po_box="1450")),
    ("ACLU DC P.O. Box 11637 Washington, DC 20008 United States",
     dict(kind="po_box", po_box="11637", building="ACLU DC", city="WASHINGTON", state="DC")),
    ("RR2 BOX 15A WARREN OH 44481", dict(kind="rural_route", street_name="RR 2", po_box="15A")),
    ("CMR 480 Box 1234, APO AE 09128", dict(kind="military", street_name="CMR 480", po_box="1234")),
    # numbers: leading directional (the Hamilton voter file writes 'W 1214 SEYMOUR AVE'), letter O for zero
    ("W 1214 SEYMOUR AVE CINCINNATI OH 45216", dict(house_number="1214", predirectional="W",
                                                    street_name="SEYMOUR", building=None)),
    ("W 189 NORTH BEND RD CINCINNATI OH 45216", dict(house_number="189", predirectional="W",
                                                     street_name="NORTH BEND", street_type="RD")),
    ("18OO Willow Ave Hoboken NJ 07030", dict(house_number="1800", street_name="WILLOW")),
    ("2455-B W Bench Rd Othello WA 99344", dict(house_number="2455B", predirectional="W")),
    ("1025 S 4500 W, Sevier UT 84766", dict(predirectional="S", street_name="4500", street_type=None,
                                            postdirectional="W")),
    ("10 West 26 Street, New York, NY 10010", dict(predirectional="W", street_name="26TH", street_type="ST")),
    ("4596 S US Hwy 89, Sevier UT 84766", dict(predirectional="S", street_name="US HWY 89", unit=None)),
    ("775 St Rte 169 Warren OH 44483", dict(street_name="STATE RTE 169", unit=None)),
    # street words that are also unit designators or intersection words
    ("2735 LOWER GRANDIN CINCINNATI OH 45208", dict(street_name="LOWER GRANDIN", unit_type=None)),
    ("6758 FRONT ST MIAMITOWN OH 45041", dict(street_name="FRONT", street_type="ST", unit_type=None)),
    ("123 Lake Side Dr Springfield IL 62701", dict(street_name="LAKE SIDE", street_type="DR", unit_type=None)),
    ("5481 HILL AND DALE DR CINCINNATI OH 45213", dict(kind="street", street_name="HILL AND DALE")),
    # duplicated fragments, extra locality words
    ("9960 Daly Rd Cincinnati OH 45231 Cincinnati OH 45231", dict(street_name="DALY", city="CINCINNATI",
                                                                  postal_code="45231")),
    ("1040 Kreis Ln, 1040 Kreis Ln, Cincinnati OH 45205", dict(house_number="1040", street_name="KREIS")),
    ("1921 M L KING JR Way, BERKELEY, California BERKELEY 1921 M L KING JR Way",
     dict(house_number="1921", street_name="M L KING JR", street_type="WAY", city="BERKELEY", state="CA")),
    ("4411 Stone Way North Seattle, King County, WA 98103", dict(street_name="STONE", street_type="WAY",
                                                                 postdirectional="N", city="SEATTLE")),
    ("Barboncino 781 Franklin Ave Crown Heights Brooklyn NYC NY 11216 USA",
     dict(house_number="781", street_name="FRANKLIN", street_type="AVE", city="BROOKLYN", postal_code="11216")),
    # last line variants
    ("1600 Pennsylvania Avenue Northwest, Washington, D.C. 20500-0003",
     dict(postdirectional="NW", state="DC", postal_code="20500", zip4="0003")),
    ("298 glen lake rd.\noh, 45140", dict(street_name="GLEN LAKE", street_type="RD", city=None, state="OH")),
    ("3359 Queen City Ave 45238", dict(street_name="QUEEN CITY", state="OH", postal_code="45238")),
    ("Columbus, OH", dict(kind="locality_only", city="COLUMBUS", state="OH")),
    ("Carmel-by-the-Sea, CA", dict(kind="locality_only", city="CARMEL BY THE SEA")),
    ("103 BEAL PKWY SE, FT WALTON BEACH, FL", dict(street_type="PKWY", postdirectional="SE",
                                                   city="FORT WALTON BEACH")),
    ("16½ Windward Road, Springfield IL 62701", dict(house_number="16 1/2", street_name="WINDWARD")),
    # spreadsheet and form damage
    ("45 Elm St, Boston MA 2108", dict(city="BOSTON", state="MA", postal_code="02108")),
    ("9 Oak St Newark NJ 7102-1234", dict(postal_code="07102", zip4="1234")),
    ("123 main st springfield il62701", dict(street_name="MAIN", city="SPRINGFIELD", state="IL",
                                              postal_code="62701")),
    ("123 Main St Springfield IL USA 62701", dict(city="SPRINGFIELD", state="IL", postal_code="62701")),
    ("123Main St Springfield IL 62701", dict(house_number="123", street_name="MAIN", street_type="ST")),
    ("1 Main St Unit A-1 Springfield IL 62701", dict(unit_type="UNIT", unit="A1")),
    ("123 I 95 Frontage Rd Springfield IL 62701", dict(house_number="123", street_name="I 95 FRONTAGE")),
]


@pytest.mark.parametrize("text,expected", CASES, ids=[c[0][:40] for c in CASES])
def test_hard_case(text, expected):
    p = parse(text)
    assert p.invalid_reason is None, p
    got = {k: getattr(p, k) for k in expected}
    assert got == expected


def test_intersection_second_street_and_building_kept():
    p = parse("Vine St and W 8th St, Cincinnati OH 45202")
    assert (p.kind, p.street_name, p.intersecting_street) == ("intersection", "VINE", "W 8TH ST")
    q = parse("Atrium Mall, 640 Arthur Kill Rd, Staten Island, NY 10312")
    assert (q.building, q.house_number, q.street_name, q.city) == ("ATRIUM MALL", "640", "ARTHUR KILL", "STATEN ISLAND")


def test_extra_locality_words_and_duplicates_are_noted_not_lost():
    p = parse("Barboncino 781 Franklin Ave Crown Heights Brooklyn NYC NY 11216 USA")
    assert "locality: NYC" in p.notes and "locality: CROWN HEIGHTS" in p.notes
    q = parse("4411 Stone Way North Seattle, King County, WA 98103")
    assert "county: KING COUNTY" in q.notes
    r = parse("9960 Daly Rd Cincinnati OH 45231 Cincinnati OH 45231")
    assert "duplicate_removed" in r.corrections
    s = parse("1330 Stevenson St Bldg 2 Rm 14 San Francisco CA 94103")
    assert (s.unit_type, s.unit) == ("RM", "14") and "unit: BLDG 2" in s.notes


def test_notes_keep_phone_email_and_instructions():
    p = parse("123 Main Street, Springfield, IL 62701 call 555-123-4567 leave at back door john@example.com")
    assert p.street_name == "MAIN" and p.postal_code == "62701"
    joined = " | ".join(p.notes)
    assert "555-123-4567" in joined and "leave at back door" in joined and "john@example.com" in joined


@pytest.mark.parametrize("text", ["1301 Howard St, San Francisco, CA 94103 ring doorbell on arrival",
                                  "1301 Howard St, San Francisco, CA 94103, buzz the buzzer when here"])
def test_a_whole_instruction_is_cut_off_with_its_arrival_words(text):
    p = parse(text)
    assert (p.parser, p.street_name, p.postal_code) == ("rules", "HOWARD", "94103")
    assert len(p.notes) == 1 and p.notes[0].startswith("instructions: ") and p.notes[0].endswith(("arrival", "here"))


BAD = [
    (None, "empty"),
    ("", "empty"),
    ("   ", "empty"),
    ("\t\n\r  \u00a0", "empty"),
    ("x" * 100_000, "too long"),
    ("1 Main St " * 10_000, "too long"),
    ("\x00\x01\x02", "symbols or control"),
    ("🚚📦", "symbols or control"),
    ("\U0001F600" * 3 + " \u200b", "symbols or control"),
    (b"12 Main St \xff\xfe Springfield IL", "not valid UTF-8"),
    ("12 Main St \ufffd\ufffd Springfield IL", "undecodable"),
    ("'; DROP TABLE orders; --", "no house number"),
    ("=HYPERLINK(\"http://x\")", "no house number"),
    ("=1+2", "no house number"),
    ("@SUM(A1:A9)", "no house number"),
    ("asdf qwer", "no house number"),
    ("!!! ??? ...", "no letters or digits"),
    ("tel 555-123-4567 jdoe@example.com", "only notes"),
    ("call me 555-123-4567", "not a known place in ME"),
    (float("nan"), "empty"),
]


@pytest.mark.parametrize("bad,reason", BAD, ids=[repr(b)[:30] for b, _ in BAD])
def test_bad_input_is_invalid_with_a_reason(bad, reason):
    p = parse(bad)
    assert p.invalid_reason and reason in p.invalid_reason, p


@pytest.mark.parametrize("odd", [12.5, 0, -7, ["1 Main St"], {"a": 1}, object(), True])
def test_wrong_types_are_invalid_not_an_exception(odd):
    p = parse(odd)
    assert p.invalid_reason == f"address is not text ({type(odd).__name__})"


def test_control_characters_inside_a_real_address_are_dropped():
    p = parse("3359 QUEEN\x00 CITY AVE\x07 CINCINNATI OH 45238")
    assert p.invalid_reason is None and p.street_name == "QUEEN CITY" and p.postal_code == "45238"


def test_formula_prefix_is_removed_and_noted():
    p = parse("=3359 Queen City Ave, Cincinnati OH 45238")
    assert p.street_name == "QUEEN CITY" and "removed leading formula character" in p.notes


def test_batch_of_everything_never_raises_and_keeps_order():
    good = "3359 QUEEN CITY AVE CINCINNATI OH 45238"
    batch = [b for b, _ in BAD] + [12.5, ["x"], good, good, None, good]
    hints = [None] * (len(batch) - 1) + [["not", "a", "string"]]
    out = parse_batch(batch, hints)
    assert len(out) == len(batch)
    assert [p.invalid_reason is None for p in out[-4:]] == [True, True, False, True]
    assert out[-4] is not out[-3] and out[-4].notes is not out[-3].notes  # duplicates are separate objects
    out[-4].notes.append("edited")
    assert "edited" not in out[-3].notes


def test_invalid_rows_keep_what_was_read():
    """A street without number, state or ZIP cannot be delivered, but what was read stays visible."""
    p = parse("Do the Right Thing Way, Bed-Stuy, BK", "US")
    assert p.invalid_reason and p.street_name == "DO THE RIGHT THING" and p.street_type == "WAY"


def test_foreign_addresses_go_to_libpostal():
    p = parse("Potsdamer Platz 1, 10785 Berlin, Germany")
    assert p.parser == "libpostal" and p.country == "DE" and p.postal_code == "10785"
    q = parse("1 Yonge St, Toronto ON M5E 1W7")
    assert q.country == "CA" and q.postal_code == "M5E 1W7"


def test_any_text_never_raises():
    """Random text (any code point, any length up to the limit) gives a result, never an exception."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    pieces = st.sampled_from(["123", " Main", " St", ",", " Apt", " #4", " Box", " 45238", " OH", "\n", "\t", "-",
                              "/", "½", "=", "@", "é", "🚚", "\x00", " PO", " c/o", " (", ")", " 555-123-4567"])

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.one_of(st.text(max_size=300), st.lists(pieces, max_size=25).map("".join)))
    def check(text):
        out = parse_batch([text, text.encode("utf-8", "surrogatepass")])
        assert len(out) == 2 and all(p.invalid_reason is None or isinstance(p.invalid_reason, str) for p in out)

    check()


@pytest.mark.parametrize("text, street, unit_type, unit", [
    ("135 Valencia St, San Francisco, Ca, #102A", "VALENCIA", "#", "102A"),
    ("1160 Mission St, San Francisco, California, apt. 807", "MISSION", "APT", "807"),
    ("12 Main St, Springfield, New York, Unit 4B", "MAIN", "UNIT", "4B"),
    ("1 Main St, Springfield, IL 62701, # 5", "MAIN", "#", "5"),
])
def test_a_unit_written_after_the_last_line(text, street, unit_type, unit):
    p = parse(text)
    assert (p.parser, p.street_name, p.unit_type, p.unit) == ("rules", street, unit_type, unit)
    assert p.state and p.city
