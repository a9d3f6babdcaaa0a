"""The matcher's SQL: builders return text (values go in as parameters, batches as registered
Arrow tables ``_q``, ``_r``, ``_p``, ``_c``, ``_l``), and ``run`` / ``run_columns`` are the one
place it meets DuckDB.

Owns every query the matcher sends: the candidate and evidence queries of the SQL backend
(``backends.SqlBackend``), the row fetches of the in-memory backend (``memory``), and the block,
locality and coverage lookups both share. Tables read: ``streets`` (one row per street and per
alternate name of it, ``alt``), ``addresses``, ``address_points``, ``segments``, ``localities``
(see ``addressing/gazetteer``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import pyarrow as pa

from addressing.gazetteer import Gazetteer, query_arrow, query_columns
from addressing.gazetteer.derive import LOOKUPS

# --------------------------------------------------------------------------- SQL builders

#: the name row that matched (``s``: a street's own name or one of its alternate names) is
#: scored; the street's own name (``m``) is what the result says
STREET_COLS = ("s.street_id, s.postal_code, s.city, s.state, s.predir, s.name, s.type, s.postdir, s.name_key, "
                "s.lat, s.lon, s.n_points, s.n_segments, "
                "s.main_predir AS out_predir, s.main_name AS out_name, s.main_type AS out_type, "
                "s.main_postdir AS out_postdir")
#: the names of those columns, as every candidate table has them after ``vix``
CANDIDATE_COLUMNS = tuple(c.split(" AS ")[-1].split(".")[-1] for c in STREET_COLS.split(", "))
_NUMERIC = {"vix": pa.int64(), "street_id": pa.int64(), "lat": pa.float64(), "lon": pa.float64(),
            "n_points": pa.int64(), "n_segments": pa.int64()}
#: a candidate table: ``vix``, then ``CANDIDATE_COLUMNS`` (text unless numeric)
CANDIDATE_SCHEMA = pa.schema([(c, _NUMERIC.get(c, pa.string())) for c in ("vix", *CANDIDATE_COLUMNS)])


#: a fixed order for round two's candidate rows: equal scores are settled by row order, which
#: must not depend on what else is in the batch (a hash join's output order does)
CANDIDATE_ORDER = "ORDER BY vix, street_id, name_key, predir, type, postdir"

#: the order of a street's addresses for the neighbour search: the integer, then ``hash(number)``
NUMBER_ORDER = "(a.number_int::HUGEINT * 18446744073709551616 + hash(a.number))"


def in_place(spellings: str, on: str, placeless: tuple[str, ...], select: str) -> str:
    """``SELECT select FROM spellings q JOIN streets s ON on``, where a spelling with a state
    meets the streets of its state and one without meets those where one of the disjoint
    conditions ``placeless`` holds: one join each, so that each joins on equal keys. On an
    equal state DuckDB reads only the row groups of the spellings' states (the streets lie in
    state order); one join with ``q.state IS NULL OR s.state = q.state`` read every state's rows,
    and so did one on ``s.postal_code = q.postal_code OR s.city = q.city`` for the few spellings
    without a state, so a chunk's candidates cost more on a national file than on a file of its
    states alone (``benchmarks/batch_queries.py`` on ``benchmarks/national.py``'s 60 M file and
    its region file)."""
    branches = [f"SELECT {select} FROM (FROM {spellings} WHERE state IS NOT NULL) q "
                f"JOIN streets s ON {on} AND s.state = q.state"]
    branches += [f"SELECT {select} FROM (FROM {spellings} WHERE state IS NULL) q JOIN streets s ON {on} AND {cond}"
                 for cond in placeless]
    return "\n        UNION ALL\n        ".join(branches)


#: what ``exact_candidates_sql`` ranks a name row found by: in the spelling's ZIP or city, the
#: ZIP prefix shared, the street's size
_EXACT_ROW = """q.vix, s.rowid AS srow, s.street_id,
    (s.postal_code IS NOT DISTINCT FROM q.postal_code OR s.city IS NOT DISTINCT FROM q.city) AS near,
    coalesce(s.postal_code = q.postal_code OR s.city = q.city, false) AS local,
    CASE WHEN left(s.postal_code, 4) = left(q.postal_code, 4) THEN 4
         WHEN left(s.postal_code, 3) = left(q.postal_code, 3) THEN 3 ELSE 0 END AS prefix,
    s.n_points + s.n_segments AS size"""


def exact_candidates_sql() -> str:
    """Streets with a query spelling's exact name key in its state (anywhere without a state):
    the query's own ZIP and city first, then ZIPs sharing the longest prefix. At most ``?`` per
    spelling; when some are in its own ZIP or city, those and the nearest other one only (a
    name that recurs in every town of a state would otherwise bring them all).

    The ranking runs on narrow rows (the name row's ``rowid``), and only the rows kept are
    joined back for their columns, which costs less than ranking the wide rows."""
    return f"""
        WITH j AS ({in_place('_q', 's.name_key = q.name_key', ('true',), _EXACT_ROW)}
        ), r AS (
            SELECT vix, srow,
                   row_number() OVER (PARTITION BY vix ORDER BY near DESC, prefix DESC, size DESC, street_id, srow) AS rn,
                   count(*) FILTER (WHERE local) OVER (PARTITION BY vix) AS n_local
            FROM j
        )
        SELECT r.vix, {STREET_COLS}
        FROM r JOIN streets s ON s.rowid = r.srow
        WHERE r.rn <= least(?, CASE WHEN r.n_local > 0 THEN r.n_local + 1 ELSE 1000 END)
        ORDER BY r.vix, r.rn
    """


def block_members_sql() -> str:
    """Round two's ZIP and city blocks: every name row of the streets in the spellings' ZIPs
    and cities (``block`` = ZIP, or ``STATE|CITY``), by block and name key. Names are compared
    in Python with rapidfuzz, one block at a time, rather than pair by pair in SQL."""
    return """
        SELECT 'zip' AS kind, s.postal_code AS block, s.street_id, s.name_key
        FROM streets s SEMI JOIN (SELECT DISTINCT postal_code FROM _r) r ON s.postal_code = r.postal_code
        WHERE s.country = 'US'
        UNION ALL
        SELECT 'city', s.state || '|' || s.city, s.street_id, s.name_key
        FROM streets s SEMI JOIN (SELECT DISTINCT state, city FROM _r) r ON s.state = r.state AND s.city = r.city
        ORDER BY kind, block, name_key, street_id
    """


def one_block_sql() -> str:
    """``block_members_sql`` for one ZIP (``$1``) and one city (``$2`` state, ``$3`` city), either
    NULL: what one order asks. Constants let DuckDB skip the row groups of other ZIPs and states
    before it reads a row (the streets lie in state and ZIP order): at 20 M points a TX ZIP and
    city took 2.3-2.6 ms against 4.9-5.6 ms through a registered table; for two ZIPs or two
    cities and more the join is the faster (a one-off timing over sampled TX blocks)."""
    return """
        SELECT 'zip' AS kind, s.postal_code AS block, s.street_id, s.name_key
        FROM streets s WHERE s.country = 'US' AND s.postal_code = $1
        UNION ALL
        SELECT 'city', s.state || '|' || s.city, s.street_id, s.name_key
        FROM streets s WHERE s.state = $2 AND s.city = $3
        ORDER BY kind, block, name_key, street_id
    """


#: where round two looks for a spelling's look-alikes (sound key, trigrams): its state; without
#: a state (none written and no known ZIP: a foreign postcode, a misparse such as ``262 OAK OH``),
#: its postcode or city in any state, and nowhere when it has neither. A spelling with no place
#: at all would be compared with every street of the country (seconds per batch at national
#: size, and every far look-alike a query on its own part of the file), and no match found so
#: could be trusted; the exact name key is still looked for everywhere (round one)
PLACELESS_LOCALITY = "(s.postal_code = q.postal_code OR s.city = q.city)"
#: ``PLACELESS_LOCALITY`` as two disjoint conditions, each on equal keys (for ``in_place``)
PLACELESS_JOINS = ("s.postal_code = q.postal_code",
                   "s.city = q.city AND NOT coalesce(s.postal_code = q.postal_code, false)")


def sound_candidates_sql() -> str:
    """Round two: streets with the spelling's sound key in its locality (its state, else
    ``PLACELESS_LOCALITY``, as ``in_place`` joins it)."""
    return in_place("_r", "s.sound_key = q.sound_key", PLACELESS_JOINS, f"q.vix, {STREET_COLS}")


def pair_candidates_sql() -> str:
    """The streets of (spelling, street) pairs found in Python (``_p``), every name row."""
    return f"SELECT p.vix, {STREET_COLS} FROM _p p JOIN streets s ON s.street_id = p.street_id"


def fuzzy_candidates_sql() -> str:
    """Round two's pairs and sound keys together, in ``CANDIDATE_ORDER``."""
    return f"{pair_candidates_sql()} UNION ALL {sound_candidates_sql()} {CANDIDATE_ORDER}"


