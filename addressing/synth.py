"""Seeded messy orders made from the gazetteer's real addresses, with the truth kept.

Used by the demo (``addressing demo``) and the benchmarks. Every order starts from a real
address point or a real TIGER range of the gazetteer and is then written the way real order
forms are: abbreviations and spelled-out words, typos, wrong or missing ZIP, missing city,
no commas, any case, units written five ways or on line 2, phone numbers and delivery
instructions mixed in.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np
import shapely

from addressing import geocode
from addressing.gazetteer import Gazetteer, query_arrow
from addressing.parse import usps

UNIT_FORMS = ("Apt {u}", "#{u}", "Unit {u}", "Ste {u}", "Apartment {u}", "# {u}", "Suite {u}", "APT. {u}")
INSTRUCTIONS = ("leave at back door", "please leave package at front porch", "ring doorbell on arrival",
                "gate code 4821", "do not leave unattended", "leave with concierge")
PHONES = ("(415) 555-0142", "334-555-0199", "+1 415 555 0175", "tel 205.555.0110")

#: real, well-known addresses outside the demo gazetteer's streets (ZIP or city level at best)
ELSEWHERE_US = (
    "1600 Pennsylvania Ave NW, Washington, DC 20500",
    "350 Fifth Avenue, New York, NY 10118",
    "233 S Wacker Dr, Chicago, IL 60606",
    "400 Broad St, Seattle, WA 98109",
    "600 Montgomery St, San Francisco, CA 94111",
    "1 Infinite Loop, Cupertino, CA 95014",
    "2 15th St NW, Washington, DC 20024",
    "1000 5th Ave, New York, NY 10028",
    "151 3rd St, San Francisco, CA 94103",
    "100 Joe Nuxhall Way, Cincinnati, OH 45202",
)
ABROAD = (
    ("10 Downing St, London SW1A 2AA, United Kingdom", "GB"),
    ("Potsdamer Platz 1, 10785 Berlin, Germany", "DE"),
    ("5 Avenue Anatole France, 75007 Paris, France", "FR"),
    ("1 Yonge St, Toronto, ON M5E 1W7, Canada", "CA"),
    ("Dam 1, 1012 JS Amsterdam, Netherlands", "NL"),
    ("Bennelong Point, Sydney NSW 2000, Australia", "AU"),
    ("Plaza Mayor 1, 28012 Madrid, Spain", "ES"),
)
GARBAGE = ("", "   ", "N/A", "asdf qwer", "=cmd|' /C calc'!A0", "'; DROP TABLE orders; --", "\U0001f69a\U0001f4e6",
           "x" * 5000, "same as billing", "-", "@@@@", "????")


@dataclass
class Truth:
    """The real address an order was made from, and where it is."""

    kind: str
    lat: float | None = None
    lon: float | None = None
    house_number: str | None = None
    street_name: str | None = None
    street_type: str | None = None
    unit: str | None = None
    postal_code: str | None = None
    expect_status: str = "matched"
    expect_precision: str = "address_point"
    expect_flags: list[str] = field(default_factory=list)


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
    sql = """SELECT g.from_left AS a, g.to_left AS b, g.parity_left AS parity, g.sided, g.geom, g.predir, g.name,
                    g.type, g.postdir, g.city, g.state, g.postal_code, g.street_id
             FROM segments g WHERE g.from_left IS NOT NULL AND g.name IS NOT NULL
             ORDER BY g.street_id, g.from_left"""
    return query_arrow(gaz.cursor(), sql).to_pylist()


def _typo(word: str, rng: random.Random) -> str:
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


def _case(text: str, rng: random.Random) -> str:
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
            words[longest] = _typo(words[longest], rng)
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
        city = _typo(city, rng)
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
    text = _case(text, rng)
    if line2:
        line2 = _case(line2, rng)
    if rng.random() < 0.03:
        text += " " + rng.choice(PHONES)
        done.append("phone")
    if rng.random() < 0.03:
        text += " " + rng.choice(INSTRUCTIONS)
        done.append("instructions")
    return text, line2, done


def _range_number(seg: dict, rng: random.Random) -> int | None:
    lo, hi = sorted((seg["a"], seg["b"]))
    if seg["parity"] in ("O", "E"):
        want = 1 if seg["parity"] == "O" else 0
        options = [n for n in range(lo, min(hi, lo + 400) + 1) if n % 2 == want]
    else:
        options = list(range(lo, min(hi, lo + 400) + 1))
    options = [n for n in options if n > 0]
    return rng.choice(options) if options else None


def range_truth(seg: dict, number: int) -> tuple[float, float]:
    line = shapely.from_wkb(seg["geom"])
    lon, lat = geocode.interpolate_on_segments([line], [number], [seg["a"]], [seg["b"]],
                                               ["L" if seg["sided"] else None])
    return float(lat[0]), float(lon[0])


def range_order(seg: dict, rng: random.Random) -> tuple[dict, str, str | None, float, float] | None:
    """A messy order for a number inside ``seg``'s range: the record, the text and its second
    line, and where the number lies (``None`` when the range holds no number)."""
    num = _range_number(seg, rng)
    if num is None:
        return None
    lat, lon = range_truth(seg, num)
    rec = {**seg, "number": num}
    text, line2, _ = messify(rec, rng, None)
    return rec, text, line2, lat, lon


def demo_orders(gaz: Gazetteer, n: int = 6000, seed: int = 20261125) -> tuple[list[dict], list[Truth]]:
    """The demo's order mix: mostly real SF points and Autauga ranges, plus the hard cases."""
    rng = random.Random(seed)
    pts = address_points(gaz)
    segs = [s for s in ranges(gaz) if s["a"] and s["b"]]
    pt_zips = sorted({p["postal_code"] for p in pts if p["postal_code"]})
    seg_zips = sorted({s["postal_code"] for s in segs if s["postal_code"]})
    po_zips = [z for (_, z), info in gaz.postal().items() if info.type == "PO BOX" and info.state in ("AL", "CA")
               and info.city in ("PRATTVILLE", "SAN FRANCISCO", "AUTAUGAVILLE")]
    orders: list[dict] = []
    truths: list[Truth] = []
    customers = [f"C{rng.randrange(10**5, 10**6)}" for _ in range(n // 2)]

    def add(address: str, address2: str | None, truth: Truth, customer: str | None = None) -> None:
        orders.append({"order_id": f"D{len(orders) + 1:06d}", "customer_id": customer or rng.choice(customers),
                       "address": address, "address2": address2})
        truths.append(truth)

    while len(orders) < n:
        r = rng.random()
        if r < 0.50 and pts:
            p = rng.choice(pts)
            unit = p["unit"]
            flags = []
            if unit and rng.random() < 0.08:
                unit = None
                if p["n_units"] >= 2 and not p["has_base"]:
                    flags.append("missing_unit")
            text, line2, _ = messify(p, rng, unit)
            add(text, line2, Truth("point", p["lat"], p["lon"], str(p["number"]), p["name"], p["type"], unit,
                                   p["postal_code"], expect_flags=flags))
        elif r < 0.78 and segs:
            s = rng.choice(segs)
            made = range_order(s, rng)
            if made is None:
                continue
            rec, text, line2, lat, lon = made
            add(text, line2, Truth("range", lat, lon, str(rec["number"]), s["name"], s["type"], None,
                                   s["postal_code"], expect_precision="interpolated"))
        elif r < 0.80 and segs:
            s = rng.choice(segs)
            num = max(s["a"], s["b"]) + 20000 + rng.randrange(1000)
            text, line2, _ = messify({**s, "number": num}, rng, None, drop_zip=0, wrong_zip=0, typo=0)
            add(text, line2, Truth("out_of_range", None, None, str(num), s["name"], s["type"], None,
                                   s["postal_code"], expect_precision="street"))
        elif r < 0.84:
            z = rng.choice(po_zips) if po_zips else "36067"
            info = gaz.postal().get(("US", z))
            box = rng.randrange(1, 9999)
            form = rng.choice(("PO Box {b}", "P.O. Box {b}", "POB {b}", "Post Office Box {b}", "Box {b}"))
            text = f"{form.format(b=box)}, {info.city.title() if info else 'Prattville'}, {info.state if info else 'AL'} {z}"
            add(_case(text, rng), None, Truth("po_box", postal_code=z, expect_precision="postal_code",
                                              expect_flags=["po_box"]))
        elif r < 0.85:
            text = rng.choice(("PSC 802 Box {b}, APO AE 09499", "Unit 2050 Box {b}, APO AP 96278",
                               "USS Nimitz, FPO AP 96620", "CMR 480 Box {b}, APO AE 09128"))
            add(text.format(b=rng.randrange(1, 999)), None, Truth("military", expect_precision="none",
                                                                  expect_flags=["military"]))
        elif r < 0.89:
            text = rng.choice(ELSEWHERE_US)
            # a repeated real address belongs to one customer, not a reshipping ring
            add(_case(text, rng), None, Truth("elsewhere", expect_status="unmatched", expect_precision="postal_code"),
                f"C9{ELSEWHERE_US.index(text):05d}")
        elif r < 0.91:
            text, cc = rng.choice(ABROAD)
            add(text, None, Truth("abroad", expect_status="unmatched", expect_precision="postal_code"),
                f"C8{[a for a, _ in ABROAD].index(text):05d}")
        elif r < 0.94 and orders:
            j = rng.randrange(len(orders))
            prev = orders[j]
            same_customer = rng.random() < 0.5
            add(prev["address"], prev["address2"], truths[j], prev["customer_id"] if same_customer else None)
        elif r < 0.96:
            add(rng.choice(GARBAGE), None, Truth("garbage", expect_status="invalid", expect_precision="none"))
        elif r < 0.97 and pts:
            # many customers, one address: a reshipping signal
            p = rng.choice([q for q in pts if q["unit"] is None] or pts)
            text, line2, _ = messify(p, rng, p["unit"], drop_zip=0, wrong_zip=0, typo=0)
            for _ in range(rng.randrange(3, 6)):
                add(text, line2, Truth("shared", p["lat"], p["lon"], str(p["number"]), p["name"], p["type"], None,
                                       p["postal_code"], expect_flags=["shared_address"]))
        elif pts:
            z = rng.choice(pt_zips + seg_zips)
            p = rng.choice(pts)
            text = f"{p['number']} {p['name']} {p['type'] or ''} {z}".replace("  ", " ")
            add(_case(text, rng), None, Truth("zip_only", p["lat"], p["lon"], str(p["number"]), p["name"],
                                              p["type"], None, p["postal_code"]))
    return orders[:n], truths[:n]


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
    Separate from ``demo_orders`` (which must stay stable for the demo)."""
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
                words[k] = _typo(words[k], rng)
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


def lat_lon_error_m(lat: np.ndarray, lon: np.ndarray, true_lat: np.ndarray, true_lon: np.ndarray) -> np.ndarray:
    return geocode.distance_m(lon, lat, true_lon, true_lat)
