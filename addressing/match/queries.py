"""How a street query is read: the spellings of its street (``street_variants``), the units it
may mean (``unit_tries``, compared as ``unit_norm`` writes them), and ``Queries``, a batch's
street queries as one table with a row per spelling (what the backends are asked about).

Owns the readings of a street (and their correction codes) and the forms units are compared in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from addressing.gazetteer.keys import name_key, sound_key
from addressing.parse import usps
from addressing.parse.standardize import split_street
from addressing.schema import ParsedAddress

#: the code of the reading that keeps a word the parser took for a misspelt type or directional
AS_WRITTEN = "as_written"
#: the parser's codes for such a word, withdrawn when the street as written is the one found
TYPO_CODES = ("street_type_corrected", "directional_corrected")
#: the code of a reading cut before a word that cannot be street (``HAYES ST ON ARRIVAL``)
EXTRA_WORDS_DROPPED = "extra_words_dropped"
_UNIT_WORDS = frozenset(usps.UNIT_DESIGNATORS) - {"NO", "NUMBER", "NUM", "KEY", "STOP", "SIDE", "PIER", "SLIP",
                                                   "LOT", "FRONT", "REAR", "UPPER", "LOWER"}


class Variant(NamedTuple):
    """One way to read a query's street; ``code`` names the reading when it is not the parse."""

    predir: str | None
    name: str
    type: str | None
    postdir: str | None
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
        out.append(Variant(*p.as_written, AS_WRITTEN))
    if typ:
        for word in _type_words().get(typ, ()):
            out.append(Variant(pre, f"{name} {word}", None, post, "street_type_in_name"))
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
        out.append(Variant(v_pre, v_name, v_typ, v_post, EXTRA_WORDS_DROPPED, unit, utype))
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


@lru_cache(maxsize=100_000)
def unit_norm(unit: str | None) -> str | None:
    """Units compared without punctuation, spaces or leading zeros: ``#04-B`` ~ ``4B``."""
    if not unit:
        return None
    return re.sub(r"[^A-Z0-9]", "", unit.upper()).lstrip("0") or "0"


@dataclass
class Queries:
    """The street queries of a batch, each spelled one or more ways (one row per spelling)."""

    parsed: list[ParsedAddress]
    variants: list[Variant]
    qid: np.ndarray          # spelling -> query
    keys: list[str]          # spelling -> name key
    table: pa.Table          # what the backends are asked about (``backends``: spellings)
    tries: list[tuple]       # spelling -> units to look for (``unit_tries``)

    @classmethod
    def of(cls, parsed: list[ParsedAddress]) -> Queries:
        variants: list[Variant] = []
        qid: list[int] = []
        for i, p in enumerate(parsed):
            for v in street_variants(p):
                variants.append(v)
                qid.append(i)
        q = np.asarray(qid, np.int64)
        keys = [name_key(v.name) for v in variants]
        table = pa.table({
            "vix": pa.array(np.arange(len(variants)), pa.int64()),
            "state": [parsed[i].state for i in qid],
            "postal_code": [parsed[i].postal_code for i in qid],
            "city": [parsed[i].city for i in qid],
            "name_key": keys,
            "sound_key": [sound_key(v.name) for v in variants],
        })
        tries = [tuple(unit_tries(parsed[i], v)) for i, v in zip(qid, variants)]
        return cls(parsed, variants, q, keys, table, tries)
