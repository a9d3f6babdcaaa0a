"""The derived tables (``streets``, ``addresses``, ``localities``): rebuilt whole, or re-derived
for only what a refresh touched.

Both ways run the same aggregates (the SQL below is shared), so a refresh gives the rows a
from-scratch build of the same sources gives; only ``street_id`` may differ. A whole rebuild
numbers the streets afresh; a refresh keeps the id of every street it does not remove and gives
new streets ids above the highest, so it never rewrites the ``street_id`` of rows it did not
load. That rests on one rule both ways keep: every point and segment carries the id of the
street of its key.

A refresh runs inside the build's transaction, in three steps:
``touch(con)`` before the changed sources' old rows are deleted (their streets' keys and
states), ``stage(con)`` for the tables their new rows are loaded into (points and segments wait
there until their streets have ids), and ``rederive(con)`` after the load.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import duckdb

from addressing.gazetteer.keys import UNIT_HIT

#: what makes a street: rows with equal values here (NULL equal to NULL) are one street
STREET_KEY = ("country", "state", "postal_code", "predir", "name_key", "type", "postdir")
_NAME_PARTS = ("predir", "name_key", "type", "postdir")
_KEY = ", ".join(STREET_KEY)
#: tables whose rows wait in a staging table during a refresh (they carry ``street_id``)
STAGED = ("address_points", "segments")
#: the temporary tables of a refresh: the changed sources' names, keys and states they touch,
#: the streets' ids before and after
CHANGED, TOUCHED, STATES, OLD, NEW = "_changed", "_touched_keys", "_touched_states", "_old_streets", "_new_streets"
#: seek columns of ``streets``: a single order asks for the streets of a name (or its sound) in
#: a state; these columns, each with an ART index, find them without scanning the state's rows
#: (``lookup_value``; ``match.sql.name_rows_sql`` reads them)
LOOKUPS = {"name_lookup": "name_key", "sound_lookup": "sound_key"}
#: every row of a street carries the street's own name parts (an alternate name's row too), so
#: that a name row found gives the name the cleaned address is written with without a second read
MAIN_NAME = {"main_predir": "predir", "main_name": "name", "main_type": "type", "main_postdir": "postdir"}
_STREET_COLUMNS = (f"street_id, {_KEY}, name, city, sound_key, lat, lon, n_points, n_segments, alt, "
                   f"{', '.join(LOOKUPS)}, {', '.join(MAIN_NAME)}")


def lookup_value(state: str | None, key: str | None) -> str:
    """What a seek column holds for a street of ``key`` (a name or sound key) in ``state``."""
    return f"{state or ''}|{key or ''}"


def lookup_sql(state: str, key: str) -> str:
    """SQL of ``lookup_value``."""
    return f"coalesce({state}, '') || '|' || coalesce({key}, '')"


def _lookups(prefix: str = "", keys_from: str | None = None) -> str:
    """The seek columns' values of a street row (its state from ``prefix``, its keys from
    ``keys_from``, by default the same)."""
    keys_from = prefix if keys_from is None else keys_from
    return ", ".join(f"{lookup_sql(prefix + 'state', keys_from + key)} AS {col}" for col, key in LOOKUPS.items())


def _main_name(prefix: str = "") -> str:
    return ", ".join(f"{prefix}{own} AS {col}" for col, own in MAIN_NAME.items())


def index_sql() -> list[str]:
    """The seek columns' indexes (a table made afresh has none)."""
    return [f"CREATE INDEX IF NOT EXISTS streets_{col} ON streets ({col})" for col in LOOKUPS]


def staged(table: str) -> str:
    """The staging table a refresh loads ``table``'s new rows into."""
    return f"_new_{table}"


def same_street(a: str, b: str, b_prefix: str = "") -> str:
    """``a`` and ``b`` are on the same street (``b_prefix``: ``b`` names the street's name parts
    with it, as ``alt_names`` does with ``of_``)."""
    return " AND ".join(f"{a}.{c} IS NOT DISTINCT FROM {b}.{b_prefix if c in _NAME_PARTS else ''}{c}"
                        for c in STREET_KEY)


