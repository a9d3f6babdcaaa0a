"""Errors by type: a fault of the set-up (a broken or missing gazetteer) fails the chunk with a
one-line reason and marks no row; a bug that a single row trips costs that row only; the flows
retry what a retry may cure, told by type. Real gazetteer files, real DuckDB errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from reliability_data import DEMO, sf_orders, write_csv

from addressing.batch import clean_file
from addressing.errors import GazetteerError, GazetteerReadError
from addressing.gazetteer import Gazetteer, query_arrow
from addressing.pipeline import INTERNAL_ERROR, clean_table, isolate_rows
from flows.common import is_transient

POLICY = DEMO / "risk.toml"


def broken_copy(db: Path, dest: Path) -> Path:
    """A copy of the gazetteer that opens (its meta table is whole) but whose streets are gone,
    as a half-restored backup would be."""
    shutil.copyfile(db, dest)
    con = duckdb.connect(str(dest))
    try:
        con.execute("DROP TABLE streets")
    finally:
        con.close()
    return dest


def internal_errors(folder: Path) -> int:
    tables = [pq.read_table(p, columns=["reason"]) for p in folder.rglob("out-*.parquet")]
    return sum(sum(1 for r in t.column("reason").to_pylist() if r and r.startswith(INTERNAL_ERROR)) for t in tables)


def test_a_broken_gazetteer_fails_the_chunk_and_marks_no_row(tmp_path, demo_db):
    db = broken_copy(demo_db, tmp_path / "broken.duckdb")
    src = write_csv(tmp_path / "orders.csv", sf_orders(12, seed=31))
    out = tmp_path / "out" / "o.parquet"
    with pytest.raises(GazetteerError) as info:
        clean_file(src, out, db, risk_policy=POLICY, chunk_rows=4)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{db}: query failed (Catalog Error:"), message
    assert not isinstance(info.value, GazetteerReadError)
    assert not out.exists() and not out.with_name("o.manifest.json").exists()
    assert internal_errors(out.parent) == 0 and not list(out.parent.rglob("out-*.parquet"))


def test_a_gazetteer_gone_mid_run_fails_the_next_chunk_and_the_rerun_finishes(tmp_path, demo_db):
    db = tmp_path / "g.duckdb"
    shutil.copyfile(demo_db, db)
    src = write_csv(tmp_path / "orders.csv", sf_orders(12, seed=32))
    out = tmp_path / "out" / "o.parquet"

    def remove_after_first_chunk(rows: int, total: int) -> None:
        if rows == 4:
            db.rename(tmp_path / "away.duckdb")

    with pytest.raises(GazetteerError) as info:
        clean_file(src, out, db, risk_policy=POLICY, chunk_rows=4, progress=remove_after_first_chunk)
    assert str(info.value) == f"{db}: no gazetteer here; build one with `addressing gazetteer build --db PATH`"
    assert [p.name for p in out.parent.rglob("out-*.parquet")] == ["out-00000.parquet"]
    assert internal_errors(out.parent) == 0 and not out.exists()

    (tmp_path / "away.duckdb").rename(db)
    manifest = clean_file(src, out, db, risk_policy=POLICY, chunk_rows=4)
    assert manifest["chunks"] == {"count": 3, "reused": 1} and manifest["internal_errors"] == 0
    assert sorted(p.name for p in out.parent.iterdir()) == ["o.manifest.json", "o.parquet", "o.review.csv"]


def test_a_closed_gazetteer_is_raised_at_once_not_split_into_rows(demo_db, risk_ctx):
    broken = Gazetteer(demo_db)
    broken.close()
    raw = pa.table({"order_id": [str(i) for i in range(30)], "address": ["7 Octavia St, San Francisco, CA 94102"] * 30})
    calls = []

    def clean(part: pa.Table) -> pa.Table:
        calls.append(part.num_rows)
        return clean_table(part, broken, risk_ctx)

    with pytest.raises(GazetteerError, match="query failed"):
        isolate_rows(raw, clean)
    assert calls == [30]  # never cut in halves: every row would fail alike


def test_a_row_that_trips_a_bug_costs_that_row_only(gaz, risk_ctx):
    texts = ["7 Octavia St, San Francisco, CA 94102", "1047 Spring St, Prattville, AL 36067",
             "650 Turk St Apt B, San Francisco CA 94102", "650 Turk St Apt 4, San Francisco CA 94102"]
    raw = pa.table({"order_id": ["1", "2", "3", "4"], "address": texts, "memo": ["w", "x", "y", "z"],
                    "_row": pa.array([2, 3, 4, 5], pa.int64())})

    def numeric_units_only(part: pa.Table) -> pa.Table:
        """A cleaner with a bug that one row trips: it takes every unit for a number."""
        cleaned = clean_table(part, gaz, risk_ctx)
        sum(int(u) for u in cleaned.column("unit").to_pylist() if u is not None)
        return cleaned

    t = isolate_rows(raw, numeric_units_only)
    assert t.column("order_id").to_pylist() == ["1", "2", "3", "4"]
    assert t.column("memo").to_pylist() == ["w", "x", "y", "z"]
    status, reason = t.column("match_status").to_pylist(), t.column("reason").to_pylist()
    assert status[2] == "invalid" and reason[2].startswith("internal error (ValueError)")
    assert "invalid" not in status[:2] + status[3:] and t.column("unit").to_pylist()[3] == "4"
    assert t.equals(isolate_rows(raw, numeric_units_only))  # the same rows every time

    lettered = raw.set_column(1, "address", pa.array([x.replace("Apt 4", "Apt C") for x in texts[2:]] * 2))
    with pytest.raises(ValueError):  # more failing rows than allowed: the fault is not in the rows
        isolate_rows(lettered, numeric_units_only, max_bad=3)


def test_retries_are_decided_by_the_type_duckdb_raised(demo_db, tmp_path):
    gaz = Gazetteer(demo_db)
    try:
        with pytest.raises(GazetteerReadError) as io_error:  # I/O: the file may be back on a retry
            query_arrow(gaz.cursor(), "SELECT * FROM read_parquet(?)", [str(tmp_path / "none.parquet")])
        with pytest.raises(GazetteerError) as missing_table:  # the gazetteer itself is wrong: no retry cures it
            query_arrow(gaz.cursor(), "SELECT * FROM no_such_table")
        with pytest.raises(duckdb.ConversionException):  # a value one row brought: a bug, isolated to the row
            query_arrow(gaz.cursor(), "SELECT CAST(? AS INTEGER)", ["twelve"])
    finally:
        gaz.close()
    assert is_transient(io_error.value)
    assert not is_transient(missing_table.value)
