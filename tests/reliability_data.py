"""Orders for the reliability, security and property tests: real San Francisco address points
from the shipped demo layer (so the rules parser reads them and libpostal never loads), with
passthrough columns, spreadsheet-formula cells, a blank address, a duplicated and a missing
order_id."""

from __future__ import annotations

import csv
import random
from pathlib import Path

from addressing.demo import DATA as DEMO

HEADER = ["order_id", "address", "customer_id", "memo", "notes"]


def sf_points(n: int, seed: int) -> list[dict]:
    with open(DEMO / "sf_eas_addresses_with_units.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return random.Random(seed).sample(rows, n)


def sf_orders(n: int, seed: int = 7) -> list[list[str]]:
    """``n`` order rows (``HEADER`` columns) with a few deliberate defects at fixed places."""
    rng = random.Random(seed)
    out = []
    for i, r in enumerate(sf_points(n, seed)):
        unit = f" Apt {r['UNIT_NUM']}" if r["UNIT_NUM"] and rng.random() < 0.5 else ""
        addr = f"{r['ADDRESS']}{unit}, San Francisco, CA {r['ZIPCODE']}"
        if rng.random() < 0.1:
            addr = addr.lower()
        out.append([f"C{i:05d}", addr, f"cust{rng.randrange(max(2, n // 5))}",
                    rng.choice(["=1+1", "note", "", "-5", "+1 555 0100", "@SUM(A1)"]), f"n{i}"])
    if n > 12:
        out[3][1] = ""  # blank address -> invalid, still in the output
        out[7][0] = out[6][0]  # duplicated order_id -> reported, both rows kept
        out[11][0] = ""  # missing order_id -> reported
        out[12][1] = "1047 Spring St, Prattville, AL 36067"  # an Autauga TIGER range
    return out


def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path