def _streets_of(points: str, segments: str) -> str:
    """One row per street key of the ``points`` and ``segments`` given (a table or a query).
    The most common name and city win; ties go to the first in order, so that equal rows give
    an equal street however they were loaded."""
    return f"""SELECT {_KEY}, mode(name ORDER BY name) AS name, mode(city ORDER BY city) AS city,
               any_value(sound_key) AS sound_key, avg(lat) AS lat, avg(lon) AS lon,
               sum(is_point)::BIGINT AS n_points, (count(*) - sum(is_point))::BIGINT AS n_segments
        FROM (SELECT {_KEY}, name, city, sound_key, lat, lon, 1 AS is_point FROM {points}
              UNION ALL
              SELECT {_KEY}, name, city, sound_key, lat, lon, 0 FROM {segments})
        GROUP BY {_KEY}"""


def _alt_streets(of: str) -> str:
    """One more ``streets`` row per alternate name of the streets ``of`` selects (a condition on
    ``s``), beside its own row (``alt = true``, the same ``street_id``)."""
    return f"""INSERT INTO streets ({_STREET_COLUMNS})
        SELECT DISTINCT s.street_id, s.country, s.state, s.postal_code, a.predir, a.name_key, a.type, a.postdir,
               a.name, s.city, a.sound_key, s.lat, s.lon, s.n_points, s.n_segments, true, {_lookups('s.', 'a.')},
               {_main_name('s.')}
        FROM alt_names a JOIN streets s ON {same_street('s', 'a', 'of_')}
        WHERE NOT s.alt AND {of}
          AND (coalesce(a.predir, ''), a.name_key, coalesce(a.type, ''), coalesce(a.postdir, ''))
              <> (coalesce(s.predir, ''), s.name_key, coalesce(s.type, ''), coalesce(s.postdir, ''))"""


def _addresses(where: str) -> str:
    """One row per (street, number): its units, where all its points are (``lat``/``lon``),
    where those without a unit are (``base_*``, set when ``has_base``), and where each unit is
    (``unit_points``: per unit as compared, ``UNIT_HIT``, the first spelling and the points'
    centre), so that a number's evidence is one row, not an aggregate over its points."""
    hit = UNIT_HIT.format(unit="unit")
    return f"""WITH p AS (FROM address_points WHERE {where}),
        u AS (
            SELECT street_id, number, list(struct_pack(hit := hit, spelled := spelled, lat := lat, lon := lon)
                                           ORDER BY hit) AS unit_points
            FROM (SELECT street_id, number, {hit} AS hit, min(unit) AS spelled, avg(lat) AS lat, avg(lon) AS lon
                  FROM p WHERE unit IS NOT NULL GROUP BY ALL)
            GROUP BY street_id, number
        ), a AS (
            SELECT street_id, number, any_value(number_int) AS number_int,
                   count(DISTINCT unit)::BIGINT AS n_units, bool_or(unit IS NULL) AS has_base,
                   list(DISTINCT unit ORDER BY unit) FILTER (WHERE unit IS NOT NULL) AS units,
                   avg(lat) AS lat, avg(lon) AS lon,
                   avg(lat) FILTER (WHERE unit IS NULL) AS base_lat, avg(lon) FILTER (WHERE unit IS NULL) AS base_lon
            FROM p GROUP BY street_id, number
        )
        SELECT a.*, u.unit_points FROM a LEFT JOIN u USING (street_id, number)
        ORDER BY street_id, number"""


