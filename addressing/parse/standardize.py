"""Pub 28 standardization of components, shared by every parser back end.

Works on upper-case tokens. ``split_street`` is the piece all back ends lean on: it turns
the tokens of a street (``NORTH LAKE CIRCLE DRIVE SW``) into pre-directional, name, type
and post-directional (``N``, ``LAKE CIRCLE``, ``DR``, ``SW``).
"""

from __future__ import annotations

import re
from collections import Counter

from rapidfuzz.distance import OSA

from addressing.parse import usps

_ZIP = re.compile(r"^(\d{5})(?:-?(\d{4}))?$")
_ORDINAL_NUM = re.compile(r"^(\d+)(ST|ND|RD|TH)$")
_BARE_ORDINAL = re.compile(r"^(\d+)(S|N|R|T|TH|D)$")
_PUNCT = re.compile(r"[^\w#&/ -]+", re.U)
_NUMBER_DASH_LETTER = re.compile(r"^(\d+)-([A-Z]{1,2})$")
_SPACES = re.compile(r"\s+")
#: a unit value that is one designator-like token (``4B``, ``B4``, ``12``, ``B``), and one
#: written with a dash inside (``4-B``, ``B-4``), which is dropped
_UNIT_TOKEN = re.compile(r"\d+[A-Z]|[A-Z]\d+|\d+|[A-Z]")
_UNIT_DASHED = re.compile(r"\d+-[A-Z]|[A-Z]-\d+")
_HIGHWAY_NUMBER = re.compile(r"\d+[A-Z]?|[A-Z]{1,2}")
_LETTER_OR_NUMBER = re.compile(r"[A-Z]|\d+")
_LEADING_ZEROS = re.compile(r"^0+(?=\d)")
#: a house number's integer, after a grid directional (``W1234``); a Wisconsin-style grid
#: address (``N123W456``) sorts by its second number
_NUMBER_INT = re.compile(r"^[NSEW]?(\d+)")
_GRID_NUMBER = re.compile(r"^[NSEW]\d+[NSEW](\d+)")

HIGHWAY_PREFIXES: dict[tuple[str, ...], str] = {
    ("COUNTY", "ROAD"): "COUNTY ROAD",
    ("COUNTY", "RD"): "COUNTY ROAD",
    ("CO", "RD"): "COUNTY ROAD",
    ("CR",): "COUNTY ROAD",
    ("CNTY", "RD"): "COUNTY ROAD",
    ("COUNTY", "HIGHWAY"): "COUNTY HWY",
    ("COUNTY", "HWY"): "COUNTY HWY",
    ("CO", "HWY"): "COUNTY HWY",
    ("COUNTY", "ROUTE"): "COUNTY RTE",
    ("STATE", "ROUTE"): "STATE RTE",
    ("STATE", "RTE"): "STATE RTE",
    ("ST", "RTE"): "STATE RTE",
    ("SR",): "STATE RTE",
    ("STATE", "ROAD"): "STATE RD",
    ("STATE", "RD"): "STATE RD",
    ("STATE", "HIGHWAY"): "STATE HWY",
    ("STATE", "HWY"): "STATE HWY",
    ("ST", "HWY"): "STATE HWY",
    ("US", "HIGHWAY"): "US HWY",
    ("US", "HWY"): "US HWY",
    ("US", "ROUTE"): "US HWY",
    ("US",): "US HWY",
    ("U", "S", "HIGHWAY"): "US HWY",
    ("U", "S", "HWY"): "US HWY",
    ("INTERSTATE",): "I",
    ("I",): "I",
    ("HIGHWAY",): "HWY",
    ("HWY",): "HWY",
    ("HIWAY",): "HWY",
    ("ROUTE",): "RTE",
    ("RTE",): "RTE",
    ("FM",): "FM",
    ("FARM", "TO", "MARKET", "ROAD"): "FM",
    ("RANCH", "ROAD"): "RANCH RD",
}
_HIGHWAY_MAX = max(len(k) for k in HIGHWAY_PREFIXES)
_HIGHWAY_FIRST = {k[0] for k in HIGHWAY_PREFIXES}


def tokens_of(text: str) -> list[str]:
    """Upper-case tokens of a component value, punctuation dropped."""
    return _PUNCT.sub(" ", text.upper().replace(".", " ").replace("'", "")).split()


def zip_parts(text: str | None) -> tuple[str | None, str | None]:
    """``'45238-1234'``, ``'452381234'`` or ``'45238'`` -> (ZIP, ZIP+4)."""
    if not text:
        return None, None
    compact = _SPACES.sub("", str(text))
    m = _ZIP.match(compact)
    if not m:
        return None, None
    return m.group(1), m.group(2)


def state_code(text: str | None) -> str | None:
    if not text:
        return None
    return usps.state_lookup().get(" ".join(tokens_of(text)))


