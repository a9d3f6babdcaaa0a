"""The zero a spreadsheet strips from a ZIP is restored, in one-line and split-field orders.

Every ZIP of New England, New Jersey, Puerto Rico, the Virgin Islands and APO/FPO AE starts
with 0; a spreadsheet that takes the column for numbers writes ``2118`` for Boston's 02118.
Split fields reach the parser joined by ``io.one_line`` (``10 Main St, Boston, MA, 2118``).
A short number after any other state, or one that is a ZIP of another state, is left alone:
padding it would make it somebody else's ZIP.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

from addressing import io as aio
from addressing.parse import parse

RESTORED = "postal_code_zero_restored"

ZERO_RESTORED = [
    # one line, as written
    ("10 Main St, Boston MA 2118", "BOSTON", "MA", "02118", None),
    ("10 Main St, Boston Massachusetts 2118", "BOSTON", "MA", "02118", None),
    ("10 Main St, Hoboken, New Jersey 7030", "HOBOKEN", "NJ", "07030", None),
    ("10 Main St, Boston MA 2118-1234", "BOSTON", "MA", "02118", "1234"),
    # split fields, as io.one_line joins them
    ("10 Main St, Boston, MA, 2118", "BOSTON", "MA", "02118", None),
    ("10 Main St, Boston, Massachusetts, 2118", "BOSTON", "MA", "02118", None),
    ("10 Main St, Boston, MA, 2118-1234", "BOSTON", "MA", "02118", "1234"),
    ("10 Main St, Manchester, CT, 6042", "MANCHESTER", "CT", "06042", None),
    ("10 Willow Ave, Hoboken, New Jersey, 7030", "HOBOKEN", "NJ", "07030", None),
    ("10 Main St, Adjuntas, PR, 601", "ADJUNTAS", "PR", "00601", None),
    ("10 Main St, Adjuntas, Puerto Rico, 601", "ADJUNTAS", "PR", "00601", None),
]


@pytest.mark.parametrize(("text", "city", "state", "zip_code", "zip4"), ZERO_RESTORED)
def test_zero_restored(text, city, state, zip_code, zip4):
    p = parse(text)
    assert (p.house_number, p.city, p.state, p.postal_code, p.zip4) == ("10", city, state, zip_code, zip4)
    assert RESTORED in p.corrections
    assert p.line2().endswith(zip_code + (f"-{zip4}" if zip4 else ""))


NOT_RESTORED = [  # (text, state, the ZIP that padding would make)
    ("10 Main St, Springfield, IL, 6270", "IL", "06270"),       # Illinois ZIPs start with 6, not 06
    ("10 Main St, Springfield IL 6270", "IL", "06270"),
    ("10 Main St, Manchester, NH, 6042", "NH", "06042"),        # 06042 is Connecticut's
    ("10 Main St, Boston, MA, 601", "MA", "00601"),             # 00601 is Puerto Rico's, not Boston's
    ("10 Main St, Hartford, CT, 2118", "CT", "02118"),          # 02118 is Boston's
]


@pytest.mark.parametrize(("text", "state", "padded"), NOT_RESTORED)
def test_not_restored(text, state, padded):
    p = parse(text)
    assert p.state == state
    assert p.postal_code != padded and RESTORED not in p.corrections


@pytest.mark.parametrize("text", ["10 Main St, Boston, MA, 02118", "10 Main St, Boston MA 02118-1234"])
def test_a_whole_zip_needs_no_restoring(text):
    p = parse(text)
    assert p.postal_code == "02118" and RESTORED not in p.corrections


def test_split_fields_from_a_table():
    """The split-field order as the readers give it (text columns) and ``one_line`` joins it."""
    table = pa.table({"order_id": ["1", "2", "3"], "address1": ["10 Main St", "10 Main St", "10 Main St"],
                      "city": ["Boston", "Springfield", "Adjuntas"], "state": ["MA", "IL", "PR"],
                      "postal_code": ["2118", "6270", "601"]})
    parsed = [parse(t) for t in aio.one_line(table)]
    assert [p.postal_code for p in parsed] == ["02118", None, "00601"]
    assert [RESTORED in p.corrections for p in parsed] == [True, False, True]