def _localities(states: str | None) -> str:
    """Localities of postal-code cities and street cities (of the (country, state) pairs in the
    table ``states``; all when None)."""
    only = "" if states is None else (f"SEMI JOIN {states} t ON c.country IS NOT DISTINCT FROM t.country "
                                      "AND c.state IS NOT DISTINCT FROM t.state")
    return f"""WITH c AS (
            SELECT country, state, city, lat, lon FROM postal_codes WHERE city IS NOT NULL
            UNION ALL
            SELECT country, state, unnest(acceptable_cities), lat, lon FROM postal_codes
            UNION ALL
            SELECT country, state, city, lat, lon FROM streets WHERE city IS NOT NULL AND NOT alt
        )
        SELECT c.country, c.state, c.city, avg(c.lat) AS lat, avg(c.lon) AS lon, count(*)::BIGINT AS n
        FROM c {only} GROUP BY c.country, c.state, c.city"""


#: street ids whose addresses one statement of a whole derive aggregates and sorts: the sort of
#: a whole national ``addresses`` (9 million rows at 20 million points, with lists) does not fit
#: the build's memory limit, a slice of this many streets (some 1.5 million rows) does
ADDRESS_SLICE_STREETS = 200_000
#: points and segments one statement of a whole derive numbers the streets of and writes in street
#: order: areas (a country's states, in key order) are taken together up to this many rows, and a
#: larger state alone. Sorting and aggregating a whole national table at once went far past the
#: build's 512 MB memory limit, one state's rows (Texas the largest) stayed near it
#: (``benchmarks/build_steps.py`` on ``benchmarks/national.py``'s 60 M sources). Many small
#: areas in one statement save the scans and statements of one each, which a small build's fixed
#: cost is made of.
AREA_ROWS = 1_000_000


@dataclass(frozen=True)
class Areas:
    """Some (country, state) areas of one country, next to each other in key order, whose rows a
    derive statement takes together; ``first``..``last``: their streets' ids once numbered."""

    country: str | None
    states: tuple[str | None, ...]
    rows: int
    first: int = 0
    last: int = 0

    def where(self, at: int) -> tuple[str, list]:
        """A condition on a row's ``country`` and ``state`` that holds for these areas, and its
        parameters, numbered from ``$at``."""
        named = [s for s in self.states if s is not None]
        either = [f"state IN ({', '.join(f'${at + 1 + i}' for i in range(len(named)))})"] if named else []
        either += ["state IS NULL"] if len(named) < len(self.states) else []
        return f"(country IS NOT DISTINCT FROM ${at} AND ({' OR '.join(either)}))", [self.country, *named]


def area_groups(con: duckdb.DuckDBPyConnection, points: str, segments: str, rows: int | None = None,
                ) -> list[Areas]:
    """The areas of the rows of ``points`` and ``segments``, in key order (NULLs last, as
    ``ORDER BY`` puts them), taken together up to ``rows`` rows (``AREA_ROWS``) within a country."""
    rows = AREA_ROWS if rows is None else rows
    counts = con.execute(f"""SELECT country, state, count(*) FROM (
        SELECT country, state FROM {points} UNION ALL SELECT country, state FROM {segments})
        GROUP BY country, state ORDER BY country, state""").fetchall()
    groups: list[Areas] = []
    for country, state, n in counts:
        last = groups[-1] if groups else None
        if last is not None and last.country == country and last.rows + n <= rows:
            groups[-1] = Areas(country, (*last.states, state), last.rows + n)
        else:
            groups.append(Areas(country, (state,), n))
    return groups


