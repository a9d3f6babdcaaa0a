"""The normalized key of an address as written: what makes two orders "the same input".

Built from the parse (the project's parser and Pub 28 standardization), so case, punctuation,
spacing and the spelling of street types, directionals and unit designators do not matter
(``123 main street apt 4`` = ``123 MAIN ST #4``), while every component the customer wrote
does: house number, street, unit, box, city, state, ZIP (five digits) and country. An order
that leaves out its city or ZIP is another input: an operator's decision on one spelling is
not stretched to a different, less complete one.

>>> from addressing.parse import parse
>>> a = input_key(parse("123 Main Street, Apt 4, Prattville AL 36067"))
>>> a == input_key(parse("123  MAIN ST #4 prattville, al 36067-1234"))
True
>>> a == input_key(parse("123 Main St Apt 5, Prattville AL 36067"))
False
>>> input_key(parse("")) is None
True
"""

from __future__ import annotations

import hashlib

from addressing.gazetteer.keys import name_key
from addressing.risk.forwarders import unit_key
from addressing.schema import ParsedAddress

#: hex digits of the key's SHA-256 that logs and listings show instead of the address
DIGEST_CHARS = 12
#: a US ZIP's delivery-area part; the ZIP+4 extension varies between spellings of one address
ZIP5 = 5


def input_key(p: ParsedAddress) -> str | None:
    """The key of one parsed input, or ``None`` for an input that is no address (``invalid``)."""
    if p.invalid_reason:
        return None
    country = p.country or "US"
    postal = (p.postal_code or "")[:ZIP5] if country == "US" else (p.postal_code or "").replace(" ", "")
    parts = (p.kind, p.house_number or "", p.predirectional or "", name_key(p.street_name),
             p.street_type or "", p.postdirectional or "", unit_key(p.unit), unit_key(p.po_box),
             "PMB" if p.pmb else "", name_key(p.intersecting_street), name_key(p.city), p.state or "", postal,
             country)
    return "|".join(parts).upper()


def digest(key: str) -> str:
    """A short one-way name for a key, for logs and listings that must not show the address."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:DIGEST_CHARS]
