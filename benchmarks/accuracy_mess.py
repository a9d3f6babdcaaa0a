"""Messy one-line queries for the accuracy benchmark, each with exactly ONE labeled kind of mess.

A query starts from a truth (``accuracy_regions``) written the well-formed way (``clean``:
``1100 K St NW Apt 4, Washington, DC 20005``: Pub 28 forms, title case, commas) and then has
one thing done to it, on purpose, so that a figure per kind says what that kind costs:

=================  ==========================================================================
clean              nothing: the control
name_typo          one edit in the street name's longest word (``OCTAVIA`` -> ``OCTVAIA``)
type_typo          one or two edits in the spelled-out type or a directional (``Streeet``,
                   ``Aveneu``, ``Norht``, ``Sotuheast``), never landing on a real Pub 28 form
abbreviation       Pub 28 forms spelled out and name words abbreviated: ``North 5th Street``,
                   ``Mt Vernon`` for ``MOUNT VERNON``
missing_zip        no ZIP
wrong_zip          the nearest other real ZIP of the state (``zipcodes`` centroids)
missing_city       no city
unit_form          the unit as ``Apt 4``, ``#4``, ``Unit 4``, ``Ste 4``, a bare ``4`` after the
                   street, or on a second line (``address2``)
lettered           a one-letter street (``K Street NW``, ``J St``)
leading_zero       a 0-prefixed ZIP, as written (``02118``) or as a spreadsheet leaves it
                   (``2118``)
lookalike          a street with a look-alike of another type in the same ZIP (its directionals
                   may differ too); the customer writes the right type, as Pub 28 (``Ct``) or
                   spelled out (``Court``)
noise              delivery instructions, a phone number, ``Attn:`` or ``c/o`` words
caps_no_commas     all capitals, no commas
=================  ==========================================================================

``lettered``, ``leading_zero`` and ``lookalike`` are drawn only from truths that have the
phenomenon (most are in the derived regions); ``unit_form`` only from truths with a unit;
``missing_zip`` and ``wrong_zip`` never from a truth whose street and number recur in another
ZIP of the same town (the text would fit two real addresses: no answer is right). No kind is
drawn from a street with no type beside one of the same name with a type in its ZIP (TIGER's
LIVE OAK and LIVE OAK DR): written without a type it means either. Everything is seeded: the
same seed gives the same queries.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from functools import cache

from addressing.demo import synth
from addressing.gazetteer.keys import name_key
from addressing.parse import usps
from addressing.parse.places import zip_table

KINDS = ("clean", "name_typo", "type_typo", "abbreviation", "missing_zip", "wrong_zip", "missing_city",
         "unit_form", "lettered", "leading_zero", "lookalike", "noise", "caps_no_commas")
#: a clean unit is written with its Pub 28 designator; this one where the source has none (or ``#``)
DEFAULT_DESIGNATOR = "Apt"
UNIT_FORMS = ("Apt {u}", "#{u}", "Unit {u}", "Ste {u}", "{u}", "line 2")
LINE2_FORMS = ("Apt {u}", "Unit {u}", "#{u}")
#: words of street names customers abbreviate, and the abbreviations they spell out
NAME_ABBREVIATIONS = {"SAINT": "ST", "MOUNT": "MT", "FORT": "FT", "ST": "SAINT", "MT": "MOUNT", "FT": "FORT"}
TWO_EDITS = 0.3                  # share of type/directional typos with a second edit (words of 6+ letters)
TYPO_TRIES = 12                  # misspellings tried before a word counts as one that cannot be misspelt
#: lettered, look-alike and leading-zero queries: the share written the first of their two ways
EITHER_WAY = 0.5
PHONES = synth.PHONES
INSTRUCTIONS = synth.INSTRUCTIONS
PREFIXES = tuple(w.strip(" ,") for w in synth.EXTRA_WORDS)


@dataclass
class Parts:
    """A query's pieces, in customer's words, before they are joined."""

    number: str
    predir: str | None
    name: str
    type: str | None
    postdir: str | None
    unit: str | None
    city: str
    state: str
    zip: str
    line2: str | None = None
    before: str = ""
    after: str = ""
    commas: bool = True
    capitals: bool = False


@dataclass
class Query:
    region: str
    kind: str
    detail: str
    text: str
    line2: str | None
    truth: dict
    zip_written: str = ""

    @property
    def wrote_right_zip(self) -> bool:
        """The customer wrote the truth ZIP (or it with its leading zeros stripped)."""
        z = self.truth.get("zip") or ""
        return bool(z) and bool(self.zip_written) and self.zip_written.lstrip("0") == z.lstrip("0")


# ----------------------------------------------------------------------------- writing


@cache
def long_forms() -> dict[str, str]:
    """Pub 28 abbreviation -> the spelled-out name a customer writes (``LN`` -> ``LANE``,
    ``WAY`` -> ``WAY``): of the C1 variants, the longest without a plural ``S`` the standard
    lacks (``usps.suffix_long_forms`` picks ``LANES``, ``TRAILS``, ``WY``)."""
    by_standard: dict[str, list[str]] = {}
    for variant, standard in usps.suffixes().items():
        by_standard.setdefault(standard, []).append(variant)
    out = {}
    for standard, variants in by_standard.items():
        singular = [v for v in variants if standard.endswith("S") or not v.endswith("S")] or variants
        out[standard] = min(singular, key=lambda v: (-len(v), v))
    return out


def long_form(typ: str | None) -> str | None:
    return long_forms().get(typ or "", typ)


def _title(word: str) -> str:
    return word.lower() if any(c.isdigit() for c in word) else word.capitalize()


def _words(text: str | None) -> str:
    return " ".join(_title(w) for w in (text or "").split())


def _dir(d: str | None) -> str | None:
    """Directionals stay capitals when abbreviated (``NW``), title case when spelled out."""
    if not d:
        return None
    return d if d in usps.DIRECTIONAL_WORDS else _words(d)


def render(p: Parts) -> tuple[str, str | None]:
    line1 = " ".join(x for x in (p.number, _dir(p.predir), _words(p.name), _words(p.type), _dir(p.postdir)) if x)
    if p.unit:
        line1 = f"{line1} {p.unit}"
    state_zip = " ".join(x for x in (p.state, p.zip) if x)
    parts = [x for x in (line1, _words(p.city), state_zip) if x]
    text = (", " if p.commas else " ").join(parts)
    if p.before:
        text = f"{p.before}, {text}" if p.commas else f"{p.before} {text}"
    if p.after:
        text = f"{text} {p.after}"
    line2 = p.line2
    if p.capitals:
        text, line2 = text.upper(), line2.upper() if line2 else None
    return text, line2


def street_name(t: dict) -> str:
    """The name a customer writes: without a last word that repeats the type (Sevier County
    writes ``VACA LN`` + ``LN``)."""
    words = (t["name"] or "").split()
    if len(words) > 1 and t["type"] and usps.suffixes().get(words[-1]) == t["type"]:
        words = words[:-1]
    return " ".join(words)


def valueless(unit: str | None) -> str | None:
    """The Pub 28 designator a unit is when it takes no value (a source's unit ``REAR``, ``FRONT``)."""
    d = usps.UNIT_DESIGNATORS.get((unit or "").upper())
    return d if d in usps.UNIT_WITHOUT_VALUE else None


def designator(t: dict) -> str:
    d = t.get("unit_type")
    return _words(d) if d and d != "#" and d in usps.UNIT_DESIGNATORS.values() else DEFAULT_DESIGNATOR


def base(t: dict) -> Parts:
    """The well-formed query of a truth."""
    unit = (_words(t["unit"]) if valueless(t["unit"]) else f"{designator(t)} {t['unit']}") if t.get("unit") else None
    return Parts(str(t["number"]), t["predir"], street_name(t), t["type"], t["postdir"], unit, t["city"] or "",
                 t["state"] or "", t["zip"] or "")


# ----------------------------------------------------------------------------- the kinds


def misspell(word: str, rng: random.Random) -> str:
    """One edit inside ``word`` (never its first letter): a letter dropped, two swapped, one
    doubled or replaced."""
    i = rng.randrange(1, len(word) - 1)
    op = rng.choice(("drop", "swap", "double", "replace"))
    if op == "drop":
        return word[:i] + word[i + 1:]
    if op == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if op == "double":
        return word[:i] + word[i] + word[i:]
    return word[:i] + rng.choice("AEIOUSTNRL".replace(word[i], "")) + word[i + 1:]


def _known_word(w: str) -> bool:
    return w in usps.suffixes() or w in usps.DIRECTIONALS or w in usps.DIRECTIONAL_WORDS.values()


def typo_of(word: str, rng: random.Random, edits: int = 1) -> str | None:
    """A misspelling of ``word`` that is not itself a Pub 28 suffix or directional form."""
    for _ in range(TYPO_TRIES):
        w = word
        for _ in range(edits):
            w = misspell(w, rng)
        if w != word and not _known_word(w):
            return w
    return None


def k_clean(t, p, rng, ctx):
    return p, "well-formed"


def k_name_typo(t, p, rng, ctx):
    words = p.name.split()
    alpha = [i for i, w in enumerate(words) if w.isalpha() and len(w) >= 5]
    if not alpha:
        return None
    i = max(alpha, key=lambda k: len(words[k]))
    bad = typo_of(words[i], rng)
    if bad is None:
        return None
    words[i] = bad
    return replace(p, name=" ".join(words)), f"{t['name']} -> {' '.join(words)}"


def k_type_typo(t, p, rng, ctx):
    slots = []
    if t["type"] and len(long_form(t["type"])) >= 4:
        slots.append(("type", long_form(t["type"])))
    for d in ("predir", "postdir"):
        if t[d] in usps.DIRECTIONAL_WORDS:
            slots.append((d, usps.DIRECTIONAL_WORDS[t[d]]))
    if not slots:
        return None
    slot, word = rng.choice(slots)
    edits = 2 if len(word) >= 6 and rng.random() < TWO_EDITS else 1
    bad = typo_of(word, rng, edits)
    if bad is None:
        return None
    return replace(p, **{slot: bad}), f"{slot} {word} -> {bad} ({edits} edit{'s' if edits > 1 else ''})"


def k_abbreviation(t, p, rng, ctx):
    changes = {}
    long_type = long_form(t["type"])
    if long_type and long_type != t["type"]:
        changes["type"] = long_type
    for d in ("predir", "postdir"):
        if t[d] in usps.DIRECTIONAL_WORDS:
            changes[d] = usps.DIRECTIONAL_WORDS[t[d]]
    words = p.name.split()
    if len(words) > 1 and any(w in NAME_ABBREVIATIONS for w in words):
        changes["name"] = " ".join(NAME_ABBREVIATIONS.get(w, w) for w in words)
    if not changes:
        return None
    return replace(p, **changes), ", ".join(f"{k} {v}" for k, v in changes.items())


def k_missing_zip(t, p, rng, ctx):
    return replace(p, zip=""), "no ZIP"


def k_wrong_zip(t, p, rng, ctx):
    z = ctx.neighbour_zip(t)
    if z is None:
        return None
    return replace(p, zip=z), f"ZIP {t['zip']} written {z} (nearest other ZIP)"


def k_missing_city(t, p, rng, ctx):
    return replace(p, city=""), "no city"


def k_unit_form(t, p, rng, ctx):
    u = t["unit"]
    form = rng.choice([f for f in UNIT_FORMS if f.format(u=u) != p.unit])   # not the clean form
    if form == "line 2":
        text = rng.choice(LINE2_FORMS).format(u=u)
        return replace(p, unit=None, line2=text), f"line 2: {text}"
    text = form.format(u=u)
    return replace(p, unit=text), f"unit written {text!r}"


def k_lettered(t, p, rng, ctx):
    if rng.random() < EITHER_WAY:
        p = replace(p, type=long_form(t["type"]))
    return p, " ".join(x for x in (_words(p.name), _words(p.type), _dir(p.postdir)) if x)


def k_leading_zero(t, p, rng, ctx):
    if rng.random() < EITHER_WAY:
        return p, f"ZIP written {t['zip']}"
    stripped = t["zip"].lstrip("0")
    return replace(p, zip=stripped), f"ZIP {t['zip']} written {stripped} (spreadsheet)"


def k_lookalike(t, p, rng, ctx):
    if t["type"] and rng.random() < EITHER_WAY:
        p = replace(p, type=long_form(t["type"]))
    written = " ".join(x for x in (p.predir, t["name"], p.type or "(no type)", p.postdir) if x)
    return p, f"{written} (also {' / '.join(t['lookalike'])} in {t['zip']})"


def k_noise(t, p, rng, ctx):
    form = rng.choice(("instruction", "phone", "prefix"))
    if form == "instruction":
        words = rng.choice(INSTRUCTIONS)
        return replace(p, after=words), f"instruction {words!r}"
    if form == "phone":
        words = rng.choice(PHONES)
        return replace(p, after=words), f"phone {words!r}"
    words = rng.choice(PREFIXES)
    return replace(p, before=words), f"prefix {words!r}"


def k_caps_no_commas(t, p, rng, ctx):
    return replace(p, commas=False, capitals=True), "capitals, no commas"


MAKERS = {"clean": k_clean, "name_typo": k_name_typo, "type_typo": k_type_typo, "abbreviation": k_abbreviation,
          "missing_zip": k_missing_zip, "wrong_zip": k_wrong_zip, "missing_city": k_missing_city,
          "unit_form": k_unit_form, "lettered": k_lettered, "leading_zero": k_leading_zero,
          "lookalike": k_lookalike, "noise": k_noise, "caps_no_commas": k_caps_no_commas}


def applies(kind: str, t: dict) -> bool:
    """Whether a kind of mess can be made from this truth (see the module docstring)."""
    if t["untyped_twin"]:
        return False
    if kind == "unit_form":
        return bool(t.get("unit")) and not valueless(t["unit"])
    if kind == "lettered":
        return t["lettered"]
    if kind == "leading_zero":
        return (t["zip"] or "").startswith("0")
    if kind == "lookalike":
        return bool(t["lookalike"])
    if kind in ("missing_zip", "wrong_zip"):
        return bool(t["zip"]) and not t["zip_decides"]
    if kind == "missing_city":
        return bool(t["zip"])
    return True


class Context:
    """What the kinds need to know about every truth: which ZIPs hold which street names."""

    def __init__(self, truths: dict[str, list[dict]]):
        self.names: dict[str, set[str]] = {}
        for ts in truths.values():
            for t in ts:
                self.names.setdefault(name_key(t["name"]), set()).add(t["zip"])
        self._standard: dict[str, list] = {}

    def neighbour_zip(self, t: dict) -> str | None:
        """The standard ZIP of the truth's state nearest to its ZIP's centroid that holds no
        street of the name (else the customer's text would describe a real other address)."""
        here = zip_table().get(t["zip"] or "")
        if here is None or here.lat is None:
            return None
        holders = self.names.get(name_key(t["name"]), set())
        best, best_d = None, math.inf
        for z in self._zips(here.state):
            if z.zip_code == here.zip_code or z.zip_code in holders:
                continue
            d = (z.lat - here.lat) ** 2 + ((z.lon - here.lon) * math.cos(math.radians(here.lat))) ** 2
            if d < best_d:
                best, best_d = z.zip_code, d
        return best

    def _zips(self, state: str) -> list:
        if state not in self._standard:
            self._standard[state] = sorted((z for z in zip_table().values() if z.state == state and
                                            z.type == "STANDARD" and z.active and z.lat is not None),
                                           key=lambda z: z.zip_code)
        return self._standard[state]


def make_queries(truths: dict[str, list[dict]], per_kind: int | dict[str, int], seed: int) -> list[Query]:
    """Up to ``per_kind`` queries of each kind (one number for all, or one per kind) from each
    region's truths, distinct truths within a region and kind, seeded per (seed, region, kind)."""
    quota = per_kind if isinstance(per_kind, dict) else dict.fromkeys(KINDS, per_kind)
    ctx = Context(truths)
    out = []
    for kind, n in quota.items():
        for region in sorted(truths):
            rng = random.Random(f"{seed}:{region}:{kind}")
            pool = [t for t in truths[region] if applies(kind, t)]
            for t in rng.sample(pool, min(n, len(pool))):
                made = MAKERS[kind](t, base(t), rng, ctx)
                if made is None:
                    continue
                parts, detail = made
                text, line2 = render(parts)
                out.append(Query(region, kind, detail, text, line2, t, parts.zip))
    return out
