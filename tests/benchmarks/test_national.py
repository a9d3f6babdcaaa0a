"""``benchmarks/national.py --quick`` runs end to end on the real files (ADDRESSING_REALDATA): it
prints one build row, one use row and one region row for its size and a verdict per target; the
sources it generates put every state of the ZIP table in the gazetteer, with real ZIPs kept as
text, and the region holds its two states' rows."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "national.py"
QUICK_LABEL = "200k"
#: columns of the three tables' rows (national.BUILD_HEAD, national.USE_HEAD, national.REGION_HEAD)
BUILD_COLUMNS = 11
USE_COLUMNS = 13
REGION_COLUMNS = 9
#: the issue's targets: build rate, flat memory, batch ratio, warm p95, first order, refresh time and
#: disk; and the batch ratio against the region alone
TARGETS = 8
#: a whole quick run takes about a minute and a half on the 2-core development machine; this is ample
TIMEOUT_S = 1800
#: ZIPs with leading zeros: Agawam, MA and Adjuntas, PR
LEADING_ZERO_ZIPS = ("01001", "00601")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def quick(real, tmp_path_factory) -> tuple[Path, str]:
    work = tmp_path_factory.mktemp("national")
    r = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--work", str(work)], capture_output=True, text=True,
                       cwd=ROOT, env={**os.environ, "ADDRESSING_REALDATA": str(real)}, timeout=TIMEOUT_S)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    return work, r.stdout


@pytest.fixture(scope="module")
def con(quick):
    work, _ = quick
    c = duckdb.connect(str(work / f"n{QUICK_LABEL}" / "db" / "gazetteer.duckdb"), read_only=True)
    yield c
    c.close()


def _table(lines: list[str], head: str) -> list[list[str]]:
    """The rows under the header line that starts with ``head``, up to the first blank line."""
    at = next(i for i, ln in enumerate(lines) if ln.split()[:2] == head.split())
    rows = []
    for ln in lines[at + 1:]:
        if not ln.strip():
            break
        rows.append(ln.split())
    return rows


def test_tables_have_one_row_per_size_and_every_target(quick):
    _, out = quick
    lines = out.splitlines()
    build = _table(lines, "size points")
    use = _table(lines, "size orders/s")
    assert [r[0] for r in build] == [QUICK_LABEL] and len(build[0]) == BUILD_COLUMNS
    assert [r[0] for r in use] == [QUICK_LABEL] and len(use[0]) == USE_COLUMNS
    region = _table(lines, "size states")
    assert [r[0] for r in region] == [QUICK_LABEL] and len(region[0]) == REGION_COLUMNS
    verdicts = _table(lines, "targets")
    assert len(verdicts) == TARGETS
    assert all(r[0] in ("PASS", "FAIL") for r in verdicts)
    work, _ = quick
    result = json.loads((work / "results.json").read_text())[QUICK_LABEL]
    # the refresh and the refresh back each load the chunk's two sources and skip every other
    assert result["refresh"]["loaded"] == result["refresh_back"]["loaded"] == 2
    assert result["refresh"]["unchanged"] == result["refresh_back"]["unchanged"] == result["build"]["loaded"] - 2


def _standard_states() -> set[str]:
    from addressing.parse.places import zip_table

    return {z.state for z in zip_table().values() if z.type == "STANDARD" and z.lat is not None}


def test_every_state_has_points_and_ranges(con):
    states = _standard_states()
    assert {"PR", "DC", "AK"} <= states
    assert {r[0] for r in con.execute("SELECT DISTINCT state FROM address_points").fetchall()} == states
    assert {r[0] for r in con.execute("SELECT DISTINCT state FROM segments").fetchall()} == states


def test_real_zips_stay_text_with_their_city(con, quick):
    from addressing.parse.places import zip_table

    types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                             "WHERE table_name = 'address_points'").fetchall())
    assert types["postal_code"] == "VARCHAR"
    for code in LEADING_ZERO_ZIPS:
        info = zip_table()[code]
        got = con.execute("SELECT DISTINCT city, state FROM address_points WHERE postal_code = ?", [code]).fetchall()
        assert got == [(info.city, info.state)], code
    work, _ = quick
    ma = sorted((work / f"n{QUICK_LABEL}" / "oa").glob("us-ma-*.csv"))
    with open(ma[0], newline="") as f:
        codes = {row["POSTCODE"] for row in csv.DictReader(f)}
    assert all(len(c) == len(LEADING_ZERO_ZIPS[0]) and c.isdigit() for c in codes)
    assert any(c.startswith("0") for c in codes)


def test_a_state_is_not_one_repeated_town(con):
    """Street names vary from ZIP to ZIP: no name is in more than half of a big state's ZIPs."""
    zips, most = con.execute("""
        WITH s AS (SELECT DISTINCT postal_code, name_key FROM streets WHERE state = 'CA' AND NOT alt)
        SELECT (SELECT count(DISTINCT postal_code) FROM s),
               (SELECT max(n) FROM (SELECT count(*) AS n FROM s GROUP BY name_key))""").fetchone()
    assert most * 2 < zips


