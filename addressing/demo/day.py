"""The demo's day of orders: what a shop's real day looks like, with the truth kept.

Most orders come from customers at their own addresses inside the shop's service areas (real
San Francisco address points and real Autauga County, AL TIGER ranges of the demo gazetteer),
written the way customers type (``synth.messify``); a few customers order twice that day, to
the same home. Into that day go a few percent of each real problem (``PROBLEMS``): PO boxes,
missing units, misspelt streets, addresses outside the service area or the gazetteer's
coverage, forwarders, several customers at one address, numbers that do not exist, junk.

Each order's ``Truth`` says what it was made from, which problem was planted (``kind``) and
which flags that problem should raise, so a cleaned day can be checked against it
(``addressing.demo.report``).
"""

from __future__ import annotations

import csv
import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import shapely

from addressing.demo import DATA
from addressing.demo.synth import address_points, any_case, messify, range_number, range_truth, ranges
from addressing.gazetteer import Gazetteer

#: share of the day's orders carrying each planted problem, and the flags it should raise;
#: the rest are routine orders and repeat orders (a few percent of everything, as in a real day)
PROBLEMS: dict[str, tuple[float, tuple[str, ...]]] = {
    "misspelt": (0.025, ()),                                # a typo in the street: corrected, delivered
    "po_box": (0.02, ("po_box",)),
    "outside_area": (0.02, ("outside_service_area",)),      # a real address of the county, beyond the depot
    "missing_unit": (0.01, ("missing_unit",)),              # a building of flats, the flat left out
    "risk_zone": (0.01, ("high_risk_zone",)),
    "no_such_number": (0.007, ("low_confidence",)),         # a real street, a number far past its range
    "junk": (0.007, ("invalid_address",)),
    "elsewhere": (0.006, ("outside_coverage", "outside_service_area")),
    "forwarder": (0.005, ("forwarder",)),
    "shared": (0.005, ("shared_address",)),                 # 3-5 customers at one address: reshipping
    "abroad": (0.003, ("outside_coverage", "outside_service_area")),
    "military": (0.003, ("military",)),
}
#: orders from a customer who already ordered today, to the same home
REPEAT_SHARE = 0.06
#: a repeat customer picks the saved address this often, else types it again
SAVED_ADDRESS = 0.7
#: routine orders on San Francisco points; the rest on Autauga ranges
POINT_SHARE = 0.62

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
    "10 Downing St, London SW1A 2AA, United Kingdom",
    "Potsdamer Platz 1, 10785 Berlin, Germany",
    "5 Avenue Anatole France, 75007 Paris, France",
    "1 Yonge St, Toronto, ON M5E 1W7, Canada",
    "Dam 1, 1012 JS Amsterdam, Netherlands",
    "Bennelong Point, Sydney NSW 2000, Australia",
    "Plaza Mayor 1, 28012 Madrid, Spain",
)
JUNK = ("", "   ", "N/A", "asdf qwer", "=cmd|' /C calc'!A0", "'; DROP TABLE orders; --", "\U0001f69a\U0001f4e6",
        "x" * 5000, "same as billing", "-", "@@@@", "????")
MILITARY = ("PSC 802 Box {b}, APO AE 09499", "Unit 2050 Box {b}, APO AP 96278", "USS Nimitz, FPO AP 96620",
            "CMR 480 Box {b}, APO AE 09128")
PO_BOX_FORMS = ("PO Box {b}", "P.O. Box {b}", "POB {b}", "Post Office Box {b}", "Box {b}")
#: the towns of the demo's service areas whose PO-box-only ZIPs boxes are drawn from
PO_BOX_TOWNS = ("PRATTVILLE", "SAN FRANCISCO", "AUTAUGAVILLE")


@dataclass
class Truth:
    """The real address an order was made from, where it is, and what was planted in it.

    ``kind`` is ``routine``, ``repeat`` or one of ``PROBLEMS``; ``expect_flags`` the flags that
    problem should raise; ``mess`` how the address was written (``typo``, ``zip_dropped``...).
    """

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
    mess: list[str] = field(default_factory=list)

    @property
    def planted(self) -> bool:
        return self.kind in PROBLEMS


def _shapes(name: str):
    with open(DATA / name, encoding="utf-8") as f:
        return shapely.union_all([shapely.geometry.shape(feat["geometry"]) for feat in json.load(f)["features"]])


def _forwarders() -> list[str]:
    """The listed forwarders' addresses, as the list writes them."""
    with open(DATA / "forwarders.csv", encoding="utf-8", newline="") as f:
        return [row["address"] for row in csv.DictReader(f)]


def _building(number, street: str | None) -> tuple[str, str]:
    return str(number), (street or "").split(" ")[0].upper()


@dataclass
class Home:
    """A real address of the gazetteer and where it is."""

    rec: dict
    lat: float
    lon: float
    unit: str | None
    precision: str


