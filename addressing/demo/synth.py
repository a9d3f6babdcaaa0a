"""Real addresses of a gazetteer written the way customers type them, with the truth kept.

Used by the demo's day (``addressing.demo.day``), the tests and the benchmarks. Every query
starts from a real address point or a real TIGER range of the gazetteer and is then written
the way real order forms are: abbreviations and spelled-out words, typos, wrong or missing
ZIP, missing city, no commas, any case, units written eight ways or on line 2, phone numbers
and delivery instructions mixed in.
"""

from __future__ import annotations

import random

import shapely

from addressing import geocode
from addressing.gazetteer import Gazetteer, query_arrow
from addressing.parse import usps

UNIT_FORMS = ("Apt {u}", "#{u}", "Unit {u}", "Ste {u}", "Apartment {u}", "# {u}", "Suite {u}", "APT. {u}")
INSTRUCTIONS = ("leave at back door", "please leave package at front porch", "ring doorbell on arrival",
                "gate code 4821", "do not leave unattended", "leave with concierge")
PHONES = ("(415) 555-0142", "334-555-0199", "+1 415 555 0175", "tel 205.555.0110")


def address_points(gaz: Gazetteer) -> list[dict]:
    """Distinct addresses (street, number, unit) with their location; real files repeat some
    (one row per condo parcel), which would skew a random sample."""
    sql = """SELECT p.number, any_value(p.predir) AS predir, any_value(p.name) AS name, any_value(p.type) AS type,
                    any_value(p.postdir) AS postdir, p.unit, any_value(p.city) AS city, any_value(p.state) AS state,
                    any_value(p.postal_code) AS postal_code, avg(p.lat) AS lat, avg(p.lon) AS lon, p.street_id,
                    any_value(a.n_units) AS n_units, any_value(a.has_base) AS has_base
             FROM address_points p JOIN addresses a USING (street_id, number)
             WHERE p.number_int IS NOT NULL
             GROUP BY p.street_id, p.number, p.unit
             ORDER BY p.street_id, p.number, p.unit NULLS FIRST"""
    return query_arrow(gaz.cursor(), sql).to_pylist()


def ranges(gaz: Gazetteer) -> list[dict]:
    """Every numbered TIGER range of the gazetteer (left side's numbers), with its street."""
    sql = """SELECT g.from_left AS a, g.to_left AS b, g.parity_left AS parity, g.sided, g.geom, g.predir, g.name,
                    g.type, g.postdir, g.city, g.state, g.postal_code, g.street_id
             FROM segments g WHERE g.from_left IS NOT NULL AND g.name IS NOT NULL
             ORDER BY g.street_id, g.from_left"""
    return query_arrow(gaz.cursor(), sql).to_pylist()


def misspell(word: str, rng: random.Random) -> str:
    """One slip of the finger inside a word of 5 letters or more (a letter dropped, swapped,
    doubled or replaced); shorter words and words with digits come back as they are."""
    if len(word) < 5 or not word.isalpha():
        return word
    i = rng.randrange(1, len(word) - 1)
    op = rng.choice(("drop", "swap", "double", "replace"))
    if op == "drop":
        return word[:i] + word[i + 1:]
    if op == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if op == "double":
        return word[:i] + word[i] + word[i:]
    return word[:i] + rng.choice("aeioustnrl").upper() + word[i + 1:]


def any_case(text: str, rng: random.Random) -> str:
    """``text`` in upper, lower or title case, as customers type it."""
    r = rng.random()
    if r < 0.3:
        return text.upper()
    if r < 0.55:
        return text.lower()
    return " ".join(w.capitalize() if not any(c.isdigit() for c in w) else w.lower() for w in text.split(" "))


def messify(rec: dict, rng: random.Random, unit: str | None, drop_zip: float = 0.1, wrong_zip: float = 0.05,
            typo: float = 0.1) -> tuple[str, str | None, list[str]]:
    """Write a real address as a customer might; returns (address, address2, what was done)."""
    done = []
    name = rec["name"] or ""
    if rng.random() < typo:
        words = name.split()
        longest = max(range(len(words)), key=lambda k: len(words[k])) if words else 0
        if words and len(words[longest]) >= 5:
            words[longest] = misspell(words[longest], rng)
            name = " ".join(words)
            done.append("typo")
    typ = rec["type"]
    r = rng.random()
    if typ and r < 0.3:
        typ = usps.suffix_long_forms().get(typ, typ)
    elif typ and r < 0.38:
        typ = None
        done.append("type_dropped")
    pre, post = rec.get("predir"), rec.get("postdir")
    if pre and rng.random() < 0.3:
        pre = usps.DIRECTIONAL_WORDS.get(pre, pre)
    if post and rng.random() < 0.3:
        post = usps.DIRECTIONAL_WORDS.get(post, post)
    line1 = " ".join(x for x in (str(rec["number"]), pre, name, typ, post) if x)
    line2 = None
    if unit:
        form = rng.choice(UNIT_FORMS).format(u=unit)
        if rng.random() < 0.3:
            line2 = form
        else:
            line1 += (", " if rng.random() < 0.4 else " ") + form
    city = rec.get("city") or ""
    if rng.random() < 0.1:
        city = ""
        done.append("city_dropped")
    elif rng.random() < 0.04:
        slipped = misspell(city, rng)
        if slipped != city:
            city = slipped
            done.append("city_typo")
    state = rec.get("state") or ""
    if state and rng.random() < 0.2:
        state = usps.STATES.get(state, state).title()
    zip_code = rec.get("postal_code") or ""
    r = rng.random()
    if r < drop_zip:
        zip_code = ""
        done.append("zip_dropped")
    elif r < drop_zip + wrong_zip and zip_code:
        zip_code = zip_code[:4] + str((int(zip_code[4]) + rng.choice((1, 2, 3))) % 10)
        done.append("zip_wrong")
    if rng.random() < 0.6:
        last = ", ".join(x for x in (city, f"{state} {zip_code}".strip()) if x)
        text = f"{line1}, {last}" if last else line1
    else:
        text = " ".join(x for x in (line1, city, state, zip_code) if x)
    text = any_case(text, rng)
    if line2:
        line2 = any_case(line2, rng)
    if rng.random() < 0.03:
        text += " " + rng.choice(PHONES)
        done.append("phone")
    if rng.random() < 0.03:
        text += " " + rng.choice(INSTRUCTIONS)
        done.append("instructions")
    return text, line2, done


