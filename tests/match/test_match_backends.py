"""The backend contract (``addressing.match.backends.Backend``): one suite, run against every
backend: SQL, in memory, and in memory with no state's names held whole (asked key by key, the
trigram question sent to SQL).

Contract tests check one rule of the interface on one backend's answer against the gazetteer's
own rows, read here in plain Python. Equality tests check that the in-memory backend gives the
SQL backend's rows in the same order: which backend a batch gets must change no answer. End to
end, one order at a time (in memory) gives what one batch of all of them gives (SQL). All run on
two gazetteers: the demo, and a copy with what real builds have and the demo has not.
"""

from __future__ import annotations

import random
import shutil
from collections import Counter, defaultdict
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from match_helpers import differences, same, spy_sql

from addressing.demo import synth
from addressing.demo.day import demo_orders
from addressing.gazetteer import derive, open_gazetteer, query_arrow
from addressing.match import backends, blocking, clear_caches, match_batch, memory, sql
from addressing.match.backends import (
    CANDIDATE_COLUMNS,
    EVIDENCE_COLUMNS,
    EVIDENCE_PARTS,
    MEMORY_MAX_QUERIES,
    MemoryBackend,
    SqlBackend,
    backend_for,
)
from addressing.match.blocking import EXACT_PER_QUERY, TRIGRAM_PER_QUERY, block_pairs
from addressing.match.evidence import number_ints
from addressing.match.queries import Queries, unit_norm
from addressing.match.row_cache import RowCache, every_cache
from addressing.parse import parse_batch


def rows_of(gaz, text: str, params: list | None = None) -> list[dict]:
    return query_arrow(gaz.cursor(), text, params).to_pylist()


def one_at_a_time(parsed, gaz) -> list:
    return [match_batch([p], gaz)[0] for p in parsed]


@pytest.fixture(scope="module")
def odd_db(demo_db, tmp_path_factory) -> Path:
    """The demo gazetteer with what real builds can have and the demo has not: alternate names
    (same name with other directionals and types, and another street's name), streets without
    state, ZIP or city, addresses without a position, ranges with one end missing, streets with
    both address points and ranges."""
    db = tmp_path_factory.mktemp("odd") / "odd.duckdb"
    shutil.copy(demo_db, db)
    con = duckdb.connect(str(db))
    cols = "street_id, country, state, postal_code, predir, name_key, type, postdir, name, city, sound_key, " \
           "lat, lon, n_points, n_segments"
    main = ", ".join(derive.MAIN_NAME)
    own = ", ".join(derive.MAIN_NAME.values())
    con.execute(f"""INSERT INTO streets ({cols}, alt, {main})
        SELECT {cols.replace('predir', "CASE WHEN street_id % 2 = 0 THEN NULL ELSE 'N' END AS predir", 1)
                     .replace(' type,', " CASE WHEN street_id % 3 = 0 THEN 'AVE' ELSE NULL END AS type,", 1)}, true,
               {own}
        FROM streets WHERE street_id % 5 = 0 AND NOT alt""")
    con.execute(f"""INSERT INTO streets ({cols}, alt, {main})
        SELECT s.street_id, s.country, s.state, s.postal_code, o.predir, o.name_key, o.type, o.postdir, o.name,
               s.city, o.sound_key, s.lat, s.lon, s.n_points, s.n_segments, true, s.{own.replace(", ", ", s.")}
        FROM streets s JOIN streets o ON o.street_id = s.street_id + 1 AND NOT o.alt
        WHERE s.street_id % 7 = 0 AND NOT s.alt""")
    con.execute("UPDATE streets SET state = NULL WHERE street_id % 11 = 0")
    # the seek columns follow the state and keys, as a build writes them (derive.lookup_value)
    for col, key in derive.LOOKUPS.items():
        con.execute(f"UPDATE streets SET {col} = {derive.lookup_sql('state', key)}")
    con.execute("UPDATE streets SET postal_code = NULL WHERE street_id % 13 = 0")
    con.execute("UPDATE streets SET city = NULL WHERE street_id % 4 = 0")
    con.execute("UPDATE addresses SET lat = NULL, lon = NULL WHERE (number_int % 17) = 3")
    con.execute("UPDATE segments SET to_left = NULL WHERE rowid % 3 = 0")
    # ranges on streets with address points (a TIGER edge and OpenAddresses points of one
    # street), over all the street's numbers: a number may have both an address and a range
    con.execute("""INSERT INTO segments BY NAME
        SELECT 'odd' AS source_name, s.street_id, s.country, s.state, s.city, s.postal_code, s.predir, s.name,
               s.type, s.postdir, s.name_key, s.sound_key, a.lo AS from_left, a.hi AS to_left,
               a.lo + 1 AS from_right, a.hi + 1 AS to_right, 'B' AS parity_left, 'B' AS parity_right,
               true AS sided, (SELECT geom FROM segments WHERE geom IS NOT NULL LIMIT 1) AS geom, s.lat, s.lon
        FROM streets s JOIN (SELECT street_id, min(number_int) AS lo, max(number_int) AS hi FROM addresses
                             GROUP BY street_id) a USING (street_id)
        WHERE NOT s.alt AND s.n_points > 0 AND s.street_id % 9 = 0""")
    con.execute("""UPDATE streets SET n_segments = n_segments + 1
        WHERE n_points > 0 AND street_id % 9 = 0 AND street_id IN (SELECT street_id FROM segments)""")
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


