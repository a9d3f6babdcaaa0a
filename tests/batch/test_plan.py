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
