"""The demo: a day that looks like a real one, its truth, the report against it, and its data
shipped inside the package."""

from __future__ import annotations

import csv
import fnmatch
import json
import subprocess
import sys
import tomllib
from collections import Counter, defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import shapely

from addressing import clean_file
from addressing.demo import DATA
from addressing.demo.day import PROBLEMS, REPEAT_SHARE, demo_orders
from addressing.demo.report import compare, demo_report, handled, report_text
from addressing.errors import InputError

PROJECT = Path(__file__).resolve().parents[2]
N = 1500


@pytest.fixture(scope="module")
def day(gaz):
    return demo_orders(gaz, N, seed=7)


def _shape(name: str):
    with open(DATA / name, encoding="utf-8") as f:
        return shapely.union_all([shapely.geometry.shape(x["geometry"]) for x in json.load(f)["features"]])


def test_each_problem_is_a_few_percent_and_the_rest_is_ordinary(day):
    orders, truths = day
    assert len(orders) == len(truths) == N
    kinds = Counter(t.kind for t in truths)
    for kind, (share, _) in PROBLEMS.items():
        assert kinds[kind] == round(share * N), kind
        assert share <= 0.03, f"{kind}: a real day has a few percent of each problem"
    assert kinds["repeat"] == round(REPEAT_SHARE * N)
    assert kinds["routine"] + kinds["repeat"] >= 0.85 * N
    assert [o["order_id"] for o in orders] == [f"D{i:06d}" for i in range(1, N + 1)]


def test_the_same_seed_makes_the_same_day(gaz, day):
    again, truths = demo_orders(gaz, N, seed=7)
    assert again == day[0] and [t.__dict__ for t in truths] == [t.__dict__ for t in day[1]]
    assert demo_orders(gaz, N, seed=8)[0] != day[0]


def test_customers_live_at_their_own_addresses(day):
    """No two ordinary customers share an address; a repeat customer orders to their own home."""
    orders, truths = day
    customers_at: dict[tuple, set[str]] = defaultdict(set)
    home_of: dict[str, tuple] = {}
    for o, t in zip(orders, truths):
        if t.kind in ("routine", "repeat"):
            home = (t.house_number, t.street_name, t.unit, t.postal_code, round(t.lat, 7), round(t.lon, 7))
            customers_at[home].add(o["customer_id"])
            assert home_of.setdefault(o["customer_id"], home) == home, o
    assert max(len(c) for c in customers_at.values()) == 1
    repeats = Counter(o["customer_id"] for o, t in zip(orders, truths) if t.kind in ("routine", "repeat"))
    assert sum(n - 1 for n in repeats.values()) == round(REPEAT_SHARE * N)


def test_truth_places_match_the_demo_policy(day):
    area, zones = _shape("service_areas.geojson"), _shape("high_risk_zones.geojson")
    _, truths = day
    for t in truths:
        if t.lat is None:
            continue
        p = shapely.Point(t.lon, t.lat)
        if t.kind in ("routine", "repeat", "misspelt", "missing_unit", "shared"):
            assert area.contains(p) and not zones.contains(p), t
        elif t.kind == "outside_area":
            assert not area.contains(p), t
        elif t.kind == "risk_zone":
            assert zones.contains(p), t
    assert all("typo" in t.mess for t in truths if t.kind == "misspelt")
    assert not any("typo" in t.mess for t in truths if t.kind == "routine")
    assert all(t.unit is None for t in truths if t.kind == "missing_unit")


def test_a_reshipping_ring_has_three_customers_or_more(day):
    orders, truths = day
    rings: dict[str, set[str]] = defaultdict(set)
    for o, t in zip(orders, truths):
        if t.kind == "shared":
            rings[o["address"]].add(o["customer_id"])
    assert rings and min(len(c) for c in rings.values()) >= 3


# --------------------------------------------------------------------------- the report


def _batch(path: Path, rows: list[tuple[str, list[str], str]]) -> Path:
    pq.write_table(pa.table({"order_id": [r[0] for r in rows], "risk_flags": [r[1] for r in rows],
                             "action": [r[2] for r in rows]}), path)
    return path


def test_report_counts_flags_against_what_was_planted(tmp_path):
    truth = {"1": {"kind": "routine"}, "2": {"kind": "po_box"}, "3": {"kind": "po_box"},
             "4": {"kind": "misspelt"}, "5": {"kind": "routine"}, "6": {"kind": "junk"}}
    a = _batch(tmp_path / "a.parquet", [("1", [], "deliver"), ("2", ["po_box"], "hold"), ("3", [], "deliver"),
                                        ("x", ["po_box"], "hold")])
    b = _batch(tmp_path / "b.parquet", [("4", ["low_confidence"], "review"), ("5", ["low_confidence"], "review"),
                                        ("2", ["po_box"], "hold")])
    r = compare([a, b], truth)
    assert (r.orders, r.missing) == (5, 1)                   # "x" is no demo order; "2" counted once; "6" missing
    assert r.actions == Counter(deliver=2, hold=1, review=2)
    assert r.flags == Counter(po_box=1, low_confidence=2)
    assert r.flags_planted == Counter(po_box=1, low_confidence=1)
    assert r.planted_share == pytest.approx(2 / 3)
    assert r.planted == Counter(po_box=2, misspelt=1) and r.caught == Counter(po_box=1, misspelt=0)
    text = report_text(r)
    assert "66.7% of them on orders with a planted problem" in text and "(1 of the day's orders not in" in text
    assert "deliver 2 (40.0%), review 2 (40.0%), hold 1 (20.0%)" in text


