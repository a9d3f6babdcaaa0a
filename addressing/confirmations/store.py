"""The decisions store: one DuckDB file of operator decisions and delivery outcomes,
append-only and auditable.

Where it is has one rule (``store_path``): ``$ADDRESSING_DECISIONS_DB`` when set, else beside
the gazetteer, ``<gazetteer stem>.decisions.duckdb`` (``build/demo/gazetteer.duckdb`` ->
``build/demo/gazetteer.decisions.duckdb``). Workers that read a copy of the gazetteer
(``$ADDRESSING_GAZETTEER_REPLICAS``) need ``$ADDRESSING_DECISIONS_DB`` pointing at the shared
store, or they see no decisions.

Table ``decisions``: one row per decision or revocation (``kind``), never updated: a
decision is revoked by appending a revocation row that names it, and a later decision on the
same input supersedes an earlier one (the newest one that is not revoked answers). Table
``deliveries``: one row per proof-of-delivery report joined to its cleaned order
(``addressing.deliveries`` writes and reads it). Rows of either are deleted only by ``purge``
(older than the retention policy) and ``erase`` (a person's right to be forgotten); both
rewrite the file without those rows, so their bytes are not left behind in the file's free
blocks (DuckDB reuses freed blocks but does not zero them).

Concurrency: writers take ``<store>.lock`` (one writer at a time, across processes) and then
DuckDB's exclusive file lock, waiting a bounded time for readers to let go; a write is one
transaction, checkpointed before the connection closes, so a reader sees all of it or none of
it and no write-ahead log is left beside the file. Readers open the file read-only for one
query and close it at once (an open connection would keep writers out), waiting while a write
holds it. Inside one process a lock keeps two connections to the file from meeting (DuckDB
refuses a read-only and a read-write one together).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from addressing.errors import DecisionStoreError, LockHeldError
from addressing.gazetteer.access import POLL_SECONDS, held_elsewhere, seconds_from_env
from addressing.io import fsync_dir

STORE_ENV = "ADDRESSING_DECISIONS_DB"
WAIT_ENV = "ADDRESSING_DECISIONS_WAIT"
#: default seconds to wait for the file: a write holds it for milliseconds, a purge or erase
#: rewrites a year of decisions in about a second; this covers a slow shared disk many times over
WAIT_SECONDS = 30.0
SUFFIX = ".decisions.duckdb"
SCHEMA_VERSION = "1"
DECISIONS = ("accept", "edit", "hold")
KINDS = ("decision", "revocation")
#: the output fields a decision keeps of the cleaned result
RESULT_FIELDS = ("house_number", "predirectional", "street_name", "street_type", "postdirectional", "unit_type",
                 "unit", "po_box", "city", "state", "postal_code", "zip4", "country", "line1", "line2",
                 "match_status", "precision", "confidence", "lat", "lon", "gazetteer_version")
_FLOAT_FIELDS = {"confidence", "lat", "lon"}

_COLUMNS: list[tuple[str, str]] = [
    ("seq", "BIGINT NOT NULL"),                 # order of appending: ties of time broken by it
    ("id", "VARCHAR PRIMARY KEY"),
    ("kind", "VARCHAR NOT NULL"),
    ("decided_at", "TIMESTAMP NOT NULL"),       # UTC
    ("operator", "VARCHAR NOT NULL"),
    ("batch_id", "VARCHAR"),
    ("order_id", "VARCHAR"),
    ("customer_id", "VARCHAR"),
    ("input", "VARCHAR"),                       # the address as the customer wrote it
    ("input_key", "VARCHAR"),                   # keys.input_key of its parse
    ("result_key", "VARCHAR"),                  # risk.address_key of the cleaned result
    ("decision", "VARCHAR"),                    # accept / edit / hold (decisions only)
    ("action", "VARCHAR"),                      # what the order became: deliver / hold
    ("reason", "VARCHAR"),                      # why held, or why revoked
    ("revokes", "VARCHAR"),                     # revocations: the decision revoked
    ("accepted_flags", "VARCHAR[]"),            # the flags the operator saw and accepted
] + [(f, "DOUBLE" if f in _FLOAT_FIELDS else "VARCHAR") for f in RESULT_FIELDS]
COLUMN_NAMES = [c for c, _ in _COLUMNS]
#: one row per delivery report (``addressing.deliveries``), keyed by its delivery point
DELIVERY_COLUMNS: list[tuple[str, str]] = [
    ("seq", "BIGINT NOT NULL"),
    ("id", "VARCHAR PRIMARY KEY"),              # digest of order, time and outcome: a report kept once
    ("imported_at", "TIMESTAMP NOT NULL"),      # UTC
    ("order_id", "VARCHAR NOT NULL"),
    ("customer_id", "VARCHAR"),
    ("batch_id", "VARCHAR"),
    ("point_key", "VARCHAR"),                   # risk.address_key of the cleaned order: address + unit
    ("delivered_at", "TIMESTAMP NOT NULL"),     # UTC, as routing reported it
    ("outcome", "VARCHAR NOT NULL"),            # delivered / failed
    ("reason", "VARCHAR"),
    ("lat", "DOUBLE"),                          # where the driver was
    ("lon", "DOUBLE"),
    ("geocode_lat", "DOUBLE"),                  # what the cleaned order said
    ("geocode_lon", "DOUBLE"),
    ("geocode_precision", "VARCHAR"),
    ("distance_m", "DOUBLE"),                   # geocode to drop
]
DELIVERY_COLUMN_NAMES = [c for c, _ in DELIVERY_COLUMNS]
#: per table: the time ``purge`` ages its rows by, and the columns ``erase`` matches (address, customer)
_PRIVATE = {"decisions": ("decided_at", {"input_key": "input_key", "result_key": "result_key",
                                         "customer_id": "customer_id"}),
            "deliveries": ("delivered_at", {"result_key": "point_key", "customer_id": "customer_id"})}
_ARROW_TYPES = {"BIGINT NOT NULL": pa.int64(), "TIMESTAMP NOT NULL": pa.timestamp("us"), "DOUBLE": pa.float64(),
                "VARCHAR[]": pa.list_(pa.string())}


def _ddl(schema: str = "") -> list[str]:
    prefix = f"{schema}." if schema else ""
    cols = ", ".join(f"{c} {t}" for c, t in _COLUMNS)
    delivery_cols = ", ".join(f"{c} {t}" for c, t in DELIVERY_COLUMNS)
    return [f"CREATE TABLE IF NOT EXISTS {prefix}decisions ({cols})",
            f"CREATE TABLE IF NOT EXISTS {prefix}deliveries ({delivery_cols})",
            f"CREATE TABLE IF NOT EXISTS {prefix}meta (key VARCHAR PRIMARY KEY, value VARCHAR)"]


def store_path(gazetteer: str | Path | None = None, given: str | Path | None = None) -> Path:
    """The decisions store: ``given`` (a command's ``--store``), else ``$ADDRESSING_DECISIONS_DB``,
    else ``<gazetteer stem>.decisions.duckdb`` beside the gazetteer."""
    given = str(given or "").strip() or os.environ.get(STORE_ENV, "").strip()
    if given:
        return Path(given)
    if gazetteer is None:
        raise DecisionStoreError(f"no decisions store: give the gazetteer (--db) or set {STORE_ENV}")
    g = Path(gazetteer)
    return g.with_name(g.name.split(".")[0] + SUFFIX)


def file_stamp(path: Path) -> tuple | None:
    """What changes whenever the store's file does (a write renames nothing, a purge renames a
    new file in), for the copies processes keep in memory; ``None`` when there is no file."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def now() -> dt.datetime:
    """UTC now, without a zone (the store's times are all UTC)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def new_id() -> str:
    """A decision id an operator can type (``c-`` and 12 hex digits: 48 random bits)."""
    return "c-" + uuid.uuid4().hex[:12]


@dataclass
class Record:
    """One row to append. ``result`` holds the cleaned result's ``RESULT_FIELDS``."""

    kind: str
    operator: str
    decision: str | None = None
    action: str | None = None
    batch_id: str | None = None
    order_id: str | None = None
    customer_id: str | None = None
    input: str | None = None
    input_key: str | None = None
    result_key: str | None = None
    reason: str | None = None
    revokes: str | None = None
    accepted_flags: list[str] = field(default_factory=list)
    result: dict = field(default_factory=dict)
    decided_at: dt.datetime | None = None
    id: str | None = None


