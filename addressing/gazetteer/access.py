"""Opening the gazetteer file while another process may have it open.

DuckDB locks the file across processes: read-only connections share the lock, a read-write
connection needs it alone. A refresh in place writes on the file itself, so a reader that
opens during it meets DuckDB's lock error, and a refresh meets the shared lock of the readers
that have the file open. Both sides wait here, for a bounded time, instead of failing at once.
Inside one process DuckDB refuses a second connection to the file with another mode; waiting
cannot end that (the other connection belongs to this same process), so it is not waited on.

Owns how the file is opened for writing (``connect_writable``): with small row groups.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import duckdb

from addressing.errors import ConfigError, GazetteerReadError

#: default seconds a reader waits for a refresh in place to finish: twice the time a refresh of
#: one county may take in a national gazetteer (issue 16's target, under 60 s)
READER_WAIT_SECONDS = 120.0
#: default seconds a refresh waits for the readers that have the file open to let go before it
#: refreshes a copy instead: about the run of one ``addressing clean`` of a day's orders; a worker
#: that keeps the file open never lets go, so waiting longer buys little
REFRESH_WAIT_SECONDS = 30.0
READER_WAIT_ENV = "ADDRESSING_GAZETTEER_WAIT"
REFRESH_WAIT_ENV = "ADDRESSING_REFRESH_WAIT"
#: seconds between two tries to open: short against the waits above, long against one open (~1 ms)
POLL_SECONDS = 0.05

_LOCKED = "Could not set lock on file"  # DuckDB's IOException when another process holds the file
_SAME_PROCESS = "different configuration"  # its ConnectionException for a second mode in one process
_ATTACHED_HERE = "already attached"  # its error for attaching a file this process has open
#: rows per row group of the tables a build writes (DuckDB's default is 122,880). DuckDB reads a
#: whole row group's column segments for any of its rows, so a single order's seeks (a street's
#: name rows, addresses and ranges, a ZIP's streets) cost what their row groups hold: at 20 M
#: points (``benchmarks/national.py``'s gazetteer copied at each size) a seek took 3.4-4.8 ms at
#: 16,384 rows against 9-11 ms at the default. Smaller groups seek faster still (1.5-2.3 ms at
#: 4,096) but a build holds per-row-group state for every table it writes: its 20 M build peaked
#: at 1.6 GB at 4,096, 1.09 GB at 16,384 and 0.94 GB at the default
ROW_GROUP_ROWS = 16384
#: the catalog name of the gazetteer in a connection from ``connect_writable``
WRITE_CATALOG = "gazetteer"


def seconds_from_env(name: str, default: float) -> float:
    """Seconds to wait, from the environment variable ``name`` (a number >= 0), else ``default``."""
    text = os.environ.get(name)
    if text is None or not text.strip():
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also refuses NaN
        raise ConfigError(f"{name}={text!r} is not a number of seconds (>= 0)", key=name)
    return value


def held_elsewhere(exc: duckdb.Error) -> bool:
    """The open failed because another process holds the file in a conflicting mode."""
    return isinstance(exc, duckdb.IOException) and _LOCKED in str(exc)


def held_here(exc: duckdb.Error) -> bool:
    """The open failed because this process has the file open in the other mode."""
    return _SAME_PROCESS in str(exc) or _ATTACHED_HERE in str(exc)


def connect_writable(db: Path) -> duckdb.DuckDBPyConnection:
    """A read-write connection to ``db`` (made if missing) whose default catalog is the file,
    writing row groups of ``ROW_GROUP_ROWS`` (an option of attaching, not of a connection)."""
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH ? AS {WRITE_CATALOG} (ROW_GROUP_SIZE {ROW_GROUP_ROWS})", [str(db)])
        con.execute(f"USE {WRITE_CATALOG}")
    except BaseException:
        con.close()
        raise
    return con


def connect_reader(db: Path, wait: float | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection to ``db``, waiting up to ``wait`` seconds (default
    ``$ADDRESSING_GAZETTEER_WAIT``, else ``READER_WAIT_SECONDS``) while a refresh writes on it.
    Raises ``GazetteerReadError`` when the refresh outlasts the wait (a retry later may pass),
    and DuckDB's own error for anything else (the caller says what it means)."""
    wait = seconds_from_env(READER_WAIT_ENV, READER_WAIT_SECONDS) if wait is None else wait
    deadline = time.monotonic() + wait
    while True:
        try:
            return duckdb.connect(str(db), read_only=True)
        except duckdb.Error as exc:
            if held_here(exc):
                raise GazetteerReadError("this process is refreshing the gazetteer; open it when the refresh has "
                                         "finished", str(db)) from exc
            if not held_elsewhere(exc):
                raise
            if time.monotonic() >= deadline:
                raise GazetteerReadError(f"a refresh has held the file for over {wait:g} s ({READER_WAIT_ENV}); "
                                         "try again when it has finished", str(db)) from exc
        time.sleep(POLL_SECONDS)


def connect_writer(db: Path, wait: float) -> tuple[duckdb.DuckDBPyConnection | None, str]:
    """(a read-write connection to ``db`` once no reader has it open, "") or, when readers
    still have it after ``wait`` seconds (at once when the reader is this very process),
    (None, who has it open, in words)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return connect_writable(db), ""
        except duckdb.Error as exc:
            if held_here(exc):
                return None, "this process has the file open"
            if not held_elsewhere(exc):
                raise
            if time.monotonic() >= deadline:
                return None, f"another process has had the file open for {wait:g} s"
        time.sleep(POLL_SECONDS)
