"""A deterministic US address parser driven by Pub 28 tables and the real ZIP/city list.

It reads the last line from the right (country, ZIP, state, city — a city is recognized
because the ZIP table knows the state's city names), then the delivery line from the left
(PO box, rural route, military box, house number, street, unit). It answers only when
every token is accounted for; otherwise it returns ``None`` and the caller asks usaddress.
That makes it both faster than the CRF on the common, well-formed case and more accurate
on the patterns a CRF mislabels (units on line 2 or first, street types inside names,
duplicated fragments, directionals written before the number, floors written ``6th Floor``).
"""

from __future__ import annotations

import re
import unicodedata

from addressing.parse import places, usps
from addressing.parse.postcodes import ZERO_ZIP_STATES, zero_restored
from addressing.parse.standardize import highway_name, house_number, read_misspelt, split_street, unit_value
from addressing.schema import Kind, ParsedAddress

#: a dash stays only inside numbers (1016-18, 45238-1234) or before a letter suffix (2455-B)
_DASH = re.compile(r"(?<!\d)-|-(?!\d|[A-Z]{1,2}\b)")
_SLASH_NOT_FRACTION = re.compile(r"(?<![0-9])/|/(?![0-9])")
_NON_TOKEN = re.compile(r"[^A-Z0-9#&/, -]+")
_TOKEN_TABLE = str.maketrans(
    {
        **{chr(c): " " for c in range(128) if not chr(c).isalnum() and chr(c) not in "#&/,- "},
        "'": None, "’": None, "`": None, ";": " , ", ",": " , ", "#": " # ", "&": " & ", "@": " & ",
    }
)
_ZIP_TOKEN = re.compile(r"^\d{5}(?:-\d{4})?$|^\d{9}$")
#: a ZIP (or ZIP+4) a spreadsheet wrote as a number: ``2118``, ``601``, ``2118-1234``
_SHORT_ZIP = re.compile(r"^(\d{3,4})(-\d{4})?$")
_STATE_ZIP_GLUED = re.compile(r"^([A-Z]{2})(\d{5}(?:-\d{4})?)$")
_HOUSE_NUMBER = re.compile(
    r"^(?:\d+[A-Z]?|\d+-\d+[A-Z]?|\d+-[A-Z]{1,2}|\d+[A-Z]-?\d+|[NSEW]\d+(?:[NSEW]\d+)?)$"
)
_NUMBER_GLUED = re.compile(r"^(\d{1,6})([A-Z]{3,})$")
_LETTER_O_NUMBER = re.compile(r"^\d+[O\d]*O[O\d]*$")
_FRACTION = re.compile(r"^\d/\d{1,2}$")
_GLUED_UNIT = re.compile(r"^(APT|STE|UNIT|RM|FL|BLDG|SUITE|APARTMENT|LOT|SPC|TRLR)(\d+[A-Z]?|[A-Z]\d*)$")
_GLUED_HASH = re.compile(r"^#(\w+)$")
_GLUED_UNIT_START = {"AP", "ST", "UN", "RM", "FL", "BL", "SU", "LO", "SP", "TR"}
_GLUED_ROUTE = re.compile(r"^(RR|HC|HCR|RFD)(\d+)$")
_UNIT_VALUE = re.compile(r"^(?:\d+[A-Z]{0,2}|[A-Z]{1,2}\d*|\d+-?[A-Z]|[A-Z]-?\d+|\d+-\d+)$")
_ORDINAL_NUMBER = re.compile(r"^\d+(ST|ND|RD|TH)$")
_FLOOR_WORDS = {"FL", "FLOOR", "FLR"}
_NUMBER_WORDS = {"#", "NO", "NUM", "NUMBER"}
#: designators that never sit inside a street name (LOWER, FRONT, KEY... can: "LOWER RIVER RD")
_STRONG_UNITS = {"APT", "STE", "UNIT", "#", "RM", "BLDG", "FL", "DEPT", "TRLR", "SPC", "HNGR"}
_LOCALITY_TAILS = {"COUNTY", "PARISH", "BOROUGH", "CNTY", "CO"}

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
_PO_BOX_FIRST = {opt[0] for opt in _PO_BOX_PREFIXES}
_PMB_PREFIXES = (("PMB",), ("PRIVATE", "MAILBOX"), ("PRIVATE", "MAIL", "BOX"))
_PMB_GLUED = re.compile(r"^PMB(\d+[A-Z]?)$")
_RURAL_ROUTE = (("RURAL", "ROUTE"), ("RURAL", "RTE"), ("R", "R"), ("RR",), ("RFD",), ("RTE",), ("ROUTE",))
_HIGHWAY_CONTRACT = (("HIGHWAY", "CONTRACT"), ("HWY", "CONTRACT"), ("STAR", "ROUTE"), ("HCR",), ("HC",))
_ROUTE_FIRST = {opt[0] for opt in _RURAL_ROUTE + _HIGHWAY_CONTRACT}
_MILITARY_UNIT = ("PSC", "CMR", "UNIT")
_INTERSECTION = {"&", "AND", "AT", "@"}
_SHORT_DIRS = {"N", "S", "E", "W", "NE", "NW", "SE", "SW"}
_COUNTRY_LAST = {name.split()[-1] for name in usps.COUNTRY_NAMES}
_KIND_NONE, _KIND_STREET = Kind.NONE.value, Kind.STREET.value


