"""Re-check after a gazetteer refresh (``addressing.batch.recheck``): a day cleaned against a
gazetteer that lacks two streets, then the gazetteer learns them. The orders still waiting on
a human are cleaned again; exactly those whose result changed are written beside the day's
output, as a cleaning of the whole day against the new version would give them; the day's own
files are not touched; a rerun rewrites the same bytes; a later version is judged against the
newest result; old batches are left alone.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from recheck_data import (
    NEVER,
    ORDER_IDS,
    POLICY,
    RESOLVED_BY_V2,
    RESOLVED_BY_V3,
    SHARED,
    specs,
    write_orders,
    write_sources,
)

from addressing.batch import MOVE_TOLERANCE_M, changed_fields, output_paths, recheck_output
from addressing.batch.recheck import recheck
from addressing.batch.run import clean_file
from addressing.cli import main
from addressing.gazetteer import open_gazetteer
from addressing.gazetteer.store import build

WAITING_AT_V1 = {*RESOLVED_BY_V2, *RESOLVED_BY_V3, *SHARED, *NEVER}
#: manifest keys that differ between any two runs
VOLATILE = ("timings_s", "wall_s")


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, Path]:
    return write_sources(tmp_path_factory.mktemp("sources"))


@pytest.fixture
def day(tmp_path, sources) -> dict:
    """The day cleaned against version v1 of a fresh gazetteer: ``out/day1/shop.parquet``."""
    db = tmp_path / "gaz" / "sf.duckdb"
    db.parent.mkdir()
    build(db, specs(sources, "v1"))
    orders = write_orders(tmp_path / "orders" / "shop.csv")
    out = tmp_path / "out"
    output = out / "day1" / "shop.parquet"
    clean_file(orders, output, db, risk_policy=POLICY, batch_id="day1")
    rows = {r["order_id"]: r for r in pq.read_table(output).to_pylist()}
    # what the test rests on: the day as cleaned against v1
    assert {o for o, r in rows.items() if r["action"] != "deliver"} == WAITING_AT_V1
    return {"db": db, "orders": orders, "out": out, "output": output, "sources": sources, "tmp": tmp_path}


def refresh(day: dict, version: str) -> str:
    """Install ``version`` of the gazetteer in place, as a refresh does; its version string."""
    return build(day["db"], specs(day["sources"], version)).version


def files(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones too): relative path -> SHA-256."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def rows_of(path: Path) -> list[dict]:
    return pq.read_table(path).to_pylist()


def manifest_of(output: Path) -> dict:
    m = json.loads(output_paths(output)["manifest"].read_text())
    for key in VOLATILE:
        m.pop(key)
    return m


def test_recheck_writes_only_the_orders_whose_result_changed(day):
    before = files(day["out"])
    v2 = refresh(day, "v2")
    result = recheck(day["out"], day["db"], days=7, risk_policy=POLICY)

    assert result.gazetteer_version == v2 and not result.skipped
    assert result.checked == len(WAITING_AT_V1)
    changed = [c.order_id for c in result.changes]
    assert changed == ["R1", *SHARED, "R2", "R3"]  # in the day's order; NEVER and DELIVERED are not here
    target = recheck_output(day["output"], v2)
    assert result.written == [target] and target == day["out"] / "day1" / "rechecks" / v2 / "shop.parquet"
    written = rows_of(target)
    assert [r["order_id"] for r in written] == changed

    # the day's own files are byte-identical; the re-check added its three files and nothing else
    after = files(day["out"])
    assert {k: after[k] for k in before} == before
    assert sorted(set(after) - set(before)) == sorted(
        f"day1/rechecks/{v2}/{name}" for name in ("shop.parquet", "shop.review.csv", "shop.manifest.json"))

    # each written order is what cleaning the whole day against v2 gives it, column for column
    # (the shared address counted batch-wide, the passthrough columns as the input had them)
    whole = day["tmp"] / "whole" / "day1" / "shop.parquet"
    clean_file(day["orders"], whole, day["db"], risk_policy=POLICY, batch_id="day1")
    fresh = {r["order_id"]: r for r in rows_of(whole)}
    for r in written:
        assert r == fresh[r["order_id"]], r["order_id"]
    assert {r["order_id"]: r["action"] for r in written} == {"R1": "deliver", "R2": "deliver", "R3": "review",
                                                            "S1": "review", "S2": "review", "S3": "review"}
    assert all("shared_address" in r["risk_flags"] for r in written if r["order_id"] in SHARED)
    assert written[0]["memo"] == "=1+1"

    by_id = {c.order_id: c for c in result.changes}
    r1 = by_id["R1"]
    assert (r1.old["match_status"], r1.new["match_status"]) == ("unmatched", "matched")
    assert (r1.old["action"], r1.new["action"]) == ("hold", "deliver") and r1.batch_id == "day1"
    assert "undeliverable" in r1.flags_removed and r1.moved_m > MOVE_TOLERANCE_M
    assert r1.row == ORDER_IDS.index("R1")  # its row in the day's output
    m = json.loads(output_paths(target)["manifest"].read_text())
    assert m["batch_id"] == "day1" and m["gazetteer"]["version"] == v2
    assert m["recheck"]["rows"] == [c.row for c in result.changes] and m["recheck"]["source"] == "input"
    assert m["counts"]["action"] == {"review": 4, "deliver": 2}
    with open(output_paths(target)["review"], newline="", encoding="utf-8") as f:
        assert sorted(r["order_id"] for r in csv.DictReader(f)) == ["R3", *SHARED]


def test_a_rerun_rewrites_the_same_bytes_and_adds_nothing(day):
    v2 = refresh(day, "v2")
    first = recheck(day["out"], day["db"], days=7, risk_policy=POLICY)
    once = files(day["out"])
    target = recheck_output(day["output"], v2)
    m1 = manifest_of(target)
    again = recheck(day["out"], day["db"], days=7, risk_policy=POLICY)
    twice = files(day["out"])
    assert sorted(once) == sorted(twice)  # no second copy, no work folder, lock or temporary file left
    for name in ("shop.parquet", "shop.review.csv"):
        key = f"day1/rechecks/{v2}/{name}"
        assert once[key] == twice[key], name
    assert manifest_of(target) == m1
    assert [c.as_dict() for c in again.changes] == [c.as_dict() for c in first.changes]


def test_a_later_version_is_judged_against_the_newest_result(day):
    v2 = refresh(day, "v2")
    recheck(day["out"], day["db"], days=7, risk_policy=POLICY)
    at_v2 = files(day["out"])

    v3 = refresh(day, "v3")  # the Dore flat R3 asked for
    result = recheck(day["out"], day["db"], days=7, risk_policy=POLICY)
    # R1 and R2 were delivered by the v2 re-check: not cleaned again; the sharers still wait, unchanged
    assert result.checked == 1 + len(SHARED) + len(NEVER)
    [r3] = result.changes
    assert r3.order_id == "R3" and (r3.old["action"], r3.new["action"]) == ("review", "deliver")
    assert "unknown_unit" in r3.flags_removed and "undeliverable" not in r3.flags_removed
    assert [r["order_id"] for r in rows_of(recheck_output(day["output"], v3))] == ["R3"]
    after = files(day["out"])
    assert {k: after[k] for k in at_v2} == at_v2  # the v2 re-check is history: untouched

    v4 = refresh(day, "v4")  # a street no order is on
    result = recheck(day["out"], day["db"], days=7, risk_policy=POLICY)
    assert result.checked == len(SHARED) + len(NEVER) and result.changes == [] and result.written == []
    assert not recheck_output(day["output"], v4).parent.exists()
    assert v2 != v3 != v4


def test_batches_older_than_the_window_are_left_alone(day):
    manifest = output_paths(day["output"])["manifest"]
    ten_days_ago = time.time() - 10 * 86_400
    os.utime(manifest, (ten_days_ago, ten_days_ago))
    v2 = refresh(day, "v2")
    before = files(day["out"])
    result = recheck(day["out"], day["db"], days=7, risk_policy=POLICY)
    assert result.files == [] and result.checked == 0 and files(day["out"]) == before
    assert recheck(day["out"], day["db"], days=0, risk_policy=POLICY).files == []
    wider = recheck(day["out"], day["db"], days=11, risk_policy=POLICY)
    assert wider.written == [recheck_output(day["output"], v2)]


def test_without_its_input_the_output_is_rechecked_from_its_own_rows(day):
    v2 = refresh(day, "v2")
    from_input = recheck(day["out"], day["db"], days=7, risk_policy=POLICY)
    target = recheck_output(day["output"], v2)
    want = files(target.parent)
    with open(day["orders"], "a", encoding="utf-8") as f:  # no longer the file the day was cleaned from
        f.write("X1,cust-x,1 Main St,\n")
    from_output = recheck(day["out"], day["db"], days=7, risk_policy=POLICY)
    assert [f.source for f in from_input.files] == ["input"] and [f.source for f in from_output.files] == ["output"]
    assert [c.as_dict() for c in from_output.changes] == [c.as_dict() for c in from_input.changes]
    got = files(target.parent)
    for name in ("shop.parquet", "shop.review.csv"):
        assert got[name] == want[name], name


def test_outputs_of_another_gazetteer_a_csv_output_and_a_broken_manifest_are_skipped(day, sources, tmp_path):
    other = tmp_path / "other.duckdb"
    build(other, specs(sources, "v1"))
    clean_file(day["orders"], day["out"] / "day1" / "elsewhere.parquet", other, risk_policy=POLICY)
    clean_file(day["orders"], day["out"] / "day1" / "as-text.csv", day["db"], risk_policy=POLICY)
    (day["out"] / "day1" / "junk.manifest.json").write_text("{not json")
    refresh(day, "v2")
    result = recheck(day["out"], day["db"], days=7, risk_policy=POLICY)
    reasons = {p.name: r for p, r in ((s.path, s.reason) for s in result.skipped)}
    assert set(reasons) == {"elsewhere.parquet", "as-text.csv", "junk.manifest.json"}
    assert "other.duckdb" in reasons["elsewhere.parquet"] and "csv output" in reasons["as-text.csv"]
    assert [f.output.name for f in result.files] == ["shop.parquet"]


def test_an_output_cleaned_with_the_current_version_is_not_rechecked(day):
    result = recheck(day["out"], day["db"], days=7, risk_policy=POLICY)
    assert result.gazetteer_version == open_gazetteer(day["db"]).version
    assert result.current == 1 and result.files == [] and result.written == []


def test_the_command_prints_a_summary_and_bad_input_is_one_line(day, capsys):
    v2 = refresh(day, "v2")
    assert main(["recheck", "--out-dir", str(day["out"]), "--db", str(day["db"]), "--risk-policy", str(POLICY)]) == 0
    out = capsys.readouterr().out
    assert f"{len(WAITING_AT_V1)} order(s) in review or hold cleaned again in 1 output(s), 6 changed" in out
    assert str(recheck_output(day["output"], v2)) in out
    for argv, named in ((["--out-dir", str(day["tmp"] / "nowhere"), "--db", str(day["db"])], "nowhere"),
                        (["--out-dir", str(day["out"]), "--db", str(day["tmp"] / "none.duckdb")], "none.duckdb"),
                        (["--out-dir", str(day["out"]), "--db", str(day["db"]), "--risk-policy",
                          str(day["orders"])], "shop.csv")):
        assert main(["recheck", *argv]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and named in err[0] and err[0].startswith("addressing: error:"), err


@pytest.mark.parametrize(("old", "new", "want"), [
    ({"lat": 37.7739742, "lon": -122.4133944}, {"lat": 37.77397419999996, "lon": -122.4133943999999}, []),
    ({"lat": 37.7739742, "lon": -122.4133944}, {"lat": 37.7740742, "lon": -122.4133944}, ["point"]),
    ({"lat": None, "lon": None}, {"lat": 37.77, "lon": -122.41}, ["point"]),
    ({"lat": float("nan"), "lon": None}, {"lat": None, "lon": None}, []),
    ({"risk_flags": ["po_box", "low_confidence"]}, {"risk_flags": ["low_confidence", "po_box"]}, []),
    ({"risk_flags": None}, {"risk_flags": []}, []),
    ({"risk_flags": []}, {"risk_flags": ["shared_address"]}, ["risk_flags"]),
    ({"confidence": 0.5, "gazetteer_version": "a", "risk_reasons": ["x"]},
     {"confidence": 0.9, "gazetteer_version": "b", "risk_reasons": ["y"]}, []),
    ({"line1": "30 DORE ST"}, {"line1": "30 DORE ST APT 209"}, ["line1"]),
    ({}, {}, []),
])
def test_what_counts_as_a_change(old, new, want):
    assert changed_fields(old, new) == want


def test_the_nightly_summary_counts_the_recent_rechecks(day):
    from addressing import report
    from flows.nightly_clean import recent_rechecks

    assert recent_rechecks.fn(str(day["out"])) == []
    version = refresh(day, "v2")
    result = recheck(day["out"], day["db"], risk_policy=POLICY)
    found = recent_rechecks.fn(str(day["out"]))
    assert len(found) == 1 and found[0]["gazetteer"]["version"] == version
    text = report.learning_markdown([manifest_of(day["output"])], [], 30, 25.0, found)
    checked = sum(f.checked for f in result.files)
    changed = sum(len(f.changes) for f in result.files)
    assert changed > 0
    assert f"Re-checked after a gazetteer refresh (`{version}`): {checked:,} waiting orders, {changed:,} changed" in text