def unit_type(text: str | None) -> str | None:
    if not text:
        return None
    return usps.UNIT_DESIGNATORS.get(text.upper().strip(". "), None)


def unit_value(text: str | None) -> str | None:
    """``'#4-B'`` -> ``'4B'``; ``'4 b'`` -> ``'4B'``; ordinals (``SIXTH``, ``6th``) become digits."""
    if not text:
        return None
    toks = tokens_of(text.replace("#", " "))
    if not toks:
        return None
    if len(toks) == 1 and toks[0] in usps.UNIT_ORDINALS:
        return str(usps.UNIT_ORDINALS[toks[0]])
    if len(toks) == 1 and _ORDINAL_NUM.match(toks[0]):
        return _ORDINAL_NUM.match(toks[0]).group(1)  # "6TH" (floor) -> "6"
    value = "".join(toks)
    if _UNIT_TOKEN.fullmatch(value) or len(toks) == 1:
        return value.replace("-", "") if _UNIT_DASHED.fullmatch(value) else value
    return " ".join(toks)


def split_unit(text: str | None) -> tuple[str | None, str | None]:
    """A secondary unit written as one string -> (Pub 28 designator, value).

    >>> split_unit("Apt. No. 456"), split_unit("6th floor"), split_unit("# 4-b"), split_unit("12")
    (('APT', '456'), ('FL', '6'), ('#', '4B'), ('#', '12'))
    >>> split_unit("")
    (None, None)
    """
    if not text:
        return None, None
    toks = tokens_of(text.replace("#", " # "))
    for i, t in enumerate(toks):
        std = usps.UNIT_DESIGNATORS.get(t)
        if std and not (t in ("NO", "NUMBER", "NUM") and i > 0):
            rest = [x for j, x in enumerate(toks) if j != i and x not in ("#", "NO", "NUM", "NUMBER")]
            return std, unit_value(" ".join(rest)) if rest else None
    return ("#", unit_value(" ".join(toks))) if toks else (None, None)


def ordinal(token: str) -> str:
    """``FIFTH`` / ``5th`` / ``5`` in a name -> ``5TH``."""
    if token in usps.ORDINAL_WORDS:
        return usps.ORDINAL_WORDS[token]
    if not token[:1].isdigit():
        return token
    m = _ORDINAL_NUM.match(token)
    if m:
        n = int(m.group(1))
        return f"{n}{usps.ordinal_suffix(n)}"
    return token


def name_tokens(tokens: list[str]) -> list[str]:
    """Standardize the words of a street name: ordinals, compound ordinals, SAINT -> ST."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if tok in usps.TENS_WORDS and nxt in usps.ORDINAL_WORDS and int(usps.ORDINAL_WORDS[nxt][:-2]) < 10:
            n = usps.TENS_WORDS[tok] + int(usps.ORDINAL_WORDS[nxt][:-2])
            out.append(f"{n}{usps.ordinal_suffix(n)}")
            i += 2
            continue
        if "-" in tok:
            parts = tok.split("-")
            if len(parts) == 2 and parts[0] in usps.TENS_WORDS and parts[1] in usps.ORDINAL_WORDS:
                n = usps.TENS_WORDS[parts[0]] + int(usps.ORDINAL_WORDS[parts[1]][:-2])
                out.append(f"{n}{usps.ordinal_suffix(n)}")
                i += 1
                continue
        if tok == "SAINT" and nxt is not None:
            out.append("ST")
        else:
            out.append(ordinal(tok))
        i += 1
    return out


def highway_name(tokens: list[str]) -> str | None:
    """``COUNTY RD 12`` / ``Hwy 101`` / ``I-95`` -> ``COUNTY ROAD 12`` / ``HWY 101`` / ``I 95``."""
    if not tokens or tokens[0] not in _HIGHWAY_FIRST:
        return None
    for n in range(min(_HIGHWAY_MAX, len(tokens) - 1), 0, -1):
        prefix = HIGHWAY_PREFIXES.get(tuple(tokens[:n]))
        if prefix is None:
            continue
        rest = tokens[n:]
        if prefix == "I" and _type_and_directional(rest):
            return None  # "I ST", "I ST NW": the street named I (Anchorage, Washington DC)
        if rest and len(rest) <= 2 and _HIGHWAY_NUMBER.fullmatch(rest[0]):
            return " ".join([prefix, *rest])
    return None


def _type_and_directional(toks: list[str]) -> bool:
    """A street type alone, or followed only by a post-directional: what is left when the word
    before it is the street's name (``E ST SE``, ``NORTH AVE``), not a pre-directional."""
    if not toks or toks[0] not in usps.suffixes():
        return False
    tail = toks[1:]
    return (not tail or len(tail) == 1 and tail[0] in usps.DIRECTIONALS
            or tuple(tail) in usps.TWO_WORD_DIRECTIONALS)


