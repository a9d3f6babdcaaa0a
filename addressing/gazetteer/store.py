"""The gazetteer's DuckDB file: schema, atomic incremental builds, and read-only access.

The tables and their columns are described in ``addressing/gazetteer/README.md``. In short:
``sources`` (one row per loaded file: vintage, SHA-256, rows, load time), ``meta`` (``version``
changes whenever content changes), ``postal_codes``, ``address_points``, ``segments`` and
``alt_names`` (what the loaders write, each row tagged with its source), and the tables
derived from them (``derive``): ``streets`` (one row per street and name variant, with
blocking keys), ``addresses`` (one row per numbered address, with its units) and ``localities``.

A refresh of an existing file (new or changed sources) happens in place, in one DuckDB
transaction: the changed sources' rows are replaced and only what they touch is re-derived, so
its cost follows the sources, not the file. A reader sees the file before or after it, never a
mix (DuckDB's lock keeps readers out while it writes; ``access`` makes them wait), and a failed
or killed refresh leaves the previous gazetteer (DuckDB rolls an uncommitted transaction back).
When readers keep the file open, the refresh works on a copy renamed over the file at the end.
A first build (and a schema upgrade) fills a new file renamed into place at the end and derives
everything. A build with nothing new to load writes nothing. One build at a time per file (a
lock file next to it).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from addressing.errors import GazetteerError, LockHeldError
from addressing.gazetteer import derive, openaddresses, postal_codes, read_ahead, tiger
from addressing.gazetteer.access import (
    REFRESH_WAIT_ENV,
    REFRESH_WAIT_SECONDS,
    ROW_GROUP_ROWS,
    connect_reader,
    connect_writable,
    connect_writer,
    seconds_from_env,
)
from addressing.gazetteer.model import (
    POSTAL_SCHEMA,
    LoadReport,
    SqlSelect,
    default_source_name,
    file_checksum,
    forget_street_names,
    vintage_of,
)
from addressing.gazetteer.sizes import estimate_rows

SCHEMA_VERSION = "4"
UPGRADABLE = ("1", "2", "3")  # older schemas a build upgrades in place (readers ask for a rebuild)
#: older schemas whose loaded rows are as this one loads them: an upgrade derives the tables
#: again (2 -> 3: seek columns and indexes on ``streets``, ``addresses`` in street order; 3 -> 4:
#: each address's base and unit points in ``addresses``) and reloads only the sources that changed
DERIVED_ONLY = ("2", "3")
#: what the loaders make of a file, part of every source's identity (its ``options``): raised
#: when a loader converts the same file into other rows, so that the next build reloads it.
#: 2: every column is read as text, and ZIPs a source kept as numbers get their zeros back
LOADERS_REVISION = "2"
MEMORY_ENV = "ADDRESSING_BUILD_MEMORY"
DEFAULT_MEMORY = os.environ.get(MEMORY_ENV, "512MB")
#: a refresh's WAL size past which its COMMIT checkpoints: none, so it always does, and DuckDB
#: then writes the transaction's rows straight into the file instead of first into the WAL too
#: (measured on a county of 11 MB of source files: 18 MB of WAL at the commit, none this way)
COMMIT_CHECKPOINTS = "0B"

DDL = [
    "CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
    """CREATE TABLE IF NOT EXISTS sources (
        source_name VARCHAR PRIMARY KEY, kind VARCHAR, path VARCHAR, vintage VARCHAR, checksum VARCHAR,
        options VARCHAR, rows BIGINT, skipped VARCHAR, loaded_at TIMESTAMP, bytes BIGINT, seconds DOUBLE,
        table_rows VARCHAR)""",
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
        name_key VARCHAR, sound_key VARCHAR, country VARCHAR, state VARCHAR, postal_code VARCHAR,
        of_predir VARCHAR, of_name_key VARCHAR, of_type VARCHAR, of_postdir VARCHAR)""",
]
# schema 1 -> 2: columns added to tables that already exist (CREATE ... IF NOT EXISTS skips them)
MIGRATIONS = [
    f"ALTER TABLE {t} ADD COLUMN IF NOT EXISTS {c} {ty}"
    for t, c, ty in [
        ("sources", "bytes", "BIGINT"), ("sources", "seconds", "DOUBLE"), ("sources", "table_rows", "VARCHAR"),
        ("alt_names", "country", "VARCHAR"), ("alt_names", "state", "VARCHAR"), ("alt_names", "postal_code", "VARCHAR"),
        ("alt_names", "of_predir", "VARCHAR"), ("alt_names", "of_name_key", "VARCHAR"),
        ("alt_names", "of_type", "VARCHAR"), ("alt_names", "of_postdir", "VARCHAR"),
    ]
]
DATA_TABLES = ("postal_codes", "address_points", "segments", "alt_names")