@pytest.fixture(scope="module")
def queries(gaz, texts) -> Queries:
    return Queries.of([p for p in parse_batch(texts) if p.street_name])


@pytest.fixture(scope="module")
def name_rows(gaz) -> list[dict]:
    """Every street name row (a street's own and its alternate names)."""
    return rows_of(gaz, "SELECT s.street_id, s.state, s.postal_code, s.city, s.name_key, s.sound_key, m.name AS main "
                        "FROM streets s JOIN streets m ON m.street_id = s.street_id AND NOT m.alt")


@pytest.fixture(params=["sql", "memory", "memory-key-by-key"])
def backend(request, gaz, monkeypatch) -> backends.Backend:
    """Each backend the matcher may get, the in-memory one also with no state held whole."""
    if request.param == "memory-key-by-key":
        monkeypatch.setattr(memory, "STATE_MAX_ROWS", 0)
    return SqlBackend(gaz) if request.param == "sql" else MemoryBackend(gaz)


def in_candidate_order(rows: list[dict]) -> bool:
    """``sql.CANDIDATE_ORDER``, NULLs last."""
    def key(r):
        return (r["vix"], r["street_id"], *((r[c] is None, r[c] or "") for c in ("name_key", "predir", "type",
                                                                                   "postdir")))
    return [key(r) for r in rows] == sorted(key(r) for r in rows)


def in_state(row: dict, state: str | None) -> bool:
    return state is None or row["state"] == state


def some_without_state(q: pa.Table) -> pa.Table:
    """The spellings with every fourth one's state taken away (a foreign postcode, a city with
    no state written), and every eighth one's postcode and city too (no place at all)."""
    i = np.arange(q.num_rows)
    stateless, placeless = i % 4 == 1, i % 8 == 1
    blank = {"state": stateless, "postal_code": placeless, "city": placeless}
    for name, mask in blank.items():
        col = q.column(name).combine_chunks()
        q = q.set_column(q.schema.get_field_index(name), name,
                         pa.array([None if m else v for v, m in zip(col.to_pylist(), mask)], pa.string()))
    return q


def in_locality(row: dict, q: dict) -> bool:
    """Where round two looks for look-alikes: the state; without one, the postcode or city."""
    if q["state"] is not None:
        return row["state"] == q["state"]
    return ((q["postal_code"] is not None and row["postal_code"] == q["postal_code"])
            or (q["city"] is not None and row["city"] == q["city"]))


# --------------------------------------------------------------------------- the contract, per backend


