"""The gazetteer's DuckDB file: schema, atomic incremental builds, and read-only access.

Tables (one file):

- ``sources``: one row per loaded source (name, kind, file, vintage, SHA-256, rows, skipped, load time)
- ``meta``: ``version`` (changes whenever content changes), ``schema``, ``built_at``
- ``postal_codes``: US ZIPs (type, active, preferred/acceptable cities, county, timezone,
  centroid; military centroids NULL) and world postal codes (GeoNames)
- ``address_points``: number, standardized street parts and keys, unit, city, ZIP, lon/lat
- ``segments``: TIGER ranges: left/right from/to numbers, parity, left/right ZIP, WKB line
- ``alt_names``: other names a source gives a point's or segment's street
- derived after every build: ``streets`` (one row per street in a ZIP, with blocking keys
  and centroid), ``addresses`` (one row per numbered address: its units), ``localities``

Every build works on a copy of the file and renames it over the original at the end, so a
failed or killed build leaves the previous gazetteer intact and usable.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from addressing.errors import GazetteerError
from addressing.gazetteer import openaddresses, postal_codes, tiger
from addressing.gazetteer.model import LoadReport, default_source_name, file_checksum, vintage_of

SCHEMA_VERSION = "1"

DDL = [
    "CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
    """CREATE TABLE IF NOT EXISTS sources (
        source_name VARCHAR PRIMARY KEY, kind VARCHAR, path VARCHAR, vintage VARCHAR, checksum VARCHAR,
        options VARCHAR, rows BIGINT, skipped VARCHAR, loaded_at TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS postal_codes (
        source_name VARCHAR, country VARCHAR, postal_code VARCHAR, type VARCHAR, active BOOLEAN, city VARCHAR,
        acceptable_cities VARCHAR[], state VARCHAR, county VARCHAR, timezone VARCHAR, lat DOUBLE, lon DOUBLE)""",
    """CREATE TABLE IF NOT EXISTS address_points (
        source_name VARCHAR, source_key VARCHAR, country VARCHAR, state VARCHAR, city VARCHAR,
        postal_code VARCHAR, number VARCHAR, number_int BIGINT, predir VARCHAR, name VARCHAR, type VARCHAR,
        postdir VARCHAR, name_key VARCHAR, sound_key VARCHAR, unit_type VARCHAR, unit VARCHAR,
        lat DOUBLE, lon DOUBLE, street_id BIGINT)""",
    """CREATE TABLE IF NOT EXISTS segments (
        source_name VARCHAR, source_key VARCHAR, country VARCHAR, state VARCHAR, city VARCHAR,
        postal_code VARCHAR, zip_left VARCHAR, zip_right VARCHAR, predir VARCHAR, name VARCHAR, type VARCHAR,
        postdir VARCHAR, name_key VARCHAR, sound_key VARCHAR, from_left BIGINT, to_left BIGINT,
        from_right BIGINT, to_right BIGINT, parity_left VARCHAR, parity_right VARCHAR, sided BOOLEAN,
        geom BLOB, lat DOUBLE, lon DOUBLE, street_id BIGINT)""",
    """CREATE TABLE IF NOT EXISTS alt_names (
        source_name VARCHAR, source_key VARCHAR, predir VARCHAR, name VARCHAR, type VARCHAR, postdir VARCHAR,
        name_key VARCHAR, sound_key VARCHAR)""",
]
DATA_TABLES = ("postal_codes", "address_points", "segments", "alt_names")

_STREET_KEY = ("country", "state", "postal_code", "predir", "name_key", "type", "postdir")


def _street_join(a: str, b: str) -> str:
    return " AND ".join(f"coalesce({a}.{c}, '') = coalesce({b}.{c}, '')" for c in _STREET_KEY)


def derive_sql() -> list[str]:
    """SQL that rebuilds the derived tables from the loaded ones."""
    key = ", ".join(_STREET_KEY)
    return [
        f"""CREATE OR REPLACE TABLE streets AS
        WITH s AS (
            SELECT {key}, name, city, sound_key, lat, lon, 1 AS is_point FROM address_points
            UNION ALL
            SELECT {key}, name, city, sound_key, lat, lon, 0 FROM segments
        )
        SELECT row_number() OVER (ORDER BY {key}) AS street_id, {key},
               mode(name) AS name, mode(city) AS city, any_value(sound_key) AS sound_key,
               avg(lat) AS lat, avg(lon) AS lon,
               sum(is_point)::BIGINT AS n_points, (count(*) - sum(is_point))::BIGINT AS n_segments
        FROM s GROUP BY {key}""",
        f"UPDATE address_points p SET street_id = s.street_id FROM streets s WHERE {_street_join('p', 's')}",
        f"UPDATE segments g SET street_id = s.street_id FROM streets s WHERE {_street_join('g', 's')}",
        """CREATE OR REPLACE TABLE addresses AS
        SELECT street_id, number, any_value(number_int) AS number_int,
               count(DISTINCT unit)::BIGINT AS n_units, bool_or(unit IS NULL) AS has_base,
               list(DISTINCT unit ORDER BY unit) FILTER (WHERE unit IS NOT NULL) AS units,
               avg(lat) AS lat, avg(lon) AS lon
        FROM address_points GROUP BY street_id, number""",
        """CREATE OR REPLACE TABLE localities AS
        WITH c AS (
            SELECT country, state, city, lat, lon FROM postal_codes WHERE city IS NOT NULL
            UNION ALL
            SELECT country, state, unnest(acceptable_cities), lat, lon FROM postal_codes
            UNION ALL
            SELECT country, state, city, lat, lon FROM streets WHERE city IS NOT NULL
        )
        SELECT country, state, city, avg(lat) AS lat, avg(lon) AS lon, count(*)::BIGINT AS n
        FROM c GROUP BY country, state, city""",
    ]


@dataclass
class SourceSpec:
    """One source to load. ``kind``: ``tiger``, ``openaddresses`` or ``geonames``."""

    kind: str
    path: Path
    name: str | None = None
    columns: openaddresses.ColumnMap | None = None

    def files(self) -> list[Path]:
        return tiger.tiger_files(self.path) if self.kind == "tiger" else [self.path]

    def source_name(self) -> str:
        return self.name or default_source_name(self.kind, self.path)

    def options(self) -> str:
        return self.columns.describe() if self.columns else ""


@dataclass
class BuildResult:
    path: Path
    version: str
    loaded: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def _batches(spec: SourceSpec, report: LoadReport) -> Iterator[tuple[str, pa.RecordBatch]]:
    if spec.kind == "tiger":
        for b in tiger.read_tiger(spec.path, report):
            yield "segments", b
    elif spec.kind == "openaddresses":
        for b in openaddresses.read_openaddresses(spec.path, spec.columns, report):
            yield "address_points", b
    elif spec.kind == "geonames":
        for b in postal_codes.read_geonames(spec.path, report):
            yield "postal_codes", b
    elif spec.kind == "zipcodes":
        for b in postal_codes.read_zipcodes(report):
            yield "postal_codes", b
    else:
        raise GazetteerError(f"unknown source kind {spec.kind!r}")


def _insert(con: duckdb.DuckDBPyConnection, table: str, source_name: str, batch: pa.RecordBatch) -> None:
    cols = ", ".join(batch.schema.names)
    con.register("_incoming", batch)
    try:
        con.execute(f"INSERT INTO {table} (source_name, {cols}) SELECT ?, {cols} FROM _incoming", [source_name])
    finally:
        con.unregister("_incoming")


def _load_source(con: duckdb.DuckDBPyConnection, spec: SourceSpec, checksum: str, say: Callable) -> int | None:
    """Replace one source's rows in one transaction; ``None`` when it is already loaded."""
    name = spec.source_name()
    row = con.execute("SELECT checksum, options FROM sources WHERE source_name = ?", [name]).fetchone()
    if row and row[0] == checksum and (row[1] or "") == spec.options():
        say(f"  {name}: unchanged, skipped")
        return None
    report = LoadReport()
    con.execute("BEGIN TRANSACTION")
    try:
        for table in DATA_TABLES:
            con.execute(f"DELETE FROM {table} WHERE source_name = ?", [name])
        total = 0
        for table, batch in _batches(spec, report):
            _insert(con, table, name, batch)
            total += batch.num_rows
            report.rows[table] = report.rows.get(table, 0) + batch.num_rows
        if total == 0:
            raise GazetteerError(f"no usable rows (skipped: {report.skipped or 'none'})", str(spec.path))
        con.execute("DELETE FROM sources WHERE source_name = ?", [name])
        con.execute(
            "INSERT INTO sources VALUES (?, ?, ?, ?, ?, ?, ?, ?, now())",
            [name, spec.kind, str(spec.path), vintage_of(spec.path), checksum, spec.options(), total,
             json.dumps(report.skipped)],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    skipped = f" (skipped {sum(report.skipped.values()):,}: {report.skipped})" if report.skipped else ""
    say(f"  {name}: {total:,} rows{skipped}")
    return total


def _version(con: duckdb.DuckDBPyConnection) -> str:
    rows = con.execute("SELECT source_name, checksum, options FROM sources ORDER BY source_name").fetchall()
    digest = hashlib.sha256(SCHEMA_VERSION.encode())
    for r in rows:
        digest.update("\t".join(str(x) for x in r).encode() + b"\n")
    return digest.hexdigest()[:12]


class _BuildLock:
    def __init__(self, db: Path):
        self.path = db.with_name(db.name + ".lock")

    def __enter__(self):
        self.fh = open(self.path, "w")
        try:
            fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            self.fh.close()
            raise GazetteerError("another build of this gazetteer is running (lock held)", str(self.path)) from exc
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fh, fcntl.LOCK_UN)
        self.fh.close()


def zipcodes_spec() -> SourceSpec:
    return SourceSpec(kind="zipcodes", path=Path("zipcodes"), name="zipcodes")


def build(db: Path, sources: list[SourceSpec], with_zipcodes: bool = True,
          progress: Callable[[str], None] | None = None) -> BuildResult:
    """Load sources into the gazetteer at ``db``, atomically and idempotently."""
    say = progress or (lambda msg: None)
    db = Path(db)
    start = time.perf_counter()
    for spec in sources:
        for f in spec.files():
            if not f.exists():
                raise GazetteerError("no such file", str(f))
            if f.is_dir():
                raise GazetteerError("is a folder, not a file", str(f))
    db.parent.mkdir(parents=True, exist_ok=True)
    result = BuildResult(path=db, version="")
    with _BuildLock(db):
        tmp = db.with_name(f".{db.name}.build-{os.getpid()}")
        for stale in (tmp, tmp.with_name(tmp.name + ".wal")):
            stale.unlink(missing_ok=True)
        if db.exists():
            check_gazetteer(db)
            shutil.copyfile(db, tmp)
        try:
            con = duckdb.connect(str(tmp))
            try:
                for stmt in DDL:
                    con.execute(stmt)
                before = _version(con)
                todo = list(sources)
                if with_zipcodes:
                    todo.insert(0, zipcodes_spec())
                for spec in todo:
                    if spec.kind == "zipcodes":
                        checksum = f"zipcodes=={postal_codes.zipcodes_version()}"
                    else:
                        checksum = file_checksum(spec.files())
                    n = _load_source(con, spec, checksum, say)
                    (result.unchanged if n is None else result.loaded).append(spec.source_name())
                version = _version(con)
                if version != before or not con.execute("SELECT 1 FROM meta WHERE key='version'").fetchone():
                    say("  deriving streets, addresses, localities")
                    for stmt in derive_sql():
                        con.execute(stmt)
                    _set_meta(con, {"version": version, "schema": SCHEMA_VERSION,
                                    "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
                result.version = version
                result.rows = table_counts(con)
                con.execute("CHECKPOINT")
            finally:
                con.close()
            if result.loaded or not db.exists():
                os.replace(tmp, db)
        finally:
            tmp.unlink(missing_ok=True)
            tmp.with_name(tmp.name + ".wal").unlink(missing_ok=True)
    result.seconds = time.perf_counter() - start
    return result


def _set_meta(con: duckdb.DuckDBPyConnection, values: dict[str, str]) -> None:
    for k, v in values.items():
        con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [k, v])


def table_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    names = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    order = ["postal_codes", "localities", "streets", "segments", "address_points", "addresses", "alt_names", "sources"]
    return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in order if t in names}


def check_gazetteer(db: Path) -> None:
    """Raise a GazetteerError that says what to do when ``db`` is not a usable gazetteer."""
    if not db.exists():
        raise GazetteerError("no gazetteer here; build one with `addressing gazetteer build --db PATH`", str(db))
    if db.is_dir():
        raise GazetteerError("is a folder, not a gazetteer file", str(db))
    try:
        con = duckdb.connect(str(db), read_only=True)
    except duckdb.Error as exc:
        raise GazetteerError(f"not a readable DuckDB file ({str(exc).splitlines()[0]})", str(db)) from exc
    try:
        row = con.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    except duckdb.Error as exc:
        raise GazetteerError("not a gazetteer (no meta table); rebuild it with `addressing gazetteer build`",
                             str(db)) from exc
    finally:
        con.close()
    if not row or row[0] != SCHEMA_VERSION:
        raise GazetteerError(f"gazetteer schema {row[0] if row else '?'} is not {SCHEMA_VERSION}; rebuild it with "
                             "`addressing gazetteer build`", str(db))


def info(db: Path) -> dict:
    """Counts per table and source, version, file size."""
    check_gazetteer(db)
    con = duckdb.connect(str(db), read_only=True)
    try:
        meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
        sources = [
            dict(zip(["source_name", "kind", "path", "vintage", "checksum", "rows", "skipped", "loaded_at"], r))
            for r in con.execute(
                "SELECT source_name, kind, path, vintage, checksum, rows, skipped, loaded_at::VARCHAR FROM sources "
                "ORDER BY source_name").fetchall()
        ]
        return {"path": str(db), "version": meta.get("version"), "built_at": meta.get("built_at"),
                "file_bytes": db.stat().st_size, "tables": table_counts(con), "sources": sources}
    finally:
        con.close()