@dataclass
class SourceSpec:
    """One source to load. ``kind``: ``tiger``, ``openaddresses``, ``geonames`` (or ``zipcodes``)."""

    kind: str
    path: Path
    name: str | None = None
    columns: openaddresses.ColumnMap | None = None

    def files(self) -> list[Path]:
        if self.kind == "zipcodes":
            return []
        return tiger.tiger_files(self.path) if self.kind == "tiger" else [self.path]

    def source_name(self) -> str:
        return self.name or default_source_name(self.kind, self.path)

    def options(self) -> str:
        """The column mapping and encoding (for OpenAddresses), and the loaders' revision."""
        loaders = f"loaders={LOADERS_REVISION}"
        return f"{self.columns.describe()};{loaders}" if self.columns else loaders

    def checksum(self) -> str:
        if self.kind == "zipcodes":
            return f"zipcodes=={postal_codes.zipcodes_version()}"
        return file_checksum(self.files())


@dataclass
class BuildProgress:
    """Where a build is, for a progress display: loading source ``index`` (1-based) of
    ``sources``, ``rows`` loaded so far by this build, of about ``expected`` (None: unknown)."""

    source: str
    index: int
    sources: int
    rows: int
    expected: int | None


@dataclass
class BuildResult:
    path: Path
    version: str
    loaded: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def _stream(spec: SourceSpec, report: LoadReport) -> Iterator[tuple[str, pa.RecordBatch | SqlSelect]]:
    """The source's rows as ``(table, batch or SELECT)``, from the loader for its kind."""
    if spec.kind == "tiger":
        yield from tiger.read_tiger(spec.path, report)
    elif spec.kind == "openaddresses":
        yield from openaddresses.read_openaddresses(spec.path, spec.columns, report)
    elif spec.kind == "geonames":
        yield from postal_codes.read_geonames(spec.path, report)
    elif spec.kind == "zipcodes":
        yield from postal_codes.read_zipcodes(report)
    else:
        raise GazetteerError(f"unknown source kind {spec.kind!r}")


def insert_batch_sql(table: str, columns: list[str]) -> str:
    cols = ", ".join(columns)
    return f"INSERT INTO {table} (source_name, {cols}) SELECT ?, {cols} FROM _incoming"


def insert_select_sql(table: str, columns: list[str], select: str) -> str:
    cols = ", ".join(columns)
    return f"INSERT INTO {table} (source_name, {cols}) SELECT ?, {cols} FROM ({select})"


_NOISE = ("original line", "possible solution", "file =", "delimiter =", "quote =", "escape =", "new_line =",
          "header =", "skip_rows =", "comment =", "date_format =", "timestamp_format =", "null_padding",
          "sample_size", "ignore_errors", "all_varchar", "strict_mode", "encoding", "* ", "see also")