# ----------------------------------------------------------------------------- connections

_here = threading.RLock()


def _wait() -> float:
    return seconds_from_env(WAIT_ENV, WAIT_SECONDS)


def _failure(exc: duckdb.Error, path: Path) -> DecisionStoreError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return DecisionStoreError(f"cannot use the decisions store ({first})", str(path))


def _open(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    """A connection once no other process holds the file in a conflicting mode (bounded wait)."""
    wait = _wait()
    deadline = time.monotonic() + wait
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as exc:
            if not held_elsewhere(exc):
                raise _failure(exc, path) from exc
            if time.monotonic() >= deadline:
                raise LockHeldError(f"another process has held the decisions store for over {wait:g} s "
                                    f"({WAIT_ENV}); try again when it has finished", str(path)) from exc
        time.sleep(POLL_SECONDS)


@contextlib.contextmanager
def reading(path: Path) -> Iterator[duckdb.DuckDBPyConnection | None]:
    """A read-only connection for one query, closed at once; ``None`` when there is no store."""
    with _here:
        if not path.exists():
            yield None
            return
        con = _open(path, read_only=True)
        try:
            yield con
        except duckdb.Error as exc:
            raise _failure(exc, path) from exc
        finally:
            con.close()


@contextlib.contextmanager
def _writer_lock(path: Path) -> Iterator[None]:
    """One writer at a time across processes (``<store>.lock``), waited for a bounded time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = path.with_name(path.name + ".lock")
    wait = _wait()
    deadline = time.monotonic() + wait
    with open(lock, "a+") as f:
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockHeldError(f"another process has been writing the decisions store for over {wait:g} s "
                                        f"({WAIT_ENV}); try again when it has finished", str(path)) from None
                time.sleep(POLL_SECONDS)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


@contextlib.contextmanager
def writing(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection in one transaction: committed and checkpointed when the block
    ends, rolled back when it raises."""
    with _here, _writer_lock(path):
        con = _open(path, read_only=False)
        try:
            con.execute("BEGIN TRANSACTION")
            for sql in _ddl():
                con.execute(sql)
            con.execute("INSERT INTO meta VALUES ('schema', ?) ON CONFLICT DO NOTHING", [SCHEMA_VERSION])
            yield con
            con.execute("COMMIT")
            con.execute("CHECKPOINT")
        except duckdb.Error as exc:
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            raise _failure(exc, path) from exc
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            raise
        finally:
            con.close()


# ----------------------------------------------------------------------------- writing


def _row(r: Record, seq: int) -> dict:
    if r.kind not in KINDS:
        raise DecisionStoreError(f"unknown row kind {r.kind!r} ({', '.join(KINDS)})")
    if r.kind == "decision" and r.decision not in DECISIONS:
        raise DecisionStoreError(f"unknown decision {r.decision!r} ({', '.join(DECISIONS)})")
    out = {"seq": seq, "id": r.id or new_id(), "kind": r.kind, "decided_at": r.decided_at or now(),
           "operator": r.operator, "batch_id": r.batch_id, "order_id": r.order_id, "customer_id": r.customer_id,
           "input": r.input, "input_key": r.input_key, "result_key": r.result_key, "decision": r.decision,
           "action": r.action, "reason": r.reason, "revokes": r.revokes, "accepted_flags": list(r.accepted_flags)}
    for f in RESULT_FIELDS:
        v = r.result.get(f)
        out[f] = (None if v is None else float(v)) if f in _FLOAT_FIELDS else (None if v is None else str(v))
    return out


def _as_arrow(rows: list[dict], columns: list[tuple[str, str]] = _COLUMNS) -> pa.Table:
    types = {c: _ARROW_TYPES.get(t, pa.string()) for c, t in columns}
    return pa.table({c: pa.array([r[c] for r in rows], types[c]) for c, _ in columns})


def as_delivery_table(rows: list[dict]) -> pa.Table:
    """Delivery rows (dicts of ``DELIVERY_COLUMN_NAMES``) as the table's Arrow schema."""
    return _as_arrow(rows, DELIVERY_COLUMNS)


#: a decision equal to the newest answer of its input in these columns is that answer again
_SAME = ("decision", "action", "operator", "batch_id", "order_id", "line1", "line2", "reason")


def append(path: Path, records: list[Record]) -> list[str]:
    """Append decisions (and revocations) in one transaction; returns their ids in order. A
    decision that repeats the newest live answer of its input (a retried task, the same CSV
    applied twice) is not appended again: its id is that answer's."""
    if not records:
        return []
    with writing(path) as con:
        seq = con.execute("SELECT coalesce(max(seq), 0) FROM decisions").fetchall()[0][0]
        current = _answers(con, sorted({r.input_key for r in records if r.input_key}))
        rows, ids = [], []
        for r in records:
            live = current.get(r.input_key) if r.kind == "decision" and r.input_key else None
            candidate = _row(r, seq + 1)
            if live is not None and all(live.get(c) == candidate.get(c) for c in _SAME):
                ids.append(live["id"])
                continue
            seq += 1
            rows.append(candidate)
            ids.append(candidate["id"])
            if r.kind == "decision" and r.input_key:
                current[r.input_key] = candidate
        if rows:
            con.register("new_rows", _as_arrow(rows))
            con.execute(f"INSERT INTO decisions ({', '.join(COLUMN_NAMES)}) SELECT * FROM new_rows")
            con.unregister("new_rows")
        return ids


def revoke(path: Path, decision_id: str, operator: str, reason: str | None = None) -> str:
    """Append a revocation of ``decision_id``; its id. Unknown or already revoked: an error."""
    with writing(path) as con:
        found = con.execute("SELECT kind FROM decisions WHERE id = ?", [decision_id]).fetchall()
        if not found or found[0][0] != "decision":
            raise DecisionStoreError(f"no decision {decision_id!r} in the store (see `addressing decisions list`)",
                                     str(path))
        if con.execute("SELECT 1 FROM decisions WHERE kind = 'revocation' AND revokes = ?", [decision_id]).fetchall():
            raise DecisionStoreError(f"decision {decision_id} is already revoked", str(path))
        seq = con.execute("SELECT coalesce(max(seq), 0) FROM decisions").fetchall()[0][0]
        row = _row(Record(kind="revocation", operator=operator, reason=reason, revokes=decision_id), seq + 1)
        con.register("new_rows", _as_arrow([row]))
        con.execute(f"INSERT INTO decisions ({', '.join(COLUMN_NAMES)}) SELECT * FROM new_rows")
        con.unregister("new_rows")
        return row["id"]


# ----------------------------------------------------------------------------- reading

#: the newest decision of each input that is not revoked
_ANSWERS_SQL = ("SELECT * FROM decisions WHERE kind = 'decision' AND input_key IS NOT NULL "
                "AND id NOT IN (SELECT revokes FROM decisions WHERE kind = 'revocation' AND revokes IS NOT NULL) "
                "QUALIFY row_number() OVER (PARTITION BY input_key ORDER BY decided_at DESC, seq DESC) = 1")


def _fetch_dicts(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    cur = con.execute(sql, params or None)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def _answers(con: duckdb.DuckDBPyConnection, only: list[str] | None = None) -> dict[str, dict]:
    """The answers (of the inputs ``only``, when given) by input key."""
    if only is None:
        return {r["input_key"]: r for r in _fetch_dicts(con, _ANSWERS_SQL)}
    sql = f"SELECT * FROM ({_ANSWERS_SQL}) WHERE list_contains(?, input_key)"
    return {r["input_key"]: r for r in _fetch_dicts(con, sql, [only])}


def answers(path: Path) -> dict[str, dict]:
    """input key -> its answer (the newest decision on it that is not revoked), as a row dict."""
    with reading(path) as con:
        return {} if con is None else _answers(con)


def answers_table(path: Path) -> pa.Table:
    """The answers as one Arrow table (a column per store column; empty without a store): what a
    cleaning process keeps in memory, a row turned into Python only when an order asks for it."""
    with reading(path) as con:
        if con is None:
            return _as_arrow([])
        cur = con.execute(_ANSWERS_SQL)
        fetch = getattr(cur, "to_arrow_table", None) or cur.fetch_arrow_table
        return fetch()


def rows(path: Path, batch_id: str | None = None) -> list[dict]:
    """Every row in the order appended (of one batch's decisions, when given), each with
    ``revoked_by`` (the revocation's id) and ``superseded`` (a later decision answers its input)."""
    with reading(path) as con:
        if con is None:
            return []
        where = "WHERE d.batch_id = ?" if batch_id else ""
        live = {r["id"] for r in _answers(con).values()}
        out = _fetch_dicts(con, f"SELECT d.*, r.id AS revoked_by FROM decisions d LEFT JOIN decisions r "
                                f"ON r.kind = 'revocation' AND r.revokes = d.id {where} ORDER BY d.seq",
                           [batch_id] if batch_id else None)
    for r in out:
        r["superseded"] = r["kind"] == "decision" and r["revoked_by"] is None and r["id"] not in live
    return out


# ----------------------------------------------------------------------------- deleting


def purge(path: Path, retention_days: int, at: dt.datetime | None = None) -> int:
    """Delete the rows older than ``retention_days`` (decisions by when they were made,
    deliveries by when they happened; with the revocations of decisions deleted); returns how
    many went. The file is rewritten only when some did."""
    cutoff = (at or now()) - dt.timedelta(days=retention_days)
    return _delete(path, {table: (f"{when} < ?", [cutoff]) for table, (when, _) in _PRIVATE.items()})


def erase(path: Path, input_key: str | None = None, result_key: str | None = None,
          customer_id: str | None = None) -> int:
    """Delete every row held for an address (the input written that way, or a result at that
    address) or a customer, with the revocations of those decisions; returns how many went."""
    given = {"input_key": input_key, "result_key": result_key, "customer_id": customer_id}
    if not any(given.values()):
        raise DecisionStoreError("erase needs an address or a customer")
    where: dict[str, tuple[str, list]] = {}
    for table, (_, columns) in _PRIVATE.items():
        terms = [(f"{column} = ?", given[name]) for name, column in columns.items() if given[name]]
        if terms:
            where[table] = (" OR ".join(t for t, _ in terms), [v for _, v in terms])
    return _delete(path, where)


def _delete(path: Path, where: dict[str, tuple[str, list]]) -> int:
    """Rewrite the store without the rows each table's ``where`` selects (and revocations of
    decisions deleted): the new file is written beside it and renamed over it, so readers see
    the old file or the new one."""
    if not path.exists():
        return 0
    gone: dict[str, set[str]] = {}
    with _here, _writer_lock(path):
        con = _open(path, read_only=False)
        try:
            for sql in _ddl():
                con.execute(sql)
            for table, (terms, params) in where.items():
                gone[table] = {r[0] for r in con.execute(f"SELECT id FROM {table} WHERE {terms}", params).fetchall()}
            if gone.get("decisions"):
                gone["decisions"] |= {r[0] for r in con.execute(
                    "SELECT id FROM decisions WHERE kind = 'revocation' AND list_contains(?, revokes)",
                    [sorted(gone["decisions"])]).fetchall()}
            con.execute("CHECKPOINT")  # nothing of the file left in a write-ahead log beside it
        except duckdb.Error as exc:
            raise _failure(exc, path) from exc
        finally:
            con.close()
        if any(gone.values()):
            _rewrite(path, {table: sorted(ids) for table, ids in gone.items()})
        return sum(len(ids) for ids in gone.values())


def _rewrite(path: Path, drop: dict[str, list[str]]) -> None:
    tmp = path.with_name(f".{path.name}.rewrite-{os.getpid()}")
    for stale in (tmp, tmp.with_name(tmp.name + ".wal")):
        stale.unlink(missing_ok=True)
    con = duckdb.connect()
    try:
        con.execute("ATTACH ? AS old (READ_ONLY)", [str(path)])
        con.execute("ATTACH ? AS fresh", [str(tmp)])
        for sql in _ddl("fresh"):
            con.execute(sql)
        con.execute("INSERT INTO fresh.meta SELECT * FROM old.meta")
        for table in _PRIVATE:
            con.execute(f"INSERT INTO fresh.{table} SELECT * FROM old.{table} WHERE NOT list_contains(?, id) "
                        "ORDER BY seq", [drop.get(table, [])])
        con.execute("DETACH old")
        con.execute("DETACH fresh")
    except duckdb.Error as exc:
        tmp.unlink(missing_ok=True)
        raise _failure(exc, path) from exc
    finally:
        con.close()
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)

