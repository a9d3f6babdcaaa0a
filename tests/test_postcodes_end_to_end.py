"""End to end through the command line: real points on real 0-prefixed ZIPs keep their zeros
from the OpenAddresses CSV to the cleaned order.

``pelias_interpolation/willow_ave_oa.csv`` holds every Willow Avenue of New Jersey (lon -75.17
.. -73.93) with no CITY, REGION or POSTCODE; its Hoboken stretch is ZIP 07030. That stretch is
loaded as Hoboken 07030, and copies of it moved onto the centroids of Manchester, CT's two
standard ZIPs (06040, 06042, from the ``zipcodes`` package) give one street name in two ZIPs of
one town: an order written with the right ZIP must be matched to that ZIP's street, not come
out ``ambiguous`` because the gazetteer read the ZIPs as the numbers 6040 and 6042.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from addressing.parse import places

#: Willow Avenue in Hoboken (lon, lon, lat, lat): north of it the street runs on into Weehawken
HOBOKEN = (-74.045, -74.02, 40.735, 40.755)
MANCHESTER_ZIPS = ("06040", "06042")
OA_HEADER = ["LON", "LAT", "NUMBER", "STREET", "UNIT", "CITY", "DISTRICT", "REGION", "POSTCODE", "ID", "HASH"]
#: how far (degrees) a matched point may be from the source point it came from
SAME_POINT = 1e-6


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "addressing.cli", *args], capture_output=True, text=True)


def _hoboken(real: Path) -> list[dict]:
    with open(real / "pelias_interpolation/willow_ave_oa.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    lon0, lon1, lat0, lat1 = HOBOKEN
    return [r for r in rows if lon0 < float(r["LON"]) < lon1 and lat0 < float(r["LAT"]) < lat1]


def _moved(rows: list[dict], zip_code: str, city: str, state: str) -> list[dict]:
    """The rows shifted so that their centre lands on the ZIP's centroid."""
    info = places.zip_info(zip_code)
    lon0 = sum(float(r["LON"]) for r in rows) / len(rows)
    lat0 = sum(float(r["LAT"]) for r in rows) / len(rows)
    dlon, dlat = info.lon - lon0, info.lat - lat0
    return [{**r, "LON": f"{float(r['LON']) + dlon:.7f}", "LAT": f"{float(r['LAT']) + dlat:.7f}", "CITY": city,
             "REGION": state, "POSTCODE": zip_code} for r in rows]


@pytest.fixture(scope="module")
def layers(real, tmp_path_factory) -> dict:
    """The gazetteer (built by the CLI) and the source points of each ZIP."""
    hob = _hoboken(real)
    assert len(hob) > 500 and all(not r["POSTCODE"] for r in hob)      # the file leaves POSTCODE blank
    by_zip = {"07030": [{**r, "CITY": "Hoboken", "REGION": "NJ", "POSTCODE": "07030"} for r in hob]}
    for z in MANCHESTER_ZIPS:
        by_zip[z] = _moved(hob, z, "Manchester", "CT")
    folder = tmp_path_factory.mktemp("zero_zips")
    src = folder / "nj_ct_willow.csv"
    with open(src, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=OA_HEADER)
        w.writeheader()
        for rows in by_zip.values():
            w.writerows(rows)
    db = folder / "g.duckdb"
    r = run("gazetteer", "build", "--db", str(db), "--openaddresses", str(src))
    assert r.returncode == 0, r.stderr
    # a house number with one plain point on Willow Avenue, to order
    number = next(r["NUMBER"] for r in hob if r["NUMBER"].isdigit() and r["STREET"] == "Willow Avenue"
                  and sum(1 for o in hob if o["NUMBER"] == r["NUMBER"]) == 1)
    return {"db": db, "folder": folder, "by_zip": by_zip, "number": number}


def _point(layers: dict, zip_code: str) -> tuple[float, float]:
    (row,) = [r for r in layers["by_zip"][zip_code] if r["NUMBER"] == layers["number"]]
    return float(row["LAT"]), float(row["LON"])


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_orders_on_zero_zips_match_their_own_street(layers, fmt):
    n = layers["number"]
    orders = [  # (order_id, address1, city, state, postal_code as written, the ZIP meant)
        ("H", f"{n} Willow Ave", "Hoboken", "NJ", "07030", "07030"),
        ("M42", f"{n} Willow Ave", "Manchester", "CT", "06042", "06042"),
        ("M40", f"{n} Willow Ave", "Manchester", "CT", "06040", "06040"),
        ("M42-spreadsheet", f"{n} Willow Ave", "Manchester", "CT", "6042", "06042"),
        ("H-spreadsheet", f"{n} Willow Avenue", "Hoboken", "NJ", "7030", "07030"),
    ]
    src = layers["folder"] / f"orders_{fmt}.csv"
    with open(src, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["order_id", "address1", "city", "state", "postal_code"])
        w.writerows(o[:5] for o in orders)
    out = layers["folder"] / f"cleaned.{fmt}"
    r = run("clean", str(src), "-o", str(out), "--db", str(layers["db"]), "--format", fmt)
    assert r.returncode == 0, r.stderr
    if fmt == "csv":
        with open(out, newline="", encoding="utf-8") as f:
            got = {row["order_id"]: row for row in csv.DictReader(f)}
        for row in got.values():
            row["corrections"] = json.loads(row["corrections"])
            row["lat"], row["lon"] = float(row["lat"]), float(row["lon"])
    else:
        got = {row["order_id"]: row for row in pq.read_table(out).to_pylist()}
    for oid, _, city, state, written, zip_code in orders:
        row = got[oid]
        assert row["match_status"] == "matched", (oid, row["match_status"], row["candidates"])
        assert row["postal_code"] == zip_code
        assert row["line2"] == f"{city.upper()} {state} {zip_code}"
        lat, lon = _point(layers, zip_code)
        assert abs(row["lat"] - lat) < SAME_POINT and abs(row["lon"] - lon) < SAME_POINT, oid
        assert ("postal_code_zero_restored" in row["corrections"]) == (written != zip_code), row["corrections"]


def test_one_line_order_on_a_zero_zip(layers):
    n = layers["number"]
    src = layers["folder"] / "one_line.csv"
    src.write_text(f"order_id,address\n1,\"{n} Willow Ave, Manchester CT 06042\"\n"
                   f"2,\"{n} Willow Ave, Manchester CT 6042\"\n")
    out = layers["folder"] / "one_line.jsonl"
    r = run("clean", str(src), "-o", str(out), "--db", str(layers["db"]), "--format", "jsonl")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(x["match_status"], x["postal_code"]) for x in rows] == [("matched", "06042")] * 2
    assert all(re.search(r" 06042$", x["line2"]) for x in rows)