def _duck_message(exc: duckdb.Error) -> str:
    """DuckDB's multi-line error as one line: what went wrong and where, not its advice."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    keep = [ln for ln in lines if not ln.lower().startswith(_NOISE)]
    text = "; ".join(keep[:2]) if keep else type(exc).__name__
    return text[:300]


def _insert(con: duckdb.DuckDBPyConnection, table: str, source_name: str, item: pa.RecordBatch | SqlSelect,
            path: Path) -> int:
    """Append one batch (or run one SELECT) into ``table``."""
    if isinstance(item, SqlSelect):
        cols = [f.name for f in POSTAL_SCHEMA] if table == "postal_codes" else None
        if cols is None:
            raise GazetteerError(f"SQL loads into {table} are not supported")
        try:
            n = con.execute(insert_select_sql(table, cols, item.sql), [source_name, *item.params]).fetchone()[0]
        except duckdb.OutOfMemoryException:
            raise  # the build's memory, not this file: ``build`` says what to set
        except duckdb.Error as exc:
            msg = _duck_message(exc)
            if "unicode" in msg.lower() or "utf-8" in msg.lower() or "utf8" in msg.lower():
                msg = f"not UTF-8 text ({msg})"
            raise GazetteerError(f"cannot read: {msg}", item.path) from exc
        for sql, message in item.checks:
            bad = con.execute(sql.format(table=table), [source_name]).fetchone()[0]
            if bad:
                raise GazetteerError(message.format(n=bad), item.path)
        return int(n)
    con.register("_incoming", item)
    try:
        con.execute(insert_batch_sql(table, item.schema.names), [source_name])
    except duckdb.OutOfMemoryException:
        raise  # the build's memory, not this file: ``build`` says what to set
    except duckdb.Error as exc:
        raise GazetteerError(f"cannot store rows in {table} ({_duck_message(exc)})", str(path)) from exc
    finally:
        # in a transaction the error above aborted, DuckDB refuses this too; that error is the one to raise
        with contextlib.suppress(duckdb.TransactionException):
            con.unregister("_incoming")
    return item.num_rows


def _delete_source(con: duckdb.DuckDBPyConnection, name: str) -> None:
    for table in DATA_TABLES:
        con.execute(f"DELETE FROM {table} WHERE source_name = ?", [name])


def _load_source(con: duckdb.DuckDBPyConnection, spec: SourceSpec, checksum: str,
                 items: Iterator[tuple[str, pa.RecordBatch | SqlSelect]],
                 report: LoadReport, say: Callable, loaded: Callable[[int], None] | None = None,
                 into: dict[str, str] | None = None) -> int:
    """Store one source's ``items`` (read by ``read_ahead``, filling ``report``; its old rows
    are already deleted) and record it in ``sources``.

    ``into`` sends a table's rows to another table (a refresh's staging tables). Rows go in
    batch by batch; in a refresh's open transaction DuckDB writes each full row group of a
    table to the file's free space as it comes, and a staging table spills to the build's
    temporary folder past the memory limit, so memory does not grow with the source.
    """
    name = spec.source_name()
    start = time.perf_counter()
    total = 0
    for table, item in items:
        n = _insert(con, (into or {}).get(table, table), name, item, spec.path)
        report.rows[table] = report.rows.get(table, 0) + n
        if table != "alt_names":
            total += n
            if loaded:
                loaded(total)
    forget_street_names()
    if total == 0:
        why = f"skipped: {report.skipped}" if report.skipped else "the file holds no rows"
        raise GazetteerError(f"no usable rows ({why})", str(spec.path))
    seconds = time.perf_counter() - start
    nbytes = sum(f.stat().st_size for f in spec.files())
    path = str(spec.path.resolve()) if spec.kind != "zipcodes" else str(spec.path)
    con.execute("DELETE FROM sources WHERE source_name = ?", [name])
    con.execute(
        "INSERT INTO sources (source_name, kind, path, vintage, checksum, options, rows, skipped, loaded_at, "
        "bytes, seconds, table_rows) VALUES (?, ?, ?, ?, ?, ?, ?, ?, now(), ?, ?, ?)",
        [name, spec.kind, path, vintage_of(spec.path), checksum, spec.options(), total,
         json.dumps(report.skipped), nbytes, round(seconds, 3), json.dumps(report.rows)],
    )
    skipped = f" (skipped {sum(report.skipped.values()):,}: {report.skipped})" if report.skipped else ""
    extra = f" + {report.rows['alt_names']:,} alternate names" if report.rows.get("alt_names") else ""
    say(f"  {name}: {total:,} rows{extra} in {seconds:.1f} s{skipped}")
    return total


def _load_all(con: duckdb.DuckDBPyConnection, changed: list[tuple[SourceSpec, str]], result: BuildResult,
              say: Callable[[str], None], rows: Callable[[BuildProgress], None] | None, scratch: Path,
              into: dict[str, str] | None = None, empty: bool = False, commit_rows: int | None = None) -> None:
    """Delete and load every changed source, reporting ``BuildProgress`` to ``rows``; large
    builds read their sources ahead in worker processes (``read_ahead``, files in ``scratch``).
    ``empty``: the file holds no rows yet, there is nothing to delete (a delete scans the
    tables loaded so far). ``commit_rows``: the caller's transaction is committed, and another
    begun, after each source that brings the rows loaded since the last commit to this many."""
    estimates = [estimate_rows(spec.kind, spec.files()) for spec, _ in changed] if rows else []
    workers = read_ahead.workers_for(_bytes(changed), len(changed))
    if workers:
        say(f"  reading sources in {workers} worker processes")
    done = since_commit = 0
    # closed whatever happens here: its workers stop even while an error of ours is kept
    with contextlib.closing(read_ahead.read_sources([spec for spec, _ in changed], _stream, workers,
                                                    scratch)) as sources:
        for i, ((spec, checksum), (_, items, report)) in enumerate(zip(changed, sources)):
            if not empty:
                _delete_source(con, spec.source_name())
            tick = None
            if rows:
                later = None if None in estimates[i + 1:] else sum(estimates[i + 1:])
                tick = _ticker(rows, spec.source_name(), i + 1, len(changed), done, estimates[i], later)
            n = _load_source(con, spec, checksum, items, report, say, tick, into)
            if tick:
                tick(n, exact=True)
            done += n
            result.loaded.append(spec.source_name())
            since_commit += n
            if commit_rows and since_commit >= commit_rows:
                con.execute("COMMIT")
                con.execute("BEGIN TRANSACTION")
                since_commit = 0


def _version(con: duckdb.DuckDBPyConnection) -> str:
    rows = con.execute("SELECT source_name, checksum, options FROM sources ORDER BY source_name").fetchall()
    return version_of(rows)


def version_of(sources: list[tuple]) -> str:
    """The gazetteer version: a hash of the schema and every source's name, checksum and options."""
    digest = hashlib.sha256(SCHEMA_VERSION.encode())
    for r in sorted(sources):
        digest.update("\t".join(str(x) for x in r).encode() + b"\n")
    return digest.hexdigest()[:12]