def _grams(columns: str, source: str, where: str) -> str:
    """``columns`` and every trigram ``g`` of the name keys of ``source`` (``^KEY$`` cut one gram
    per letter, as ``memory.grams``), with ``p`` (the padded key) and ``i`` (the gram's place):
    a gram that recurs in a key counts once, which ``_first_gram`` tells. Cut by an unnested
    range of places rather than a list built per key and made distinct, which cost several
    times as much on a state's names (``benchmarks/batch_queries.py``)."""
    return f"""SELECT {columns}, p, i, substr(p, i, 3) AS g FROM (
        SELECT {columns}, '^' || name_key || '$' AS p, unnest(range(1, length(name_key) + 1)) AS i
        FROM {source} {where})"""


def _first_gram(grams: str, gram: str) -> str:
    """True where the gram ``gram`` of a row of ``grams`` (``_grams``) is its first place in its key."""
    return f"instr({grams}.p, {gram}) = {grams}.i"


def trigram_candidates_sql() -> str:
    """Round two: the streets of the spelling's locality (its state, else ``PLACELESS_LOCALITY``) sharing the most
    name-key trigrams with it (a typo that changes consonants defeats the sound key, not most
    trigrams); ``?`` = how many per spelling; in ``CANDIDATE_ORDER``.

    As ``in_place`` does, spellings with a state join their state's grams on gram and state
    (equal keys, so the hash join never pairs grams of other states), and those without one
    the grams of their postcodes and cities. A street's recurring grams are dropped after the
    join, where only the grams some spelling has are left: the condition names the spelling's
    gram so that DuckDB cannot move it below the join onto every gram of the state."""
    placeless = "FROM _r WHERE state IS NULL"
    return f"""
        WITH q AS (
            SELECT * FROM ({_grams("vix, state, postal_code, city", "_r", "WHERE length(name_key) >= 3")}) q
            WHERE {_first_gram("q", "q.g")}
        ), matched AS (
            SELECT q.vix, s.street_id FROM (FROM q WHERE state IS NOT NULL) q
            JOIN ({_grams("street_id, state", "streets",
                          "WHERE state IN (SELECT DISTINCT state FROM _r WHERE state IS NOT NULL)")}) s
              ON s.g = q.g AND s.state = q.state
            WHERE {_first_gram("s", "q.g")}
            UNION ALL
            SELECT q.vix, s.street_id FROM (FROM q WHERE state IS NULL) q
            JOIN ({_grams("street_id, postal_code, city", "streets",
                          f"WHERE postal_code IN (SELECT DISTINCT postal_code {placeless}) "
                          f"OR city IN (SELECT DISTINCT city {placeless})")}) s
              ON s.g = q.g AND {PLACELESS_LOCALITY}
            WHERE {_first_gram("s", "q.g")}
        ), shared AS (
            SELECT vix, street_id FROM matched
            GROUP BY vix, street_id HAVING count(*) >= 2
            QUALIFY row_number() OVER (PARTITION BY vix ORDER BY count(*) DESC, street_id) <= ?
        )
        SELECT shared.vix, {STREET_COLS} FROM shared JOIN streets s USING (street_id)
        {CANDIDATE_ORDER}
    """


