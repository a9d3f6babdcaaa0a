"""The in-memory path for small batches (``match_local``) gives what the SQL gives.

``match_sql`` is the definition; ``match_local`` recomputes the same relations from cached
street rows for a few queries. These tests compare the two part by part on generated
candidates and end to end (one order at a time against one batch of all of them).
"""

from __future__ import annotations

import math
import random
import shutil
from dataclasses import asdict
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from addressing import match, match_local
from addressing.demo import synth
from addressing.demo.day import demo_orders
from addressing.gazetteer import open_gazetteer, query_arrow
from addressing.match_sql import (
    EVIDENCE_PARTS,
    evidence_sql,
    exact_candidates_sql,
    run,
    trigram_candidates_sql,
)
from addressing.parse import parse_batch
from addressing.row_cache import RowCache


def same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= 1e-9 * max(1.0, abs(a))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


def differences(batch: list, single: list, texts: list[str]) -> list[str]:
    out = []
    for text, x, y in zip(texts, batch, single):
        dx, dy = asdict(x), asdict(y)
        bad = {k: (dx[k], dy[k]) for k in dx if not same(dx[k], dy[k])}
        if bad:
            out.append(f"{text!r}: {bad}")
    return out


def one_at_a_time(parsed, gaz) -> list:
    return [match.match_batch([p], gaz)[0] for p in parsed]


@pytest.fixture(scope="module")
def odd_db(demo_db, tmp_path_factory) -> Path:
    """The demo gazetteer with what real builds can have and the demo has not: alternate names
    (same name with other directionals and types, and another street's name), streets without
    state, ZIP or city, addresses without a position, ranges with one end missing."""
    db = tmp_path_factory.mktemp("odd") / "odd.duckdb"
    shutil.copy(demo_db, db)
    con = duckdb.connect(str(db))
    cols = "street_id, country, state, postal_code, predir, name_key, type, postdir, name, city, sound_key, " \
           "lat, lon, n_points, n_segments"
    con.execute(f"""INSERT INTO streets ({cols}, alt)
        SELECT {cols.replace('predir', "CASE WHEN street_id % 2 = 0 THEN NULL ELSE 'N' END AS predir", 1)
                     .replace(' type,', " CASE WHEN street_id % 3 = 0 THEN 'AVE' ELSE NULL END AS type,", 1)}, true
        FROM streets WHERE street_id % 5 = 0 AND NOT alt""")
    con.execute(f"""INSERT INTO streets ({cols}, alt)
        SELECT s.street_id, s.country, s.state, s.postal_code, o.predir, o.name_key, o.type, o.postdir, o.name,
               s.city, o.sound_key, s.lat, s.lon, s.n_points, s.n_segments, true
        FROM streets s JOIN streets o ON o.street_id = s.street_id + 1 AND NOT o.alt
        WHERE s.street_id % 7 = 0 AND NOT s.alt""")
    con.execute("UPDATE streets SET state = NULL WHERE street_id % 11 = 0")
    con.execute("UPDATE streets SET postal_code = NULL WHERE street_id % 13 = 0")
    con.execute("UPDATE streets SET city = NULL WHERE street_id % 4 = 0")
    con.execute("UPDATE addresses SET lat = NULL, lon = NULL WHERE (number_int % 17) = 3")
    con.execute("UPDATE segments SET to_left = NULL WHERE rowid % 3 = 0")
    con.close()
    return db


@pytest.fixture(scope="module", params=["demo", "odd"])
def gaz(request, demo_db, odd_db):
    """Every test here runs on both gazetteers."""
    return open_gazetteer(demo_db if request.param == "demo" else odd_db)


@pytest.fixture(scope="module")
def texts(gaz) -> list[str]:
    """Demo orders (points, ranges, boxes, abroad, garbage), hard messy queries (typos, wrong
    types and ZIPs, units written every way) and bare streets (no city, state or ZIP): both
    rounds and every evidence part."""
    orders, _ = demo_orders(gaz, 300, seed=41)
    points = synth.address_points(gaz)
    hard, _ = synth.messy_queries(points, 300, seed=42, hard=True)
    ranged, _ = synth.range_queries(gaz, 100, seed=43)
    bare = [" ".join(x for x in (p["number"], p["name"], p["type"]) if x) for p in random.Random(44).sample(points, 60)]
    return [o["address"] for o in orders] + hard + ranged + bare


def test_one_order_at_a_time_gives_what_the_batch_gives(gaz, texts):
    parsed = parse_batch(texts)
    assert len(parsed) > match.LOCAL_MAX_QUERIES          # the batch runs the SQL
    match.clear_caches()
    batch = match.match_batch(parsed, gaz)
    single = one_at_a_time(parsed, gaz)                    # each order in memory, caches filling up
    assert not differences(batch, single, texts)
    assert {r.status for r in single} >= {"matched", "ambiguous", "unmatched", "invalid"}
    assert {r.precision for r in single} >= {"address_point", "interpolated", "street", "postal_code"}


