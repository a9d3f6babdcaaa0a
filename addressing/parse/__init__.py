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
from dataclasses import dataclass, replace

from addressing import libpostal_server
from addressing.errors import ModelError
from addressing.parse import places, usps
from addressing.parse.backends import libpostal_reading, libpostal_request, parse_usaddress, usaddress_is_sure
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


@dataclass
class _Awaiting:
    """A string the rules parser and usaddress did not settle, waiting for libpostal's reading:
    another country's, or a US one usaddress could not read or was unsure of (``usaddress``)."""

    text: str
    country: str | None
    usaddress: ParsedAddress | None


def _first_reading(text: str, country: str | None) -> ParsedAddress | _Awaiting:
    if country and country != "US":
        return _Awaiting(text, country, None)
    p = parse_rules(text)
    if p is not None:
        return p
    u = parse_usaddress(text)
    if usaddress_is_sure(u) and (u.state or u.postal_code):
        return u
    return _Awaiting(text, country, u)


def _with_libpostal(w: _Awaiting, labels: list[tuple[str, str]] | Exception) -> ParsedAddress:
    """The reading of ``w`` once libpostal's ``labels`` are in, or the error it gave (a
    ``ModelError`` when it cannot answer at all: a US string keeps usaddress's reading then)."""
    if isinstance(labels, ModelError):
        if w.usaddress is not None:
            return w.usaddress
        raise labels
    if isinstance(labels, Exception):
        raise labels
    lp = libpostal_reading(labels, w.country)
    if w.usaddress is None:
        return lp
    return lp if _found(lp) > _found(w.usaddress) else w.usaddress


def _found(x: ParsedAddress) -> int:
    """How much of a deliverable address a reading found: of two readings, the larger wins."""
    return (2 * bool(x.house_number and x.street_name) + bool(x.street_name) + bool(x.postal_code)
            + bool(x.state) + bool(x.city) + bool(x.po_box))


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

    Results for identical inputs are separate objects, so callers may edit them. The strings
    that need libpostal are asked for together, once the others are read: one request to the
    batch's libpostal server, or one load of the model here (``libpostal_server.labels``).

    >>> [p.street_name for p in parse_batch(["1 Main St Springfield IL 62701", None, ""])]
    ['MAIN', None, None]
    >>> parse_batch([])
    []
    """
    n = len(texts)
    if n:
        load_tables()
    countries = countries if countries is not None else [None] * n
    by_input: dict[tuple, _Input] = {}
    by_text: dict[tuple, _Reading] = {}
    rows: list[_Input] = []
    for raw, hint in zip(texts, countries):
        try:
            key = (raw if isinstance(raw, (str, bytes, type(None))) else repr(raw), hint)
            hash(key)
        except Exception:  # noqa: BLE001 - an unhashable hint: parse it on its own
            key = None
        row = by_input.get(key) if key is not None else None
        if row is None:
            row = _Input(*_first_of(raw, hint, by_text))
            if key is not None:
                by_input[key] = row
        rows.append(row)
    _read_awaiting(by_text)
    out: list[ParsedAddress] = []
    for row in rows:
        if row.given:  # a repeated input: a copy of what its first occurrence got
            out.append(_copy(row.result))
        else:
            row.result, row.given = _result(row, by_text), True
            out.append(row.result)
    return out


@dataclass
class _Input:
    """One distinct input of a batch: its reading's key in ``by_text`` (with the notes its
    preparation made), or its result when it has none (an empty or broken string)."""

    key: tuple | None
    notes: list
    result: ParsedAddress | None = None
    given: bool = False


@dataclass
class _Reading:
    """One distinct text of a batch (its prepared ``text``) and its reading, taken without a
    copy by the first input that adds no notes of its own (``taken``)."""

    reading: ParsedAddress | _Awaiting
    text: str
    taken: bool = False


def _first_of(raw: object, hint: object,
              by_text: dict[tuple, _Reading]) -> tuple[tuple | None, list, ParsedAddress | None]:
    """Prepare an input and read its text once per batch, as far as the rules parser and
    usaddress go: ``(key in by_text, notes, None)``, or ``(None, [], result)`` when that is
    already the answer."""
    try:
        prepared = prepare(raw)
        if prepared.invalid:
            return None, [], ParsedAddress(parser="none", invalid_reason=prepared.invalid, notes=prepared.notes)
        country = detect_country(prepared.text, hint if isinstance(hint, str) else None)
        key = (prepared.text.upper(), country)
        if key not in by_text:
            by_text[key] = _Reading(_first_reading(prepared.text, country), prepared.text)
        return key, prepared.notes, None
    except Exception as exc:  # noqa: BLE001 - one odd string must never end the batch
        return None, [], _unparsable(exc)


def _read_awaiting(by_text: dict[tuple, _Reading]) -> None:
    """Give every reading that awaits libpostal its labels, asked for in one go; then settle
    each reading (a problem found makes it invalid)."""
    awaiting = [r for r in by_text.values() if isinstance(r.reading, _Awaiting)]
    for r, labels in zip(awaiting, _libpostal_labels([r.reading for r in awaiting])):
        try:
            r.reading = _with_libpostal(r.reading, labels)
        except ModelError:
            raise
        except Exception as exc:  # noqa: BLE001 - one odd string must never end the batch
            r.reading = _unparsable(exc)
    for r in by_text.values():
        if r.reading.parser == "none":
            continue
        try:
            problem = _problem(r.reading, r.text)
        except Exception as exc:  # noqa: BLE001 - one odd string must never end the batch
            r.reading = _unparsable(exc)
            continue
        if problem:
            # keep what was read (for review), but the row cannot be delivered as it stands
            r.reading.invalid_reason = problem


def _libpostal_labels(awaiting: list[_Awaiting]) -> list:
    """libpostal's labels for each reading, in one request; a ``ModelError`` in place of each
    when the model cannot answer, and when one string breaks the request, each asked alone
    (the string's own error in its place)."""
    if not awaiting:
        return []
    try:
        return libpostal_server.labels([libpostal_request(w.text, w.country) for w in awaiting])
    except ModelError as exc:
        return [exc] * len(awaiting)
    except Exception:  # noqa: BLE001 - found out below, string by string
        answers = []
        for w in awaiting:
            try:
                answers.append(libpostal_server.labels([libpostal_request(w.text, w.country)])[0])
            except Exception as exc:  # noqa: BLE001 - that string's reading fails, not the batch
                answers.append(exc)
        return answers


def _result(row: _Input, by_text: dict[tuple, _Reading]) -> ParsedAddress:
    """An input's reading: the batch's reading of its text, taken by the first input without
    notes of its own, copied for the others."""
    if row.key is None:
        return row.result
    r = by_text[row.key]
    if not r.taken and not row.notes:
        r.taken = True
        return r.reading
    p = _copy(r.reading)
    p.notes += row.notes
    return p


def _unparsable(exc: Exception) -> ParsedAddress:
    return ParsedAddress(parser="none", invalid_reason=f"address could not be parsed ({type(exc).__name__})")


def _copy(p: ParsedAddress) -> ParsedAddress:
    return replace(p, notes=list(p.notes), corrections=list(p.corrections))