#: each candidate's number as written (``exact``) and, when that differs, its integer part
#: (``1016-18`` -> ``1016``): two equi-join keys instead of an OR in the join condition
_NUMBER_SPELLINGS = """
    SELECT *, number AS num, true AS exact FROM _c
    UNION ALL
    SELECT *, CAST(number_int AS VARCHAR) AS num, false AS exact FROM _c
    WHERE number_int IS NOT NULL AND CAST(number_int AS VARCHAR) <> number
"""


#: the evidence query's tables of address rows (``evidence_sql`` writes them once, every part
#: that needs them reads them): ``sa``, every address of the candidates' streets, read from
#: ``addresses`` in one scan; ``hits``, the address at each candidate's number or at its
#: integer part. Scanning ``addresses`` once for all parts rather than once per part cut a
#: batch's evidence time by a fifth or more on ``benchmarks/national.py``'s 60 M file
#: (``benchmarks/batch_queries.py``).
ADDRESS_ROWS = {
    "sa": """
        SELECT street_id, number, number_int, n_units, has_base, lat, lon, base_lat, base_lon, unit_points
        FROM addresses WHERE street_id IN (SELECT street_id FROM _c)""",
    "hits": f"""
        SELECT c.cid, c.exact, c.units_try, a.n_units, a.has_base, a.lat, a.lon,
               a.base_lat, a.base_lon, a.unit_points
        FROM ({_NUMBER_SPELLINGS}) c JOIN sa a ON a.street_id = c.street_id AND a.number = c.num""",
}


