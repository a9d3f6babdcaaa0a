"""What the refresh tests and ``measure_refresh.py`` look at: a gazetteer's content (with and
without street ids), the peak disk a build uses beside the file, and the real sources a
"newer vintage" of one county is made from."""

from __future__ import annotations

import contextlib
import csv
import math
import os
import threading
import time
from pathlib import Path

import duckdb

from addressing.gazetteer.derive import STREET_KEY
from addressing.gazetteer.store import SourceSpec

#: every table of a built gazetteer
TABLES = ("meta", "sources", "postal_codes", "address_points", "segments", "alt_names", "streets", "addresses",
          "localities")
#: digits a derived coordinate is compared to: DuckDB sums a mean in parallel, in an order that
#: differs from run to run (and between a refresh and a whole build), which moves the last bits
#: of a double (~1e-15 degrees), nothing more
COORD_DIGITS = 9
#: digits a coordinate is rounded to where it is hashed or sorted by: far above that noise, so
#: that it cannot move a value across a rounding boundary (~1e-9 odds per value); 0.1 m
ROUNDED_DIGITS = 6
#: how often the disk sampler looks at the folder: a refresh of the test's county takes ~0.5 s
SAMPLE_SECONDS = 0.001


#: what changes between two builds of the same content: when and how long
VOLATILE = {"sources": "SELECT * EXCLUDE (loaded_at, seconds) FROM sources",
            "meta": "SELECT * FROM meta WHERE key <> 'built_at'"}


def digest(db: Path) -> dict[str, tuple]:
    """(rows, hash of every row) per table, and the version: equal for equal content, whatever
    the bytes of the file (a refresh rolled back may leave free blocks behind) and the time of
    the build."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {}
        for t in TABLES:
            rows = VOLATILE.get(t, f"FROM {t}")
            cols = [f"round({c}, {ROUNDED_DIGITS})" if ty == "DOUBLE" else c
                    for c, ty, *_ in con.execute(f"DESCRIBE {rows}").fetchall()]
            out[t] = con.execute(f"SELECT count(*), sum(hash(({', '.join(cols)},))) FROM ({rows})").fetchone()
        out["version"] = con.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
        return out
    finally:
        con.close()


def _sort_key(value):
    """Floats rounded well above their noise first (so noise cannot reorder rows), then whole."""
    if isinstance(value, float):
        return (0, round(value, ROUNDED_DIGITS), value)
    if isinstance(value, list | tuple):
        return (1, tuple(_sort_key(v) for v in value))
    return (2, "" if value is None else str(value), value is None)


def close(a, b) -> bool:
    """Equal values, floats within ``10**-COORD_DIGITS``, lists and dicts element by element."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=0, abs_tol=10**-COORD_DIGITS)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    return a == b


def content_without_ids(db: Path) -> dict[str, list[tuple]]:
    """Every table's rows in a canonical order, ``street_id`` replaced by the key of its
    street, the loaders' own columns (``loaded_at``, ``seconds``, ``built_at``) left out. Two
    builds of the same sources give values that are ``close``."""
    key = ", ".join(STREET_KEY)
    street = f"(SELECT street_id, {key} FROM streets WHERE NOT alt) k"
    queries = {
        **VOLATILE,
        "postal_codes": "SELECT * FROM postal_codes",
        "alt_names": "SELECT * FROM alt_names",
        "localities": "SELECT * FROM localities",
    }
    for table in ("streets", "addresses", "address_points", "segments"):
        queries[table] = f"SELECT t.* EXCLUDE (street_id), k.* EXCLUDE (street_id) FROM {table} t " \
                         f"LEFT JOIN {street} USING (street_id)"
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {t: sorted(con.execute(sql).fetchall(), key=_sort_key) for t, sql in queries.items()}
    finally:
        con.close()


def mislabelled_rows(db: Path) -> int:
    """Points and segments whose ``street_id`` names a street of another key (must be none)."""
    same = " AND ".join(f"t.{c} IS NOT DISTINCT FROM s.{c}" for c in STREET_KEY)
    con = duckdb.connect(str(db), read_only=True)
    try:
        return sum(con.execute(f"""SELECT count(*) FROM {t} t LEFT JOIN streets s
                                   ON s.street_id = t.street_id AND NOT s.alt AND {same}
                                   WHERE s.street_id IS NULL""").fetchone()[0]
                   for t in ("address_points", "segments"))
    finally:
        con.close()


def folder_bytes(folder: Path) -> int:
    """Bytes of every file under ``folder`` (the gazetteer, its WAL, copies, spill folders)."""
    total = 0
    for root, _, files in os.walk(folder):
        for f in files:
            with contextlib.suppress(FileNotFoundError):  # removed between listing and looking
                total += os.path.getsize(os.path.join(root, f))
    return total


class PeakDisk:
    """``with PeakDisk(folder) as peak:`` samples the folder's bytes in a thread while the block
    runs; ``peak.extra`` is then the most it held above what it held at the start."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.start = self.peak = 0
        self._stop = threading.Event()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, folder_bytes(self.folder))
            time.sleep(SAMPLE_SECONDS)

    def __enter__(self) -> PeakDisk:
        self.start = self.peak = folder_bytes(self.folder)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, folder_bytes(self.folder))

    @property
    def extra(self) -> int:
        return self.peak - self.start


def newer_openaddresses(original: Path, folder: Path, year: int, every: int = 40) -> Path:
    """A "newer vintage" of a real OpenAddresses file: the same rows, written to a file whose
    name carries ``year`` (so it is the same source, and newer), with one row in ``every``
    dropped, one renamed onto a new street and one renumbered: real rows, a few changed, as a
    county's next release looks."""
    folder.mkdir(parents=True, exist_ok=True)
    stem, _, ext = original.name.partition(".")
    newer = folder / f"{stem}_{year}.{ext}"
    with open(original, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    head, body = rows[0], rows[1:]
    street = next(c for c in ("StreetName", "STREET", "ST_NAME", "FEANME") if c in head)
    number = next(c for c in ("StreetNum", "NUMBER", "ADDR_NUM", "ST_NUM") if c in head)
    s, n = head.index(street), head.index(number)
    kept = []
    for i, row in enumerate(body):
        if i % every == 1:
            continue
        row = list(row)
        if i % every == 2:
            row[s] = "NEWLY BUILT"
        if i % every == 3 and row[n]:
            row[n] = str(int(float(row[n])) + 2)
        kept.append(row)
    with open(newer, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([head, *kept])
    return newer


def oa_spec(real: Path, name: str, path: Path | None = None) -> SourceSpec:
    from realdata_maps import OA_MAPS

    return SourceSpec("openaddresses", path or real / "openaddresses" / name, columns=OA_MAPS[name])