def test_exact_candidates(backend, queries, name_rows):
    """Per spelling: name rows of its name key in its state, its own ZIP or city first, at most
    EXACT_PER_QUERY, and when some are in its ZIP or city, those and the nearest other one only."""
    t = backend.exact_candidates(queries.table, EXACT_PER_QUERY)
    assert t.column_names == ["vix", *CANDIDATE_COLUMNS]
    found = t.to_pylist()
    assert [r["vix"] for r in found] == sorted(r["vix"] for r in found)
    by_vix = defaultdict(list)
    for r in found:
        by_vix[r["vix"]].append(r)
    for q in queries.table.to_pylist():
        got = by_vix.get(q["vix"], [])
        named = [r for r in name_rows if q["name_key"] is not None and r["name_key"] == q["name_key"]
                 and in_state(r, q["state"])]
        n_local = sum((q["postal_code"] is not None and r["postal_code"] == q["postal_code"])
                      or (q["city"] is not None and r["city"] == q["city"]) for r in named)
        assert len(got) == min(EXACT_PER_QUERY, len(named), n_local + 1 if n_local else len(named)), q
        assert all(r["name_key"] == q["name_key"] and in_state(r, q["state"]) for r in got)
        near = [r["postal_code"] == q["postal_code"] or r["city"] == q["city"] for r in got]
        assert near == sorted(near, reverse=True)
    mains = {r["street_id"]: r["main"] for r in name_rows}
    assert all(r["out_name"] == mains[r["street_id"]] for r in found)
    assert len(found) > len(queries.parsed) // 2


def test_fuzzy_candidates(backend, gaz, queries, name_rows):
    """Every name row of the paired streets, and of the streets with a spelling's sound key in
    its locality (its state; without one its postcode or city), in CANDIDATE_ORDER."""
    spellings = some_without_state(queries.table)
    pairs = block_pairs(gaz, spellings)
    found = backend.fuzzy_candidates(pairs, spellings)
    assert found.column_names == ["vix", *CANDIDATE_COLUMNS]
    rows = found.to_pylist()
    assert in_candidate_order(rows)
    n_names = Counter(r["street_id"] for r in name_rows)
    expected = Counter()
    for v, sid in zip(pairs["vix"].to_pylist(), pairs["street_id"].to_pylist()):
        expected[(v, sid)] += n_names[sid]
    sounded_without_state = 0
    for q in spellings.to_pylist():
        for r in name_rows:
            if q["sound_key"] is not None and r["sound_key"] == q["sound_key"] and in_locality(r, q):
                expected[(q["vix"], r["street_id"])] += 1
                sounded_without_state += q["state"] is None
    assert Counter((r["vix"], r["street_id"]) for r in rows) == expected
    assert sounded_without_state        # spellings without a state find look-alikes in their postcode or city
    assert pairs.num_rows and len(rows) > len(queries.table)


def _grams(key: str) -> set[str]:
    padded = f"^{key}$"
    return {padded[i:i + 3] for i in range(len(key))}


def test_trigram_candidates(backend, queries, name_rows):
    """Per spelling: every name row of the TRIGRAM_PER_QUERY streets of its state sharing the
    most name-key trigrams (summed over a street's name rows, at least two), ties by street id;
    without a state, of its postcode or city in any state; with no place at all, none."""
    sample = some_without_state(queries.table.take(pa.array(range(0, queries.table.num_rows, 3))))
    found = backend.trigram_candidates(sample, TRIGRAM_PER_QUERY)
    assert found.column_names == ["vix", *CANDIDATE_COLUMNS]
    rows = found.to_pylist()
    assert in_candidate_order(rows)
    grams = [(r, _grams(r["name_key"])) for r in name_rows if r["name_key"] is not None]
    n_names = Counter(r["street_id"] for r in name_rows)
    expected = Counter()
    for q in sample.to_pylist():
        if q["name_key"] is None or len(q["name_key"]) < 3:
            continue
        mine = _grams(q["name_key"])
        shared = Counter()
        for r, g in grams:
            if in_locality(r, q):
                shared[r["street_id"]] += len(mine & g)
        top = sorted((sid for sid, n in shared.items() if n >= 2), key=lambda sid: (-shared[sid], sid))
        for sid in top[:TRIGRAM_PER_QUERY]:
            expected[(q["vix"], sid)] += n_names[sid]
    assert Counter((r["vix"], r["street_id"]) for r in rows) == expected
    assert len(rows) > sample.num_rows
    stateless = [q for q in sample.to_pylist() if q["state"] is None]
    placed = {q["vix"] for q in stateless if q["postal_code"] is not None or q["city"] is not None}
    assert any(vix in placed for vix, _ in expected)     # spellings without a state but with a place are asked
    assert len(placed) < len(stateless)                  # and some with no place at all, which find nothing