def point_evidence_sql() -> str:
    """The address with the query's number on the candidate street, or, when the number is
    hyphenated, fractional or lettered (``1016-18``, ``12 1/2``, ``32B``), the one of its
    integer part (``hits``). ``base_lat``/``base_lon``: where the points without a unit are."""
    return "SELECT cid, exact, n_units, has_base, lat, lon FROM hits"


def base_point_sql() -> str:
    """Where the points without a unit at the query's number are (``addresses.base_*``)."""
    return "SELECT cid, base_lat AS lat, base_lon AS lon FROM hits WHERE exact AND has_base"


def unit_point_sql() -> str:
    """The points of the units a query may mean (``units_try``), at its number or at the
    integer part of the number; units compared without punctuation or leading zeros
    (``keys.UNIT_HIT``), and ``spelled`` as the source writes the one found (``04`` -> ``4``,
    ``1A2`` -> ``1A-2``): ``addresses.unit_points``."""
    return """
        SELECT cid, exact, p.hit AS hit, p.spelled AS spelled, p.lat AS lat, p.lon AS lon FROM (
            SELECT cid, exact, units_try, unnest(unit_points) AS p FROM hits WHERE unit_points IS NOT NULL
        ) WHERE list_contains(units_try, p.hit)"""


def range_evidence_sql(points: bool = True) -> str:
    """Segments whose left or right range holds the number, with parity agreement, for the
    questions whose number as written has no address on the street (with ``points``: the
    ``hits`` of ``ADDRESS_ROWS`` tell; the address's own point says more than any range, and
    the matcher reads no range where it has one).

    The ranges are compared first and the geometry of the few segments that hold the number
    read after: the candidates' segments lie scattered over many row groups, and reading the
    geometry of every segment of theirs cost more than all the rest of a batch's evidence
    (``benchmarks/batch_queries.py`` on ``benchmarks/national.py``'s 60 M file)."""
    side = """
        SELECT c.cid, g.seg, '{s}' AS side, g.from_{side} AS a, g.to_{side} AS b,
               (g.parity_{side} IS NULL OR g.parity_{side} = 'B'
                OR (g.parity_{side} = 'O' AND c.number_int % 2 = 1)
                OR (g.parity_{side} = 'E' AND c.number_int % 2 = 0)) AS parity_ok,
               g.sided
        FROM c JOIN g ON g.street_id = c.street_id
        WHERE c.number_int BETWEEN least(g.from_{side}, g.to_{side}) AND greatest(g.from_{side}, g.to_{side})
    """
    asked = "_c ANTI JOIN (SELECT cid FROM hits WHERE exact) USING (cid)" if points else "_c"
    return f"""
        WITH c AS (FROM {asked}), g AS (
            SELECT rowid AS seg, street_id, from_left, to_left, from_right, to_right, parity_left, parity_right, sided
            FROM segments WHERE street_id IN (SELECT street_id FROM c)
        ), held AS ({side.format(s="L", side="left")} UNION ALL {side.format(s="R", side="right")})
        SELECT held.*, s.geom FROM held JOIN segments s ON s.rowid = held.seg
    """