def full(con: duckdb.DuckDBPyConnection, staged_rows: bool = False) -> None:
    """Derive every table from the loaded ones (a first build, a schema upgrade);
    ``staged_rows``: the points and segments were loaded into ``stage``'s tables, not the
    file's own (then the file holds no blocks freed by rewriting them in street order, which
    only copying the whole file drops). The points, segments and ``addresses`` are written in
    street order, a few areas at a time (``AREA_ROWS``, ``ADDRESS_SLICE_STREETS``), so that the
    rows of a few streets (a single order's evidence) lie in a few row groups that DuckDB's zone
    maps find without a scan. A refresh appends its streets' rows at the end, together, so they
    stay found the same way."""
    loaded = {}
    for table in STAGED:
        loaded[table] = staged(table)
        if not staged_rows:  # an upgrade: its rows are written again from where they are
            con.execute(f"ALTER TABLE {table} RENAME TO {loaded[table]}")
        con.execute(f"CREATE OR REPLACE TABLE {table} AS FROM {loaded[table]} LIMIT 0")
    groups = number_streets(con, loaded["address_points"], loaded["segments"])
    for table in STAGED:  # with their streets' ids, in street order, as ``addresses`` below
        for areas in groups:
            where, params = areas.where(3)
            con.execute(f"""INSERT INTO {table} SELECT r.* REPLACE (s.street_id AS street_id)
                FROM (FROM {loaded[table]} WHERE {where}) r
                LEFT JOIN (FROM streets WHERE street_id BETWEEN $1 AND $2) s ON {same_street('r', 's')}
                ORDER BY street_id""", [areas.first, areas.last, *params])
        con.execute(f"DROP TABLE {loaded[table]}")
    con.execute(_alt_streets("true"))
    con.execute(f"CREATE OR REPLACE TABLE addresses AS {_addresses('false')}")
    top = con.execute("SELECT coalesce(max(street_id), 0) FROM streets").fetchone()[0]
    for low in range(1, top + 1, ADDRESS_SLICE_STREETS):
        con.execute(f"INSERT INTO addresses {_addresses('street_id BETWEEN ? AND ?')}",
                    [low, low + ADDRESS_SLICE_STREETS - 1])
    con.execute(f"CREATE OR REPLACE TABLE localities AS {_localities(None)}")
    for stmt in index_sql():
        con.execute(stmt)


def number_streets(con: duckdb.DuckDBPyConnection, points: str = "address_points", segments: str = "segments",
                   rows: int | None = None) -> list[Areas]:
    """``streets`` made afresh from the tables ``points`` and ``segments``, numbered in
    ``STREET_KEY`` order, a few areas at a time (``area_groups``): a street's most common name
    and city are ordered aggregates, which DuckDB keeps in memory for the whole statement. The
    areas come in the key's own order, so the ids are those one statement over the country would
    give. Returns the areas, each with its streets' ids."""
    street = f"SELECT $1 + row_number() OVER (ORDER BY {_KEY}) AS street_id, *, false AS alt, {_lookups()}, {_main_name()}"
    groups = area_groups(con, points, segments, rows)
    empty = _streets_of(f"(FROM {points} LIMIT 0)", f"(FROM {segments} LIMIT 0)")
    con.execute(f"CREATE OR REPLACE TABLE streets AS {street} FROM ({empty}) LIMIT 0", [0])
    top = 0
    for i, areas in enumerate(groups):
        where, params = areas.where(2)
        of_areas = _streets_of(f"(FROM {points} WHERE {where})", f"(FROM {segments} WHERE {where})")
        con.execute(f"INSERT INTO streets {street} FROM ({of_areas}) ORDER BY street_id", [top, *params])
        last = con.execute("SELECT coalesce(max(street_id), 0) FROM streets").fetchall()[0][0]
        groups[i] = replace(areas, first=top + 1, last=last)
        top = last
    return groups


def _source_rows(table: str, columns: str) -> str:
    return f"SELECT DISTINCT {columns} FROM {table} WHERE source_name IN (SELECT source_name FROM {CHANGED})"


def touch(con: duckdb.DuckDBPyConnection, sources: list[str]) -> None:
    """Note the street keys and states the rows of ``sources`` now in the file are on (before
    they are deleted): their streets must be re-derived without them."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {CHANGED} (source_name VARCHAR)")
    con.executemany(f"INSERT INTO {CHANGED} VALUES (?)", [[s] for s in sources])
    alt_key = "country, state, postal_code, of_predir, of_name_key, of_type, of_postdir"
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {TOUCHED} AS
        {_source_rows('address_points', _KEY)} UNION {_source_rows('segments', _KEY)}
        UNION {_source_rows('alt_names', alt_key)}""")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {STATES} AS {_source_rows('postal_codes', 'country, state')}")