def test_caches_that_forget_give_the_same_results(gaz, texts, monkeypatch):
    parsed = parse_batch(texts[:150])
    warm = one_at_a_time(parsed, gaz)
    for cache in (match_local._names, match_local._streets, match_local._tables, match_local._grams,
                  match._block_cache, match._locality_cache):
        monkeypatch.setattr(cache, "max_rows", 3)
        cache.clear()
    tiny = one_at_a_time(parsed, gaz)
    assert not differences(warm, tiny, texts[:150])
    assert all(c._rows <= 3 or len(c._d) == 1 for c in (match_local._names, match_local._streets))


def _candidates(gaz, n: int, seed: int) -> pa.Table:
    """Evidence questions the matcher asks: numbers as written, with letters, hyphens and
    fractions, between and beyond the known ones; units the address has, has not, and with
    leading zeros; on streets with points, with ranges, and on alternate names."""
    rng = random.Random(seed)
    pts = synth.address_points(gaz)
    segs = [s for s in synth.ranges(gaz) if s["a"] is not None and s["b"] is not None]
    rows = []
    for p in rng.sample(pts, n):
        base = int("".join(ch for ch in p["number"] if ch.isdigit()) or 0)
        number = rng.choice([p["number"], f"{base}A", f"{base}-{base + 2}", f"{base} 1/2", str(base + 2),
                             str(base + 1), str(base + 1000)])
        unit = p["unit"] or rng.choice(["1", "2", "3A"])
        tries = rng.choice([None, [match.unit_norm(unit)], [match.unit_norm("0" + unit), "X9"]])
        rows.append((p["street_id"], number, tries))
    for s in rng.sample(segs, min(n // 2, len(segs))):
        lo, hi = sorted((s["a"], s["b"]))
        rows.append((s["street_id"], str(rng.choice([lo, hi, (lo + hi) // 2, hi + 1, lo + 1, hi + 500])), None))
    numbers = [r[1] for r in rows]
    ints = match._number_ints(numbers)
    return pa.table({
        "cid": pa.array(range(len(rows)), pa.int64()),
        "street_id": pa.array([r[0] for r in rows], pa.int64()),
        "number": numbers,
        "number_int": pa.array(ints, pa.int64()),
        "units_try": pa.array([r[2] for r in rows], pa.list_(pa.string())),
    }).filter(pa.array(ints >= 0))


def _rows(t: pa.Table, columns: list[str]) -> list[tuple]:
    d = t.select(columns).to_pydict()
    return sorted(zip(*(d[c] for c in columns)), key=repr)


def test_evidence_parts_equal_the_sql(gaz):
    c = _candidates(gaz, 400, seed=5)
    streets = query_arrow(gaz.cursor(), "SELECT DISTINCT street_id, n_points, n_segments FROM streets").to_pylist()
    sizes = {r["street_id"]: (r["n_points"], r["n_segments"]) for r in streets}
    found = run(gaz, evidence_sql(), {"_c": c})
    local = match_local.evidence(gaz, c, sizes)
    seen = 0
    for part in EVIDENCE_PARTS:
        sql_part = found.filter(pa.compute.equal(found["ev"], part))
        columns = local[part].column_names
        assert same(_rows(sql_part, columns), _rows(local[part], columns)), part
        seen += sql_part.num_rows > 0
    assert seen == len(EVIDENCE_PARTS)       # every part found something to compare


@pytest.mark.parametrize("whole", [True, False], ids=["state-tables", "key-by-key"])
def test_exact_candidates_equal_the_sql(gaz, texts, whole, monkeypatch):
    if not whole:
        monkeypatch.setattr(match_local, "STATE_MAX_ROWS", 0)
    qs = match._Queries.of([p for p in parse_batch(texts) if p.street_name])
    sql = run(gaz, exact_candidates_sql(), {"_q": qs.table}, [match.EXACT_PER_QUERY])
    local = match_local.exact_candidates(gaz, qs.table, match.EXACT_PER_QUERY)
    assert sql.num_rows > len(texts) // 2
    assert same(sql.to_pylist(), local.to_pylist())        # same rows in the same order


@pytest.mark.parametrize("whole", [True, False], ids=["state-tables", "key-by-key"])
def test_round_two_candidates_equal_the_sql(gaz, texts, whole, monkeypatch):
    if not whole:
        monkeypatch.setattr(match_local, "STATE_MAX_ROWS", 0)
    qs = match._Queries.of([p for p in parse_batch(texts) if p.street_name])
    sub = qs.table
    pairs = match._block_pairs(gaz, sub)
    sql = run(gaz, f"{match.pair_candidates_sql()} UNION ALL {match.sound_candidates_sql()} {match.CANDIDATE_ORDER}",
              {"_p": pairs, "_r": sub})
    local = match_local.pair_and_sound_candidates(gaz, pairs, sub)
    assert sql.num_rows > len(texts)
    key = ["vix", "street_id", "name_key", "predir", "type", "postdir"]
    assert _rows(sql, key) == _rows(local, key)
    assert sql.select(key).to_pylist() == local.select(key).to_pylist()    # CANDIDATE_ORDER, NULLs last
    assert same(_rows(sql, sql.column_names), _rows(local, sql.column_names))


def test_trigram_candidates_equal_the_sql(gaz, texts):
    qs = match._Queries.of([p for p in parse_batch(texts) if p.street_name])
    sub = qs.table
    states = set(sub["state"].to_pylist())
    assert None in states and len(states) > 1           # every street, and a state's
    assert match_local.fits(gaz, states)
    sql = run(gaz, f"{trigram_candidates_sql()} {match.CANDIDATE_ORDER}", {"_r": sub}, [match.TRIGRAM_PER_QUERY])
    local = match_local.trigram_candidates(gaz, sub, match.TRIGRAM_PER_QUERY)
    assert sql.num_rows > len(texts)
    key = ["vix", "street_id", "name_key", "predir", "type", "postdir"]
    assert sql.select(key).to_pylist() == local.select(key).to_pylist()
    assert same(_rows(sql, sql.column_names), _rows(local, sql.column_names))


@pytest.mark.parametrize("hold", ["nothing", "states, not every street"])
def test_states_too_large_to_hold_are_asked_key_by_key_and_run_the_trigram_sql(gaz, texts, hold, monkeypatch):
    sizes = match_local._rows_by_state(gaz)
    limit = 0 if hold == "nothing" else max(sizes.values())       # every state fits, all of them together not
    assert limit < sum(sizes.values())
    monkeypatch.setattr(match_local, "STATE_MAX_ROWS", limit)
    assert not match_local.fits(gaz, {None}) and match_local.fits(gaz, {"CA"}) == (hold != "nothing")
    trigram_sql = []
    real_run = match.run
    monkeypatch.setattr(match, "run", lambda *a, **k: trigram_sql.append("WITH qg" in a[1]) or real_run(*a, **k))
    parsed = parse_batch(texts)
    batch = match.match_batch(parsed, gaz)
    trigram_sql.clear()
    match.clear_caches()
    assert not differences(batch, one_at_a_time(parsed, gaz), texts)
    assert match_local._names._d                                   # asked key by key
    if hold == "nothing":
        assert any(trigram_sql) and not match_local._grams._d
    else:
        assert len(match_local._tables._d) > 1 and match_local._grams._d    # states held whole


def test_row_cache_forgets_the_least_recently_used_and_counts_rows():
    fetched = []

    def fetch(keys):
        fetched.append(list(keys))
        return {k: list(range(k)) for k in keys if k}      # key 0 has no rows

    cache = RowCache(max_rows=10)
    assert cache.get_many([3, 4, 0], fetch) == {3: [0, 1, 2], 4: [0, 1, 2, 3], 0: []}
    assert fetched == [[3, 4, 0]]
    cache.get_many([3], fetch)                              # 3 is now the most recent
    assert fetched == [[3, 4, 0]]
    cache.get_many([5], fetch)          # rows + 1 each: 4 (5), 0 (1), 3 (4), 5 (6) > 10: 4 then 0 go
    assert fetched[-1] == [5]
    cache.get_many([3, 5], fetch)
    assert fetched[-1] == [5]
    cache.get_many([0], fetch)
    assert fetched[-1] == [0]
    assert cache._rows <= 10


def test_small_batches_take_the_memory_path_and_large_ones_the_sql(gaz, texts, monkeypatch):
    calls = {"sql": 0, "memory": 0}
    real_run, real_evidence = match.run, match_local.evidence

    def counting_run(*a, **k):
        calls["sql"] += 1
        return real_run(*a, **k)

    def counting_evidence(*a, **k):
        calls["memory"] += 1
        return real_evidence(*a, **k)

    monkeypatch.setattr(match, "run", counting_run)
    monkeypatch.setattr(match_local, "evidence", counting_evidence)
    parsed = [p for p in parse_batch(texts) if p.street_name and p.country in (None, "US")]
    match.match_batch(parsed[:3], gaz)
    assert calls["memory"] >= 1
    calls.update(sql=0, memory=0)
    match.match_batch(parsed[: 3 * match.LOCAL_MAX_QUERIES], gaz)
    assert calls["memory"] == 0 and calls["sql"] >= 2