def neighbour_evidence_sql() -> str:
    """Nearest numbered points below and above the number on the same street and parity;
    addresses without a position are no neighbours. Between addresses of one integer (``12``,
    ``12A``) DuckDB's ``hash`` of the number as written decides: any one, always the same one
    (one HUGEINT key, cheaper than a (number_int, number) struct)."""
    return f"""
        SELECT c.cid,
               max(a.number_int) FILTER (WHERE a.number_int < c.number_int) AS lo_n,
               arg_max(a.lon, {NUMBER_ORDER}) FILTER (WHERE a.number_int < c.number_int) AS lo_lon,
               arg_max(a.lat, {NUMBER_ORDER}) FILTER (WHERE a.number_int < c.number_int) AS lo_lat,
               min(a.number_int) FILTER (WHERE a.number_int > c.number_int) AS hi_n,
               arg_min(a.lon, {NUMBER_ORDER}) FILTER (WHERE a.number_int > c.number_int) AS hi_lon,
               arg_min(a.lat, {NUMBER_ORDER}) FILTER (WHERE a.number_int > c.number_int) AS hi_lat
        FROM _c c JOIN sa a
          ON a.street_id = c.street_id AND a.number_int % 2 = c.number_int % 2
             AND a.lat IS NOT NULL AND a.lon IS NOT NULL
        GROUP BY c.cid
    """


EVIDENCE_PARTS = ("point", "base", "unit", "range", "neighbour")
#: the columns of each part, as its query returns them (``backends.EVIDENCE_COLUMNS`` says what they mean)
EVIDENCE_SCHEMAS = {
    "point": pa.schema([("cid", pa.int64()), ("exact", pa.bool_()), ("n_units", pa.int64()), ("has_base", pa.bool_()),
                        ("lat", pa.float64()), ("lon", pa.float64())]),
    "base": pa.schema([("cid", pa.int64()), ("lat", pa.float64()), ("lon", pa.float64())]),
    "unit": pa.schema([("cid", pa.int64()), ("exact", pa.bool_()), ("hit", pa.string()), ("spelled", pa.string()),
                       ("lat", pa.float64()), ("lon", pa.float64())]),
    "range": pa.schema([("cid", pa.int64()), ("seg", pa.int64()), ("side", pa.string()), ("a", pa.int64()),
                        ("b", pa.int64()), ("parity_ok", pa.bool_()), ("sided", pa.bool_()), ("geom", pa.binary())]),
    "neighbour": pa.schema([("cid", pa.int64()), ("lo_n", pa.int64()), ("lo_lon", pa.float64()),
                            ("lo_lat", pa.float64()), ("hi_n", pa.int64()), ("hi_lon", pa.float64()),
                            ("hi_lat", pa.float64())]),
}


def evidence_sql(points: bool = True, units: bool = True, ranges: bool = True) -> str:
    """All house-number and unit evidence for the candidates ``_c`` in one query (one round trip:
    what a single order's latency is made of), rows tagged by ``ev``, columns by name. Parts the
    candidates cannot have (no address points, no unit asked, no ranges) are left out: each
    costs milliseconds of planning even when it finds nothing."""
    parts = {}
    if points:
        parts.update(point=point_evidence_sql(), base=base_point_sql(), neighbour=neighbour_evidence_sql())
        if units:
            parts["unit"] = unit_point_sql()
    if ranges:
        parts["range"] = range_evidence_sql(points)
    if not parts:
        return "SELECT NULL::VARCHAR AS ev, NULL::BIGINT AS cid WHERE false"
    union = "\nUNION ALL BY NAME\n".join(f"SELECT '{name}' AS ev, * FROM ({sql})" for name, sql in parts.items())
    if not points:
        return union
    return "WITH " + ", ".join(f"{name} AS MATERIALIZED ({sql})" for name, sql in ADDRESS_ROWS.items()) + "\n" + union


