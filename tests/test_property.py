"""Property tests: arbitrary Unicode addresses, column mixes and file bytes. Whatever comes in,
no exception escapes a batch and rows out = rows in, in order, passthrough unchanged.

Example counts are moderate so the suite stays fast; ``benchmarks/fuzz_parse.py`` runs the
same entry points for as long as you like.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from addressing.batch import clean_file, manifest_problems
from addressing.errors import AddressingError
from addressing.io import read_csv, read_jsonl, read_orders
from addressing.pipeline import clean_table_isolating, passthrough_columns

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ADDRESSY = st.sampled_from([
    "7 Octavia St, San Francisco, CA 94102", "650 Turk St Apt 201 San Francisco CA 94102",
    "1047 Spring St, Prattville, AL 36067", "PO Box 12, Prattville AL 36067", "PSC 3 Box 1234, APO AE 09021",
    "10 Downing St, London SW1A 2AA, UK", "Calle Mayor 1, 28013 Madrid, España", "東京都千代田区丸の内1-9-1",
    "ул. Тверская, 7, Москва, 125009", "123 Main St # 4 tel 555-123-4567 leave at door", "", "   ", "#", "-",
])
CELL = st.one_of(st.none(), st.text(max_size=80), ADDRESSY,
                 st.builds(lambda a, t: a + t, ADDRESSY, st.text(max_size=20)))
ADDRESS_COLUMNS = ["address", "address1", "address2", "city", "state", "postal_code", "country"]
ODD_NAMES = ["notes", "lat", "input", "reason", "match_status", "input_notes", "=SUM(A1)", "Order_ID", "unit", ""]


@st.composite
def batches(draw) -> pa.Table:
    n = draw(st.integers(1, 8))
    addr_cols = draw(st.lists(st.sampled_from(ADDRESS_COLUMNS), min_size=1, max_size=4, unique=True))
    extra = draw(st.lists(st.one_of(st.sampled_from(ODD_NAMES), st.text(min_size=1, max_size=12)), max_size=4,
                          unique=True))
    names = ["order_id"] + addr_cols + [e for e in extra if e not in addr_cols and e != "order_id"]
    cols = {"order_id": draw(st.lists(st.one_of(st.none(), st.text(max_size=10)), min_size=n, max_size=n))}
    for name in names[1:]:
        cols[name] = draw(st.lists(CELL, min_size=n, max_size=n))
    return pa.table({k: pa.array(v, pa.string()) for k, v in cols.items()})


@SETTINGS
@given(raw=batches())
def test_a_batch_never_raises_and_keeps_every_row(raw, gaz, risk_ctx):
    out = clean_table_isolating(raw, gaz, risk_ctx)
    assert out.num_rows == raw.num_rows
    assert out.column("order_id").to_pylist() == raw.column("order_id").to_pylist()
    for src, dst in passthrough_columns(raw.column_names).items():
        assert out.column(dst).to_pylist() == raw.column(src).to_pylist()
    statuses = set(out.column("match_status").to_pylist())
    assert statuses <= {"matched", "ambiguous", "unmatched", "invalid"}
    assert None not in out.column("precision").to_pylist() and None not in out.column("action").to_pylist()


TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)


@SETTINGS
@given(rows=st.lists(st.tuples(TEXT, st.one_of(TEXT, ADDRESSY), TEXT), min_size=1, max_size=30))
def test_csv_round_trip(rows):
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["order_id", "address", "memo"])
    w.writerows(rows)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "o.csv"
        path.write_text(buf.getvalue(), encoding="utf-8", newline="")
        got = [r for t in read_csv(path, batch_rows=7) for r in t.to_pylist()]
    assert [(r["order_id"], r["address"], r["memo"]) for r in got] == [tuple(r) for r in rows]
    assert all(r["_problem"] is None for r in got)
    lines = [r["_row"] for r in got]
    assert lines == sorted(set(lines))


@SETTINGS
@given(objs=st.lists(st.one_of(
    st.dictionaries(st.sampled_from(["order_id", "address", "memo", "n", "nested"]),
                    st.one_of(st.none(), TEXT, st.integers(), st.floats(allow_nan=False), st.booleans(),
                              st.lists(st.integers(), max_size=3)), min_size=1),
    TEXT.map(lambda t: "{" + t),  # a broken line
), min_size=1, max_size=30))
def test_jsonl_every_nonblank_line_is_one_row(objs):
    lines = [json.dumps({"order_id": "first", "address": "x"})]
    lines += [o if isinstance(o, str) else json.dumps(o, ensure_ascii=False) for o in objs]
    lines = [ln.replace("\n", " ").replace("\r", " ") for ln in lines]
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "o.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        got = [r for t in read_jsonl(path, batch_rows=5) for r in t.to_pylist()]
    expected = [n for n, ln in enumerate(lines, 1) if ln.strip()]
    assert [r["_row"] for r in got] == expected
    for r, n in zip(got, expected):
        line = lines[n - 1]
        try:
            obj = json.loads(line)
        except ValueError:
            assert r["_problem"] and r["_problem"].startswith("broken JSON line")
            continue
        v = obj.get("order_id")
        text = v if v is None or isinstance(v, str) else json.dumps(v) if isinstance(v, (bool, list)) else str(v)
        assert r["_problem"] is None and r["order_id"] == text


FILE_BYTES = st.one_of(
    st.binary(max_size=400),
    st.lists(st.one_of(TEXT, ADDRESSY, st.sampled_from(['"', '""', ",", ";", "\r", "\n", "\x00", "\ufeff", "é"])),
             max_size=40).map(lambda parts: ("order_id,address,memo\n" + "".join(parts)).encode("utf-8")),
    st.lists(st.one_of(TEXT, ADDRESSY), max_size=30).map(
        lambda parts: ("order_id,address\n" + "".join(f"{i},{p}\n" for i, p in enumerate(parts))).encode("latin-1",
                                                                                                      "replace")),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=FILE_BYTES, ext=st.sampled_from(["csv", "jsonl", "parquet"]))
def test_any_file_bytes_give_a_batch_or_a_one_line_error(data, ext, demo_db):
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / f"orders.{ext}"
        src.write_bytes(data)
        out = Path(d) / "out" / "o.parquet"
        try:
            read = sum(t.num_rows for t in read_orders(src))
        except AddressingError:
            read = None
        try:
            m = clean_file(src, out, demo_db, chunk_rows=4)
        except AddressingError as exc:
            assert read is None or read == 0, exc
            assert "\n" not in str(exc)
            assert not out.exists()
            return
        assert read == m["input"]["rows"] == pq.read_metadata(out).num_rows
        assert manifest_problems(m) == []
