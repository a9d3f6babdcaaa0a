"""Postal codes in order files are text, whatever type the file gave them, and every output
format writes the 5-digit ZIP with its leading zero."""

from __future__ import annotations

import csv
import decimal
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from addressing import io as aio
from addressing.batch import clean_file

#: a postal code as each format can hold it -> the text the reader must give
TYPED = [("02118", "02118"), (2118, "2118"), (2118.0, "2118"), (601, "601"), (None, None)]


def _read(path: Path) -> list:
    tables = list(aio.read_orders(path))
    return [v for t in tables for v in t.column("postal_code").to_pylist()]


def test_csv_reader_keeps_postal_codes_as_written(tmp_path):
    path = tmp_path / "o.csv"
    path.write_text("order_id,address1,postal_code\n1,10 Main St,02118\n2,10 Main St,00601\n3,10 Main St,2118\n")
    assert _read(path) == ["02118", "00601", "2118"]


def test_jsonl_reader_gives_numbers_as_their_digits(tmp_path):
    path = tmp_path / "o.jsonl"
    path.write_text("".join(json.dumps({"order_id": str(i), "address1": "10 Main St", "postal_code": v}) + "\n"
                            for i, (v, _) in enumerate(TYPED)))
    assert _read(path) == [want for _, want in TYPED]


@pytest.mark.parametrize("arrow_type", [pa.int64(), pa.int32(), pa.float64(), pa.decimal128(7, 2), pa.string()])
def test_parquet_reader_gives_numbers_as_their_digits(tmp_path, arrow_type):
    values = [2118, 601, None]
    if pa.types.is_string(arrow_type):
        values = ["02118", "00601", None]
    elif pa.types.is_decimal(arrow_type):
        values = [decimal.Decimal(v) if v is not None else None for v in values]
    path = tmp_path / "o.parquet"
    pq.write_table(pa.table({"order_id": ["1", "2", "3"], "address1": ["10 Main St"] * 3,
                             "postal_code": pa.array(values, arrow_type)}), path)
    want = ["02118", "00601", None] if pa.types.is_string(arrow_type) else ["2118", "601", None]
    assert _read(path) == want


# ----------------------------------------------------------------------------- cleaned output

ORDERS = [  # (order_id, address1, city, state, postal_code as the file holds it, the ZIP out)
    ("B1", "10 Main St", "Boston", "MA", "2118", "02118"),
    ("B2", "10 Main St", "Boston", "MA", "02118", "02118"),
    ("P1", "10 Calle Luna", "Adjuntas", "PR", "601", "00601"),
]


def _orders(path: Path, fmt: str) -> Path:
    """The orders in ``fmt``; JSON and Parquet hold the short ZIPs as numbers, as exports do."""
    rows = [dict(order_id=o, address1=a, city=c, state=s, postal_code=z) for o, a, c, s, z, _ in ORDERS]
    if fmt == "csv":
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        return path
    for r in rows:
        if not r["postal_code"].startswith("0"):
            r["postal_code"] = float(r["postal_code"]) if fmt == "parquet" else int(r["postal_code"])
    if fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        return path
    first_numeric = [r for r in rows if not isinstance(r["postal_code"], str)]
    table = pa.table({k: [r[k] for r in first_numeric] for k in rows[0]})
    pq.write_table(table, path)                 # a float64 column: only the numeric rows fit it
    return path


def _written(path: Path, fmt: str) -> list[dict]:
    if fmt == "parquet":
        t = pq.read_table(path)
        assert t.schema.field("postal_code").type == pa.string()
        return t.to_pylist()
    if fmt == "csv":
        with open(path, newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    if fmt == "jsonl":
        return [json.loads(line) for line in path.read_text().splitlines()]
    return [f["properties"] for f in json.loads(path.read_text())["features"]]


@pytest.mark.parametrize("in_fmt", ["csv", "jsonl", "parquet"])
@pytest.mark.parametrize("out_fmt", ["parquet", "csv", "jsonl", "geojson"])
def test_every_output_format_writes_the_zip_with_its_zero(tmp_path, demo_db, in_fmt, out_fmt):
    src = _orders(tmp_path / f"orders.{in_fmt}", in_fmt)
    out = tmp_path / f"cleaned.{out_fmt}"
    clean_file(src, out, demo_db, fmt=out_fmt)
    got = {r["order_id"]: r for r in _written(out, out_fmt)}
    for oid, _, _, _, written, zip_code in ORDERS:
        if oid not in got:                      # the Parquet file holds the numeric rows only
            assert in_fmt == "parquet"
            continue
        r = got[oid]
        assert r["postal_code"] == zip_code and isinstance(r["postal_code"], str), (oid, r["postal_code"])
        assert r["line2"].endswith(f" {zip_code}"), r["line2"]
        corrections = json.loads(r["corrections"]) if out_fmt == "csv" else r["corrections"]
        assert ("postal_code_zero_restored" in corrections) == (written != zip_code), corrections