def locality_sql() -> str:
    return "SELECT l.country, l.state, l.city, l.lat, l.lon FROM _l q JOIN localities l USING (country, state, city)"


def state_sizes_sql() -> str:
    """How many street name rows each state has (``NULL``: streets without a state)."""
    return "SELECT state, count(*) AS n FROM streets GROUP BY state"


#: name-row columns a state's rows are sought by (``gazetteer.derive.LOOKUPS``): column -> seek column
SEEK_COLUMNS = {key: col for col, key in LOOKUPS.items()}


def name_rows_sql(column: str | None = None, in_state: bool = False, seek_values: int = 1) -> str:
    """Street name rows (``srow``, then ``STREET_COLS``, ``sound_key``): those whose ``column``
    (``name_key``, ``sound_key`` or ``street_id``) is in ``$1``, or all of them; in the state
    ``$1`` (``$2`` after a ``column``) when ``in_state``. A name or sound key in a state is
    sought through its seek column instead: the ``seek_values`` parameters then hold
    ``derive.lookup_value(state, key)`` of each key (and no state follows), as an ``IN`` list of
    parameters, which DuckDB seeks a quarter faster than ``= ANY`` of one list parameter."""
    if column in SEEK_COLUMNS and in_state:
        values = ", ".join(f"${i}" for i in range(1, seek_values + 1))
        where = [f"s.{SEEK_COLUMNS[column]} IN ({values})"]
    else:
        where = [f"s.{column} = ANY($1)"] if column else []
        if in_state:
            where.append(f"s.state = ${len(where) + 1}")
    return (f"SELECT s.rowid AS srow, {STREET_COLS}, s.sound_key FROM streets s"
            + (" WHERE " + " AND ".join(where) if where else ""))


#: the rows of streets (ids in ``$1``, between ``$2`` and ``$3``: the range lets DuckDB's zone maps
#: skip the row groups of other streets, the tables being in street order) the in-memory backend
#: keeps, by kind
STREET_ROWS_SQL = {
    "addresses": "SELECT street_id, number, number_int, hash(number) AS nhash, n_units, has_base, lat, lon, "
                 "base_lat, base_lon, unit_points "
                 "FROM addresses WHERE street_id = ANY($1) AND street_id BETWEEN $2 AND $3",
    "segments": "SELECT street_id, rowid AS seg, from_left, to_left, from_right, to_right, parity_left, "
                "parity_right, sided, geom FROM segments WHERE street_id = ANY($1) AND street_id BETWEEN $2 AND $3",
}


def street_rows_params(ids: list[int]) -> list:
    """The parameters of ``STREET_ROWS_SQL`` for streets ``ids``."""
    return [ids, min(ids), max(ids)]


def coverage_sql() -> str:
    """States, ZIPs and cities that have street data at all."""
    return """
        SELECT DISTINCT 'zip' AS k, postal_code AS v FROM streets WHERE postal_code IS NOT NULL
        UNION SELECT DISTINCT 'city', state || '|' || city FROM streets WHERE city IS NOT NULL
        UNION SELECT DISTINCT 'state', state FROM streets WHERE state IS NOT NULL
    """


def run(gaz: Gazetteer, sql: str, tables: dict[str, pa.Table] | None = None, params: list | None = None) -> pa.Table:
    """The one place SQL meets DuckDB: register the batch tables, run, return Arrow."""
    with _registered(gaz, tables) as cur:
        return query_arrow(cur, sql, params)


def run_columns(gaz: Gazetteer, sql: str, tables: dict[str, pa.Table] | None = None,
                params: list | None = None) -> dict[str, list]:
    """``run`` for a small result read in Python: column name -> values (``query_columns``)."""
    with _registered(gaz, tables) as cur:
        return query_columns(cur, sql, params)


@contextmanager
def _registered(gaz: Gazetteer, tables: dict[str, pa.Table] | None) -> Iterator[duckdb.DuckDBPyConnection]:
    """The gazetteer's cursor with ``tables`` registered under their names while it is used."""
    cur = gaz.cursor()
    names = []
    try:
        for name, table in (tables or {}).items():
            cur.register(name, table)
            names.append(name)
        yield cur
    finally:
        for name in names:
            cur.unregister(name)
