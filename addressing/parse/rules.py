"""A deterministic US address parser driven by Pub 28 tables and the real ZIP/city list.

It reads the last line from the right (country, ZIP, state, city — a city is recognized
because the ZIP table knows the state's city names), then the delivery line from the left
(PO box, rural route, military box, house number, street, unit). It answers only when
every token is accounted for; otherwise it returns ``None`` and the caller asks usaddress.
That makes it both faster than the CRF on the common, well-formed case and more accurate
on the patterns a CRF mislabels (units on line 2, street types inside names, duplicated
fragments).
"""

from __future__ import annotations

import re
import unicodedata

from addressing.parse import places, usps
from addressing.parse.standardize import split_street, unit_value
from addressing.schema import Kind, ParsedAddress

_TOKEN_PUNCT = re.compile(r"[^A-Z0-9#&/, -]+")
_DASH_NOT_NUMERIC = re.compile(r"(?<![0-9])-|-(?![0-9])")
_SLASH_NOT_FRACTION = re.compile(r"(?<![0-9])/|/(?![0-9])")
_ZIP_TOKEN = re.compile(r"^\d{5}(?:-\d{4})?$|^\d{9}$")
_HOUSE_NUMBER = re.compile(r"^(?:\d+[A-Z]?|\d+-\d+[A-Z]?|\d+[A-Z]-?\d+|[NSEW]\d+(?:[NSEW]\d+)?)$")
_FRACTION = re.compile(r"^\d/\d{1,2}$")
_GLUED_UNIT = re.compile(r"^(APT|STE|UNIT|RM|FL|BLDG|SUITE|APARTMENT|LOT|SPC)(\d+[A-Z]?|[A-Z]\d*)$")
_GLUED_HASH = re.compile(r"^#(\w+)$")
_UNIT_VALUE = re.compile(r"^(?:\d+[A-Z]{0,2}|[A-Z]{1,2}\d*|\d+-?[A-Z]|[A-Z]-?\d+|\d+-\d+)$")
_ORDINAL_NUMBER = re.compile(r"^\d+(ST|ND|RD|TH)$")

_PO_BOX_PREFIXES = (
    ("POST", "OFFICE", "BOX"),
    ("POST", "OFFICE", "BX"),
    ("P", "O", "BOX"),
    ("P", "O", "BX"),
    ("P", "O", "B"),
    ("PO", "BOX"),
    ("PO", "BX"),
    ("POST", "BOX"),
    ("POBOX",),
    ("POB",),
    ("BOX",),
    ("BX",),
)
_RURAL_ROUTE = (("RURAL", "ROUTE"), ("RURAL", "RTE"), ("R", "R"), ("RR",), ("RFD",), ("RTE",), ("ROUTE",))
_HIGHWAY_CONTRACT = (("HIGHWAY", "CONTRACT"), ("HWY", "CONTRACT"), ("STAR", "ROUTE"), ("HCR",), ("HC",))
_MILITARY_UNIT = ("PSC", "CMR", "UNIT")
_INTERSECTION = {"&", "AND", "AT", "@"}