def test_report_without_flags_or_outputs(tmp_path):
    r = compare([_batch(tmp_path / "a.parquet", [("1", [], "deliver")])], {"1": {"kind": "routine"}})
    assert r.planted_share is None and "flags: 0 raised; none" in report_text(r)
    with pytest.raises(InputError, match="no cleaned Parquet batches"):
        demo_report(tmp_path / "none", tmp_path / "truth.jsonl")
    with pytest.raises(InputError, match="run `addressing demo` first"):
        demo_report(tmp_path, tmp_path / "truth.jsonl")


@pytest.mark.parametrize("kind, flags, action, ok", [
    ("po_box", {"po_box"}, "hold", True),
    ("po_box", {"low_confidence"}, "review", False),
    ("elsewhere", {"outside_coverage"}, "hold", False),      # both flags are expected
    ("elsewhere", {"outside_coverage", "outside_service_area", "undeliverable"}, "hold", True),
    ("misspelt", set(), "deliver", True),
    ("misspelt", {"corrected_heavily"}, "review", False),
])
def test_handled(kind, flags, action, ok):
    assert handled(kind, flags, action) is ok


def test_a_cleaned_day_is_mostly_delivered_and_its_flags_mostly_planted(tmp_path, demo_db, day):
    orders, truths = day
    src = tmp_path / "day.csv"
    with open(src, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["order_id", "customer_id", "address", "address2"])
        w.writeheader()
        w.writerows(orders)
    clean_file(src, tmp_path / "out" / "day.parquet", demo_db, risk_policy=DATA / "risk.toml")
    truth = {o["order_id"]: {"kind": t.kind} for o, t in zip(orders, truths)}
    r = compare([tmp_path / "out" / "day.parquet"], truth)
    assert r.orders == N and r.missing == 0
    assert r.actions["deliver"] >= 0.85 * N
    assert r.planted_share >= 0.85
    # (abroad needs the world postal codes, which the tests' gazetteer leaves out)
    for kind in ("po_box", "outside_area", "missing_unit", "risk_zone", "forwarder", "military"):
        assert r.caught[kind] == r.planted[kind], kind


def test_demo_report_command(tmp_path):
    work = tmp_path / "w"
    (work / "out" / "demo").mkdir(parents=True)
    (work / "orders-truth.jsonl").write_text(json.dumps({"order_id": "1", "kind": "po_box"}) + "\n")
    _batch(work / "out" / "demo" / "shop.parquet", [("1", ["po_box"], "hold")])
    run = [sys.executable, "-m", "addressing.cli", "demo", "--report", "--workdir", str(work)]
    r = subprocess.run(run, capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "100.0% of them on orders with a planted problem" in r.stdout
    r = subprocess.run(run + ["--outputs", str(tmp_path)], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "no cleaned Parquet" in r.stderr


# --------------------------------------------------------------------------- shipped with the package


def test_the_demo_data_is_package_data():
    """Every file the demo needs sits in addressing/demo/data and pyproject ships it."""
    globs = tomllib.loads((PROJECT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["addressing"]
    package = PROJECT / "addressing"
    files = [p for p in DATA.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"sources.toml", "risk.toml", "service_areas.geojson", "high_risk_zones.geojson",
                                       "forwarders.csv", "sf_eas_addresses_with_units.csv", "01001_nominatim.csv"}
    for p in files:
        rel = p.relative_to(package).as_posix()
        assert any(fnmatch.fnmatch(rel, g) for g in globs), f"{rel} is not in pyproject's package-data"
    sources = tomllib.loads((DATA / "sources.toml").read_text())["source"]
    for s in sources:
        assert s["path"].startswith("package:") or (DATA / s["path"]).is_file(), s["path"]


@pytest.mark.slow
def test_demo_prepares_outside_the_checkout_and_remakes_stale_orders(tmp_path):
    """``addressing demo`` from another folder: the gazetteer and the day come from the package's
    own data; a second run reuses them; a stamp from another generator makes the orders again."""
    work = tmp_path / "w"
    run = [sys.executable, "-m", "addressing.cli", "demo", "--workdir", str(work)]
    r = subprocess.run(run, capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "generating 6,000 demo orders" in r.stderr
    policy = {Path(line.split("--risk-policy ")[1]) for line in r.stderr.splitlines() if "--risk-policy" in line}
    assert policy == {DATA / "risk.toml"}                   # the hint names the package's own policy
    lines = (work / "orders-truth.jsonl").read_text().splitlines()
    assert len(lines) == 6000 and {json.loads(x)["kind"] for x in lines} >= set(PROBLEMS) | {"routine", "repeat"}
    webshop = (work / "orders" / "webshop.csv").read_bytes()
    r = subprocess.run(run, capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert "demo orders: up to date" in r.stderr
    (work / "orders.made-by").write_text("another generator\n")
    r = subprocess.run(run, capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert "generating 6,000 demo orders" in r.stderr
    assert (work / "orders" / "webshop.csv").read_bytes() == webshop
