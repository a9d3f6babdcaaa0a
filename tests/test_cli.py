"""The command line contract, run as a user would (subprocess)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pyarrow.parquet as pq


def run(*args, **kw):
    return subprocess.run([sys.executable, "-m", "addressing.cli", *args], capture_output=True, text=True, **kw)


def test_parse_prints_components():
    r = run("parse", "1600 pennsylvania av nw apt 2 washington dc 20500")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["street_type"] == "AVE" and d["postdirectional"] == "NW" and d["unit"] == "2"
    assert d["line1"] == "1600 PENNSYLVANIA AVE NW APT 2"


def test_clean_good_blank_and_garbage_rows(tmp_path, demo_db):
    src = tmp_path / "orders.csv"
    with open(src, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["order_id", "address", "note"])
        w.writerow(["1", "7 Octavia St, San Francisco, CA 94102", "a"])
        w.writerow(["2", "1047 Spring St, Prattville, AL 36067", "b"])
        w.writerow(["3", "650 Turk St Apt 201, San Francisco CA 94102", "c"])
        w.writerow(["4", "", "blank"])
        w.writerow(["5", "Z" * 5000, "garbage"])
    out = tmp_path / "out" / "cleaned.parquet"
    r = run("clean", str(src), "-o", str(out), "--db", str(demo_db))
    assert r.returncode == 0, r.stderr
    t = pq.read_table(out).to_pylist()
    assert [row["order_id"] for row in t] == ["1", "2", "3", "4", "5"]
    assert [row["note"] for row in t] == ["a", "b", "c", "blank", "garbage"]
    assert [row["match_status"] for row in t][:3] == ["matched"] * 3
    assert t[3]["match_status"] == "invalid" and t[3]["reason"]
    assert t[4]["match_status"] == "invalid" and "too long" in t[4]["reason"]
    manifest = json.loads((out.parent / "cleaned.manifest.json").read_text())
    assert manifest["input"]["rows"] == 5 == sum(manifest["counts"]["match_status"].values())


def test_missing_input_is_one_line_error(tmp_path, demo_db):
    r = run("clean", str(tmp_path / "nope.csv"), "-o", str(tmp_path / "o.parquet"), "--db", str(demo_db))
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "nope.csv" in lines[0] and "no such file" in lines[0]
    assert not (tmp_path / "o.parquet").exists()


def test_missing_gazetteer_is_one_line_error(tmp_path):
    src = tmp_path / "o.csv"
    src.write_text("order_id,address\n1,1 Main St\n")
    r = run("clean", str(src), "-o", str(tmp_path / "o.parquet"), "--db", str(tmp_path / "none.duckdb"))
    assert r.returncode != 0 and len(r.stderr.strip().splitlines()) == 1
    assert "gazetteer build" in r.stderr
