"""The loaders' column helpers give, on whole columns, what their per-value functions give row by
row: the same values in the same rows, None kept, whatever the order of distinct values."""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pytest

from addressing.errors import GazetteerError
from addressing.gazetteer import geojson
from addressing.gazetteer.model import memoized, per_distinct, present, street_columns, street_parts
from addressing.gazetteer.openaddresses import _floats, _text, _texts

# blanks Python strips and Arrow may not know, whole numbers a float column wrote, unicode, empties
AWKWARD = ["a", " b ", "12.0", "12.50", "-3.00", None, "", " ", "\x1cx", "É", "x\n", "1 2", "12.0 ", "10",
           "1.0x0", "\x85a", "a\u2028", "0", ".0", "-0.0", "\u00a0SAN JOSE", "99501-0"]


def test_per_distinct_keeps_row_order_and_none():
    col = pa.array(["b", None, "a", "b", None, "c"])
    [out] = per_distinct(lambda v: (v and v.upper(),), [col], [pa.string()])
    assert out.to_pylist() == ["B", None, "A", "B", None, "C"]


def test_per_distinct_calls_once_per_combination():
    calls = []

    def fn(a, b):
        calls.append((a, b))
        return f"{a}|{b}", len(calls)

    a = pa.array(["x", "x", None, "x", "y", None])
    b = np.array([True, False, True, True, True, True])
    text, n = per_distinct(fn, [a, b], [pa.string(), pa.int64()])
    assert text.to_pylist() == ["x|True", "x|False", "None|True", "x|True", "y|True", "None|True"]
    assert sorted(calls, key=str) == sorted({(x, y) for x, y in zip(a.to_pylist(), b.tolist())}, key=str)
    assert n.to_pylist()[0] == n.to_pylist()[3]


@pytest.mark.parametrize("seed", range(6))
def test_per_distinct_equals_the_function_row_by_row_once_per_combination(seed):
    """Text with nulls, numpy floats with NaN, bools and objects, in up to three columns, from
    one row to many batches' worth with few or many distinct values."""
    rng = np.random.default_rng(seed)
    n = int(rng.choice([1, 7, 1000, 60_000]))
    pool = int(rng.choice([1, 3, 500]))
    words = [None, "", "MAIN ST", "É", *(f"W{i}" for i in range(pool))]
    kinds = {
        "text": lambda: pa.array([words[i] for i in rng.integers(0, len(words), n)], pa.string()),
        "float": lambda: np.where(rng.random(n) < 0.1, np.nan, rng.integers(0, pool, n).astype(float)),
        "bool": lambda: rng.random(n) < 0.5,
        "object": lambda: np.array([("a", "b", "c")[i] for i in rng.integers(0, 3, n)], dtype=object),
    }
    names = list(rng.choice(list(kinds), size=int(rng.integers(1, 4))))
    columns = [kinds[k]() for k in names]
    calls = []

    def fn(*vals):
        calls.append(vals)
        return repr(vals), len(calls)

    text, _ = per_distinct(fn, columns, [pa.string(), pa.int64()])
    rows = list(zip(*(c.to_pylist() if isinstance(c, pa.Array) else c.tolist() for c in columns)))
    assert text.to_pylist() == [repr(r) for r in rows]
    distinct = {repr(r) for r in rows}
    assert len(calls) == len(distinct) and {repr(c) for c in calls} == distinct


def test_per_distinct_of_nothing():
    out = per_distinct(lambda v: (v, 1), [pa.array([], pa.string())], [pa.string(), pa.int64()])
    assert [o.to_pylist() for o in out] == [[], []]


def test_street_columns_match_street_parts_row_by_row():
    names = ["N Main St", None, "N Main St", "Saint Charles Ave", "", "Hwy 360", "N Main St"]
    cols = street_columns(names)
    rows = list(zip(*(cols[k].to_pylist() for k in ("predir", "name", "type", "postdir", "name_key", "sound_key"))))
    assert rows == [street_parts(n) for n in names]


def test_texts_of_a_column_are_text_of_each_value():
    col = pa.array(AWKWARD * 3)
    assert _texts(col).to_pylist() == [_text(v) for v in AWKWARD * 3]


def test_texts_of_plain_values_are_the_column_itself():
    col = pa.array(["1016", "WILLOW AVE", None, "07030"])
    assert _texts(col) is col


def test_present_is_truthiness():
    assert present(pa.array(AWKWARD)).tolist() == [bool(v) for v in AWKWARD]


@pytest.mark.parametrize("values", [
    ["-74.03", "40.75", None, "1e3", "nan"],
    ["-74.03", " 40.75", "1_000", "abc", None],  # Arrow refuses some: value by value, as float() reads them
])
def test_floats_of_a_column_are_those_of_its_values(values):
    got = _floats(pa.array(values, pa.string()))
    want = _floats(list(values))
    assert np.array_equal(got, want, equal_nan=True)


def test_memoized_tells_types_apart_and_takes_unhashable_arguments():
    seen = []

    @memoized
    def f(v):
        seen.append(v)
        return str(v)

    assert [f(1), f(1.0), f(True), f(1)] == ["1", "1.0", "True", "1"]
    assert len(seen) == 3
    assert f([1, 2]) == "[1, 2]"


def _features(text: str) -> list[dict]:
    return list(geojson.iter_features(io.StringIO(text), "x.geojsonl"))


@pytest.mark.parametrize("text", [
    '{"type":"Feature","properties":{"n":1}}\n{"type":"Feature","properties":{"n":2}}\n',
    '{"type":"Feature","properties":{"n":NaN}}\n',  # json reads NaN, orjson does not
    '{"type":"Feature","properties":{"n":1}} {"type":"Feature","properties":{"n":2}}\n',
    '\x1e{"type":"Feature","properties":{"n":99999999999999999999999}}\r\n\n',  # orjson: a float
    '{"type":"Feature","properties":{"n":[{"m":-9223372036854775809}]}}\n',
    '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"n":3}}]}\n',
])
def test_newline_features_read_as_the_standard_decoder_reads_them(text, monkeypatch):
    fast = _features(text)
    monkeypatch.setattr(geojson, "orjson", None)
    assert fast == _features(text)


def test_broken_line_is_named_with_or_without_orjson(monkeypatch):
    text = '{"type":"Feature","properties":{}}\n{"type":"Feature","properties":{"n":}\n'
    with pytest.raises(GazetteerError) as fast:
        _features(text)
    monkeypatch.setattr(geojson, "orjson", None)
    with pytest.raises(GazetteerError) as slow:
        _features(text)
    assert str(fast.value) == str(slow.value)
    assert "line 2" in str(fast.value)


def test_a_build_leaves_no_street_names_cached(tmp_path):
    from addressing.gazetteer.keys import split_full_name
    from addressing.gazetteer.store import SourceSpec, build

    csv = tmp_path / "us-nj-hoboken.csv"
    csv.write_text("LON,LAT,NUMBER,STREET,UNIT,CITY,DISTRICT,REGION,POSTCODE,ID,HASH\n"
                   "-74.0310957,40.7498567,1016,Willow Avenue,,Hoboken,,NJ,07030,,\n", encoding="utf-8")
    build(tmp_path / "g.duckdb", [SourceSpec("openaddresses", csv)], with_zipcodes=False)
    assert split_full_name.cache_info().currsize == 0
