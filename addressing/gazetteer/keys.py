"""Blocking keys for street names, computed the same way at build time and at match time.

``name_key`` folds the spellings that name the same street (``SAINT``/``ST``, ``5TH``/
``FIFTH``, spaces) so an exact join finds it; ``sound_key`` is a consonant skeleton that
survives most single-letter typos (vowel slips, doubled letters), used to block candidates
when the ZIP and city are wrong or missing.

>>> name_key("SAINT CHARLES"), name_key("ST CHARLES")
('STCHARLES', 'STCHARLES')
>>> sound_key("CINCINNATI"), sound_key("CINCINATTI")
('CNCNT', 'CNCNT')
>>> name_key(""), sound_key("")
('', '')
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import groupby

from addressing.parse.standardize import name_tokens, split_street, tokens_of

#: a unit as compared (SQL over the column ``{unit}``): no punctuation, no leading zeros (``#04``
#: and ``4`` are one unit; ``0`` stays ``0``), as ``match.queries.unit_norm`` writes it
UNIT_HIT = "coalesce(nullif(ltrim(regexp_replace(upper({unit}), '[^A-Z0-9]', '', 'g'), '0'), ''), '0')"
_FOLD = {"SAINT": "ST", "MOUNT": "MT", "FORT": "FT", "SAINTE": "STE", "CENTER": "CTR", "CENTRE": "CTR"}
_NON_ALNUM = re.compile(r"[^A-Z0-9]")
# a key holds A-Z and 0-9 only (``_NON_ALNUM``)
_LETTERS_OUT = str.maketrans("", "", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_VOWELS_AND_DIGITS_OUT = str.maketrans("", "", "AEIOUYHW0123456789")
_SOUNDS = [("PH", "F"), ("CK", "K"), ("Q", "K"), ("Z", "S"), ("X", "KS"), ("GH", "G"), ("KN", "N"), ("WR", "R")]


@lru_cache(maxsize=200_000)
def name_key(name: str | None) -> str:
    """Exact-join key of a standardized street name."""
    if not name:
        return ""
    words = [_FOLD.get(w, w) for w in name_tokens(tokens_of(name))]
    return _NON_ALNUM.sub("", "".join(words))


@lru_cache(maxsize=200_000)
def sound_key(name: str | None) -> str:
    """Consonant skeleton of a street name (first letter kept, vowels and repeats dropped)."""
    key = name_key(name)
    if not key:
        return ""
    if key[0].isdigit():
        return key.translate(_LETTERS_OUT)[:4] or key[:4]
    for a, b in _SOUNDS:
        key = key.replace(a, b)
    key = key[0] + key[1:].translate(_VOWELS_AND_DIGITS_OUT)  # the first is a letter: kept
    return "".join(ch for ch, _ in groupby(key))[:8]


@lru_cache(maxsize=500_000)
def split_full_name(full: str | None) -> tuple[str | None, str | None, str | None, str | None]:
    """A source's full street name (``N Main St``) -> standardized (pre, name, type, post)."""
    if not full:
        return None, None, None, None
    return split_street(tokens_of(full))