def tokenize(text: str) -> list[str]:
    """Upper-case tokens; commas are kept as ``,`` tokens; ``#`` and ``&`` stand alone.

    >>> tokenize("12 1/2 Elm St., Apt #4-B; O'Fallon")
    ['12', '1/2', 'ELM', 'ST', ',', 'APT', '#', '4-B', ',', 'OFALLON']
    >>> tokenize("")
    []
    """
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.upper()
    if "-" in text:
        text = _DASH.sub(" ", text)
    if "/" in text:
        text = _SLASH_NOT_FRACTION.sub(" ", text)
    text = text.translate(_TOKEN_TABLE)
    if not text.isascii():
        text = _NON_TOKEN.sub(" ", text)
    return text.split()


def _strip_commas(tokens: list[str]) -> list[str]:
    a, b = 0, len(tokens)
    while a < b and tokens[a] == ",":
        a += 1
    while b > a and tokens[b - 1] == ",":
        b -= 1
    return tokens[a:b] if (a, b) != (0, len(tokens)) else tokens


def _match_prefix(tokens: list[str], i: int, options: tuple[tuple[str, ...], ...]) -> int:
    """Length of the first option that matches tokens[i:], or 0."""
    for opt in options:
        if tuple(tokens[i : i + len(opt)]) == opt:
            return len(opt)
    return 0


class _Fail(Exception):
    """The rules cannot account for the input; usaddress gets it."""


