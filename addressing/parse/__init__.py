"""Parse and standardize addresses: route each string to the back end that reads it best.

US-looking text goes to the rules parser (Pub 28 tables + the real ZIP/city list), then to
usaddress when the rules cannot account for every token, then to libpostal when usaddress
fails or is unsure. Other countries go to libpostal. Each distinct string is parsed once
per batch.

>>> parse("1600 pennsylvania av nw apt 2 washington dc 20500").street_type
'AVE'
>>> parse(None).invalid_reason
'empty address'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from addressing.errors import ModelError
from addressing.parse import places, usps
from addressing.parse.backends import parse_libpostal, parse_usaddress, usaddress_is_sure
from addressing.parse.clean import prepare
from addressing.parse.rules import parse_rules
from addressing.parse.standardize import tokens_of
from addressing.runtime import freeze_long_lived
from addressing.schema import Kind, ParsedAddress

__all__ = ["parse", "parse_batch", "detect_country"]

_CA_POSTCODE = re.compile(r"\b[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z]\s?\d[ABCEGHJ-NPRSTV-Z]\d\b", re.I)
_GB_POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b", re.I)
_US_ZIP = re.compile(r"\b\d{5}(?:-\d{4})?\b")


_COUNTRY_LAST = {name.split()[-1] for name in usps.COUNTRY_NAMES}


def detect_country(text: str, hint: str | None = None) -> str | None:
    """ISO alpha-2 country of an address when it says so; ``None`` means 'assume US'.

    >>> detect_country("10 Downing St, London SW1A 2AA"), detect_country("1 Main St, Springfield IL")
    ('GB', None)
    """
    if hint and isinstance(hint, str):
        key = " ".join(tokens_of(hint))
        code = usps.COUNTRY_NAMES.get(key) or (key if len(key) == 2 and key.isalpha() else None)
        if code:
            return code
    if _US_ZIP.search(text) and text.rstrip(" .")[-1:].isdigit():
        return None  # ends with a US ZIP: the common case, decided without tokenizing
    toks = tokens_of(text)
    if not toks or toks[-1] not in _COUNTRY_LAST:
        toks = []
    for n in (4, 3, 2, 1):
        if len(toks) > n:
            code = usps.COUNTRY_NAMES.get(" ".join(toks[-n:]))
            if code:
                # "... GA 30301" is Georgia the state, not the country; a state code before it wins
                if n == 1 and toks[-1] in usps.STATES:
                    return None
                return code
    if _CA_POSTCODE.search(text) and not _US_ZIP.search(text):
        return "CA"
    if _GB_POSTCODE.search(text) and not _US_ZIP.search(text):
        return "GB"
    return None


def _problem(p: ParsedAddress, text: str) -> str | None:
    """Why a reading is not an address at all, or ``None`` when it is one."""
    if p.country and p.country != "US":
        return None if (p.street_name or p.postal_code or p.city or p.po_box) else _NOT_ADDRESS
    if p.kind in _DELIVERABLE_WITHOUT_NUMBER:
        return None
    if p.house_number and p.street_name and any(c.isdigit() for c in p.house_number):
        return None
    if p.postal_code:
        return None
    if not p.state:
        return _NOT_ADDRESS
    if p.street_name or "," in text:
        return None
    # only a place and a state, without a comma between them: it must name a real place
    # ("Springfield IL" does; "call me" reads as CALL, Maine, and does not)
    if p.city and p.city in places.cities_by_state().get(p.state, {}):
        return None
    return f"no street, box or postal code, and {p.city or 'no place'} is not a known place in {p.state}"


_NOT_ADDRESS = "no house number, box, postal code or state found"
_DELIVERABLE_WITHOUT_NUMBER = frozenset(k.value for k in (Kind.PO_BOX, Kind.MILITARY, Kind.RURAL_ROUTE,
                                                          Kind.HIGHWAY_CONTRACT, Kind.GENERAL_DELIVERY,
                                                          Kind.INTERSECTION))


def _parse_prepared(text: str, country: str | None) -> ParsedAddress:
    if country and country != "US":
        try:
            return parse_libpostal(text, country)
        except ModelError:
            raise
    p = parse_rules(text)
    if p is not None:
        return p
    u = parse_usaddress(text)
    if usaddress_is_sure(u) and (u.state or u.postal_code):
        return u
    try:
        lp = parse_libpostal(text, country)
    except ModelError:
        if u is not None:
            return u
        raise
    if u is None:
        return lp
    # prefer the reading that found more of a deliverable address
    def score(x: ParsedAddress) -> int:
        return (2 * bool(x.house_number and x.street_name) + bool(x.street_name) + bool(x.postal_code)
                + bool(x.state) + bool(x.city) + bool(x.po_box))

    return lp if score(lp) > score(u) else u


def parse(text: object, country: str | None = None) -> ParsedAddress:
    """Parse one address; never raises for bad text (the result carries ``invalid_reason``)."""
    return parse_batch([text], [country])[0]


def load_tables() -> None:
    """The ZIP and city tables every US parse reads, loaded once and kept out of the GC's way."""
    from addressing.parse import places

    places.zip_table()
    places.cities_by_state()
    places.city_states()
    freeze_long_lived("parse-tables")


def parse_batch(texts: Sequence[object], countries: Sequence[str | None] | None = None) -> list[ParsedAddress]:
    """Parse many addresses, each distinct (text, country) once; never raises for bad input.

    Results for identical inputs are separate objects, so callers may edit them.

    >>> [p.street_name for p in parse_batch(["1 Main St Springfield IL 62701", None, ""])]
    ['MAIN', None, None]
    >>> parse_batch([])
    []
    """
    n = len(texts)
    if n:
        load_tables()
    countries = countries if countries is not None else [None] * n
    by_input: dict[tuple, ParsedAddress] = {}
    by_text: dict[tuple, list] = {}
    out: list[ParsedAddress] = []
    for raw, hint in zip(texts, countries):
        try:
            key = (raw if isinstance(raw, (str, bytes, type(None))) else repr(raw), hint)
            hash(key)
        except Exception:  # noqa: BLE001 - an unhashable hint: parse it on its own
            key = None
        cached = by_input.get(key) if key is not None else None
        if cached is None:
            cached = _parse_one(raw, hint, by_text)
            if key is not None:
                by_input[key] = cached
            out.append(cached)
        else:
            out.append(_copy(cached))
    return out


def _copy(p: ParsedAddress) -> ParsedAddress:
    return replace(p, notes=list(p.notes), corrections=list(p.corrections))


def _parse_one(raw: object, hint: object, by_text: dict) -> ParsedAddress:
    try:
        prepared = prepare(raw)
        if prepared.invalid:
            return ParsedAddress(parser="none", invalid_reason=prepared.invalid, notes=prepared.notes)
        country = detect_country(prepared.text, hint if isinstance(hint, str) else None)
        key = (prepared.text.upper(), country)
        entry = by_text.get(key)
        if entry is None:
            base = _parse_prepared(prepared.text, country)
            problem = _problem(base, prepared.text)
            if problem:
                # keep what was read (for review), but the row cannot be delivered as it stands
                base.invalid_reason = problem
            by_text[key] = entry = [base, False]
        base, used = entry
        if not used and not prepared.notes:
            entry[1] = True  # the first user of a reading takes it without a copy
            return base
        p = _copy(base)
        p.notes += prepared.notes
        return p
    except ModelError:
        raise
    except Exception as exc:  # noqa: BLE001 - one odd string must never end the batch
        return ParsedAddress(parser="none", invalid_reason=f"address could not be parsed ({type(exc).__name__})")