def range_number(seg: dict, rng: random.Random) -> int | None:
    """A house number the range holds (its parity, within 400 of its start), or None."""
    lo, hi = sorted((seg["a"], seg["b"]))
    if seg["parity"] in ("O", "E"):
        want = 1 if seg["parity"] == "O" else 0
        options = [n for n in range(lo, min(hi, lo + 400) + 1) if n % 2 == want]
    else:
        options = list(range(lo, min(hi, lo + 400) + 1))
    options = [n for n in options if n > 0]
    return rng.choice(options) if options else None


def range_truth(seg: dict, number: int) -> tuple[float, float]:
    """Where the range puts ``number``: ``(lat, lon)``."""
    line = shapely.from_wkb(seg["geom"])
    lon, lat = geocode.interpolate_on_segments([line], [number], [seg["a"]], [seg["b"]],
                                               ["L" if seg["sided"] else None])
    return float(lat[0]), float(lon[0])


def range_order(seg: dict, rng: random.Random) -> tuple[dict, str, str | None, float, float] | None:
    """A messy order for a number inside ``seg``'s range: the record, the text and its second
    line, and where the number lies (``None`` when the range holds no number)."""
    num = range_number(seg, rng)
    if num is None:
        return None
    lat, lon = range_truth(seg, num)
    rec = {**seg, "number": num}
    text, line2, _ = messify(rec, rng, None)
    return rec, text, line2, lat, lon


EXTRA_WORDS = ("Attn: Receiving ", "c/o Maria Lopez, ", "ATTN Shipping Dept ")
#: street types customers confuse with each other
TYPE_SLIPS = {"ST": ("AVE", "RD", "PL"), "AVE": ("ST", "BLVD", "DR"), "DR": ("CT", "AVE"), "PL": ("ST", "CT"),
              "BLVD": ("AVE", "ST"), "RD": ("ST", "DR"), "CT": ("PL", "DR"), "WAY": ("ST", "RD"), "LN": ("RD", "ST")}


def messy_queries(points: list[dict], n: int, seed: int, hard: bool = False) -> tuple[list[str], list[dict]]:
    """Messy one-line queries from a seeded sample of distinct address points, for accuracy
    benchmarks: everything ``messify`` does (typos, spelled-out types and directionals, wrong
    or missing ZIP, missing city, units written eight ways or on line 2, any case, phones and
    delivery instructions), plus a care-of or attention line in front of some. ``hard``: more
    of all that, two typos in some names, and the wrong street type in some.

    Returns the texts and the points they were made from (the truth), in the same order.
    Separate from the demo's day (``addressing.demo.day``), which must stay stable for the demo."""
    rng = random.Random(seed)
    picks = rng.sample(points, min(n, len(points)))
    texts = []
    for p in picks:
        rec = p
        if hard:
            rec = dict(p)
            if rec.get("name") and rng.random() < 0.25:
                words = rec["name"].split()
                k = max(range(len(words)), key=lambda i: len(words[i]))
                words[k] = misspell(words[k], rng)
                rec["name"] = " ".join(words)
            if rec.get("type") in TYPE_SLIPS and rng.random() < 0.12:
                rec["type"] = rng.choice(TYPE_SLIPS[rec["type"]])
        text, line2, _ = messify(rec, rng, p.get("unit"), drop_zip=0.2 if hard else 0.1,
                                 wrong_zip=0.25 if hard else 0.08, typo=0.5 if hard else 0.15)
        if line2:
            head, _, tail = text.partition(",")
            text = f"{head} {line2},{tail}" if tail else f"{text} {line2}"
        if rng.random() < 0.06:
            text = rng.choice(EXTRA_WORDS) + text
        texts.append(text)
    return texts, picks


def range_queries(gaz: Gazetteer, n: int, seed: int) -> tuple[list[str], list[dict]]:
    """Messy one-line queries for numbers inside real TIGER ranges of the gazetteer, with the
    truth: where the range puts the number (``range_truth``). For benchmarks."""
    rng = random.Random(seed)
    segs = [s for s in ranges(gaz) if s["a"] and s["b"]]
    texts, truths = [], []
    for s in rng.sample(segs, min(n, len(segs))):
        made = range_order(s, rng)
        if made is None:
            continue
        rec, text, line2, lat, lon = made
        texts.append(f"{text} {line2}" if line2 else text)
        truths.append({**rec, "number": str(rec["number"]), "unit": None, "lat": lat, "lon": lon})
    return texts, truths
