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
from addressing.parse import usps
from addressing.parse.backends import parse_libpostal, parse_usaddress, usaddress_is_sure
from addressing.parse.clean import prepare
from addressing.parse.rules import parse_rules
from addressing.parse.standardize import tokens_of
from addressing.schema import Kind, ParsedAddress

__all__ = ["parse", "parse_batch", "detect_country"]

_CA_POSTCODE = re.compile(r"\b[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z]\s?\d[ABCEGHJ-NPRSTV-Z]\d\b", re.I)
_GB_POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b", re.I)
_US_ZIP = re.compile(r"\b\d{5}(?:-\d{4})?\b")


def detect_country(text: str, hint: str | None = None) -> str | None:
    """ISO alpha-2 country of an address when it says so; ``None`` means 'assume US'."""
    if hint:
        key = " ".join(tokens_of(hint))
        code = usps.COUNTRY_NAMES.get(key) or (key if len(key) == 2 and key.isalpha() else None)
        if code:
            return code
    toks = tokens_of(text)
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


def _looks_like_address(p: ParsedAddress) -> bool:
    if p.country and p.country != "US":
        return bool(p.street_name or p.postal_code or p.city or p.po_box)
    if p.kind in (Kind.PO_BOX.value, Kind.MILITARY.value, Kind.RURAL_ROUTE.value, Kind.HIGHWAY_CONTRACT.value,
                  Kind.GENERAL_DELIVERY.value, Kind.INTERSECTION.value):
        return True
    if p.house_number and p.street_name and re.search(r"\d", p.house_number):
        return True
    return bool(p.postal_code or p.state)


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
        return 2 * bool(x.house_number and x.street_name) + bool(x.postal_code) + bool(x.state) + bool(x.city) + bool(x.po_box)

    return lp if score(lp) > score(u) else u


def parse(text: object, country: str | None = None) -> ParsedAddress:
    """Parse one address; never raises for bad text (the result carries ``invalid_reason``)."""
    return parse_batch([text], [country])[0]


def parse_batch(texts: Sequence[object], countries: Sequence[str | None] | None = None) -> list[ParsedAddress]:
    """Parse many addresses, each distinct (text, country) once.

    Results for identical inputs are separate objects, so callers may edit them.
    """
    countries = countries if countries is not None else [None] * len(texts)
    by_input: dict[tuple, ParsedAddress] = {}
    by_text: dict[tuple, ParsedAddress] = {}
    out: list[ParsedAddress] = []
    for raw, hint in zip(texts, countries):
        key = (raw if isinstance(raw, (str, type(None))) else repr(raw), hint)
        cached = by_input.get(key)
        if cached is None:
            cached = _parse_one(raw, hint, by_text)
            by_input[key] = cached
            out.append(cached)
        else:
            out.append(replace(cached, notes=list(cached.notes), corrections=list(cached.corrections)))
    return out


def _parse_one(raw: object, hint: str | None, by_text: dict) -> ParsedAddress:
    prepared = prepare(raw)
    if prepared.invalid:
        return ParsedAddress(parser="none", invalid_reason=prepared.invalid, notes=prepared.notes)
    country = detect_country(prepared.text, hint)
    key = (prepared.text.upper(), country)
    base = by_text.get(key)
    if base is None:
        base = _parse_prepared(prepared.text, country)
        if not _looks_like_address(base):
            base = ParsedAddress(
                parser=base.parser,
                invalid_reason="no house number, box, postal code or state found",
            )
        by_text[key] = base
    p = replace(base, notes=list(base.notes) + prepared.notes, corrections=list(base.corrections))
    return p
