"""Cutting an input into chunks: as even as the pool needs, the same for every run of one input."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from addressing import io as aio
from addressing.batch import split_input
from addressing.batch.plan import CHUNK_SPREAD, MIN_CHUNK_ROWS, chunk_size


def _csv(path, rows: int) -> None:
    path.write_text("order_id,address\n" + "".join(f"O{i},{i} Main St Springfield IL 62701\n" for i in range(rows)))


@pytest.mark.parametrize("rows, limit", [(60_000, 20_000), (1_000_000, 20_000), (100_001, 20_000), (13_000, 20_000),
                                         (7_000, 20_000), (600, 100), (5, 20_000)])
def test_chunks_are_even_bounded_and_come_in_whole_spreads(rows, limit):
    size = chunk_size(rows, limit)
    chunks = -(-rows // size)
    assert size <= limit
    assert size >= min(limit, MIN_CHUNK_ROWS)
    if size not in (limit, MIN_CHUNK_ROWS):
        assert chunks % CHUNK_SPREAD == 0   # every worker of a pool of 1, 2 or 4 gets as many
        assert chunks * size - rows < size  # only the last chunk is short


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_row_estimates_follow_the_file(tmp_path, fmt):
    rows = 30_000
    table = pa.table({"order_id": [f"O{i}" for i in range(rows)],
                      "address": [f"{i} Main St Springfield IL 62701" for i in range(rows)]})
    path = tmp_path / f"orders.{fmt}"
    if fmt == "csv":
        aio.write_csv(table, path)
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in table.to_pylist()))
    else:
        pq.write_table(table, path)
    assert abs(aio.estimate_rows(path) - rows) <= rows * 0.02
    small = tmp_path / f"small.{fmt}"
    if fmt == "parquet":
        pq.write_table(table.slice(0, 3), small)
    elif fmt == "csv":
        aio.write_csv(table.slice(0, 3), small)
    else:
        small.write_text("".join(json.dumps(r) + "\n" for r in table.slice(0, 3).to_pylist()))
    assert aio.estimate_rows(small) == 3


def test_a_file_smaller_than_one_chunk_is_spread_over_the_pool(tmp_path, demo_db):
    path = tmp_path / "day.csv"
    _csv(path, 4 * MIN_CHUNK_ROWS)
    calls = []
    plan = split_input(path, tmp_path / "work", demo_db, 20_000, several=lambda: calls.append(1))
    assert [pq.read_metadata(c).num_rows for c in plan.chunks] == [MIN_CHUNK_ROWS] * 4
    assert calls == [1]  # the pool is told before the input is cut, so its workers start meanwhile
    again = split_input(path, tmp_path / "work", demo_db, 20_000)
    assert again.work == plan.work and again.chunks == plan.chunks


# ----------------------------------------------------------------------------- locality order

MIXED = ["906 Circle Willow Ave, Guys Mills, Pa 16327", "11 Van Ness Ave, San Francisco CA 94102",
         "1 Main St, Springfield, Texas", "5 K St NW Washington DC 20001-1234", "Calle 1, San Juan PR 00901",
         "Calle Mayor 1, Madrid", "25 Oak St, Boston, MA 02108", "300 Broadway Oakland CA 94607"]


def test_locality_keys_read_the_zip_its_state_or_the_last_state_named():
    from addressing.batch.locality import UNKNOWN, locality_keys
    raw = pa.table({"address": [*MIXED, None, "2005 Trina Rd, Varnville, sc please leave it at the porch",
                                "1115 Allen Willow Lowland North Carolina, # 3"]})
    assert locality_keys(raw) == ["PA|16327", "CA|94102", "TX|", "DC|20001", "PR|00901", UNKNOWN, "MA|02108",
                                  "CA|94607", UNKNOWN, "SC|", "NC|"]
    columns = pa.table({"address1": ["1 A St", "2 B St"], "state": ["ma", None], "postal_code": ["02139-4307", None]})
    assert locality_keys(columns) == ["MA|02139", UNKNOWN]   # a ZIP kept as text: its leading zero stays


def test_a_window_spreads_its_rows_over_its_chunks_by_locality(tmp_path, demo_db):
    path = tmp_path / "day.csv"
    rows = 60
    path.write_text("order_id,address\n" + "".join(f'O{i},"{i} {MIXED[i % len(MIXED)]}"\n' for i in range(rows)))
    plan = split_input(path, tmp_path / "work", demo_db, 10)
    assert plan.windows == [6]                       # 6 chunks of 10 rows, one window
    got = [pq.read_table(c) for c in plan.chunks]
    assert sorted(r for t in got for r in t.column(aio.ROW).to_pylist()) == [i + 2 for i in range(rows)]
    states = [s.split(",")[-1].split()[-2 if s[-1].isdigit() else -1] for t in got for s in t["address"].to_pylist()]
    firsts = [t["address"][0].as_py() for t in got]
    assert "Pa 16327" not in firsts[0] and "CA" in firsts[0]   # California first, not the input's first row
    assert states == sorted(states, key=states.index)          # each locality in one run of rows
    again = split_input(path, tmp_path / "work", demo_db, 10)   # a complete split is reused, windows included
    assert again.windows == plan.windows and again.chunks == plan.chunks


def test_locality_order_changes_no_byte_of_the_outputs(tmp_path, demo_db):
    from addressing.batch import clean_file
    src = tmp_path / "day.csv"
    lines = [*MIXED, "7 Octavia St, San Francisco, CA 94102", "650 Turk St Apt 201, San Francisco CA 94102",
             "342 hayes st #0A 94102", "P.O. Box 12, Prattville, AL 36067", "1050 Sprng Street Prattville AL", ""]
    src.write_text("order_id,customer_id,address\n" + "".join(f'S{i:04d},C{i % 7},"{lines[(i * 5) % len(lines)]}"\n'
                                                              for i in range(600)))
    whole = clean_file(src, tmp_path / "whole" / "day.parquet", demo_db, chunk_rows=1_000_000, risk_policy="")
    spread = clean_file(src, tmp_path / "spread" / "day.parquet", demo_db, chunk_rows=40, risk_policy="")
    assert whole["chunks"]["count"] == 1 and spread["chunks"]["count"] == 15
    for name in ("day.parquet", "day.review.csv"):
        assert (tmp_path / "whole" / name).read_bytes() == (tmp_path / "spread" / name).read_bytes(), name
