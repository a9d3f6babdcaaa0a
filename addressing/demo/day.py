"""The demo's day of orders: a seeded mix of real addresses and hard cases, with the truth kept.

Every order starts from a real address of the demo gazetteer (``synth``) or a real address
elsewhere, and its ``Truth`` says what it was made from and which flags it should raise.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from addressing.demo.synth import address_points, any_case, messify, range_order, ranges
from addressing.gazetteer import Gazetteer

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
            add(any_case(text, rng), None, Truth("po_box", postal_code=z, expect_precision="postal_code",
                                              expect_flags=["po_box"]))
        elif r < 0.85:
            text = rng.choice(("PSC 802 Box {b}, APO AE 09499", "Unit 2050 Box {b}, APO AP 96278",
                               "USS Nimitz, FPO AP 96620", "CMR 480 Box {b}, APO AE 09128"))
            add(text.format(b=rng.randrange(1, 999)), None, Truth("military", expect_precision="none",
                                                                  expect_flags=["military"]))
        elif r < 0.89:
            text = rng.choice(ELSEWHERE_US)
            # a repeated real address belongs to one customer, not a reshipping ring
            add(any_case(text, rng), None, Truth("elsewhere", expect_status="unmatched", expect_precision="postal_code"),
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
            add(any_case(text, rng), None, Truth("zip_only", p["lat"], p["lon"], str(p["number"]), p["name"],
                                              p["type"], None, p["postal_code"]))
    return orders[:n], truths[:n]
