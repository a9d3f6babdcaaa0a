"""Output writers: Parquet row groups written on a background thread, CSV cells converted a
column at a time, and workers that fork with the models already loaded."""

from __future__ import annotations

import csv

import pyarrow as pa
import pyarrow.parquet as pq

from addressing import io as aio

SCHEMA = pa.schema([("order_id", pa.string()), ("lat", pa.float64()), ("lon", pa.float64())])


def _batch(start: int, n: int) -> pa.Table:
    return pa.table({
        "order_id": [f"O{i}" for i in range(start, start + n)],
        "lat": [None if i % 7 == 0 else 37.0 + i / 1000 for i in range(start, start + n)],
        "lon": [None if i % 7 == 0 else -122.0 - i / 1000 for i in range(start, start + n)],
    }, schema=SCHEMA)


def test_parquet_batches_gather_into_row_groups_written_in_order(tmp_path, monkeypatch):
    monkeypatch.setattr(aio.BatchWriter, "ROW_GROUP_ROWS", 10)
    w = aio.BatchWriter(tmp_path / "out.parquet", "parquet", SCHEMA)
    batches = [_batch(i * 9, 9) for i in range(5)]
    for b in batches:
        w.write(b)
    w.close()
    got = pq.read_table(tmp_path / "out.parquet")
    assert got.select(["order_id", "lat", "lon"]).equals(pa.concat_tables(batches))
    meta = pq.ParquetFile(tmp_path / "out.parquet").metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [10, 10, 10, 10, 5]
    geometry = got.column("geometry").to_pylist()
    assert [g is None for g in geometry] == [lat is None for lat in got.column("lat").to_pylist()]


def test_parquet_bytes_do_not_depend_on_how_the_rows_came_in(tmp_path, monkeypatch):
    """The chunks a batch is cut into depend on the input's size; its output must not."""
    monkeypatch.setattr(aio.BatchWriter, "ROW_GROUP_ROWS", 10)
    digests = set()
    for sizes in ([45], [9] * 5, [1, 20, 3, 3, 18], [7, 7, 7, 7, 7, 7, 3]):
        out = tmp_path / f"{len(sizes)}.parquet"
        w = aio.BatchWriter(out, "parquet", SCHEMA)
        start = 0
        for n in sizes:
            w.write(_batch(start, n))
            start += n
        w.close()
        digests.add(aio.sha256_file(out))
    assert len(digests) == 1


def test_an_aborted_parquet_writer_leaves_no_file(tmp_path, monkeypatch):
    monkeypatch.setattr(aio.BatchWriter, "ROW_GROUP_ROWS", 5)
    w = aio.BatchWriter(tmp_path / "out.parquet", "parquet", SCHEMA)
    w.write(_batch(0, 12))
    w.abort()
    assert list(tmp_path.iterdir()) == []


def test_csv_cells_by_column_are_the_cells_one_by_one(tmp_path):
    table = pa.table({
        "text": ["=1+2", "-12.5", "-x", "@sum", "\tx", "plain", "", None, 'say "hi", ok'],
        "score": [0.1, None, 1.0, 1e-07, 2.5, 3.0, -0.0, 12345678.9, 0.3],
        "flags": [["a", "=b"], None, [], ["x"], None, None, ["é"], None, ["q\"uote"]],
        "n": [1, None, 3, 4, 5, 6, 7, 8, 9],
        "ok": [True, False, None, True, True, True, True, True, False],
    })
    assert aio.csv_columns(table) == [[aio.csv_cell(v) for v in table.column(c).to_pylist()]
                                       for c in table.column_names]
    aio.write_csv(table, tmp_path / "t.csv")
    with open(tmp_path / "t.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == table.column_names
    assert rows[1][:3] == ["'=1+2", "0.1", '["a", "=b"]']
    assert rows[2][:2] == ["-12.5", ""]


def test_empty_batches_write_a_valid_empty_parquet_file(tmp_path):
    w = aio.BatchWriter(tmp_path / "out.parquet", "parquet", SCHEMA)
    w.write(_batch(0, 0))
    w.close()
    assert pq.read_table(tmp_path / "out.parquet").num_rows == 0


def test_the_fork_server_starts_only_for_an_input_of_several_chunks(tmp_path, demo_db):
    from addressing.batch import split_input

    calls = []
    for n, rows in (("one", 3), ("three", 7)):
        path = tmp_path / f"{n}.csv"
        path.write_text("order_id,address\n" + "".join(f"O{i},{i} Main St Springfield IL 62701\n" for i in range(rows)))
        plan = split_input(path, tmp_path / "work", demo_db, 3, several=lambda n=n: calls.append(n))
        assert len(plan.chunks) == (1 if n == "one" else 3)
    again = split_input(tmp_path / "three.csv", tmp_path / "work", demo_db, 3, several=lambda: calls.append("again"))
    assert len(again.chunks) == 3
    assert calls == ["three", "again"]