class _BuildLock:
    """An exclusive ``flock`` on ``<db>.lock``: a second build of the same file fails at once."""

    def __init__(self, db: Path):
        self.path = db.with_name(db.name + ".lock")

    def __enter__(self):
        self.fh = open(self.path, "w")
        try:
            fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            self.fh.close()
            raise LockHeldError("another build of this gazetteer is running (lock held); try again when it "
                                "has finished", str(self.path)) from exc
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fh, fcntl.LOCK_UN)
        self.fh.close()


def zipcodes_spec() -> SourceSpec:
    return SourceSpec(kind="zipcodes", path=Path("zipcodes"), name="zipcodes")


def _tmp_path(db: Path) -> Path:
    return db.with_name(f".{db.name}.build-{os.getpid()}")


def _remove_stale(db: Path) -> None:
    """Leftovers of killed builds (safe: we hold the lock, so no build is running)."""
    for stale in db.parent.glob(f".{db.name}.build-*"):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)


def _existing_sources(db: Path) -> tuple[str | None, dict[str, tuple], str | None]:
    """(schema, {source_name: (checksum, options, vintage)}, version) of the file at ``db``."""
    con = connect_reader(db)
    try:
        meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
        rows = con.execute("SELECT source_name, checksum, options, vintage FROM sources").fetchall()
    finally:
        con.close()
    return meta.get("schema"), {r[0]: (r[1], r[2] or "", r[3]) for r in rows}, meta.get("version")


