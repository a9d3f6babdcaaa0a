"""The demo's working folder: a gazetteer from the shipped real layers, a day of seeded
messy orders, and the truth they were made from.

``prepare`` is idempotent: the gazetteer build skips sources already loaded, and the orders
are regenerated only when missing (the generator is seeded, so they are always the same).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from addressing import io as aio
from addressing.demo import DATA, day, synth
from addressing.demo.day import demo_orders
from addressing.gazetteer import open_gazetteer
from addressing.gazetteer.sources import read_sources_toml
from addressing.gazetteer.store import build

DEMO_ORDERS = 6000
WEBSHOP_SHARE = 0.75


def paths(workdir: Path) -> dict[str, Path]:
    """Where the demo keeps its gazetteer, orders, truth and outputs, and its risk policy."""
    return {"db": workdir / "gazetteer.duckdb", "orders": workdir / "orders", "out": workdir / "out",
            "truth": workdir / "orders-truth.jsonl", "stamp": workdir / "orders.made-by", "policy": DATA / "risk.toml"}


def fingerprint(gazetteer_version: str) -> str:
    """What the day's orders are made from: the generator's code, the day's size, the gazetteer.
    A change to any of them makes ``prepare`` write the orders again."""
    digest = hashlib.sha256(f"{DEMO_ORDERS} {WEBSHOP_SHARE} {gazetteer_version}".encode())
    for module in (day, synth):
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()[:16]


def prepare(workdir: Path, progress: Callable[[str], None] | None = None) -> dict[str, Path]:
    """Build the demo gazetteer in ``workdir`` and write the day's orders and their truth."""
    say = progress or (lambda m: None)
    p = paths(workdir)
    say(f"demo gazetteer: {p['db']}")
    build(p["db"], read_sources_toml(DATA / "sources.toml"), progress=say)
    webshop, market = p["orders"] / "webshop.csv", p["orders"] / "marketplace.jsonl"
    gaz = open_gazetteer(p["db"])
    stamp = fingerprint(gaz.version)
    made = p["stamp"].read_text().strip() if p["stamp"].is_file() else None
    if not (webshop.exists() and market.exists() and p["truth"].exists() and made == stamp):
        say(f"generating {DEMO_ORDERS:,} demo orders in {p['orders']}")
        orders, truth = demo_orders(gaz, DEMO_ORDERS)
        cut = int(len(orders) * WEBSHOP_SHARE)
        _write_csv(orders[:cut], webshop)
        with aio.atomic_path(market) as tmp, open(tmp, "w", encoding="utf-8") as f:
            for o in orders[cut:]:
                row = {"order_id": o["order_id"], "customer_id": o["customer_id"], "address": o["address"]}
                if o["address2"]:
                    row["address2"] = o["address2"]
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        with aio.atomic_path(p["truth"]) as tmp:
            tmp.write_text("".join(json.dumps({"order_id": o["order_id"], **t.__dict__}) + "\n"
                                   for o, t in zip(orders, truth)))
        with aio.atomic_path(p["stamp"]) as tmp:  # last: the orders and truth above are whole
            tmp.write_text(stamp + "\n")
    else:
        say(f"demo orders: up to date in {p['orders']}")
    return p


def _write_csv(rows: list[dict], path: Path) -> None:
    import csv

    with aio.atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["order_id", "customer_id", "address", "address2"])
        w.writeheader()
        w.writerows(rows)
