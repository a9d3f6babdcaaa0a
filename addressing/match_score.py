"""How a query is read and how a candidate scores: the spellings of a query's street
(``street_variants``), the units it may mean (``unit_tries``), and the component scores,
vectorized over all candidate pairs of a batch.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from typing import NamedTuple

import numpy as np
from rapidfuzz import fuzz

from addressing.parse import usps
from addressing.parse.standardize import split_street
from addressing.schema import ParsedAddress

VARIANT_PENALTY = 0.04      # a street read by cutting words off the parsed name
#: the code of the reading that keeps a word the parser took for a misspelt type or directional
AS_WRITTEN = "as_written"
#: the parser's codes for such a word, withdrawn when the street as written is the one found
TYPO_CODES = ("street_type_corrected", "directional_corrected")
_UNIT_WORDS = frozenset(usps.UNIT_DESIGNATORS) - {"NO", "NUMBER", "NUM", "KEY", "STOP", "SIDE", "PIER", "SLIP",
                                                   "LOT", "FRONT", "REAR", "UPPER", "LOWER"}


class Variant(NamedTuple):
    """One way to read a query's street; ``code`` names the reading when it is not the parse."""

    predir: str | None
    name: str
    type: str | None
    postdir: str | None
    penalty: float = 0.0
    code: str | None = None
    unit: str | None = None        # a unit read from the words cut off (checked before use)
    unit_type: str | None = None


@cache
def _type_words() -> dict[str, tuple[str, ...]]:
    """Pub 28 type -> the whole words customers write for it, the ones a street name may
    end with (SHR -> SHOAR, SHORE; not the abbreviations, nor AVEN or AVENU)."""
    out: dict[str, set[str]] = {}
    for variant, standard in usps.suffixes().items():
        if variant.isalpha() and len(variant) >= 4:
            out.setdefault(standard, set()).add(variant)
    return {k: tuple(sorted(w for w in v if not any(o != w and o.startswith(w) for o in v)))
            for k, v in out.items()}


def street_variants(p: ParsedAddress) -> list[Variant]:
    """The ways to read a parsed street, the parse itself first: with its type taken as
    part of the name, and cut before each word that is a street type or a unit designator
    (the words cut off may hold the unit: ``OCTAVIA STREET SUITE COMML``).

    >>> [v.name for v in street_variants(ParsedAddress(street_name="LAKE", street_type="SHR"))]
    ['LAKE', 'LAKE SHOAR', 'LAKE SHORE']
    >>> [(v.name, v.type, v.unit) for v in street_variants(ParsedAddress(street_name="HAYES STREET STE 5"))]
    [('HAYES STREET STE 5', None, None), ('HAYES', 'ST', '5')]
    >>> [(v.name, v.type) for v in street_variants(ParsedAddress(street_name="CLIFF", street_type="LN",
    ...                                                          as_written=(None, "CLIFF LAINE", None, None)))][:2]
    [('CLIFF', 'LN'), ('CLIFF LAINE', None)]
    >>> street_variants(ParsedAddress())
    []
    """
    if not p.street_name:
        return []
    pre, name, typ, post = p.predirectional, p.street_name, p.street_type, p.postdirectional
    out = [Variant(pre, name, typ, post)]
    if p.as_written and p.as_written[1]:
        # "CLIFF LAINE": read as CLIFF LN, but a street may really be called so
        out.append(Variant(*p.as_written, 0.0, AS_WRITTEN))
    if typ:
        for word in _type_words().get(typ, ()):
            out.append(Variant(pre, f"{name} {word}", None, post, 0.0, "street_type_in_name"))
    toks = name.split()
    suffixes = usps.suffixes()
    seen = {(name, typ)}
    for i in range(1, min(len(toks), 6)):
        t = toks[i]
        if t not in suffixes and t not in _UNIT_WORDS:
            continue
        if t in suffixes:
            v_pre, v_name, v_typ, v_post = pre, " ".join(toks[:i]), suffixes[t], post
            rest = toks[i + 1:]
        else:
            a, b, c, d = split_street(toks[:i])
            v_pre, v_name, v_typ, v_post = pre or a, b, c or typ, post or d
            rest = toks[i:]
        if not v_name or (v_name, v_typ) in seen:
            continue
        seen.add((v_name, v_typ))
        unit, utype = _unit_in(rest)
        out.append(Variant(v_pre, v_name, v_typ, v_post, VARIANT_PENALTY, "extra_words_dropped", unit, utype))
    return out


def _unit_in(words: list[str]) -> tuple[str | None, str | None]:
    """The unit in words cut off a street: after a designator, the word that follows it;
    else the words themselves when there are one or two.

    >>> _unit_in(["SUITE", "COMML"]), _unit_in(["#", "129", "ON", "ARRIVAL"]), _unit_in(["#805A", "ON"])
    (('COMML', 'STE'), ('129', '#'), ('805A', '#'))
    >>> _unit_in(["COMMERCIAL"]), _unit_in([])
    (('COMMERCIAL', None), (None, None))
    """
    words = list(words)
    if words and words[0].startswith("#") and len(words[0]) > 1:
        return words[0][1:], "#"
    if words and words[0] in _UNIT_WORDS:
        utype = usps.UNIT_DESIGNATORS[words[0]]
        rest = [w for w in words[1:] if w != "#"]
        return (rest[0], utype) if rest else (None, None)
    if not words or len(words) > 2:
        return None, None
    return "".join(words), None