def _validate(sources: list[SourceSpec]) -> None:
    seen: dict[str, Path] = {}
    for spec in sources:
        for f in spec.files() or ([spec.path] if spec.kind != "zipcodes" else []):
            if not f.exists():
                raise GazetteerError("no such file", str(f))
            if f.is_dir():
                raise GazetteerError("is a folder, not a file", str(f))
        name = spec.source_name()
        if name in seen:
            raise GazetteerError(f"this file and {seen[name]} are both source {name!r}; load one of them per "
                                 "build, or give them different names", str(spec.path))
        seen[name] = spec.path


def _configure(con: duckdb.DuckDBPyConnection, memory_limit: str, tmp: Path) -> None:
    if not re.fullmatch(r"\d+(\.\d+)?\s*([KMGT]i?B)", memory_limit.strip(), re.I):
        raise GazetteerError(f"memory limit {memory_limit!r} is not like 1GB or 512MB")
    con.execute("SET memory_limit = ?", [memory_limit])
    con.execute("SET temp_directory = ?", [str(tmp) + ".spill"])
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET checkpoint_threshold = '64MB'")  # fewer rewrites of half-full row groups: a compact file


def build(db: Path, sources: list[SourceSpec], with_zipcodes: bool = True,
          progress: Callable[[str], None] | None = None, allow_older: bool = False,
          memory_limit: str = DEFAULT_MEMORY, rows: Callable[[BuildProgress], None] | None = None,
          wait_for_readers: float | None = None) -> BuildResult:
    """Load sources into the gazetteer at ``db``, atomically and idempotently.

    A source already loaded with the same checksum and options is skipped; a changed one
    replaces its rows. A source whose file is an older vintage than the one loaded is refused
    unless ``allow_older``. Every source of the build lands or none does: an existing file is
    refreshed in place in one transaction, a new one is built beside it and renamed into place.
    A refresh waits up to ``wait_for_readers`` seconds (default ``$ADDRESSING_REFRESH_WAIT``,
    else ``REFRESH_WAIT_SECONDS``) for readers that have the file open, then refreshes a copy.

    ``progress`` receives a line per source; ``rows``, if given, a ``BuildProgress`` after each
    batch of rows loaded.
    """
    say = progress or (lambda msg: None)
    db = Path(db)
    start = time.perf_counter()
    todo = ([zipcodes_spec()] if with_zipcodes else []) + list(sources)
    _validate(todo)
    wait = seconds_from_env(REFRESH_WAIT_ENV, REFRESH_WAIT_SECONDS) if wait_for_readers is None else wait_for_readers
    db.parent.mkdir(parents=True, exist_ok=True)
    result = BuildResult(path=db, version="")
    with _BuildLock(db):
        _remove_stale(db)
        schema, loaded, version = None, {}, None
        if db.exists():
            check_gazetteer(db, upgrade=True)
            schema, loaded, version = _existing_sources(db)
        changed = []
        # a file of an older schema was loaded by older loaders: reload what this build lists
        upgrading = schema is not None and schema not in (SCHEMA_VERSION, *DERIVED_ONLY)
        for spec in todo:
            name = spec.source_name()
            checksum = spec.checksum()
            have = loaded.get(name)
            if have and have[0] == checksum and have[1] == spec.options() and not upgrading:
                say(f"  {name}: unchanged, skipped")
                result.unchanged.append(name)
                continue
            new_vintage = vintage_of(spec.path)
            if have and not allow_older and have[2] and new_vintage and new_vintage < have[2]:
                raise GazetteerError(f"source {name!r} holds vintage {have[2]}; this file is the older {new_vintage} "
                                     "(pass --allow-older to replace it anyway)", str(spec.path))
            changed.append((spec, checksum))
        if not changed and schema == SCHEMA_VERSION and version:
            result.version = version
            result.rows = info(db)["tables"]
            result.seconds = time.perf_counter() - start
            return result
        try:
            if schema == SCHEMA_VERSION:
                _refresh(db, changed, result, say, rows, memory_limit, wait)
            else:
                _rebuild(db, changed, result, say, rows, memory_limit)
        except duckdb.OutOfMemoryException as exc:
            raise GazetteerError(f"the build needed more than its memory limit of {memory_limit} "
                                 f"({_duck_message(exc)}); the gazetteer is as it was. Set {MEMORY_ENV} "
                                 "higher (e.g. 2GB) and build again", str(db)) from exc
    result.seconds = time.perf_counter() - start
    return result


