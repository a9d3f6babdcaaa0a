"""Postal codes are text (``02118``, ``00601``, ``SW1A 1AA``), never numbers.

Every ZIP of New England, New Jersey, Puerto Rico, the Virgin Islands and APO/FPO AE starts
with 0, and a number has no leading zeros. Sources and order files still hold ZIPs as numbers
now and then: a JSON number, a numeric DBF field, a float column a spreadsheet exported as
``94704.0``. ``postal_text`` turns such a value back into its digits; ``us_zip`` reads a US
ZIP from text or number and gives back the zeros a number lost, where the ZIP table (and the
state, when known) says which ZIP it was: 6042 can only be 06042, Manchester, CT. Codes of
other countries are never padded (Austria's 1010 is complete as written).

>>> postal_text(6042), postal_text(94704.0), postal_text(" 02118 "), postal_text(float("nan"))
('6042', '94704', '02118', None)
>>> us_zip(6042), us_zip("2118-1234", "MA"), us_zip("6042", "IL"), us_zip(""), us_zip(None)
('06042', '02118', None, None, None)
"""

from __future__ import annotations

import decimal
import math
import re

from addressing.parse import places
from addressing.parse.standardize import zip_parts

#: the digits of a US ZIP
ZIP_DIGITS = 5
#: the states whose ZIPs start with 0 (a spreadsheet strips it): New England, New Jersey,
#: Puerto Rico, the Virgin Islands and APO/FPO Armed Forces Europe
ZERO_ZIP_STATES = frozenset({"CT", "MA", "ME", "NH", "NJ", "RI", "VT", "PR", "VI", "AE"})

#: a whole number as a float column writes it: ``94704.0``
_WHOLE_NUMBER = re.compile(r"^(\d+)\.0*$")
#: a ZIP (or ZIP+4) that lost one or two leading zeros: ``6042``, ``601``, ``6042-1234``, ``60421234``
_SHORT_ZIP = re.compile(r"^(\d{3,4})(?:-?\d{4})?$")


def postal_text(value: object) -> str | None:
    """A postal code as text: numbers (and whole numbers a float column wrote as text, such as
    ``94704.0``) become their digits; text is stripped and otherwise kept as written; blanks,
    None and NaN are None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        text = f"{value:.0f}" if value.is_integer() else repr(value)
    elif isinstance(value, decimal.Decimal):
        text = format(value, "f")
    else:
        text = str(value).strip()
    m = _WHOLE_NUMBER.match(text)
    if m:
        text = m.group(1)
    return text or None


def zero_restored(digits: str, state: str | None = None) -> str | None:
    """The ZIP ``digits`` (3 or 4 of them) were before their leading zeros were lost, when the
    ZIP table has it and, where ``state`` is given, puts it in that state; else None.

    >>> zero_restored("601"), zero_restored("2118", "MA"), zero_restored("2118", "CT")
    ('00601', '02118', None)
    """
    padded = digits.zfill(ZIP_DIGITS)
    info = places.zip_info(padded)
    if info is None or (state and info.state != state):
        return None
    return padded


def us_zip(value: object, state: str | None = None) -> str | None:
    """The 5-digit ZIP of a US postal code written as text or stored as a number: ``06042``,
    ``06042-1234`` and ``060421234`` give ``06042``; so do ``6042`` and ``60421234`` (a number's
    digits, see ``zero_restored``). None when it is no ZIP."""
    text = postal_text(value)
    if not text:
        return None
    compact = re.sub(r"[\s,]", "", text)  # "06042 1234", and "6,042" from a number formatted for reading
    z, _ = zip_parts(compact)
    if z:
        return z
    m = _SHORT_ZIP.match(compact)
    return zero_restored(m.group(1), state) if m else None


__all__ = ["ZERO_ZIP_STATES", "ZIP_DIGITS", "postal_text", "us_zip", "zero_restored"]