def tokenize(text: str) -> list[str]:
    """Upper-case tokens; commas are kept as ``,`` tokens; ``#`` and ``&`` stand alone."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).upper()
    text = text.replace("'", "").replace("’", "").replace(".", " ").replace(";", ",").replace("@", " & ")
    text = _DASH_NOT_NUMERIC.sub(" ", text)
    text = _SLASH_NOT_FRACTION.sub(" ", text)
    text = _TOKEN_PUNCT.sub(" ", text)
    text = text.replace(",", " , ").replace("#", " # ").replace("&", " & ")
    return text.split()


def _strip_commas(tokens: list[str]) -> list[str]:
    while tokens and tokens[-1] == ",":
        tokens = tokens[:-1]
    while tokens and tokens[0] == ",":
        tokens = tokens[1:]
    return tokens


def _match_prefix(tokens: list[str], i: int, options: tuple[tuple[str, ...], ...]) -> int:
    """Length of the first option that matches tokens[i:], or 0."""
    for opt in options:
        if tuple(tokens[i : i + len(opt)]) == opt:
            return len(opt)
    return 0


class _Fail(Exception):
    """The rules cannot account for the input; usaddress gets it."""


def _last_line(tokens: list[str], p: ParsedAddress) -> list[str]:
    """Take country, ZIP, state and city off the right end; return the delivery tokens."""
    toks = _strip_commas(tokens)
    # country
    for n in (4, 3, 2, 1):
        if len(toks) > n:
            words = [t for t in toks[-n:] if t != ","]
            code = usps.COUNTRY_NAMES.get(" ".join(words))
            if code and len(words) == n:
                if code != "US":
                    raise _Fail("foreign")
                p.country = "US"
                toks = _strip_commas(toks[:-n])
                break
    # ZIP (the rightmost one that is not the house number); a repeat after it is dropped
    zip_at = None
    for i in range(len(toks) - 1, 0, -1):
        if _ZIP_TOKEN.match(toks[i]):
            zip_at = i
            break
    if zip_at is not None:
        tail = [t for t in toks[zip_at + 1 :] if t != ","]
        if re.fullmatch(r"\d{4}", tail[0] if tail else "") and len(tail) == 1:
            p.zip4 = tail[0]
            tail = []
        if tail:
            before = set(toks[:zip_at])
            if all(t in before for t in tail) and len(tail) >= 2:
                p.corrections.append("duplicate_removed")
            elif len(tail) <= 3 and usps.state_lookup().get(" ".join(tail)):
                # "... 45238 OH": state after the ZIP
                toks = toks[: zip_at + 1] + [","] + tail
                zip_at = None
            else:
                raise _Fail("text after ZIP")
        if zip_at is not None:
            z = toks[zip_at].replace("-", "")
            p.postal_code, p.zip4 = z[:5], (z[5:] or p.zip4)
            toks = _strip_commas(toks[:zip_at])
    # state: prefer the reading that agrees with the ZIP, else the shortest
    info = places.zip_info(p.postal_code)
    words = [t for t in toks]
    best = None
    for n in range(1, min(usps.state_max_words(), len(words) - 1) + 1):
        if "," in words[-n:]:
            break
        code = usps.state_lookup().get(" ".join(words[-n:]))
        if code:
            if best is None or (info and code == info.state and best[0] != info.state):
                best = (code, n)
    if best:
        p.state = best[0]
        toks = _strip_commas(toks[: -best[1]])
    elif info:
        p.state = info.state
        p.corrections.append("state_inferred")
    if not p.state:
        raise _Fail("no state")
    # city: a known name of the state (longest), else a comma-bounded segment
    toks = _take_city(toks, p, info)
    if p.country is None:
        p.country = "US"
    return toks


def _take_city(toks: list[str], p: ParsedAddress, info) -> list[str]:
    if p.state in usps.MILITARY_STATES or (toks and toks[-1] in usps.MILITARY_CITIES):
        if toks and toks[-1] in usps.MILITARY_CITIES:
            p.city = toks[-1]
            return _strip_commas(toks[:-1])
    names = places.cities_by_state().get(p.state, {})
    limit = min(places.max_city_words(), len(toks) - 1)
    for n in range(limit, 0, -1):
        seg = toks[-n:]
        if "," in seg:
            continue
        name = " ".join(seg)
        if name in names:
            rest = _strip_commas(toks[:-n])
            if rest and _street_can_end(rest):
                p.city = names[name]
                return rest
    # a comma-bounded last segment without digits is the city
    if "," in toks:
        at = len(toks) - 1 - toks[::-1].index(",")
        seg = toks[at + 1 :]
        if seg and not any(c.isdigit() for t in seg for c in t) and len(seg) <= 4:
            p.city = " ".join(seg)
            return _strip_commas(toks[:at])
    # a misspelt name of the ZIP's own city ("CINCINATTI" for 45238)
    if info:
        from rapidfuzz import fuzz

        for n in range(min(3, len(toks) - 1), 0, -1):
            seg = toks[-n:]
            if "," in seg or not all(t.isalpha() for t in seg):
                continue
            phrase = " ".join(seg)
            if any(fuzz.ratio(phrase, c) >= 85 for c in (info.city, *info.acceptable_cities)):
                p.city = phrase
                return _strip_commas(toks[:-n])
    # no commas: the city starts after the last street type / unit of the delivery line
    suffixes = usps.suffixes()
    for i in range(len(toks) - 2, 0, -1):
        if toks[i] in suffixes or _UNIT_VALUE.match(toks[i]) and i > 0 and toks[i - 1] in usps.UNIT_DESIGNATORS:
            j = i + 1
            if j < len(toks) and toks[j] in usps.DIRECTIONALS and j + 1 < len(toks):
                j += 1
            if j < len(toks) - 1 and len(toks[j]) == 1 and toks[i - 1] in usps.UNIT_DESIGNATORS:
                j += 1  # "APT 4 B CITY"
            seg = toks[j:]
            if seg and all(t.isalpha() for t in seg) and len(seg) <= 3 and seg[0] not in usps.UNIT_DESIGNATORS:
                p.city = " ".join(seg)
                return toks[:j]
            break
    if info or p.postal_code:
        return toks  # no city written: the ZIP says where
    raise _Fail("no city")


def _street_can_end(rest: list[str]) -> bool:
    """The delivery line left after taking a city must still look like one."""
    last = rest[-1]
    if last in (",",):
        return True
    return not (len(rest) == 1 and last.isdigit())


def _take_units(toks: list[str], p: ParsedAddress) -> list[str]:
    """Pull secondary unit designators (anywhere) out of the delivery tokens."""
    out: list[str] = []
    found: list[tuple[str, str | None]] = []
    i = 0
    n = len(toks)
    while i < n:
        t = toks[i]
        m = _GLUED_UNIT.match(t)
        if m:
            found.append((usps.UNIT_DESIGNATORS[m.group(1)], m.group(2)))
            i += 1
            continue
        m = _GLUED_HASH.match(t)
        if m:
            found.append(("#", m.group(1)))
            i += 1
            continue
        designator = usps.UNIT_DESIGNATORS.get(t)
        if designator and (out or i > 0) and not (t == "NO" and not out):
            j = i + 1
            while j < n and toks[j] in ("#", ","):
                j += 1
            if designator in usps.UNIT_WITHOUT_VALUE and (j >= n or not _UNIT_VALUE.match(toks[j]) or designator == "PH" and j < n and toks[j].isalpha() and len(toks[j]) > 2):
                if designator in ("PH",) and j < n and _UNIT_VALUE.match(toks[j]):
                    found.append((designator, toks[j]))
                    i = j + 1
                else:
                    found.append((designator, None))
                    i = i + 1
                continue
            if j < n and (_UNIT_VALUE.match(toks[j]) or toks[j] in usps.UNIT_ORDINALS):
                if t == "UNIT" and j + 1 < n and toks[j + 1] in ("BOX", "BX"):
                    out.append(t)  # military "UNIT 2050 BOX 4190"
                    i += 1
                    continue
                value = toks[j]
                # "APT 4 B" -> 4B
                if j + 1 < n and re.fullmatch(r"[A-Z]", toks[j + 1]) and value.isdigit() and (j + 2 >= n or toks[j + 2] == ","):
                    value += toks[j + 1]
                    j += 1
                found.append((designator, value))
                i = j + 1
                continue
            if designator == "#" and t == "#":
                i += 1
                continue
        out.append(t)
        i += 1
    if found:
        designator, value = found[-1]
        if len(found) > 1:
            # Pub 28 has one secondary line: keep the most specific (last), note the others
            for d, v in found[:-1]:
                p.notes.append(f"unit: {d} {v or ''}".strip())
        p.unit_type = designator
        p.unit = unit_value(value) if value else None
    return out


def _take_pmb(toks: list[str], p: ParsedAddress) -> list[str]:
    for i, t in enumerate(toks):
        if t == "PMB" or (t == "PRIVATE" and toks[i + 1 : i + 2] == ["MAILBOX"]):
            j = i + (1 if t == "PMB" else 2)
            while j < len(toks) and toks[j] == "#":
                j += 1
            if j < len(toks):
                p.po_box = toks[j]
                return toks[:i] + toks[j + 1 :]
    return toks


def _box_number(toks: list[str], i: int) -> tuple[str | None, int]:
    j = i
    while j < len(toks) and toks[j] in ("#", "NO", "NUMBER"):
        j += 1
    if j < len(toks) and re.fullmatch(r"[A-Z]?\d+[A-Z]?|\d+-\d+", toks[j]):
        return toks[j], j + 1
    return None, i


def _delivery_line(toks: list[str], p: ParsedAddress) -> None:
    toks = [t for t in toks if t != ","]
    if not toks:
        if p.postal_code or p.city:
            p.kind = Kind.LOCALITY_ONLY.value
            return
        raise _Fail("empty")
    # general delivery
    if toks[:2] == ["GENERAL", "DELIVERY"] and len(toks) == 2:
        p.kind = Kind.GENERAL_DELIVERY.value
        return
    # military PSC / CMR / UNIT nnn BOX nnn
    if toks[0] in _MILITARY_UNIT and len(toks) >= 2 and toks[1].isdigit():
        box, end = (None, 2)
        if len(toks) > 2 and toks[2] in ("BOX", "BX"):
            box, end = _box_number(toks, 3)
        if end == len(toks) and (p.state in usps.MILITARY_STATES or p.city in usps.MILITARY_CITIES):
            p.kind = Kind.MILITARY.value
            p.street_name = f"{toks[0]} {toks[1]}"
            p.po_box = box
            return
    # rural route / highway contract
    for options, kind, label in ((_RURAL_ROUTE, Kind.RURAL_ROUTE, "RR"), (_HIGHWAY_CONTRACT, Kind.HIGHWAY_CONTRACT, "HC")):
        n = _match_prefix(toks, 0, options)
        if n and len(toks) > n and toks[n].isdigit():
            rest = toks[n + 1 :]
            box = None
            if rest[:1] in (["BOX"], ["BX"]):
                box, end = _box_number(rest, 1)
                if end != len(rest):
                    raise _Fail("rural route tail")
            elif rest:
                if toks[0] in ("RTE", "ROUTE"):
                    break  # "ROUTE 9" is a highway, not a rural route
                raise _Fail("rural route tail")
            p.kind = kind.value
            p.street_name = f"{label} {toks[n]}"
            p.po_box = box
            return
    # PO box, alone or after a street line
    for i in range(len(toks)):
        n = _match_prefix(toks, i, _PO_BOX_PREFIXES)
        if n:
            box, end = _box_number(toks, i + n)
            if box and end == len(toks):
                if i and toks[i:i + 1] in (["BOX"], ["BX"]) and _HOUSE_NUMBER.match(toks[0]) and i < 2:
                    continue
                p.po_box = box
                p.kind = Kind.PO_BOX.value
                if i:
                    _street(toks[:i], p, allow_po_box=True)
                    p.kind = Kind.PO_BOX.value
                return
    _street(toks, p)


def _street(toks: list[str], p: ParsedAddress, allow_po_box: bool = False) -> None:
    # leading name (building / company) before the house number
    start = 0
    while start < len(toks) and not _HOUSE_NUMBER.match(toks[start]):
        start += 1
    if start == len(toks):
        # no number: an intersection, or a bare street
        for k, t in enumerate(toks):
            if t in _INTERSECTION and 0 < k < len(toks) - 1:
                a = split_street(toks[:k])
                b = split_street(toks[k + 1 :])
                if a[1] and b[1]:
                    p.kind = Kind.INTERSECTION.value
                    p.predirectional, p.street_name, p.street_type, p.postdirectional = a
                    p.intersecting_street = " ".join(x for x in b if x)
                    return
        raise _Fail("no house number")
    if start:
        building = toks[:start]
        if any(t in usps.suffixes() for t in building[-1:]) and len(building) <= 3:
            raise _Fail("street before number")
        p.building = " ".join(building)
    num = toks[start]
    rest = toks[start + 1 :]
    if _ORDINAL_NUMBER.match(num) and not rest:
        raise _Fail("ordinal only")
    if rest and _FRACTION.match(rest[0]):
        num = f"{num} {rest[0]}"
        rest = rest[1:]
    elif rest and re.fullmatch(r"[A-Z]", rest[0]) and len(rest) >= 2 and rest[0] not in usps.DIRECTIONALS:
        num = f"{num}{rest[0]}"  # "123 B MAIN ST" -> 123B
        rest = rest[1:]
    if not rest:
        raise _Fail("no street")
    # a trailing value after the type with no designator: "123 MAIN ST 4B"
    pre, name, typ, post = split_street(rest)
    if typ is None and len(rest) >= 3 and _UNIT_VALUE.match(rest[-1]) and any(c.isdigit() for c in rest[-1]):
        pre2, name2, typ2, post2 = split_street(rest[:-1])
        if typ2:
            p.unit_type = p.unit_type or "#"
            p.unit = p.unit or rest[-1]
            pre, name, typ, post = pre2, name2, typ2, post2
    if not name:
        raise _Fail("no street name")
    if any(t.isdigit() and len(t) >= 5 for t in name.split()):
        raise _Fail("number in name")
    p.house_number = num
    p.predirectional, p.street_name, p.street_type, p.postdirectional = pre, name, typ, post
    if p.kind == Kind.NONE.value:
        p.kind = Kind.STREET.value


def parse_rules(text: str) -> ParsedAddress | None:
    """Parse a US address, or ``None`` when the rules cannot account for every token.

    >>> parse_rules("3359 QUEEN CITY AVE CINCINNATI OH 45238").street_name
    'QUEEN CITY'
    >>> parse_rules("") is None
    True
    """
    tokens = tokenize(text)
    if not tokens:
        return None
    p = ParsedAddress(parser="rules")
    try:
        delivery = _last_line(tokens, p)
        delivery = _take_pmb(delivery, p)
        delivery = _take_units(delivery, p)
        _delivery_line(delivery, p)
    except _Fail:
        return None
    return p
