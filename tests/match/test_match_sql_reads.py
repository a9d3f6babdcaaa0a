"""What the matcher's SQL reads of the file: a chunk's spellings with a state read the row
groups of their state's streets, not the country's (``sql.in_place``), so that a batch costs
the same on a national file as on a file of its region alone."""

from __future__ import annotations

import json

import duckdb
import pyarrow as pa
import pytest

from addressing.match import sql

#: rows of each state in the test's ``streets``, and the row groups they are written in (the
#: smallest row group DuckDB takes: a vector); the states lie in order, as a build writes them
STATE_ROWS, ROW_GROUP = 20_480, 2_048
STATES = ("CA", "TX", "WY")
#: the (spelling, street) pairs round two found in Python (``_p``): none here, only sound keys
NO_PAIRS = pa.table({"vix": pa.array([], pa.int64()), "street_id": pa.array([], pa.int64())})


@pytest.fixture
def con(tmp_path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(f"ATTACH '{tmp_path / 'g.duckdb'}' AS g (ROW_GROUP_SIZE {ROW_GROUP})")
    con.execute("USE g")
    states = ", ".join(f"'{s}'" for s in STATES)
    # every state has the same names (MAIN 0 .. MAIN 20479) and sound keys, in ZIPs of 100 streets
    con.execute(f"""CREATE TABLE streets AS
        SELECT row_number() OVER () AS street_id, 'US' AS country, st AS state,
               st || lpad((i // 100)::VARCHAR, 3, '0') AS postal_code, 'TOWN' AS city, NULL AS predir,
               'MAIN ' || i AS name, 'ST' AS type, NULL AS postdir, 'MAIN' || i AS name_key, 'M' || i AS sound_key,
               1.0 AS lat, 2.0 AS lon, 3::BIGINT AS n_points, 0::BIGINT AS n_segments, false AS alt,
               NULL AS main_predir, 'MAIN ' || i AS main_name, 'ST' AS main_type, NULL AS main_postdir
        FROM unnest([{states}]) s(st), range({STATE_ROWS}) r(i) ORDER BY st, i""")
    return con


def spellings(state: str | None, keys: list[int]) -> pa.Table:
    return pa.table({"vix": pa.array(range(len(keys)), pa.int64()), "state": [state] * len(keys),
                     "postal_code": [None] * len(keys), "city": ["TOWN"] * len(keys),
                     "name_key": [f"MAIN{k}" for k in keys], "sound_key": [f"M{k}" for k in keys]})


def read(con: duckdb.DuckDBPyConnection, tmp_path, text: str, tables: dict, params: list,
         ) -> tuple[pa.Table, int | None]:
    """The rows of ``text`` and how many rows of the file DuckDB scanned for them (None when this
    DuckDB's profile does not say)."""
    for name, t in tables.items():
        con.register(name, t)
    out = tmp_path / "profile.json"
    con.execute("PRAGMA enable_profiling = 'json'")
    con.execute(f"PRAGMA profiling_output = '{out}'")
    rows = con.execute(text, params).to_arrow_table()
    con.execute("PRAGMA disable_profiling")
    profile = json.loads(out.read_text())
    # DuckDB 2 counts them under "query", DuckDB 1 at the top
    scanned = profile.get("query", {}).get("total_rows_scanned", profile.get("cumulative_rows_scanned"))
    return rows, scanned


@pytest.mark.parametrize("query", ["exact", "sound"])
def test_spellings_with_a_state_read_their_states_streets_only(con, tmp_path, query):
    keys = list(range(0, STATE_ROWS, 997))  # names spread over the whole state
    text, params = ((sql.exact_candidates_sql(), [5]) if query == "exact"
                    else (sql.fuzzy_candidates_sql(), []))
    tables = {"_q": spellings("TX", keys), "_r": spellings("TX", keys), "_p": NO_PAIRS}
    rows, scanned = read(con, tmp_path, text, tables, params)
    assert sorted(rows.column("name_key").to_pylist()) == sorted(f"MAIN{k}" for k in keys)
    assert set(rows.column("state").to_pylist()) == {"TX"}
    if scanned is None:
        pytest.skip("this DuckDB's profile does not count the rows it scanned")
    # one state's row groups, and the found rows' groups read again for their columns: less than
    # every state's rows read once (a join on ``q.state IS NULL OR s.state = q.state`` read them all)
    assert scanned < len(STATES) * STATE_ROWS


def test_spellings_without_a_state_still_find_exact_names_anywhere(con, tmp_path):
    rows, _ = read(con, tmp_path, sql.exact_candidates_sql(), {"_q": spellings(None, [7])}, [5])
    assert sorted(rows.column("state").to_pylist()) == sorted(STATES)
    rows, _ = read(con, tmp_path, sql.fuzzy_candidates_sql(), {"_r": spellings(None, [7]), "_p": NO_PAIRS}, [])
    assert sorted(rows.column("state").to_pylist()) == sorted(STATES)  # in its city, TOWN, in every state