def test_the_region_holds_its_two_states_at_the_national_density(con, quick):
    """The region gazetteer is built from the national sources of the two states timed, and
    holds their rows: as many of each as the national file, which its refresh (a row in 50 of
    one chunk dropped) and the refresh back to the first vintage leave as it was built."""
    work, out = quick
    big, small = next(r for r in _table(out.splitlines(), "size states"))[1].split("+")
    region = duckdb.connect(str(work / f"n{QUICK_LABEL}" / "region" / "db" / "gazetteer.duckdb"), read_only=True)
    per_state = "SELECT state, count(*) FROM address_points GROUP BY state"
    try:
        got = dict(region.execute(per_state).fetchall())
        paths = [Path(r[0]).name for r in region.execute("SELECT path FROM sources WHERE kind <> 'zipcodes'").fetchall()]
    finally:
        region.close()
    national = dict(con.execute(per_state).fetchall())
    assert set(got) == {big, small}
    assert got[small] == national[small] and got[big] == national[big]
    tags = (f"-{big.lower()}-", f"_{big.lower()}_", f"-{small.lower()}-", f"_{small.lower()}_")
    assert paths and all(any(t in name for t in tags) for name in paths)


def _where_time_goes(script: str, *args: str) -> list[str]:
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args], capture_output=True, text=True,
                       cwd=ROOT, timeout=TIMEOUT_S)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    return r.stdout.splitlines()


def test_batch_queries_times_the_chunks_addressing_clean_cuts(quick):
    """``benchmarks/batch_queries.py`` on the quick run's gazetteer and orders: the chunks the
    batch plan cuts, and seconds per kind of query, the candidate and evidence queries among them,
    adding up to the SQL total it prints."""
    work, _ = quick
    lines = _where_time_goes("batch_queries.py", str(work / f"n{QUICK_LABEL}" / "db" / "gazetteer.duckdb"),
                             str(work / f"orders-20k-from-{QUICK_LABEL}.csv"), "--orders", "6000")
    head = lines[0].split()
    assert head[:3] == ["6,000", "orders", "in"] and "chunks" in head
    spent = {m[1]: float(m[2]) for m in (re.fullmatch(r"\s+(.+?)\s+([\d.]+) s\s+\d+ queries", ln) for ln in lines[1:])}
    assert {"exact_candidates", "evidence"} <= set(spent)
    assert abs(sum(spent.values()) - float(head[head.index("SQL") + 1])) < 0.1 * len(spent)


def test_single_queries_breaks_the_slowest_orders_down_by_query(quick):
    """``benchmarks/single_queries.py`` on the quick run's latency orders: per state its
    percentiles in order, and the slowest tenth's time per kind of query within its own."""
    work, _ = quick
    lines = _where_time_goes("single_queries.py", str(work / f"n{QUICK_LABEL}" / "db" / "gazetteer.duckdb"),
                             str(work / f"latency-{QUICK_LABEL}.json"), "--state", "WY")
    assert lines[0].startswith("WY: ")
    p50, p95, p99 = (float(x) for x in lines[0].split("p50/p95/p99 ")[1].split(" ms")[0].split(" / "))
    assert 0 < p50 <= p95 <= p99
    each = float(lines[0].split("each")[0].split()[-2])
    kinds = {m[1]: float(m[2]) for m in (re.fullmatch(r"\s+(.+?)\s+([\d.]+)", ln) for ln in lines[1:])}
    assert kinds and sum(kinds.values()) <= each