def stage(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Empty staging tables shaped like the tables of ``STAGED``; which table each of those
    loads into. They are temporary: in memory up to the build's memory limit, spilled to its
    temporary folder beyond it, gone when the connection closes, whatever happens to the build."""
    for table in STAGED:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {staged(table)} AS FROM {table} LIMIT 0")
    return {table: staged(table) for table in STAGED}


def rederive(con: duckdb.DuckDBPyConnection) -> None:
    """After the changed sources' old rows are deleted and their new rows loaded (points and
    segments into the staging tables, the rest in place): re-derive the streets, addresses and
    localities on the keys and states they touched, and move the staged rows in with their ids."""
    points, segments = staged("address_points"), staged("segments")
    alt_key = "country, state, postal_code, of_predir, of_name_key, of_type, of_postdir"
    con.execute(f"""INSERT INTO {TOUCHED}
        SELECT DISTINCT {_KEY} FROM {points} UNION SELECT DISTINCT {_KEY} FROM {segments}
        UNION {_source_rows('alt_names', alt_key)}""")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {TOUCHED} AS SELECT DISTINCT * FROM {TOUCHED}")
    con.execute(f"""INSERT INTO {STATES} {_source_rows('postal_codes', 'country, state')}
        UNION SELECT DISTINCT country, state FROM {TOUCHED}""")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {STATES} AS SELECT DISTINCT * FROM {STATES}")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {OLD} AS
        SELECT s.street_id, s.{', s.'.join(STREET_KEY)} FROM streets s JOIN {TOUCHED} k ON {same_street('s', 'k')}
        WHERE NOT s.alt""")
    # the rows left on those streets carry the streets' old ids (the rule in the module's docstring)
    kept = f"(SELECT * FROM {{table}} WHERE street_id IN (SELECT street_id FROM {OLD}))"
    incoming = "({kept} UNION ALL BY NAME FROM {new})"
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {NEW} AS
        WITH a AS ({_streets_of(incoming.format(kept=kept.format(table='address_points'), new=points),
                                incoming.format(kept=kept.format(table='segments'), new=segments))}),
             top AS (SELECT coalesce(max(street_id), 0) AS top FROM streets)
        SELECT coalesce(o.street_id, top.top + row_number() OVER (PARTITION BY o.street_id IS NULL
                                                               ORDER BY a.{', a.'.join(STREET_KEY)})) AS street_id,
               a.*
        FROM a LEFT JOIN {OLD} o ON {same_street('a', 'o')} CROSS JOIN top""")
    con.execute(f"DELETE FROM streets WHERE street_id IN (SELECT street_id FROM {OLD})")
    con.execute(f"INSERT INTO streets ({_STREET_COLUMNS}) SELECT *, false, {_lookups()}, {_main_name()} FROM {NEW}")
    for table in STAGED:
        columns = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall() if r[0] != "street_id"]
        cols = ", ".join(columns)
        con.execute(f"""INSERT INTO {table} ({cols}, street_id)
            SELECT {', '.join('r.' + c for c in columns)}, n.street_id
            FROM {staged(table)} r JOIN {NEW} n ON {same_street('r', 'n')}""")
    con.execute(_alt_streets(f"s.street_id IN (SELECT street_id FROM {NEW})"))
    con.execute(f"""DELETE FROM addresses WHERE street_id IN (SELECT street_id FROM {OLD}
                                                           UNION SELECT street_id FROM {NEW})""")
    con.execute(f"INSERT INTO addresses {_addresses(f'street_id IN (SELECT street_id FROM {NEW})')}")
    con.execute(f"""DELETE FROM localities l USING {STATES} t
        WHERE l.country IS NOT DISTINCT FROM t.country AND l.state IS NOT DISTINCT FROM t.state""")
    con.execute(f"INSERT INTO localities {_localities(STATES)}")
    for table in (CHANGED, TOUCHED, STATES, OLD, NEW, *map(staged, STAGED)):
        con.execute(f"DROP TABLE IF EXISTS {table}")