def split_street(tokens: list[str]) -> tuple[str | None, str | None, str | None, str | None]:
    """Street tokens -> (predirectional, name, type, postdirectional), all standardized.

    >>> split_street("NORTH LAKE CIRCLE DRIVE SW".split())
    ('N', 'LAKE CIRCLE', 'DR', 'SW')
    >>> split_street("E ST SE".split()), split_street("I ST".split())
    ((None, 'E', 'ST', 'SE'), (None, 'I', 'ST', None))
    >>> split_street([])
    (None, None, None, None)
    """
    toks = [t for t in tokens if t not in (",",)]
    if not toks:
        return None, None, None, None
    hw = highway_name(toks)
    if hw:
        return None, hw, None, None
    pre = post = typ = None
    suffixes = usps.suffixes()
    dirs = usps.DIRECTIONALS
    # pre-directional: only when something other than a type follows it
    if len(toks) >= 3 and (toks[0], toks[1]) in usps.TWO_WORD_DIRECTIONALS and toks[2] not in suffixes:
        pre = usps.TWO_WORD_DIRECTIONALS[(toks[0], toks[1])]
        toks = toks[2:]
    elif len(toks) >= 2 and toks[0] in dirs and toks[0] not in ("NO", "SO"):
        rest = toks[1:]
        if not _type_and_directional(rest):
            pre = dirs[toks[0]]
            toks = rest
    hw = highway_name(toks)
    if hw:
        return pre, hw, None, None
    # post-directional
    if len(toks) >= 3 and (toks[-2], toks[-1]) in usps.TWO_WORD_DIRECTIONALS and toks[-3] in suffixes:
        post = usps.TWO_WORD_DIRECTIONALS[(toks[-2], toks[-1])]
        toks = toks[:-2]
    elif len(toks) >= 2 and toks[-1] in dirs and toks[-1] not in ("NO", "SO"):
        post = dirs[toks[-1]]
        toks = toks[:-1]
    # type: the last token when it is a suffix and a name remains
    if len(toks) >= 2 and toks[-1] in suffixes:
        typ = suffixes[toks[-1]]
        toks = toks[:-1]
    elif len(toks) == 1 and post is None and pre is not None and toks[0] in suffixes:
        pass  # "N PARK": the word is the name
    if not toks:
        # the only word left was a directional, e.g. "100 NORTH ST" -> name NORTH
        if post:
            toks = [usps.DIRECTIONAL_WORDS[post]]
            post = None
        elif pre:
            toks = [usps.DIRECTIONAL_WORDS[pre]]
            pre = None
    # a type word in front of a single letter or number is the name ("AVENUE B")
    if typ is None and len(toks) == 2 and toks[0] in suffixes and _LETTER_OR_NUMBER.fullmatch(toks[1]):
        return pre, f"{usps.suffix_long_forms().get(suffixes[toks[0]], toks[0])} {toks[1]}", None, post
    words = name_tokens(toks)
    if typ and len(words) == 1 and words[0].isdigit() and len(words[0]) <= 3 and words[0] != "0":
        n = int(words[0])
        words = [f"{n}{usps.ordinal_suffix(n)}"]  # "W 26 ST" is W 26TH ST; a grid "S 4500 W" has no type
    name = " ".join(words) or None
    return pre, name, typ, post


#: the street types read through a typo: the common ones, spelled out (and BLVD, PKWY, whose
#: abbreviations customers type as words). Rarer types (BEND, BROOK, CREST...) are also common
#: name words, so a word near them is more often a name than a misspelt type.
TYPO_TYPES = ("STREET", "AVENUE", "DRIVE", "ROAD", "LANE", "COURT", "PLACE", "CIRCLE", "BOULEVARD", "BLVD",
              "TERRACE", "TRAIL", "PARKWAY", "PKWY", "HIGHWAY", "SQUARE", "PLAZA", "EXPRESSWAY", "FREEWAY",
              "TURNPIKE", "CROSSING", "ALLEY")
TYPO_DIRECTIONALS = ("NORTH", "SOUTH", "EAST", "WEST", "NORTHEAST", "NORTHWEST", "SOUTHEAST", "SOUTHWEST")
#: words shorter than this are never read as a misspelt type or directional (ST, AVE, N: too
#: many real words are one edit from them)
TYPO_MIN_LETTERS = 4
#: a word may be two edits (optimal string alignment: a swap of neighbours is one) from a type or
#: directional at least this long (STREET, AVENUE, NORTHWEST), one edit from a shorter one
TYPO_TWO_EDITS_FROM = 6