class Places:
    """The demo gazetteer's real addresses, sorted by what the demo's policy makes of them:
    inside the service areas (``home``), inside a high-risk zone (``zone``) or ``outside``.
    Each address is handed out once, so no two customers of the day share one by chance."""

    def __init__(self, gaz: Gazetteer, rng: random.Random):
        self.rng = rng
        self.area, self.zones = _shapes("service_areas.geojson"), _shapes("high_risk_zones.geojson")
        self.forwarders = _forwarders()
        # a forwarder's entry without a unit covers its whole building
        taken = {_building(*a.split()[:2]) for a in self.forwarders}
        pts = [p for p in address_points(gaz) if _building(p["number"], p["name"]) not in taken]
        self.points = {w: [p for p in pts if self.where(p["lat"], p["lon"]) == w] for w in ("home", "zone")}
        for group in self.points.values():
            rng.shuffle(group)
        self.segments = [s for s in ranges(gaz) if s["a"] and s["b"]]
        self.used: set[tuple] = set()
        self.postal = gaz.postal()
        self.po_zips = sorted(z for (_, z), info in self.postal.items()
                              if info.type == "PO BOX" and info.state in ("AL", "CA") and info.city in PO_BOX_TOWNS)

    def where(self, lat: float, lon: float) -> str:
        p = shapely.Point(lon, lat)
        if not self.area.contains(p):
            return "outside"
        return "zone" if self.zones.contains(p) else "home"

    def point(self, where: str = "home", want: Callable[[dict], bool] = lambda p: True) -> Home:
        """A San Francisco address point nobody of the day was given yet."""
        group = self.points[where]
        for i in range(len(group) - 1, -1, -1):
            if want(group[i]):
                p = group.pop(i)
                return Home(p, p["lat"], p["lon"], p["unit"], "address_point")
        raise ValueError(f"the demo gazetteer has too few free address points ({where})")

    def range_address(self, where: str = "home") -> Home:
        """A number on a real Autauga range, nobody's yet, whose place is ``where``."""
        for _ in range(100_000):
            s = self.rng.choice(self.segments)
            num = range_number(s, self.rng)
            if num is None or (s["street_id"], num) in self.used:
                continue
            lat, lon = range_truth(s, num)
            if lat == lat and self.where(lat, lon) == where:  # NaN: the range cannot place it
                self.used.add((s["street_id"], num))
                return Home({**s, "number": num}, lat, lon, None, "interpolated")
        raise ValueError(f"the demo gazetteer has no free range address ({where})")

    def home(self, where: str = "home") -> Home:
        return self.point(where) if self.rng.random() < POINT_SHARE else self.range_address(where)


def _truth(kind: str, h: Home, mess: list[str], flags: tuple[str, ...] = ()) -> Truth:
    return Truth(kind, h.lat, h.lon, str(h.rec["number"]), h.rec["name"], h.rec["type"], h.unit,
                 h.rec["postal_code"], expect_precision=h.precision, expect_flags=list(flags), mess=mess)