_NUMBER_UNIT = re.compile(r"^\d+(?:\s*-\s*|\s+)([A-Z0-9]{1,5})$|^\d+([A-Z])$")


def unit_tries(p: ParsedAddress, v: Variant | None = None) -> list[tuple[str, str | None, str | None]]:
    """The units to look for at the matched address, best first: (unit, unit type, the
    correction code when it is not the parsed unit). Besides the parsed unit, the places a
    parse may have put one: the first word of a unit with words after it, the house number
    (``414 A``), the city (``APT C``), a box number, the words cut off the street name.
    Only a unit the address has is ever used.

    >>> unit_tries(ParsedAddress(house_number="414 A"))
    [('A', None, 'unit_from_house_number')]
    >>> unit_tries(ParsedAddress(house_number="380", city="APT C"))
    [('C', 'APT', 'unit_from_city')]
    >>> unit_tries(ParsedAddress(house_number="9", unit_type="#", unit="129 ON ARRIVAL"))
    [('129 ON ARRIVAL', '#', None), ('129', '#', 'unit_corrected')]
    >>> unit_tries(ParsedAddress(house_number="12"))
    []
    """
    out: list[tuple[str, str | None, str | None]] = []
    if p.unit:
        out.append((p.unit, p.unit_type, None))
        words = p.unit.split()
        if len(words) > 1:
            out.append((words[0], p.unit_type, "unit_corrected"))
    m = _NUMBER_UNIT.match(p.house_number or "")
    if m:
        out.append((m.group(1) or m.group(2), None, "unit_from_house_number"))
    toks = (p.city or "").split()
    if len(toks) >= 2 and toks[0] in _UNIT_WORDS:
        out.append((toks[1], usps.UNIT_DESIGNATORS[toks[0]], "unit_from_city"))
    elif toks and p.unit_type and not p.unit:
        out.append((toks[0], p.unit_type, "unit_from_city"))
    if p.po_box and p.house_number:
        out.append((p.po_box, None, "unit_from_box"))
    if v is not None and v.unit:
        out.append((v.unit, v.unit_type, "unit_from_street_name"))
    return out


# --------------------------------------------------------------------------- vectorized scoring


def _obj(values) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = [v if v else None for v in values]
    return out


def component_score(q: np.ndarray, c: np.ndarray, q_missing: float, c_missing: float, differ: float) -> np.ndarray:
    """Agreement of one component over candidate pairs: 1 when equal (or both absent)."""
    qn = np.equal(q, None)
    cn = np.equal(c, None)
    eq = np.asarray(q == c, bool)
    return np.where(eq | (qn & cn), 1.0, np.where(qn, q_missing, np.where(cn, c_missing, differ)))


def zip_score(q: list, c: list) -> np.ndarray:
    """1 when equal; a wrong ZIP that shares its first four digits with the candidate's
    (a slip of the last digit, or the next ZIP over) is weak evidence against it, a
    ZIP from elsewhere is strong evidence.

    >>> zip_score(["94103", "94104", "94188", None, "10001"], ["94103"] * 5).tolist()
    [1.0, 0.75, 0.65, 0.9, 0.5]
    """
    a = np.asarray([z or "" for z in q], dtype="U5")
    b = np.asarray([z or "" for z in c], dtype="U5")
    if a.size == 0:
        return np.array([])
    same = np.cumprod(a.view(np.uint32).reshape(-1, 5) == b.view(np.uint32).reshape(-1, 5), axis=1).sum(axis=1)
    qn = np.char.str_len(a) == 0
    cn = np.char.str_len(b) == 0
    differ = np.select([same >= 4, same == 3], [0.75, 0.65], 0.5)
    return np.where(qn, 0.9, np.where(cn, 0.8, np.where(same == 5, 1.0, differ)))


def city_score(q_city: list, c_city: list, c_zip: list, postal: dict) -> np.ndarray:
    """1 when the city is the candidate's or a name USPS accepts for its ZIP."""
    memo: dict[tuple, float] = {}
    out = np.empty(len(q_city))
    for i, key in enumerate(zip(q_city, c_city, c_zip)):
        s = memo.get(key)
        if s is None:
            s = memo[key] = _city_pair(*key, postal)
        out[i] = s
    return out


def _city_pair(a: str | None, b: str | None, z: str | None, postal: dict) -> float:
    if not a:
        return 0.92
    if a == b:
        return 1.0
    info = postal.get(("US", z)) if z else None
    if info and (a == info.city or a in info.acceptable_cities):
        return 1.0
    return max(0.3, fuzz.ratio(a, b or "") / 100.0) * 0.9


@lru_cache(maxsize=100_000)
def _digits(key: str) -> str:
    return re.sub(r"\D", "", key)


def same_digits(a: list[str], b: list[str]) -> np.ndarray:
    """Whether the numbers in two name keys agree: a route or ordinal number is never a typo
    the way a letter is (``COUNTY 40`` is not ``COUNTY 43``).

    >>> same_digits(["CR40", "MAIN", "5TH"], ["CR43", "MAINE", "5TH"]).tolist()
    [False, True, True]
    """
    return np.fromiter((_digits(x) == _digits(y) for x, y in zip(a, b)), bool, count=len(a))


@lru_cache(maxsize=100_000)
def unit_norm(unit: str | None) -> str | None:
    """Units compared without punctuation, spaces or leading zeros: ``#04-B`` ~ ``4B``."""
    if not unit:
        return None
    return re.sub(r"[^A-Z0-9]", "", unit.upper()).lstrip("0") or "0"
