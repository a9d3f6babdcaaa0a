"""The gazetteer: a DuckDB file built from TIGER, OpenAddresses and postal-code sources.

``open_gazetteer`` gives read-only access for matching; ``build`` (in ``store``) loads
sources into it. The schema is described in ``addressing/gazetteer/README.md``.

Queries on it fail as ``GazetteerError`` (``GazetteerReadError`` for I/O trouble a retry may
cure), never as DuckDB's own errors, except those a value caused (see ``VALUE_ERRORS``).
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import duckdb
import pyarrow as pa

from addressing.errors import GazetteerError, GazetteerReadError
from addressing.gazetteer import replicas
from addressing.gazetteer.access import connect_reader
from addressing.gazetteer.store import SourceSpec, build, check_gazetteer, info

_T = TypeVar("_T")

__all__ = ["Gazetteer", "open_gazetteer", "build", "info", "SourceSpec", "PostalInfo", "PostalCodes", "query_arrow", "query_columns",
           "database_error"]


# DuckDB 2 warns that Arrow from an executed statement costs a copy and suggests a relation
# (``con.sql``) instead; measured here, the relation is the slower path (it is bound twice): a
# one-order evidence query takes 15 ms that way and 11 ms executed, a 9,000-candidate one 49
# and 47 ms. The advice is silenced, not the path taken.
warnings.filterwarnings("ignore", message="Arrow output on a DB-API result", category=UserWarning)


#: DuckDB errors that one row's value causes (a cast that fails on it): a bug in our SQL, not a
#: fault of the database, so they stay DuckDB's and the cleaning isolates the row that tripped it
VALUE_ERRORS = (duckdb.ConversionException, duckdb.OutOfRangeException)


def database_error(exc: duckdb.Error, path: str | Path | None = None) -> GazetteerError:
    """A DuckDB failure on the gazetteer as our error: ``GazetteerReadError`` for I/O, else
    ``GazetteerError`` (a missing table, a closed or corrupt file). First line of DuckDB's message."""
    kind = GazetteerReadError if isinstance(exc, duckdb.IOException) else GazetteerError
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return kind(f"query failed ({first})", None if path is None else str(path))


def _query(con: duckdb.DuckDBPyConnection, sql: str, params: list | None, fetch: Callable[[duckdb.DuckDBPyConnection], _T],
           empty: _T) -> _T:
    """Run one query and ``fetch`` its whole result (``empty`` for a statement without one). A
    failure is a ``GazetteerError`` (without the file's name: the caller that holds the
    ``Gazetteer`` adds it with ``naming``)."""
    try:
        cur = con.execute(sql, params or None)
        return empty if cur.description is None else fetch(cur)
    except VALUE_ERRORS:
        raise
    except duckdb.Error as exc:
        raise database_error(exc) from exc


def query_arrow(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pa.Table:
    """Run one query on the gazetteer and return its whole result as Arrow (DuckDB 1.x and 2.x
    names)."""
    return _query(con, sql, params, lambda cur: (getattr(cur, "to_arrow_table", None) or cur.fetch_arrow_table)(),
                  pa.table({}))


def query_columns(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> dict[str, list]:
    """``query_arrow`` as Python lists, column by column, for the small results a single order
    asks for: fetched as rows, not through Arrow, whose conversion costs more than the rows of
    a seek (``benchmarks/national.py``'s single orders)."""
    def columns(cur: duckdb.DuckDBPyConnection) -> dict[str, list]:
        names = [d[0] for d in cur.description]
        rows = cur.fetchall()
        cols = list(zip(*rows)) if rows else [() for _ in names]
        return {name: list(col) for name, col in zip(names, cols)}

    return _query(con, sql, params, columns, {})


@dataclass(frozen=True, slots=True)
class PostalInfo:
    country: str
    postal_code: str
    type: str | None
    active: bool | None
    city: str | None
    acceptable_cities: tuple[str, ...]
    state: str | None
    county: str | None
    timezone: str | None
    lat: float | None
    lon: float | None


def _postal_info(r: tuple) -> PostalInfo:
    return PostalInfo(r[0], r[1], r[2], r[3], r[4], tuple(r[5] or ()), r[6], r[7], r[8], r[9], r[10])


class PostalCodes:
    """The US ZIPs of a gazetteer, ``get(("US", zip))`` -> its record, read from the file a
    block of ZIPs sharing their first three digits at a time (one query brings the ZIPs of a
    region), so a process that cleans a few orders reads a few blocks, not the country's
    43k ZIPs (a fresh worker's first order), and a batch reads the blocks of its orders."""

    #: a block: the ZIPs sharing this many leading digits (a USPS sectional center's area)
    BLOCK_DIGITS = 3
    #: block reads after which the rest is read at once: each read scans the table (a few ms),
    #: reading all of it costs about a hundred reads, and a process that has met this many
    #: regions is a long-lived worker that will meet the others too
    READS_BEFORE_ALL = 16

    def __init__(self, gaz: Gazetteer):
        self._gaz = gaz
        self._rows: dict[tuple[str, str], PostalInfo] = {}
        self._blocks: set[str] = set()
        self._everything = False
        self._reads = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str], default: PostalInfo | None = None) -> PostalInfo | None:
        country, code = key
        if country != "US" or not code or len(code) < self.BLOCK_DIGITS:
            return default
        if code[: self.BLOCK_DIGITS] not in self._blocks:
            self.prefetch([code])
        return self._rows.get(key, default)

    def prefetch(self, codes: list[str | None]) -> None:
        """Read, in one query, the blocks of these ZIPs not read yet."""
        blocks = {c[: self.BLOCK_DIGITS] for c in codes if c and len(c) >= self.BLOCK_DIGITS} - self._blocks
        if not blocks or self._everything:
            return
        self._reads += 1
        if self._reads > self.READS_BEFORE_ALL:
            self.items()
            return
        rows = self._gaz._fetch(f"SELECT {Gazetteer._POSTAL_COLUMNS} FROM postal_codes WHERE country = 'US' "
                                f"AND list_contains(?, left(postal_code, {self.BLOCK_DIGITS:d}))", [sorted(blocks)])
        with self._lock:
            self._rows.update({(r[0], r[1]): _postal_info(r) for r in rows})
            self._blocks |= blocks

    def items(self) -> list[tuple[tuple[str, str], PostalInfo]]:
        """Every US ZIP (reads them all once)."""
        if not self._everything:
            rows = self._gaz._fetch(f"SELECT {Gazetteer._POSTAL_COLUMNS} FROM postal_codes WHERE country = 'US'")
            with self._lock:
                self._rows.update({(r[0], r[1]): _postal_info(r) for r in rows})
                self._blocks |= {r[1][: self.BLOCK_DIGITS] for r in rows}
                self._everything = True
        return list(self._rows.items())


