"""A gazetteer that learns streets, and a day of orders on them, for the re-check tests.

Every point is a real San Francisco address point of the shipped demo layer, written as a
standard OpenAddresses CSV. The first version knows five streets; later sources add Dore St
(but for one flat), Linden St, then the missing flat, then Fell St (where no order is). The
orders: some at the five streets (delivered from the start), some at Dore and Linden (held
until a source has them), and some a gazetteer cannot help (a PO box, junk, a building's flat
left out, a street that does not exist).
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Callable
from pathlib import Path

from addressing.demo import DATA as DEMO

POLICY = DEMO / "risk.toml"
OA_HEADER = ["LON", "LAT", "NUMBER", "STREET", "UNIT", "CITY", "DISTRICT", "REGION", "POSTCODE", "ID", "HASH"]
FIRST_STREETS = {("PAGE", "ST"), ("GOUGH", "ST"), ("HAYES", "ST"), ("OCTAVIA", "ST"), ("TURK", "ST")}
#: the one flat of Dore St that the first Dore source lacks
LATE_FLAT = ("30", "DORE", "209")

#: source name -> which demo points it holds
SOURCES: dict[str, Callable[[dict], bool]] = {
    "first": lambda r: (r["ST_NAME"], r["ST_TYPE"]) in FIRST_STREETS,
    "dore": lambda r: r["ST_NAME"] == "DORE" and (_number(r), r["ST_NAME"], r["UNIT_NUM"]) != LATE_FLAT,
    "linden": lambda r: r["ST_NAME"] == "LINDEN",
    "dore-flat": lambda r: (_number(r), r["ST_NAME"], r["UNIT_NUM"]) == LATE_FLAT,
    "fell": lambda r: r["ST_NAME"] == "FELL",
}
#: the gazetteer's versions, oldest first: which sources each holds
VERSIONS = {
    "v1": ("first",),
    "v2": ("first", "dore", "linden"),
    "v3": ("first", "dore", "linden", "dore-flat"),
    "v4": ("first", "dore", "linden", "dore-flat", "fell"),
}

#: order id -> address; customers are one per order but for the three sharers
DELIVERED = {
    "D1": "7 Octavia St, San Francisco, CA 94102",
    "D2": "384 Hayes St, San Francisco, CA 94102",
    "D3": "134 Page St, San Francisco, CA 94102",
    "D4": "525 Gough St Apt 105, San Francisco, CA 94102",
    "D5": "186 Turk St, San Francisco, CA 94102",
}
#: held at first; delivered once their street is in the gazetteer
RESOLVED_BY_V2 = {
    "R1": "123 Dore St, San Francisco, CA 94103",
    "R2": "286 Linden St, San Francisco, CA 94102",
}
#: held at first, then a flat the gazetteer does not know (review), then delivered
RESOLVED_BY_V3 = {"R3": "30 Dore St Apt 209, San Francisco, CA 94103"}
#: three customers at one Dore address: held at first, then matched but shared (review)
SHARED = {"S1": "145 Dore St, San Francisco, CA 94103", "S2": "145 DORE STREET SAN FRANCISCO CA 94103",
          "S3": "145 Dore St., San Francisco CA 94103"}
#: waiting on a human whatever the gazetteer holds
NEVER = {
    "W1": "PO Box 123, San Francisco CA 94102",
    "W2": "asdf qwer",
    "W3": "650 Turk St, San Francisco CA 94102",
    "W4": "99999 Nowhere Blvd, San Francisco CA 94102",
}
ORDER_IDS = [*DELIVERED, "R1", "W1", *SHARED, "R2", "W2", "R3", "W3", "W4"]
ADDRESSES = {**DELIVERED, **RESOLVED_BY_V2, **RESOLVED_BY_V3, **SHARED, **NEVER}


def _number(r: dict) -> str:
    return r["ADDR_NUM"].split(".")[0] + r["ADDR_N_SFX"]


@functools.cache
def demo_points() -> tuple[dict, ...]:
    with open(DEMO / "sf_eas_addresses_with_units.csv", newline="", encoding="utf-8") as f:
        return tuple(csv.DictReader(f))


def write_sources(folder: Path) -> dict[str, Path]:
    """Each source as a standard OA CSV in ``folder``: name -> file."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, keep in SOURCES.items():
        path = folder / f"{name}.csv"
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(OA_HEADER)
            for r in demo_points():
                if keep(r):
                    w.writerow([r["lon"], r["lat"], _number(r), f"{r['ST_NAME']} {r['ST_TYPE']}", r["UNIT_NUM"],
                                "SAN FRANCISCO", "", "CA", r["ZIPCODE"], r["EAS_SUBID"], ""])
        files[name] = path
    return files


def sources_toml(path: Path, files: dict[str, Path], version: str) -> Path:
    """A sources TOML (``flows.refresh_gazetteer``'s input) listing the sources of ``version``."""
    path.write_text("".join(f'[[source]]\nkind = "openaddresses"\npath = "{files[n]}"\nname = "oa:{n}"\n\n'
                            for n in VERSIONS[version]), encoding="utf-8")
    return path


def specs(files: dict[str, Path], version: str) -> list:
    from addressing.gazetteer.store import SourceSpec

    return [SourceSpec("openaddresses", files[n], name=f"oa:{n}") for n in VERSIONS[version]]


def write_orders(path: Path) -> Path:
    """The day's orders as CSV, with a customer column and a passthrough column holding a
    spreadsheet formula (the CSV writer's care for it must survive a re-check)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["order_id", "customer_id", "address", "memo"])
        for oid in ORDER_IDS:
            w.writerow([oid, f"cust-{oid}", ADDRESSES[oid], "=1+1" if oid.startswith("R") else f"memo {oid}"])
    return path