#: rows of one of DuckDB's row groups in tables it keeps in memory (its default row group size)
ROW_GROUP_ROWS_DUCKDB = 122_880
#: a first build or an upgrade commits its loading after the source that brings this many rows
#: since the last commit: a commit of one batch costs about as much again as appending it (DuckDB
#: merges a transaction's rows into their table when it commits), and a transaction's rows are
#: held in memory, past the build's memory limit, until it commits; so commits a few row groups
#: apart (chosen on a replay of the batches of ``benchmarks/national.py``'s 5 M build, committed
#: per batch, per source, per 250,000 and 1,000,000 rows and once; its build measures the result)
BUILD_COMMIT_ROWS = 2 * ROW_GROUP_ROWS_DUCKDB


def _rebuild(db: Path, changed: list[tuple[SourceSpec, str]], result: BuildResult, say: Callable[[str], None],
             rows: Callable[[BuildProgress], None] | None, memory_limit: str) -> None:
    """A first build, or a schema upgrade: fill a new file (a copy of the old one, to upgrade),
    derive every table from scratch, rename it over ``db``. Until the rename no reader sees the
    file, so it needs no transaction for them; the sources are loaded in one all the same:
    committing batch by batch costs about as much again as the appends (``BUILD_COMMIT_ROWS``)."""
    tmp = _tmp_path(db)
    upgrade = db.exists()
    try:
        if upgrade:
            _check_disk(db.parent, db.stat().st_size + _bytes(changed), "a copy of the gazetteer to upgrade")
            _copy_with_wal(db, tmp)
        con = connect_writable(tmp)
        try:
            _configure(con, memory_limit, tmp)
            for stmt in DDL + MIGRATIONS:
                con.execute(stmt)
            # a first build loads points and segments into temporary tables: the derive writes
            # them into the file once, sorted (an upgrade's file holds its rows already)
            into = None if upgrade else derive.stage(con)
            con.execute("BEGIN TRANSACTION")
            _load_all(con, changed, result, say, rows, _scratch(tmp), into, empty=not upgrade,
                      commit_rows=BUILD_COMMIT_ROWS)
            con.execute("COMMIT")
            result.version = _version(con)
            say("  deriving streets, addresses, localities")
            derive.full(con, staged_rows=not upgrade)
            _set_meta(con, {"version": result.version, "schema": SCHEMA_VERSION,
                            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
            result.rows = table_counts(con)
            con.execute("CHECKPOINT")
            free = _free_share(con)
        finally:
            con.close()
        if free > COMPACT_FREE_SHARE:
            say(f"  compacting ({free:.0%} of the file is blocks freed while deriving)")
            _compact(tmp, memory_limit)
        _replace(tmp, db)
    finally:
        _remove_temporary(tmp)


#: a schema upgrade leaves the blocks of the tables it rewrote in street order free inside the
#: file (DuckDB reuses free blocks but never gives them back; a first build writes its rows once
#: and leaves none); above this share of the file they are dropped by copying the database into
#: a fresh file (a few seconds per million rows)
COMPACT_FREE_SHARE = 0.10


def _free_share(con: duckdb.DuckDBPyConnection) -> float:
    total, free = con.execute("SELECT total_blocks, free_blocks FROM pragma_database_size() "
                              "WHERE database_name = current_database()").fetchone()
    return free / total if total else 0.0


def _compact_path(tmp: Path) -> Path:
    return tmp.with_name(tmp.name + ".compact")


def _compact(tmp: Path, memory_limit: str) -> None:
    """Copy the database at ``tmp`` (tables, indexes) into a fresh file and put that in its place."""
    dest = _compact_path(tmp)
    dest.unlink(missing_ok=True)
    con = duckdb.connect()
    try:
        _configure(con, memory_limit, tmp)
        con.execute("ATTACH ? AS built (READ_ONLY)", [str(tmp)])
        con.execute(f"ATTACH ? AS compact (ROW_GROUP_SIZE {ROW_GROUP_ROWS})", [str(dest)])
        con.execute("COPY FROM DATABASE built TO compact")
        con.execute("DETACH compact")
        con.execute("DETACH built")
    finally:
        con.close()
    os.replace(dest, tmp)


def _wal(db: Path) -> Path:
    return db.with_name(db.name + ".wal")


def _copy_with_wal(db: Path, tmp: Path) -> None:
    """Copy the gazetteer with the write-ahead log a killed refresh in place may have left
    beside it: opened together, DuckDB applies what that log committed and drops the rest."""
    shutil.copyfile(db, tmp)
    if _wal(db).exists():
        shutil.copyfile(_wal(db), _wal(tmp))


def _replace(tmp: Path, db: Path) -> None:
    """Rename the finished copy over the gazetteer, and remove the old file's log (its content
    is in the copy): left beside the new file, DuckDB would replay it there."""
    os.replace(tmp, db)
    _wal(db).unlink(missing_ok=True)
    _fsync_dir(db.parent)


def _refresh(db: Path, changed: list[tuple[SourceSpec, str]], result: BuildResult, say: Callable[[str], None],
             rows: Callable[[BuildProgress], None] | None, memory_limit: str, wait: float) -> None:
    """Replace the changed sources' rows and re-derive what they touch, in one transaction on
    the file itself; on a copy renamed over it when readers keep the file open past ``wait``."""
    tmp = _tmp_path(db)
    try:
        con, held = connect_writer(db, wait)
    except duckdb.Error as exc:
        raise GazetteerError(f"cannot open for writing ({_duck_message(exc)})", str(db)) from exc
    on_copy = con is None
    try:
        if on_copy:
            size = db.stat().st_size
            say(f"  {held}: refreshing a copy ({size / 1e6:,.0f} MB) that replaces it")
            _check_disk(db.parent, size + _bytes(changed), "a copy of the gazetteer (readers have it open)")
            _copy_with_wal(db, tmp)
            con = connect_writable(tmp)
        else:
            say("  refreshing in place, in one transaction")
        try:
            _configure(con, memory_limit, tmp)
            con.execute("SET checkpoint_threshold = ?", [COMMIT_CHECKPOINTS])
            con.execute("BEGIN TRANSACTION")
            derive.touch(con, [spec.source_name() for spec, _ in changed])
            into = derive.stage(con)
            _load_all(con, changed, result, say, rows, _scratch(tmp), into)
            say("  re-deriving the streets, addresses and localities these sources touch")
            derive.rederive(con)
            result.version = _version(con)
            _set_meta(con, {"version": result.version, "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
            result.rows = table_counts(con)
            con.execute("COMMIT")
            con.execute("CHECKPOINT")
        except BaseException:
            _rollback(con)
            raise
        finally:
            con.close()
        if on_copy:
            _replace(tmp, db)
    finally:
        _remove_temporary(tmp)


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Undo the open transaction, if one is still open (DuckDB ends it itself on some errors);
    what is on disk already is the previous gazetteer either way."""
    with contextlib.suppress(duckdb.Error):
        con.execute("ROLLBACK")


def _bytes(changed: list[tuple[SourceSpec, str]]) -> int:
    return sum(f.stat().st_size for spec, _ in changed for f in spec.files())


def _check_disk(folder: Path, need: int, what: str) -> None:
    free = shutil.disk_usage(folder).free
    if free < need:
        raise GazetteerError(f"not enough free disk for {what}: it needs about {need / 1e6:,.0f} MB and "
                             f"{free / 1e6:,.0f} MB are free; free some space and build again", str(folder))


def _scratch(tmp: Path) -> Path:
    """Where worker processes leave the sources they read ahead (a folder of each reading's own
    is made beside it, named from it)."""
    return tmp.with_name(tmp.name + ".read")


def _remove_temporary(tmp: Path) -> None:
    for leftover in (tmp, _wal(tmp), _compact_path(tmp), _wal(_compact_path(tmp))):
        leftover.unlink(missing_ok=True)
    shutil.rmtree(str(tmp) + ".spill", ignore_errors=True)
    for scratch in tmp.parent.glob(_scratch(tmp).name + "-*"):
        shutil.rmtree(scratch, ignore_errors=True)


def _ticker(rows: Callable[[BuildProgress], None], name: str, index: int, sources: int, before: int,
            estimate: int | None, later: int | None) -> Callable[..., None]:
    """``tick(rows of this source so far, exact=False)`` -> a ``BuildProgress`` for the whole
    build: the sources before loaded ``before`` rows; this one should hold about ``estimate``
    (``exact``: it is done, ``n`` is its count), the ones after about ``later``."""
    def tick(n: int, exact: bool = False) -> None:
        this = n if exact else None if estimate is None else max(estimate, n)
        expected = None if this is None or later is None else before + this + later
        rows(BuildProgress(name, index, sources, before + n, expected))

    tick(0)
    return tick


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _set_meta(con: duckdb.DuckDBPyConnection, values: dict[str, str]) -> None:
    for k, v in values.items():
        con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [k, v])


TABLE_ORDER = ("postal_codes", "localities", "streets", "segments", "address_points", "addresses", "alt_names",
               "sources")


def table_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    names = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLE_ORDER if t in names}


def check_gazetteer(db: Path, upgrade: bool = False) -> None:
    """Raise a GazetteerError that says what to do when ``db`` is not a usable gazetteer
    (with ``upgrade``: when a build cannot bring it up to date either)."""
    if not db.exists():
        raise GazetteerError("no gazetteer here; build one with `addressing gazetteer build --db PATH`", str(db))
    if db.is_dir():
        raise GazetteerError("is a folder, not a gazetteer file", str(db))
    try:
        con = connect_reader(db)
    except duckdb.Error as exc:
        raise GazetteerError(f"not a readable DuckDB file ({_duck_message(exc)})", str(db)) from exc
    try:
        row = con.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    except duckdb.Error as exc:
        raise GazetteerError("not a gazetteer (no meta table); rebuild it with `addressing gazetteer build`",
                             str(db)) from exc
    finally:
        con.close()
    schema = row[0] if row else None
    if schema == SCHEMA_VERSION or (upgrade and schema in UPGRADABLE):
        return
    raise GazetteerError(f"gazetteer schema {schema or '?'} is not {SCHEMA_VERSION}; rebuild it with "
                         "`addressing gazetteer build`", str(db))


def info(db: Path) -> dict:
    """Counts per table and source, version, file size."""
    check_gazetteer(db)
    con = connect_reader(db)
    try:
        meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
        keys = ["source_name", "kind", "path", "vintage", "checksum", "options", "rows", "table_rows", "skipped",
                "bytes", "seconds", "loaded_at"]
        sources = []
        for r in con.execute(f"SELECT {', '.join(keys[:-1])}, loaded_at::VARCHAR FROM sources "
                             "ORDER BY source_name").fetchall():
            d = dict(zip(keys, r))
            d["table_rows"] = json.loads(d["table_rows"]) if d["table_rows"] else {}
            d["skipped"] = json.loads(d["skipped"]) if d["skipped"] else {}
            sources.append(d)
        return {"path": str(db), "version": meta.get("version"), "schema": meta.get("schema"),
                "built_at": meta.get("built_at"), "file_bytes": db.stat().st_size, "tables": table_counts(con),
                "sources": sources}
    finally:
        con.close()