def misspelt(word: str, targets: tuple[str, ...]) -> str | None:
    """The one word of ``targets`` that ``word`` is a typo of, or ``None``: one edit away (two
    from words of 6 letters or more, for words of 5 or more); a 4-letter word only by dropping a letter of a longer one or
    swapping two of its own (``NOTH``, ``RAOD``), so that ``EASY`` or ``READ`` stay words. Of
    words equally near, the one sharing most letters (``SOSTHAEST`` is SOUTHEAST, not SOUTHWEST).

    >>> misspelt("STREEET", TYPO_TYPES), misspelt("AVENEU", TYPO_TYPES), misspelt("NORHT", TYPO_DIRECTIONALS)
    ('STREET', 'AVENUE', 'NORTH')
    >>> misspelt("SOUTHEWST", TYPO_DIRECTIONALS), misspelt("NORTHEST", TYPO_DIRECTIONALS)
    ('SOUTHWEST', None)
    >>> misspelt("EASY", TYPO_DIRECTIONALS), misspelt("STREET", TYPO_TYPES), misspelt("PLACA", TYPO_TYPES)
    (None, None, None)
    """
    if len(word) < TYPO_MIN_LETTERS or not word.isalpha() or word in targets:
        return None
    near: dict[str, tuple[int, int]] = {}
    for t in targets:
        edits = 2 if len(t) >= TYPO_TWO_EDITS_FROM and len(word) > TYPO_MIN_LETTERS else 1
        if abs(len(t) - len(word)) > edits:
            continue
        d = OSA.distance(word, t, score_cutoff=edits)
        if d > edits or len(word) == TYPO_MIN_LETTERS and not (len(t) > len(word) or sorted(t) == sorted(word)):
            continue
        near[t] = (d, -sum((Counter(word) & Counter(t)).values()))
    if not near:
        return None
    best = min(near.values())
    found = [t for t, key in near.items() if key == best]
    return found[0] if len(found) == 1 else None


def read_misspelt(tokens: list[str]) -> tuple[list[str], list[str]]:
    """Street tokens with a misspelt type or directional replaced where one stands (the last
    word, or the word before a post-directional; the first word before at least two more; the
    last word after a type or a grid number), and the correction codes.

    >>> read_misspelt("Q PLACE SOTUHEAST".split())
    (['Q', 'PLACE', 'SOUTHEAST'], ['directional_corrected'])
    >>> read_misspelt("NORHT 5TH STREEET".split())
    (['NORTH', '5TH', 'STREET'], ['street_type_corrected', 'directional_corrected'])
    >>> read_misspelt(["MAIN"]), read_misspelt([])
    ((['MAIN'], []), ([], []))
    """
    out = [t for t in tokens if t != ","]
    codes: list[str] = []
    suffixes, dirs = usps.suffixes(), usps.DIRECTIONALS
    n = len(out)
    if n >= 3 and out[-1] not in dirs and out[-1] not in suffixes:
        fixed = misspelt(out[-1], TYPO_DIRECTIONALS)
        # after a type, or after a grid number with none ("S 4500 WEEST", as in Utah)
        if fixed and (out[-2] in suffixes or out[-2].isdigit() or misspelt(out[-2], TYPO_TYPES)):
            out[-1] = fixed
            codes.append("directional_corrected")
    end = n - 1 if n >= 3 and out[-1] in dirs else n
    if end >= 2 and out[end - 1] not in suffixes:
        fixed = misspelt(out[end - 1], TYPO_TYPES)
        if fixed:
            out[end - 1] = fixed
            codes.append("street_type_corrected")
    if n >= 3 and out[0] not in dirs and out[0] not in suffixes:
        fixed = misspelt(out[0], TYPO_DIRECTIONALS)
        if fixed:
            out[0] = fixed
            codes.append("directional_corrected")
    return (out, list(dict.fromkeys(codes))) if codes else (list(tokens), [])


def house_number(text: str | None) -> str | None:
    """``'12 1/2'``, ``'1016-18'``, ``'W1234'`` kept; spaces and leading zeros tidied."""
    if not text:
        return None
    if text.isdigit() and text[0] != "0":
        return text  # the common case
    toks = tokens_of(text.replace("#", " "))
    if not toks:
        return None
    value = " ".join(toks)
    value = _LEADING_ZEROS.sub("", value)
    return _NUMBER_DASH_LETTER.sub(r"\1\2", value)  # "2455-B" is written 2455B, like "745 A" in the gazetteer


def house_number_int(text: str | None) -> int | None:
    """The integer a house number sorts by: ``'1016-18'`` -> 1016, ``'12 1/2'`` -> 12, ``'W1234'`` -> 1234."""
    if not text:
        return None
    m = _NUMBER_INT.match(text)
    if not m:
        return None
    m = _GRID_NUMBER.match(text) or m
    try:
        return int(m.group(1))
    except ValueError:
        return None