def _match_threads() -> int:
    """DuckDB threads for matching queries: 1 by default. Matching runs many small queries per
    batch, where thread hand-offs cost more than they save (single orders: p95 40 -> 28 ms), and
    a batch scales out on processes, one per core (``--workers``), not threads.
    ``ADDRESSING_DUCKDB_THREADS`` overrides it."""
    try:
        return max(1, int(os.environ.get("ADDRESSING_DUCKDB_THREADS", "1")))
    except ValueError:
        return 1


class Gazetteer:
    """Read-only handle on a gazetteer file; safe to share between threads (one cursor each).
    Opening waits while a refresh writes on the file (``access.connect_reader``); an open
    handle keeps a refresh from writing in place (it then works on a copy)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        check_gazetteer(self.path)
        try:
            self._con = connect_reader(self.path)
            self._con.execute(f"SET threads = {_match_threads():d}")
        except duckdb.Error as exc:
            raise GazetteerError(f"cannot open ({str(exc).splitlines()[0]})", str(self.path)) from exc
        self._local = threading.local()
        self._lock = threading.Lock()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self.version: str = self._fetch("SELECT value FROM meta WHERE key = 'version'")[0][0]
        #: what caches of its rows are keyed by: the version names the sources, not the code that
        #: built the file, so a rebuild from the same sources is told apart by its time
        self.key: tuple[str, str, int] = (str(self.path.resolve()), self.version, self.path.stat().st_mtime_ns)
        self._postal: PostalCodes | None = None

    def cursor(self) -> duckdb.DuckDBPyConnection:
        cur = getattr(self._local, "cur", None)
        if cur is None:
            try:
                cur = self._con.cursor()
            except duckdb.Error as exc:
                raise database_error(exc, self.path) from exc
            self._local.cur = cur
            with self._lock:
                self._cursors.append(cur)
        return cur

    def _fetch(self, sql: str, params: list | None = None) -> list[tuple]:
        try:
            return self.cursor().execute(sql, params).fetchall()
        except VALUE_ERRORS:
            raise
        except duckdb.Error as exc:
            raise database_error(exc, self.path) from exc

    _POSTAL_COLUMNS = ("country, postal_code, type, active, city, acceptable_cities, state, county, timezone, "
                       "lat, lon")

    def postal(self) -> PostalCodes:
        """US ZIPs: (``'US'``, ZIP) -> its record, read from the file as they are asked for."""
        with self._lock:
            if self._postal is None:
                self._postal = PostalCodes(self)
        return self._postal

    def postal_lookup(self, country: str, codes: list[str]) -> dict[str, PostalInfo]:
        """Postal codes of one country (any country), looked up in the file."""
        if not codes:
            return {}
        rows = self._fetch(
            f"SELECT {self._POSTAL_COLUMNS} FROM postal_codes WHERE country = ? AND list_contains(?, postal_code)",
            [country, list(codes)])
        return {r[1]: _postal_info(r) for r in rows}

    def close(self) -> None:
        """Close the handle and every thread's cursor on it: DuckDB keeps serving a file's old
        content to new connections while any connection to it is open, even once the file was
        replaced."""
        with self._lock:
            cursors, self._cursors = self._cursors, []
        for cur in cursors:
            cur.close()
        self._con.close()

    def __getstate__(self):
        return {"path": self.path}

    def __setstate__(self, state):
        self.__init__(state["path"])


_open: dict[str, Gazetteer] = {}
_open_lock = threading.Lock()


def open_gazetteer(path: str | Path) -> Gazetteer:
    """One shared read-only handle per file per process; this host's copy of the file when it
    has one (``replicas``: workers that do not share a file system with the gazetteer)."""
    path = replicas.local_path(path)
    key = str(Path(path).resolve())
    with _open_lock:
        g = _open.get(key)
        if g is not None and g.path.exists() and g.path.stat().st_mtime_ns == getattr(g, "_mtime", None):
            return g
        if g is not None:
            del _open[key]
            g.close()  # the file was replaced (a refresh, a new copy): its old content must go
        g = Gazetteer(Path(path))
        g._mtime = g.path.stat().st_mtime_ns
        _open[key] = g
        return g
