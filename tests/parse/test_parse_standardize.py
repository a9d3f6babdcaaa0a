"""Pub 28 standardization pieces and the tokenizer, each with its empty case."""

from __future__ import annotations

import pytest

from addressing.parse.clean import prepare
from addressing.parse.rules import tokenize
from addressing.parse.standardize import house_number, split_street, split_unit, unit_value


@pytest.mark.parametrize("words,expected", [
    ("NORTH LAKE CIRCLE DRIVE SW", ("N", "LAKE CIRCLE", "DR", "SW")),
    ("W 26 ST", ("W", "26TH", "ST", None)),
    ("WEST TWENTY SIXTH STREET", ("W", "26TH", "ST", None)),
    ("S 4500 W", ("S", "4500", None, "W")),  # Utah grid: no type, the number stays a number
    ("US HIGHWAY 431", (None, "US HWY 431", None, None)),
    ("ST RTE 169", (None, "STATE RTE 169", None, None)),
    ("COUNTY RD K", (None, "COUNTY ROAD K", None, None)),
    ("SAINT CHARLES AVENUE", (None, "ST CHARLES", "AVE", None)),
    ("NORTH ST", (None, "NORTH", "ST", None)),
    ("AVENUE B", (None, "AVENUE B", None, None)),
    ("", (None, None, None, None)),
])
def test_split_street(words, expected):
    assert split_street(words.split()) == expected


@pytest.mark.parametrize("text,expected", [
    ("Apt. No. 456", ("APT", "456")),
    ("apt #4-b", ("APT", "4B")),
    ("6th floor", ("FL", "6")),
    ("Sixth Floor", ("FL", "6")),
    ("# 12", ("#", "12")),
    ("12", ("#", "12")),
    ("Suite B", ("STE", "B")),
    ("", (None, None)),
    (None, (None, None)),
])
def test_split_unit(text, expected):
    assert split_unit(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("#4-B", "4B"), ("4 b", "4B"), ("SIXTH", "6"), ("6th", "6"), ("103", "103"), ("", None), (None, None),
])
def test_unit_value(text, expected):
    assert unit_value(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("1016-18", "1016-18"), ("12 1/2", "12 1/2"), ("2455-b", "2455B"), ("0042", "42"), ("W1234", "W1234"),
    ("N89W16785", "N89W16785"), ("", None), (None, None),
])
def test_house_number(text, expected):
    assert house_number(text) == expected


def test_tokenize_keeps_numbers_fractions_and_commas():
    assert tokenize("1016-18 Willow Ave., Hoboken") == ["1016-18", "WILLOW", "AVE", ",", "HOBOKEN"]
    assert tokenize("12 1/2 Elm St #4-B") == ["12", "1/2", "ELM", "ST", "#", "4-B"]
    assert tokenize("Carmel-by-the-Sea; Café O’Neil") == ["CARMEL", "BY", "THE", "SEA", ",", "CAFE", "ONEIL"]
    assert tokenize("Main St @ 5th Ave") == ["MAIN", "ST", "&", "5TH", "AVE"]
    assert tokenize("") == [] and tokenize(" \t ") == []


def test_prepare_moves_notes_out_and_keeps_the_address():
    p = prepare("c/o Jo Smith Unit 4, 110 Gough St (ring bell twice) jo@example.com tel 415-555-0123")
    assert p.text == "Unit 4, 110 Gough St"
    assert p.notes == ["email: jo@example.com", "phone: tel 415-555-0123", "care_of: Jo Smith",
                       "instructions: ring bell twice"]
    assert prepare("16½ Elm St").text == "16 1/2 Elm St"
    assert prepare("3359 QUEEN CITY AVE CINCINNATI OH 45238").notes == []