def demo_orders(gaz: Gazetteer, n: int = 6000, seed: int = 20261125) -> tuple[list[dict], list[Truth]]:
    """The day's ``n`` orders (``order_id``, ``customer_id``, ``address``, ``address2``) and their truth.

    The same ``gaz`` and ``seed`` give the same day. Each problem gets ``round(share * n)``
    orders, repeat orders ``round(REPEAT_SHARE * n)``, routine orders the rest, in a shuffled
    order.
    """
    rng = random.Random(seed)
    places = Places(gaz, rng)
    slots = [kind for kind, (share, _) in PROBLEMS.items() for _ in range(round(share * n))]
    slots += ["repeat"] * round(REPEAT_SHARE * n)
    slots = (slots + ["routine"] * max(0, n - len(slots)))[:n]
    rng.shuffle(slots)
    customers = iter(f"C{k}" for k in rng.sample(range(100_000, 1_000_000), n))
    orders: list[dict] = []
    truths: list[Truth] = []
    homes: list[tuple[int, Home]] = []     # the routine orders' customers and where they live
    ring: list = []                        # the reshipping address being filled: text, line 2, home, orders to go
    ring_sizes = _ring_sizes(slots.count("shared"), rng)
    far_customer: dict[str, str] = {}      # one customer per far-away address: a customer, not a ring
    unit_left_out: Counter = Counter()     # buildings whose unit a customer left out

    def add(address: str, address2: str | None, truth: Truth, customer: str | None = None) -> None:
        orders.append({"order_id": f"D{len(orders) + 1:06d}", "customer_id": customer or next(customers),
                       "address": address, "address2": address2})
        truths.append(truth)

    def write(kind: str, h: Home, flags: tuple[str, ...] = (), **mess_rates) -> None:
        text, line2, mess = messify(h.rec, rng, h.unit, **{"typo": 0.0, **mess_rates})
        add(text, line2, _truth(kind, h, mess, flags))

    for slot in slots:
        flags = PROBLEMS[slot][1] if slot in PROBLEMS else ()
        if slot == "routine" or (slot == "repeat" and not homes):
            h = places.home()
            write("routine", h)
            homes.append((len(orders) - 1, h))
        elif slot == "repeat":
            j, h = rng.choice(homes)
            first = orders[j]
            if rng.random() < SAVED_ADDRESS:
                text, line2, mess = first["address"], first["address2"], list(truths[j].mess)
            else:
                text, line2, mess = messify(h.rec, rng, h.unit, typo=0.0)
            add(text, line2, _truth("repeat", h, mess), first["customer_id"])
        elif slot == "misspelt":
            while True:  # a street of short words cannot be misspelt the way customers slip
                h = places.home()
                text, line2, mess = messify(h.rec, rng, h.unit, typo=1.0)
                if "typo" in mess:
                    add(text, line2, _truth(slot, h, mess))
                    break
        elif slot == "missing_unit":
            # two such customers per building at most: three would share the unitless address
            h = places.point(want=lambda q: q["unit"] and q["n_units"] >= 2 and not q["has_base"]
                             and unit_left_out[q["street_id"], q["number"]] < 2)
            unit_left_out[h.rec["street_id"], h.rec["number"]] += 1
            h.unit = None
            write(slot, h, flags)
        elif slot == "outside_area":
            write(slot, places.range_address("outside"), flags)
        elif slot == "risk_zone":
            write(slot, places.point("zone") if places.points["zone"] and rng.random() < 0.3
                  else places.range_address("zone"), flags)
        elif slot == "no_such_number":
            h = places.range_address()
            h.rec["number"] = max(h.rec["a"], h.rec["b"]) + 20000 + rng.randrange(1000)
            text, line2, mess = messify(h.rec, rng, None, drop_zip=0, wrong_zip=0, typo=0)
            add(text, line2, Truth(slot, None, None, str(h.rec["number"]), h.rec["name"], h.rec["type"], None,
                                   h.rec["postal_code"], expect_precision="street", expect_flags=list(flags),
                                   mess=mess))
        elif slot == "po_box":
            z = rng.choice(places.po_zips) if places.po_zips else "36067"
            info = places.postal.get(("US", z))
            town = f"{info.city.title()}, {info.state}" if info else "Prattville, AL"
            text = f"{rng.choice(PO_BOX_FORMS).format(b=rng.randrange(1, 9999))}, {town} {z}"
            add(any_case(text, rng), None, Truth(slot, postal_code=z, expect_precision="postal_code",
                                                 expect_flags=list(flags)))
        elif slot == "military":
            add(rng.choice(MILITARY).format(b=rng.randrange(1, 999)), None,
                Truth(slot, expect_status="matched", expect_precision="none", expect_flags=list(flags)))
        elif slot in ("elsewhere", "abroad"):
            text = rng.choice(ELSEWHERE_US if slot == "elsewhere" else ABROAD)
            customer = far_customer.setdefault(text, next(customers))
            add(any_case(text, rng) if slot == "elsewhere" else text, None,
                Truth(slot, expect_status="unmatched", expect_precision="postal_code", expect_flags=list(flags)),
                customer)
        elif slot == "junk":
            add(rng.choice(JUNK), None, Truth(slot, expect_status="invalid", expect_precision="none",
                                              expect_flags=list(flags)))
        elif slot == "forwarder":
            head, _, tail = rng.choice(places.forwarders).partition(",")
            number, street = _building(*head.split()[:2])
            add(any_case(f"{head} Ste {rng.randrange(100, 9999)},{tail}", rng), None,
                Truth(slot, house_number=number, street_name=street, expect_flags=list(flags)))
        elif slot == "shared":
            if not ring or ring[3] == 0:
                h = places.point(want=lambda q: q["unit"] is None)
                text, line2, _ = messify(h.rec, rng, None, drop_zip=0, wrong_zip=0, typo=0)
                ring = [text, line2, h, ring_sizes.pop()]
            ring[3] -= 1
            add(ring[0], ring[1], _truth(slot, ring[2], [], flags))
    return orders, truths


def _ring_sizes(orders: int, rng: random.Random) -> list[int]:
    """Orders per reshipping address, 3 to 5 customers each (at least 3: ``shared_address``
    needs 3), adding up to ``orders``."""
    sizes: list[int] = []
    while orders - sum(sizes) >= 3:
        sizes.append(min(rng.randrange(3, 6), orders - sum(sizes)))
        if 0 < orders - sum(sizes) < 3:
            sizes[-1] += orders - sum(sizes)
    return sizes or [orders]