# ---------------------------------------------------------------- duplicated fragments
def _dedupe(tokens: list[str], p: ParsedAddress) -> list[str]:
    """Drop a fragment typed twice: a run repeated right after itself, or a trailing run
    that already appeared (``100 DIAMOND ST SAN FRANCISCO CA 94114 SAN FRANCISCO 100 DIAMOND ST``)."""
    words = [t for t in tokens if t != ","]
    if len(set(words)) == len(words):
        return tokens
    changed = True
    while changed:
        changed = False
        pos = [i for i, t in enumerate(tokens) if t != ","]
        words = [tokens[i] for i in pos]
        n = len(words)
        # a trailing run repeated earlier
        for k in range(n // 2, 1, -1):
            tail = words[n - k :]
            for s in range(0, n - 2 * k + 1):
                if s == n - 2 * k and " ".join(tail) in usps.state_lookup():
                    continue  # "NEW YORK NEW YORK": a city named as its state, then the state
                if words[s : s + k] == tail:
                    tokens = _strip_commas(tokens[: pos[n - k]])
                    changed = True
                    break
            if changed:
                break
        if changed:
            p.corrections.append("duplicate_removed")
            continue
        # a run repeated immediately
        for k in range(n // 2, 1, -1):
            for s in range(0, n - 2 * k + 1):
                if words[s : s + k] == words[s + k : s + 2 * k] and any(c.isdigit() for w in words[s : s + k] for c in w):
                    cut_from, cut_to = pos[s + k], pos[s + 2 * k - 1] + 1
                    tokens = tokens[:cut_from] + tokens[cut_to:]
                    changed = True
                    break
            if changed:
                break
        if changed:
            p.corrections.append("duplicate_removed")
            continue
        # a trailing run of words all written before, in another order ("... CA BERKELEY 1921 MLK WAY")
        seen: dict[str, int] = {}
        for w in words:
            seen[w] = seen.get(w, 0) + 1
        c = n
        while c > 0 and seen[words[c - 1]] > 1:
            seen[words[c - 1]] -= 1
            c -= 1
        tail = words[c:]
        repeated = len(tail) >= 3 and c >= len(tail) and any(w[:1].isdigit() for w in tail)
        # once one copy was dropped, a leftover city word of the copy goes too
        leftover = "duplicate_removed" in p.corrections and 1 <= len(tail) <= 3 and all(w.isalpha() for w in tail)
        if repeated or leftover:
            tokens = _strip_commas(tokens[: pos[c]])
            p.corrections.append("duplicate_removed")
            changed = True
    return tokens


# ---------------------------------------------------------------- last line
def _last_line(tokens: list[str], p: ParsedAddress) -> tuple[list[str], bool]:
    """Take country, ZIP, state and city off the right end; return the delivery tokens and
    whether the street may be followed by a neighbourhood name (see ``_take_city``)."""
    toks = _take_country(_strip_commas(tokens), p)
    states = usps.state_lookup()
    if toks:
        m = _STATE_ZIP_GLUED.match(toks[-1])
        if m and m.group(1) in states:  # "IL62701"
            toks = toks[:-1] + [m.group(1), m.group(2)]
        elif (m := _SHORT_ZIP.match(toks[-1])) and (state := _zero_zip_state(toks[:-1], states)):
            # "BOSTON MA 2118", "BOSTON, MASSACHUSETTS, 2118" (split fields joined): a spreadsheet
            # dropped the ZIP's leading zeros; restored only where the ZIP is the state's own
            z = zero_restored(m.group(1), state)
            if z:
                toks = toks[:-1] + [z + (m.group(2) or "")]
                p.corrections.append("postal_code_zero_restored")
    # ZIP: the rightmost one written after a state, else the rightmost one (never the first token)
    zip_at = None
    for i in range(len(toks) - 1, 0, -1):
        if _ZIP_TOKEN.match(toks[i]):
            if zip_at is None:
                zip_at = i
            j = i - 1
            while j > 0 and toks[j] == ",":
                j -= 1
            if toks[j] in states and not toks[j].isdigit():
                zip_at = i
                break
    moved: list[str] = []
    if zip_at is not None:
        tail = [t for t in toks[zip_at + 1 :] if t != ","]
        if len(tail) == 1 and len(tail[0]) == 4 and tail[0].isdigit():  # "45238 1234"
            p.zip4 = tail[0]
            tail = []
        if tail:
            before = set(toks[:zip_at])
            if all(t in before for t in tail):
                p.corrections.append("duplicate_removed")
            elif len(tail) <= 3 and states.get(" ".join(tail)):
                # "... 45238 OH": state after the ZIP
                toks = toks[: zip_at + 1] + [","] + tail
                zip_at = None
            elif _starts_unit(tail[0]):
                moved = [","] + toks[zip_at + 1 :]  # "... 14619 APT 3A": the unit after the last line
            else:
                raise _Fail("text after ZIP")
        if zip_at is not None:
            z = toks[zip_at].replace("-", "")
            p.postal_code, p.zip4 = z[:5], (z[5:] or p.zip4)
            toks = toks[:zip_at]
            while toks and toks[-1] == ",":
                toks = toks[:-1]
            toks = _take_country(toks, p)  # "... IL USA 62701"
    if zip_at is None and not moved and "," in toks:
        # "..., San Francisco, CA, Apt 5": no ZIP, and the unit after the state
        at = len(toks) - 1 - toks[::-1].index(",")
        head, tail = _strip_commas(toks[:at]), toks[at + 1 :]
        if 1 <= len(tail) <= 3 and _starts_unit(tail[0]) and _ends_with_state(head, states):
            toks, moved = head, [","] + tail
    # state: prefer the reading that agrees with the ZIP, else the shortest
    info = places.zip_info(p.postal_code)
    best = None
    for n in range(1, min(usps.state_max_words(), len(toks) - 1) + 1):
        if toks[-n] == ",":
            break
        code = states.get(toks[-1] if n == 1 else " ".join(toks[-n:]))
        if code and (best is None or (info and code == info.state and best[0] != info.state)):
            best = (code, n)
            if info is None or code == info.state:
                break
    if best and info and best[0] != info.state and _names_zip_city(toks[-best[1]:], info):
        best = None          # "..., Washington 20500": the ZIP's own city, not Washington State
    sep_before_state = False
    if best:
        p.state = best[0]
        toks = toks[: -best[1]]
        sep_before_state = bool(toks) and toks[-1] == ","
        toks = _strip_commas(toks)
    elif info:
        p.state = info.state
        p.corrections.append("state_inferred")
        sep_before_state = bool(toks) and toks[-1] == ","
        toks = _strip_commas(toks)
    if not p.state:
        raise _Fail("no state")
    toks = _drop_county(toks, p)
    toks, loose = _take_city(toks, p, info, sep_before_state)
    if p.country is None:
        p.country = "US"
    return toks + moved, loose


def _names_zip_city(words: list[str], info: places.ZipInfo) -> bool:
    """Whether ``words``, read as a state other than the ZIP's, name the ZIP's own city:
    ``WASHINGTON`` before a DC ZIP (``..., Washington 20500``), where the state is left out."""
    written = " ".join(words)
    return any(written in places.city_variants(c) for c in (info.city, *info.acceptable_cities))


def _zero_zip_state(toks: list[str], states: dict[str, str]) -> str | None:
    """The code of a state whose ZIPs start with 0, written last in ``toks`` (commas after it
    skipped) with something before it: ``... BOSTON , MASSACHUSETTS ,`` -> ``MA``."""
    end = len(toks)
    while end and toks[end - 1] == ",":
        end -= 1
    for n in range(1, min(usps.state_max_words(), end - 1) + 1):
        words = toks[end - n : end]
        if "," in words:
            break
        code = states.get(" ".join(words))
        if code:  # the shortest reading decides: "... PORTLAND, IL" is Illinois, whatever precedes it
            return code if code in ZERO_ZIP_STATES else None
    return None


def _starts_unit(tok: str) -> bool:
    return tok in usps.UNIT_DESIGNATORS or tok == "#" or bool(_GLUED_UNIT.match(tok) or _GLUED_HASH.match(tok))


def _ends_with_state(toks: list[str], states: dict) -> bool:
    """A state name or code ends ``toks``, with something before it."""
    return any(len(toks) > n and states.get(" ".join(toks[-n:])) for n in range(1, usps.state_max_words() + 1))


def _take_country(toks: list[str], p: ParsedAddress) -> list[str]:
    if not toks or toks[-1] not in _COUNTRY_LAST:
        return toks
    for n in (4, 3, 2, 1):
        if len(toks) > n:
            words = toks[-n:]
            code = usps.COUNTRY_NAMES.get(" ".join(words))
            if code and "," not in words:
                if code != "US":
                    raise _Fail("foreign")
                p.country = "US"
                rest = toks[:-n]
                while rest and rest[-1] == ",":
                    rest = rest[:-1]
                return rest
    return toks


def _drop_county(toks: list[str], p: ParsedAddress) -> list[str]:
    """``..., Seattle, King County, WA``: a county segment before the state is kept as a note."""
    if toks and toks[-1] in _LOCALITY_TAILS and toks[-1] != "CO" and "," in toks:
        at = len(toks) - 1 - toks[::-1].index(",")
        seg = toks[at + 1 :]
        if 2 <= len(seg) <= 4 and all(t.isalpha() for t in seg):
            p.notes.append(f"county: {' '.join(seg)}")
            return _strip_commas(toks[:at])
    return toks


def _city_agrees(name: str, info) -> bool:
    return info is None or name == info.city or name in info.acceptable_cities


def _take_city(toks: list[str], p: ParsedAddress, info, sep_before_state: bool) -> tuple[list[str], bool]:
    if toks and toks[-1] in usps.MILITARY_CITIES:
        p.city = toks[-1]
        return _strip_commas(toks[:-1]), False
    names = places.cities_by_state().get(p.state, {})
    # a known name of the state at the end (longest first); one that disagrees with the ZIP is
    # kept in reserve in case the ZIP's own city is written further left
    reserve = None
    for n in range(min(places.max_city_words(), len(toks)), 0, -1):
        seg = toks[-n:]
        if "," in seg:
            continue
        canonical = names.get(" ".join(seg))
        if canonical is None:
            continue
        rest = _strip_commas(toks[:-n])
        if rest and not _street_can_end(rest):
            continue
        if _city_agrees(canonical, info):
            p.city = canonical
            return rest, False
        if reserve is None:
            reserve = (canonical, rest)
    # the ZIP's own city further left, followed by a few locality words ("BROOKLYN NYC")
    if info:
        found = _inner_zip_city(toks, info, p)
        if found is not None:
            return found, True
    if reserve:
        p.city = reserve[0]
        return reserve[1], False
    # a comma-bounded last segment without digits is the city
    if "," in toks:
        at = len(toks) - 1 - toks[::-1].index(",")
        seg = toks[at + 1 :]
        if seg and not any(c.isdigit() for t in seg for c in t) and len(seg) <= 4 and _could_be_city(seg):
            p.city = " ".join(seg)
            return _strip_commas(toks[:at]), False
        if sep_before_state and any(c.isdigit() for t in seg for c in t):
            return toks, False  # "123 MAIN ST, OH 45238": the line before the state is the street
    elif sep_before_state and toks and any(c.isdigit() for c in toks[0]):
        return toks, False  # "298 GLEN LAKE RD, OH 45140"
    elif sep_before_state and toks and len(toks) <= 4 and all(t.isalpha() for t in toks) and _could_be_city(toks):
        p.city = " ".join(toks)  # "Manhattan, NY"
        return [], False
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
                p.corrections.append("city_misspelt")
                return _strip_commas(toks[:-n]), False
    # no commas: the city starts after the last street type / unit of the delivery line
    suffixes = usps.suffixes()
    if toks and (toks[-1] in suffixes or toks[-1] in _SHORT_DIRS and len(toks) > 1 and toks[-2] in suffixes):
        # the line ends with its street type: no city written ("805 BUNCHE AVE AL"); the
        # ZIP, or else the state, says where
        return toks, False
    if len(toks) > 2 and _UNIT_VALUE.match(toks[-1]) and (toks[-2] in usps.UNIT_DESIGNATORS or toks[-2] == "#"):
        return toks, False  # ... or with its unit ("1233 HOWARD ST APT 2C CALIFORNIA")
    for i in range(len(toks) - 2, 0, -1):
        if toks[i] in suffixes or _UNIT_VALUE.match(toks[i]) and toks[i - 1] in usps.UNIT_DESIGNATORS:
            j = i + 1
            if j < len(toks) and toks[j] in usps.DIRECTIONALS and j + 1 < len(toks):
                j += 1
            if j < len(toks) - 1 and len(toks[j]) == 1 and toks[i - 1] in usps.UNIT_DESIGNATORS:
                j += 1  # "APT 4 B CITY"
            seg = toks[j:]
            if seg and all(t.isalpha() for t in seg) and len(seg) <= 3 and _could_be_city(seg):
                p.city = " ".join(seg)
                return toks[:j], False
            break
    if info or p.postal_code:
        return toks, False  # no city written: the ZIP says where
    raise _Fail("no city")


def _could_be_city(seg: list[str]) -> bool:
    if seg[0] in usps.UNIT_DESIGNATORS:
        return False
    return not (len(seg) == 1 and (seg[0] in usps.suffixes() or seg[0] in usps.DIRECTIONALS))


def _inner_zip_city(toks: list[str], info, p: ParsedAddress) -> list[str] | None:
    """Find the ZIP's city written before a few trailing locality words; the street may then be
    followed by a neighbourhood (``781 FRANKLIN AVE CROWN HEIGHTS BROOKLYN NYC NY 11216``)."""
    words = [t for t in toks if t != ","]
    first_number = next((i for i, t in enumerate(words) if t[:1].isdigit()), None)
    if first_number is None:
        return None
    for city in (info.city, *info.acceptable_cities):
        cw = city.split()
        k = len(cw)
        for s in range(len(words) - k - 1, first_number, -1):
            if words[s : s + k] == cw:
                trailing = words[s + k :]
                # "109 N CLARK ST, WY 82435": a town's name followed by a street type is the street
                if 1 <= len(trailing) <= 3 and all(t.isalpha() for t in trailing) and trailing[0] not in usps.suffixes():
                    p.city = city
                    p.notes.append(f"locality: {' '.join(trailing)}")
                    # cut the token list at the same word
                    count = -1
                    for i, t in enumerate(toks):
                        if t != ",":
                            count += 1
                        if count == s:
                            return _strip_commas(toks[:i])
    return None


def _street_can_end(rest: list[str]) -> bool:
    """The delivery line left after taking a city must still look like one."""
    last = rest[-1]
    if last in (",",):
        return True
    return not (len(rest) == 1 and last.isdigit())


# ---------------------------------------------------------------- secondary units
def _unit_number(tok: str) -> str | None:
    """``6TH`` / ``SIXTH`` / ``6`` -> ``6`` (a floor written before its designator)."""
    m = _ORDINAL_NUMBER.match(tok)
    if m:
        return tok[: -2]
    if tok in usps.UNIT_ORDINALS:
        return str(usps.UNIT_ORDINALS[tok])
    return tok if tok.isdigit() and len(tok) <= 3 else None


def _take_units(toks: list[str], p: ParsedAddress) -> list[str]:
    """Pull secondary unit designators (anywhere, even first) out of the delivery tokens."""
    designators = usps.UNIT_DESIGNATORS
    if all(t not in designators and t[0] != "#" and (t[:2] not in _GLUED_UNIT_START or t.isalpha()) for t in toks):
        return toks  # nothing that can start a unit: the common case
    out: list[str] = []
    found: list[tuple[str, str | None]] = []
    suffixes = usps.suffixes()
    i = 0
    n = len(toks)
    while i < n:
        t = toks[i]
        prev = out[-1] if out else None
        m = _GLUED_UNIT.match(t)
        if m and not (prev and _HOUSE_NUMBER.match(prev)):
            found.append((usps.UNIT_DESIGNATORS[m.group(1)], m.group(2)))
            i += 1
            continue
        m = _GLUED_HASH.match(t)
        if m:
            found.append(("#", m.group(1)))
            i += 1
            continue
        # "6TH FLOOR", "SIXTH FL"
        if (i + 1 < n and toks[i + 1] in _FLOOR_WORDS and prev is not None and _unit_number(t)
                and (i + 2 >= n or toks[i + 2] == "," or toks[i + 2] in usps.UNIT_DESIGNATORS)):
            found.append(("FL", _unit_number(t)))
            i += 2
            continue
        designator = usps.UNIT_DESIGNATORS.get(t)
        if designator is None or _in_box_prefix(t, prev, toks, i):
            out.append(t)
            i += 1
            continue
        if t == "NO" and not out:
            out.append(t)
            i += 1
            continue
        if prev is not None and (_HOUSE_NUMBER.match(prev) or prev in _SHORT_DIRS and len(out) >= 2
                                 and _HOUSE_NUMBER.match(out[-2])):
            out.append(t)  # right after the number it is the street's name ("100 FRONT ST")
            i += 1
            continue
        j = i + 1
        while j < n and toks[j] in _NUMBER_WORDS | {","}:
            j += 1
        if designator in usps.UNIT_WITHOUT_VALUE:
            if designator == "PH" and j < n and _UNIT_VALUE.match(toks[j]) and toks[j] not in suffixes:
                found.append((designator, toks[j]))
                i = j + 1
                continue
            if i + 1 >= n or toks[i + 1] == "," or toks[i + 1] in usps.UNIT_DESIGNATORS:
                found.append((designator, None))
                i += 1
                continue
            out.append(t)  # "LAKE SIDE DR": a word of the name
            i += 1
            continue
        value_ok = j < n and (
            (_UNIT_VALUE.match(toks[j]) and (toks[j] not in suffixes or len(toks[j]) == 1))
            or toks[j] in usps.UNIT_ORDINALS
        )
        if value_ok:
            k = j + 1
            while k < n and toks[k] == ",":
                k += 1
            if t == "UNIT" and k < n and toks[k] in ("BOX", "BX"):
                out.append(t)  # military "UNIT 2050 BOX 4190"
                i += 1
                continue
            value = toks[j]
            # "APT 4 B" -> 4B; "UNIT A-1" (tokenized A 1) -> A1
            if j + 1 < n and (j + 2 >= n or toks[j + 2] == ","):
                nxt = toks[j + 1]
                if (len(nxt) == 1 and nxt.isalpha() and value.isdigit()
                        or len(value) == 1 and value.isalpha() and nxt.isdigit() and len(nxt) <= 4):
                    value += nxt
                    j += 1
            if designator == "FL":
                value = _unit_number(value) or value
            found.append((designator, value))
            i = j + 1
            continue
        if t == "#":
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


def _in_box_prefix(t: str, prev: str | None, toks: list[str], i: int) -> bool:
    """``POST OFFICE BOX``, ``PO BOX # 12``, ``PMB # 12``: not secondary units."""
    if t == "OFFICE" and prev == "POST":
        return True
    return t in _NUMBER_WORDS and prev in ("BOX", "BX", "PMB", "POB", "POBOX")


def take_pmb(toks: list[str], p: ParsedAddress) -> list[str]:
    """Take a private mailbox (``PMB 512``, ``PMB # 512``, ``# PMB 512``, ``PMB512``, ``PRIVATE
    MAILBOX 512``) out of the tokens: its number goes to ``po_box``, marked as a PMB.

    >>> p = ParsedAddress()
    >>> take_pmb(["1", "MAIN", "ST", "PMB512"], p), p.po_box, p.pmb
    (['1', 'MAIN', 'ST'], '512', True)
    """
    for i, t in enumerate(toks):
        if t[:1] != "P":
            continue
        if (glued := _PMB_GLUED.match(t)):
            toks = [*toks[:i], "PMB", glued.group(1), *toks[i + 1 :]]
        n = _match_prefix(toks, i, _PMB_PREFIXES)
        j = i + n
        while n and j < len(toks) and toks[j] == "#":
            j += 1
        if n and j < len(toks):
            p.po_box, p.pmb = toks[j], True
            start = i - 1 if i and toks[i - 1] == "#" else i
            return toks[:start] + toks[j + 1 :]
    return toks


def _box_number(toks: list[str], i: int) -> tuple[str | None, int]:
    j = i
    while j < len(toks) and toks[j] in _NUMBER_WORDS:
        j += 1
    if j < len(toks) and re.fullmatch(r"[A-Z]?\d+[A-Z]?|\d+-\d+", toks[j]):
        return toks[j], j + 1
    return None, i


# ---------------------------------------------------------------- delivery line
def _delivery_line(toks: list[str], p: ParsedAddress, loose: bool) -> None:
    starts = set()
    words: list[str] = []
    for t in toks:
        if t == ",":
            starts.add(len(words))
        elif t[0] in "RH" and (m := _GLUED_ROUTE.match(t)):
            words += [m.group(1), m.group(2)]
        else:
            words.append(t)
    toks = words
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
        if toks[0] not in _ROUTE_FIRST:
            break
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
    # PO box, alone or after a street line or a name
    if not _PO_BOX_FIRST.isdisjoint(toks):
        for i in range(len(toks)):
            n = _match_prefix(toks, i, _PO_BOX_PREFIXES)
            if n:
                box, end = _box_number(toks, i + n)
                if box and end == len(toks):
                    if i and toks[i] in ("BOX", "BX") and _HOUSE_NUMBER.match(toks[0]) and i < 2:
                        continue
                    p.po_box = box
                    p.kind = Kind.PO_BOX.value
                    if i:
                        try:
                            _street(toks[:i], p, starts, loose)
                        except _Fail:
                            p.building = " ".join(toks[:i])  # "ACLU DC P.O. BOX 11637"
                        p.kind = Kind.PO_BOX.value
                    return
    _street(toks, p, starts, loose)


def _is_house_number(tok: str) -> bool:
    return tok.isdigit() or bool(_HOUSE_NUMBER.match(tok) or _LETTER_O_NUMBER.match(tok))


def _house_number(tok: str, p: ParsedAddress) -> str | None:
    if tok.isdigit() or _HOUSE_NUMBER.match(tok):
        return tok
    if _LETTER_O_NUMBER.match(tok):  # "18OO WILLOW AVE": letter O typed for zero
        p.corrections.append("house_number_corrected")
        return tok.replace("O", "0")
    return None


def _street(toks: list[str], p: ParsedAddress, starts: set[int] | None = None, loose: bool = False) -> None:
    starts = starts or set()
    # "W 1214 SEYMOUR AVE": the predirectional written before the number
    lead_dir = None
    if len(toks) >= 3 and toks[0] in _SHORT_DIRS and _HOUSE_NUMBER.match(toks[1]) and toks[2] not in _SHORT_DIRS:
        lead_dir = toks[0]
        toks = toks[1:]
        starts = {s - 1 for s in starts}
    # "123MAIN ST": a number typed against the street name
    if toks and toks[0][:1].isdigit() and (m := _NUMBER_GLUED.match(toks[0])):
        toks = [m.group(1), m.group(2), *toks[1:]]
        starts = {s + 1 for s in starts}
    # leading name (building / company) before the house number
    start = 0
    while start < len(toks) and not _is_house_number(toks[start]):
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
        if building[-1] in usps.suffixes() and len(building) <= 3 and start not in starts:
            raise _Fail("street before number")
        if any(t in usps.DIRECTIONALS for t in building[:1]) and len(building) == 1:
            raise _Fail("directional before number")
        p.building = " ".join(building)
    num = _house_number(toks[start], p)
    rest = toks[start + 1 :]
    if not rest:
        raise _Fail("no street")
    if "/" in rest[0] and _FRACTION.match(rest[0]):
        num = f"{num} {rest[0]}"
        rest = rest[1:]
    cross = _cross_street(rest)
    if cross:
        # "123 MAIN ST & 5TH AVE": the first street's address; the cross street helps a driver
        rest = rest[: -len(cross) - 1]
        p.notes.append(f"cross street: {' '.join(cross)}")
    # "MAIN STREEET", "NORHT 5TH ST": a misspelt type or directional where one stands is read as
    # one; the street as written is kept for the matcher (a name may really hold the word)
    written = rest
    rest, typo_codes = read_misspelt(rest)
    if (rest and len(rest[0]) == 1 and rest[0].isalpha() and len(rest) >= 2 and rest[0] not in usps.DIRECTIONALS
          and not (len(rest[1]) == 1 and rest[1].isalpha()) and not rest[1].isdigit() and not _lettered_street(rest)):
        if rest[1] in usps.suffixes() and ({start + 3, start + 4} & starts):
            # "1800 M STREET, NW NORTH TOWER": a lettered street with more after a comma; usaddress reads it
            raise _Fail("lettered street before a comma")
        num = f"{num}{rest[0]}"  # "123 B MAIN ST" -> 123B (but "1741 M L KING JR WAY" keeps its initials)
        rest, written = rest[1:], written[1:]
    if not rest:
        raise _Fail("no street")
    if loose:
        cut = _cut_neighbourhood(rest, p)
        rest, written = cut, written[: len(cut)]
    pre, name, typ, post = split_street(rest)
    # a trailing value after the type with no designator: "123 MAIN ST 4B"
    if (typ is None and len(rest) >= 3 and _bare_unit(rest)
            and not (name and highway_name(name.split()))):
        fixed, codes = read_misspelt(written[:-1])
        pre2, name2, typ2, post2 = split_street(fixed)
        if typ2:
            p.unit_type = p.unit_type or "#"
            p.unit = p.unit or rest[-1]
            pre, name, typ, post = pre2, name2, typ2, post2
            written, typo_codes = written[:-1], codes
    if typo_codes:
        p.corrections += typo_codes
        p.as_written = split_street(written)
    if not name:
        raise _Fail("no street name")
    if any(t.isdigit() and len(t) >= 5 or usps.UNIT_DESIGNATORS.get(t) in _STRONG_UNITS for t in name.split()):
        raise _Fail("number or unit word in name")
    if lead_dir:
        if pre:
            # "W 189 NORTH BEND RD": the second directional word belongs to the name
            if rest[0] not in usps.DIRECTIONALS:
                raise _Fail("two predirectionals")
            name = f"{rest[0]} {name}"
        pre = lead_dir
    p.house_number = house_number(num)
    p.predirectional, p.street_name, p.street_type, p.postdirectional = pre, name, typ, post
    if p.kind == _KIND_NONE:
        p.kind = _KIND_STREET


def _cross_street(rest: list[str]) -> list[str] | None:
    """The cross street written after a numbered street (``MAIN ST & 5TH AVE``, ``MAIN ST AT 5TH
    AVE``), or ``None``. ``AND`` / ``AT`` only between two streets that each have a name and a
    type, as names hold them too (``POST AND RAIL``, ``HILL AND DALE DR``)."""
    suffixes = usps.suffixes()
    for k in range(1, len(rest) - 1):
        if rest[k] in _INTERSECTION and (rest[k] == "&" or k >= 2 and len(rest) - k > 2
                                         and rest[k - 1] in suffixes and rest[-1] in suffixes):
            return rest[k + 1 :]
    return None


def _bare_unit(rest: list[str]) -> bool:
    """The last word is a unit written without a designator: a value with a digit (``MAIN ST
    4B``), or a single letter after a directional (``1704 D AVE NE A``)."""
    last = rest[-1]
    return bool(_UNIT_VALUE.match(last)) and (any(c.isdigit() for c in last)
                                              or len(last) == 1 and rest[-2] in usps.DIRECTIONALS)


def _lettered_street(rest: list[str]) -> bool:
    """``K ST NW``, ``J ST``, ``Q PL SE 4B``: a letter followed by a street type that ends the
    street (only a post-directional or a unit value after it) names the street, as in Washington
    DC, Sacramento or Anchorage; ``B MAIN ST`` or ``A PARK AVE`` is a number suffix and a street."""
    tail = rest[1:]
    if len(tail) >= 2 and _bare_unit(tail):
        tail = tail[:-1]  # "1100 K ST NW 5B": a unit written without its designator
    return bool(tail) and tail[0] in usps.suffixes() and (
        len(tail) == 1 or len(tail) == 2 and tail[1] in usps.DIRECTIONALS
        or tuple(tail[1:]) in usps.TWO_WORD_DIRECTIONALS)


def _cut_neighbourhood(rest: list[str], p: ParsedAddress) -> list[str]:
    """``FRANKLIN AVE CROWN HEIGHTS``: the street ends at its first type; the words after it
    name the neighbourhood (kept as a note)."""
    suffixes = usps.suffixes()
    for k in range(1, len(rest) - 1):
        if rest[k] in suffixes:
            end = k + 1
            if end < len(rest) and rest[end] in usps.DIRECTIONALS:
                end += 1
            tail = rest[end:]
            if tail and all(t.isalpha() for t in tail):
                p.notes.append(f"locality: {' '.join(tail)}")
                return rest[:end]
            break
    return rest


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
        tokens = _dedupe(tokens, p)
        delivery, loose = _last_line(tokens, p)
        delivery = take_pmb(delivery, p)
        delivery = _take_units(delivery, p)
        _delivery_line(delivery, p, loose)
    except _Fail:
        return None
    return p
