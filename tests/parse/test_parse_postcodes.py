"""``addressing.parse.postcodes``: values of any type as postal-code text, US ZIPs with their zeros."""

from __future__ import annotations

import decimal
import doctest

import numpy as np
import pytest

from addressing.parse import postcodes
from addressing.parse.postcodes import postal_text, us_zip, zero_restored


@pytest.mark.parametrize(("value", "text"), [
    (None, None), ("", None), ("   ", None), (float("nan"), None), (float("inf"), None), (True, None),
    ("02118", "02118"), (" 02118 ", "02118"), ("SW1A 1AA", "SW1A 1AA"), (6042, "6042"), (6042.0, "6042"),
    ("94704.0", "94704"), (decimal.Decimal("2118.00"), "2118"), (np.int64(601), "601"),
    (np.float32(601.0), "601"), (2118.5, "2118.5"),
])
def test_postal_text(value, text):
    assert postal_text(value) == text


@pytest.mark.parametrize(("value", "state", "zip_code"), [
    ("06042", None, "06042"), ("06042-1234", "CT", "06042"), ("060421234", None, "06042"),
    ("06042 1234", None, "06042"), (6042, None, "06042"), (6042, "CT", "06042"), (6042.0, "CT", "06042"),
    ("60421234", None, "06042"), (601, "PR", "00601"), ("2118-1234", "MA", "02118"),
    (6042, "IL", None),              # Connecticut's ZIP, not Illinois's
    (1234, None, None),              # 01234 is no ZIP
    ("06042", "IL", "06042"),        # a whole ZIP is kept whatever the state says
    (None, None, None), ("", "MA", None), ("SW1A 1AA", None, None), (float("nan"), None, None), (12, None, None),
])
def test_us_zip(value, state, zip_code):
    assert us_zip(value, state) == zip_code


def test_zero_restored_needs_the_table_and_the_state():
    assert zero_restored("7030") == "07030" and zero_restored("7030", "NJ") == "07030"
    assert zero_restored("7030", "NY") is None and zero_restored("9999") is None


def test_docstring_examples():
    assert doctest.testmod(postcodes).failed == 0