def questions(gaz, n: int, seed: int) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """Evidence questions the matcher asks, with the n_points and n_segments of their streets:
    numbers as written, with letters, hyphens and fractions, between and beyond the known ones;
    units the address has, has not, and with leading zeros; on streets with points, with
    ranges, and on alternate names."""
    rng = random.Random(seed)
    pts = synth.address_points(gaz)
    segs = [s for s in synth.ranges(gaz) if s["a"] is not None and s["b"] is not None]
    rows = []
    for p in rng.sample(pts, n):
        base = int("".join(ch for ch in p["number"] if ch.isdigit()) or 0)
        number = rng.choice([p["number"], f"{base}A", f"{base}-{base + 2}", f"{base} 1/2", str(base + 2),
                             str(base + 1), str(base + 1000)])
        unit = p["unit"] or rng.choice(["1", "2", "3A"])
        tries = rng.choice([None, [unit_norm(unit)], [unit_norm("0" + unit), "X9"]])
        rows.append((p["street_id"], number, tries))
    for s in rng.sample(segs, min(n // 2, len(segs))):
        lo, hi = sorted((s["a"], s["b"]))
        rows.append((s["street_id"], str(rng.choice([lo, hi, (lo + hi) // 2, hi + 1, lo + 1, hi + 500])), None))
    sizes = {r["street_id"]: (r["n_points"], r["n_segments"]) for r in rows_of(
        gaz, "SELECT DISTINCT street_id, n_points, n_segments FROM streets")}
    numbers = [r[1] for r in rows]
    ints = number_ints(numbers)
    ok = ints >= 0
    c = pa.table({
        "cid": pa.array(range(len(rows)), pa.int64()),
        "street_id": pa.array([r[0] for r in rows], pa.int64()),
        "number": numbers,
        "number_int": pa.array(ints, pa.int64()),
        "units_try": pa.array([r[2] for r in rows], pa.list_(pa.string())),
    }).filter(pa.array(ok))
    n_points, n_segments = (np.asarray([sizes[r[0]][k] for r in rows], np.int64)[ok] for k in (0, 1))
    return c, n_points, n_segments


def _sorted(rows: list[tuple]) -> list[tuple]:
    return sorted(rows, key=repr)


def _avg(xs: list) -> float | None:
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else None


def expected_evidence(gaz, c: pa.Table) -> dict[str, list[tuple]]:
    """What each evidence part must hold for the questions ``c``, from the gazetteer's rows."""
    ids = list(set(c["street_id"].to_pylist()))
    addresses = defaultdict(list)
    for a in rows_of(gaz, "SELECT street_id, number, number_int, hash(number) AS h, n_units, has_base, lat, lon "
                          "FROM addresses WHERE list_contains(?, street_id)", [ids]):
        addresses[a["street_id"]].append(a)
    points = defaultdict(list)
    for p in rows_of(gaz, "SELECT street_id, number, unit, lat, lon FROM address_points "
                          "WHERE list_contains(?, street_id)", [ids]):
        points[(p["street_id"], p["number"])].append(p)
    segments = defaultdict(list)
    for g in rows_of(gaz, "SELECT rowid AS seg, * FROM segments WHERE list_contains(?, street_id)", [ids]):
        segments[g["street_id"]].append(g)
    out: dict[str, list[tuple]] = {name: [] for name in (*EVIDENCE_PARTS, "range_unasked")}
    for q in c.to_pylist():
        cid, sid, n, tries = q["cid"], q["street_id"], q["number_int"], q["units_try"]
        spellings = [(q["number"], True)] + ([(str(n), False)] if str(n) != q["number"] else [])
        for num, exact in spellings:
            out["point"] += [(cid, exact, a["n_units"], a["has_base"], a["lat"], a["lon"])
                             for a in addresses[sid] if a["number"] == num]
            units = defaultdict(list)
            for p in points[(sid, num)]:
                if p["unit"] is not None and tries and unit_norm(p["unit"]) in tries:
                    units[unit_norm(p["unit"])].append(p)
            out["unit"] += [(cid, exact, hit, min(p["unit"] for p in ps), _avg([p["lat"] for p in ps]),
                             _avg([p["lon"] for p in ps])) for hit, ps in units.items()]
        own = [p for p in points[(sid, q["number"])] if p["unit"] is None]
        if own:
            out["base"].append((cid, _avg([p["lat"] for p in own]), _avg([p["lon"] for p in own])))
        same_side = [a for a in addresses[sid] if a["number_int"] is not None and a["number_int"] % 2 == n % 2
                     and a["lat"] is not None and a["lon"] is not None]
        if same_side:
            below = [a for a in same_side if a["number_int"] < n]
            above = [a for a in same_side if a["number_int"] > n]
            lo = max(below, key=lambda a: (a["number_int"], a["h"])) if below else None
            hi = min(above, key=lambda a: (a["number_int"], a["h"])) if above else None
            ends = [(x["number_int"], x["lon"], x["lat"]) if x else (None, None, None) for x in (lo, hi)]
            out["neighbour"].append((cid, *ends[0], *ends[1]))
        known = any(a["number"] == q["number"] for a in addresses[sid])
        for g in segments[sid]:
            for side, end in (("L", "left"), ("R", "right")):
                a, b, parity = g[f"from_{end}"], g[f"to_{end}"], g[f"parity_{end}"]
                ends = [x for x in (a, b) if x is not None]
                if ends and min(ends) <= n <= max(ends):
                    ok = parity in (None, "B") or (parity == "O" and n % 2 == 1) or (parity == "E" and n % 2 == 0)
                    # no range where the number as written has an address
                    out["range" if not known else "range_unasked"].append(
                        (cid, g["seg"], side, a, b, ok, g["sided"], g["geom"]))
    return out


def test_evidence(backend, gaz):
    """Each part holds what the gazetteer says about each question, nothing else."""
    c, n_points, n_segments = questions(gaz, 400, seed=5)
    found = backend.evidence(c, n_points, n_segments)
    expected = expected_evidence(gaz, c)
    assert set(found) == set(EVIDENCE_PARTS)
    for part, columns in EVIDENCE_COLUMNS.items():
        t = found[part]
        got = list(zip(*t.select(list(columns)).to_pydict().values())) if t.num_rows else []
        assert same(_sorted(got), _sorted(expected[part])), part
        assert expected[part], f"no {part} evidence to check"
    both = rows_of(gaz, "SELECT count(*) AS n FROM streets WHERE n_points > 0 AND n_segments > 0")[0]["n"]
    assert bool(expected["range_unasked"]) == bool(both)     # where numbers with an address lie in a range too


# --------------------------------------------------------------------------- both backends alike


@pytest.fixture(params=["state-tables", "key-by-key"])
def held(request, monkeypatch) -> str:
    """The in-memory backend with states' names held whole, or asked key by key."""
    if request.param == "key-by-key":
        monkeypatch.setattr(memory, "STATE_MAX_ROWS", 0)
    return request.param


def test_exact_candidates_equal_the_sql(gaz, queries, held):
    sql_rows = SqlBackend(gaz).exact_candidates(queries.table, EXACT_PER_QUERY)
    mem_rows = MemoryBackend(gaz).exact_candidates(queries.table, EXACT_PER_QUERY)
    assert same(sql_rows.to_pylist(), mem_rows.to_pylist())        # same rows in the same order


def test_fuzzy_candidates_equal_the_sql(gaz, queries, held):
    spellings = some_without_state(queries.table)
    pairs = block_pairs(gaz, spellings)
    sql_rows = SqlBackend(gaz).fuzzy_candidates(pairs, spellings)
    mem_rows = MemoryBackend(gaz).fuzzy_candidates(pairs, spellings)
    assert same(sql_rows.to_pylist(), mem_rows.to_pylist())


def test_trigram_candidates_equal_the_sql(gaz, queries, held):
    spellings = some_without_state(queries.table)
    states = set(spellings["state"].to_pylist())
    assert None in states and len(states) > 1           # a postcode's or city's streets, and a state's
    sql_rows = SqlBackend(gaz).trigram_candidates(spellings, TRIGRAM_PER_QUERY)
    mem_rows = MemoryBackend(gaz).trigram_candidates(spellings, TRIGRAM_PER_QUERY)
    assert same(sql_rows.to_pylist(), mem_rows.to_pylist())
    stateless = {v for v, st in zip(spellings["vix"].to_pylist(), spellings["state"].to_pylist()) if st is None}
    assert any(r["vix"] in stateless for r in sql_rows.to_pylist())


def test_evidence_equals_the_sql(gaz):
    question = questions(gaz, 400, seed=6)
    sql_parts, mem_parts = SqlBackend(gaz).evidence(*question), MemoryBackend(gaz).evidence(*question)
    for part, columns in EVIDENCE_COLUMNS.items():
        a, b = (p[part].select(list(columns)).to_pylist() if p[part].num_rows else [] for p in (sql_parts, mem_parts))
        assert same(sorted(a, key=repr), sorted(b, key=repr)), part


# --------------------------------------------------------------------------- end to end


def test_one_order_at_a_time_gives_what_the_batch_gives(gaz, texts):
    parsed = parse_batch(texts)
    assert len(parsed) > MEMORY_MAX_QUERIES                # the batch runs the SQL
    clear_caches()
    batch = match_batch(parsed, gaz)
    single = one_at_a_time(parsed, gaz)                    # each order in memory, caches filling up
    assert not differences(batch, single, texts)
    assert {r.status for r in single} >= {"matched", "ambiguous", "unmatched", "invalid"}
    assert {r.precision for r in single} >= {"address_point", "interpolated", "street", "postal_code"}


def test_caches_that_forget_give_the_same_results(gaz, texts, monkeypatch):
    parsed = parse_batch(texts[:150])
    warm = one_at_a_time(parsed, gaz)
    caches = every_cache()
    assert len(caches) >= 6
    for cache in caches:
        monkeypatch.setattr(cache, "max_rows", 3)
        cache.clear()
    tiny = one_at_a_time(parsed, gaz)
    assert not differences(warm, tiny, texts[:150])
    assert all(c.rows <= 3 or len(c) == 1 for c in caches)
    assert any(len(c) for c in caches)


@pytest.mark.slow
@pytest.mark.parametrize("hold", ["nothing", "states, not every street"])
def test_states_too_large_to_hold_are_asked_key_by_key_and_run_the_trigram_sql(gaz, texts, hold, monkeypatch):
    sizes = memory.state_sizes(gaz)
    limit = 0 if hold == "nothing" else max(sizes.values())       # every state fits, all of them together not
    assert limit < sum(sizes.values())
    monkeypatch.setattr(memory, "STATE_MAX_ROWS", limit)
    assert not memory.fits(gaz, {None}) and memory.fits(gaz, {"CA"}) == (hold != "nothing")
    parsed = parse_batch(texts)
    batch = match_batch(parsed, gaz)
    asked = spy_sql(monkeypatch)
    clear_caches()
    assert not differences(batch, one_at_a_time(parsed, gaz), texts)
    assert any("s.name_key = ANY($1)" in text for text in asked)                 # asked key by key
    trigram_sql = sql.trigram_candidates_sql() in asked
    whole_states = [text for text in asked if text.endswith("WHERE s.state = $1")]
    if hold == "nothing":
        assert trigram_sql and not whole_states
        assert any("s.name_lookup IN ($1" in text for text in asked)            # in a state, by its seek column
    else:
        assert whole_states                                                       # states held whole


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
    assert cache.rows <= 10
    cache.clear()
    assert (cache.rows, len(cache)) == (0, 0)


def test_small_batches_get_the_memory_backend_and_large_ones_the_sql(gaz, texts, monkeypatch):
    assert backend_for(gaz, MEMORY_MAX_QUERIES).name == "memory"
    assert backend_for(gaz, MEMORY_MAX_QUERIES + 1).name == "sql"
    asked = spy_sql(monkeypatch)
    parsed = [p for p in parse_batch(texts) if p.street_name and p.country in (None, "US")]
    clear_caches()
    match_batch(parsed[:3], gaz)
    assert asked and not any("AS ev" in text for text in asked)                  # no evidence SQL
    asked.clear()
    match_batch(parsed[: 3 * MEMORY_MAX_QUERIES], gaz)
    assert any("AS ev" in text for text in asked)
    assert not any(text in sql.STREET_ROWS_SQL.values() for text in asked)        # no rows fetched to memory


def test_blocks_asked_one_order_at_a_time_equal_those_asked_together(gaz, name_rows, monkeypatch):
    """A ZIP and a city asked alone (``sql.one_block_sql``, what one order asks) hold the same
    streets by name key as when many are asked at once (``sql.block_members_sql``), and both are
    the name rows of that ZIP (of that city in that state)."""
    rng = random.Random(45)
    zips = sorted({r["postal_code"] for r in name_rows if r["postal_code"]})
    cities = sorted({f"{r['state']}|{r['city']}" for r in name_rows if r["state"] and r["city"]})
    some_zips, some_cities = rng.sample(zips, 7), rng.sample(cities, 7)
    pairs = [(("zip", z), ("city", c)) for z, c in zip(some_zips[:6], some_cities[:6])]
    pairs += [(("zip", some_zips[6]),), (("city", some_cities[6]),), (("zip", "00000"),), (("city", "ZZ|NOWHERE"),)]
    asked = spy_sql(monkeypatch)
    clear_caches()
    together = blocking.blocks(gaz, [b for p in pairs for b in p])
    assert sum("FROM _r" in text for text in asked) == 1
    clear_caches()
    alone = {}
    for p in pairs:
        alone.update(blocking.blocks(gaz, list(p)))
    assert sum(text.strip() == sql.one_block_sql().strip() for text in asked) == len(pairs)

    def by_key(block: dict) -> dict:
        return {k: sorted(v) for k, v in block.items()}

    assert {b: by_key(v) for b, v in alone.items()} == {b: by_key(v) for b, v in together.items()}
    for (kind, block), members in together.items():
        expected: dict = {}
        for r in name_rows:
            if (r["postal_code"] if kind == "zip" else f"{r['state']}|{r['city']}") == block:
                expected.setdefault(r["name_key"] or "", []).append(r["street_id"])
        assert by_key(members) == by_key(expected), block
    assert all(together[b] for p in pairs[:-2] for b in p)     # the blocks that exist are not empty


def test_block_rows_become_blocks_of_name_keys_and_their_streets():
    """Rows ordered by kind, block and name key: each (kind, block) holds its distinct keys in
    order, each with exactly its own street ids; a missing key is ``""``."""
    rows = [("city", "CA|OAKLAND", 7, None), ("city", "CA|OAKLAND", 3, "ASH"), ("city", "CA|OAKLAND", 4, "ASH"),
            ("city", "CA|OAKLAND", 9, "OAK"), ("zip", "02134", 5, "OAK"), ("zip", "94103", 1, "ASH"),
            ("zip", "94103", 2, "BAY"), ("zip", "94103", 6, "BAY")]
    rows.sort(key=lambda r: (r[0], r[1], r[3] is None, r[3] or "", r[2]))
    types = (pa.string(), pa.string(), pa.int64(), pa.string())
    members = pa.table({c: pa.array([r[i] for r in rows], t)
                        for i, (c, t) in enumerate(zip(("kind", "block", "street_id", "name_key"), types))})
    found = blocking.as_blocks(members)
    assert {b: list(v.items()) for b, v in found.items()} == {
        ("city", "CA|OAKLAND"): [("ASH", [3, 4]), ("OAK", [9]), ("", [7])],
        ("zip", "02134"): [("OAK", [5])],
        ("zip", "94103"): [("ASH", [1]), ("BAY", [2, 6])]}
    assert [len(v) for v in found.values()] == [3, 1, 2]
    ids, counts = found[("zip", "94103")].ids_of(np.array([1, 0, 1]))
    assert ids.tolist() == [2, 6, 1, 2, 6] and counts.tolist() == [2, 1, 2]
    ids, counts = found[("city", "CA|OAKLAND")].ids_of(np.array([], np.int64))
    assert ids.tolist() == [] and counts.tolist() == []
    assert blocking.as_blocks(members.slice(0, 0)) == {}
