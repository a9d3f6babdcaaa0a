"""A refresh of an existing gazetteer (a newer vintage of one county's TIGER file, a newer
OpenAddresses file) happens in place in one transaction and re-derives only what the changed
sources touch: it answers as a whole build of the same sources does, a kill leaves the previous
gazetteer, it needs no copy of the file, and readers see the old file or the new one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from db_helpers import q
from refresh_helpers import (
    TABLES,
    PeakDisk,
    close,
    content_without_ids,
    digest,
    mislabelled_rows,
    newer_openaddresses,
    oa_spec,
)

from addressing.errors import GazetteerReadError
from addressing.gazetteer import Gazetteer, open_gazetteer
from addressing.gazetteer.access import ROW_GROUP_ROWS, connect_writable
from addressing.gazetteer.store import SourceSpec, build

#: the seconds a helper process may take to start and reach the moment a test waits for
START_SECONDS = 60
#: seconds a child holds the file in the tests where something must wait for it: long against
#: one poll (access.POLL_SECONDS), short for a test
HOLD_SECONDS = 2.0
#: DuckDB's block, the unit its file grows by (``storage_info``'s default ``block_size``)
DUCKDB_BLOCK = 256 * 1024


def tiger(real: Path, vintage: str) -> SourceSpec:
    return SourceSpec("tiger", real / "tiger" / "meagher_mt_30059" / f"{vintage}.geojsonl")


def base_sources(real: Path) -> list[SourceSpec]:
    """The "rest of the country" a refreshed county sits beside: three real counties' points and ranges."""
    return [oa_spec(real, "sf_eas_addresses_with_units.csv"), oa_spec(real, "alameda_spad_oakland.csv"),
            SourceSpec("tiger", real / "tiger" / "autauga_al_01001" / "01001_nominatim.csv")]


@pytest.fixture
def berkeley_newer(real, tmp_path) -> SourceSpec:
    path = newer_openaddresses(real / "openaddresses" / "berkeley_parcels.csv", tmp_path / "oa", 2031)
    return oa_spec(real, "berkeley_parcels.csv", path)


def cleaned(db: Path, texts: list[str]) -> pa.Table:
    from addressing.pipeline import clean_table
    from addressing.risk import load_risk

    gaz = Gazetteer(db)
    try:
        raw = pa.table({"order_id": [str(i) for i in range(len(texts))], "address": texts})
        return clean_table(raw, gaz, load_risk(None))
    finally:
        gaz.close()


def queries(db: Path) -> list[str]:
    """Real addresses of the gazetteer written as customers write them: points (with typos,
    units, wrong ZIPs: ``messy_queries``) and numbers inside TIGER ranges."""
    from addressing.demo import synth

    gaz = Gazetteer(db)
    try:
        points = synth.address_points(gaz)
        easy, _ = synth.messy_queries(points, 200, seed=16)
        hard, _ = synth.messy_queries(points, 100, seed=17, hard=True)
        ranges, _ = synth.range_queries(gaz, 100, seed=18)
    finally:
        gaz.close()
    return easy + hard + ranges


@pytest.mark.slow
def test_refresh_answers_as_a_whole_build(tmp_path, real, berkeley_newer):
    """Build A + B, refresh B' (a newer TIGER vintage of Meagher County and a newer Berkeley file
    with rows dropped, renamed and renumbered) in place; build A + B' from scratch. Every table
    holds the same rows (street ids aside) and 400 real addresses are cleaned alike."""
    db, fresh = tmp_path / "refreshed.duckdb", tmp_path / "fresh.duckdb"
    before = build(db, base_sources(real) + [tiger(real, "2016"), oa_spec(real, "berkeley_parcels.csv")])
    lines: list[str] = []
    result = build(db, base_sources(real) + [tiger(real, "2021"), berkeley_newer], progress=lines.append)
    assert "  refreshing in place, in one transaction" in lines
    assert sorted(result.loaded) == ["openaddresses:berkeley_parcels", "tiger:30059"]
    whole = build(fresh, base_sources(real) + [tiger(real, "2021"), berkeley_newer])
    assert result.version == whole.version != before.version
    assert result.rows == whole.rows
    mine, theirs = content_without_ids(db), content_without_ids(fresh)
    for table in theirs:
        assert close(mine[table], theirs[table]), table
    assert mislabelled_rows(db) == 0
    # the streets nothing touched kept their ids; new ones came above them
    kept = q(db, "SELECT count(*) FROM streets WHERE NOT alt AND state = 'CA' AND city = 'SAN FRANCISCO'")[0][0]
    assert kept > 0
    texts = queries(fresh)
    assert len(texts) >= 390
    ours, reference = cleaned(db, texts), cleaned(fresh, texts)
    assert ours.column_names == reference.column_names
    differ = [(a, b) for a, b in zip(ours.to_pylist(), reference.to_pylist()) if not close(a, b)]
    assert differ == []
    statuses = set(reference.column("match_status").to_pylist())
    assert "matched" in statuses and len(statuses) > 1  # the addresses exercise more than one path


def test_refresh_keeps_the_ids_of_streets_it_does_not_touch(tmp_path, real):
    db = tmp_path / "g.duckdb"
    build(db, base_sources(real) + [tiger(real, "2016")], with_zipcodes=False)
    ids = "SELECT street_id, name, postal_code FROM streets WHERE state <> 'MT' ORDER BY ALL"
    untouched, top = q(db, ids), q(db, "SELECT max(street_id) FROM streets")[0][0]
    build(db, base_sources(real) + [tiger(real, "2021")], with_zipcodes=False)
    assert q(db, ids) == untouched
    new = q(db, "SELECT min(street_id) FROM streets WHERE state = 'MT' AND street_id > ?", [top])[0][0]
    assert new is not None  # 2021 has streets 2016 had not: numbered above the old highest
    assert mislabelled_rows(db) == 0


def row_groups(db: Path, table: str, column: str) -> list[int]:
    """The number of rows in each row group of ``table``."""
    return [n for (n,) in q(db, f"""SELECT sum(count) FROM pragma_storage_info('{table}')
                                 WHERE column_name = '{column}' AND segment_type <> 'VALIDITY'
                                 GROUP BY row_group_id ORDER BY row_group_id""")]


def test_the_gazetteer_is_written_in_small_row_groups(tmp_path, real):
    """A single order's seeks read whole row groups: the file is written (built, then refreshed
    in place) ROW_GROUP_ROWS rows to a group, not DuckDB's default 122,880."""
    db = tmp_path / "g.duckdb"
    build(db, base_sources(real) + [tiger(real, "2016")])
    sizes = row_groups(db, "postal_codes", "postal_code")       # every US ZIP: 42,000 rows
    assert len(sizes) > 1 and max(sizes) <= ROW_GROUP_ROWS
    con = connect_writable(db)                                   # what a refresh in place writes with
    con.execute(f"CREATE TABLE probe AS SELECT range AS i FROM range({2 * ROW_GROUP_ROWS + 5})")
    con.execute(f"INSERT INTO probe SELECT range FROM range({ROW_GROUP_ROWS})")
    con.close()
    probe = row_groups(db, "probe", "i")
    assert sum(probe) == 3 * ROW_GROUP_ROWS + 5 and max(probe) <= ROW_GROUP_ROWS
    lines: list[str] = []
    build(db, base_sources(real) + [tiger(real, "2021")], progress=lines.append)
    assert "  refreshing in place, in one transaction" in lines
    for table in ("streets", "addresses", "address_points", "segments"):
        assert max(row_groups(db, table, "street_id")) <= ROW_GROUP_ROWS, table


KILL_CHILD = r"""
import sys, time
from pathlib import Path
from addressing.gazetteer.store import SourceSpec, build

db, moment, source = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])

def rows(p):  # the build's own progress hook: once rows of the county are in, stop there
    if moment == "load" and p.rows > 0:
        print("now", flush=True)
        time.sleep(600)

def say(line):
    print(line, flush=True)
    if moment == "derive" and "re-deriving" in line:
        print("now", flush=True)
        time.sleep(600)

build(db, [SourceSpec("tiger", source)], with_zipcodes=False, progress=say, rows=rows, wait_for_readers=0)
print("finished", flush=True)
"""


def run_until(args: list[str], marker: str) -> tuple[subprocess.Popen, list[str]]:
    child = subprocess.Popen([sys.executable, "-c", *args], stdout=subprocess.PIPE, text=True)
    seen = []
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line:
            break
        seen.append(line.rstrip("\n"))
        if seen[-1] == marker:
            return child, seen
    child.kill()
    child.wait()
    raise AssertionError(f"the child never said {marker!r}: {seen}")


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["load", "derive"])
@pytest.mark.parametrize("where", ["in place", "on a copy"])
def test_killed_refresh_leaves_the_previous_gazetteer(tmp_path, real, moment, where):
    """SIGKILL a refresh while the new county's rows are half in (after the old ones were
    deleted), or while it re-derives: the previous gazetteer opens with its version and every
    row; the next build sweeps what the dead one left and completes the refresh."""
    db, fresh = tmp_path / "g.duckdb", tmp_path / "fresh.duckdb"
    build(db, [oa_spec(real, "sf_eas_addresses_with_units.csv"), tiger(real, "2016")], with_zipcodes=False)
    before = digest(db)
    holder = Gazetteer(db) if where == "on a copy" else None  # a reader: the refresh must copy
    try:
        child, said = run_until([KILL_CHILD, str(db), moment, str(tiger(real, "2021").path)], "now")
        assert ("  refreshing in place, in one transaction" in said) == (where == "in place"), said
        child.send_signal(signal.SIGKILL)
        child.wait()
    finally:
        if holder:
            holder.close()
    assert digest(db) == before
    g = Gazetteer(db)
    try:
        assert g.version == before["version"][0]
        assert g.cursor().execute("SELECT vintage FROM sources WHERE source_name = 'tiger:30059'").fetchall() == \
            [("2016",)]
    finally:
        g.close()
    again = build(db, [oa_spec(real, "sf_eas_addresses_with_units.csv"), tiger(real, "2021")], with_zipcodes=False)
    assert again.loaded == ["tiger:30059"]
    build(fresh, [oa_spec(real, "sf_eas_addresses_with_units.csv"), tiger(real, "2021")], with_zipcodes=False)
    assert close(content_without_ids(db), content_without_ids(fresh))
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # the copy, the spill


#: kills the crash loop lands at random moments of the commit
CRASH_KILLS = 8


@pytest.mark.slow
def test_kills_at_random_moments_of_the_commit_leave_old_or_new(tmp_path, real):
    """SIGKILL a refresh at random moments from the end of its load through its COMMIT (the
    checkpoint that writes the new rows into the file): every time, the file opens as the
    whole old gazetteer or the whole new one."""
    import random
    import shutil

    db, new = tmp_path / "g.duckdb", tmp_path / "new.duckdb"
    base = [oa_spec(real, "sf_eas_addresses_with_units.csv"), tiger(real, "2016")]
    build(db, base, with_zipcodes=False)
    build(new, base, with_zipcodes=False)
    build(new, [tiger(real, "2021")], with_zipcodes=False)
    old_copy = tmp_path / "old.duckdb"
    shutil.copyfile(db, old_copy)
    states = {"old": digest(old_copy), "new": digest(new)}
    child, _ = run_until([KILL_CHILD, str(db), "none", str(tiger(real, "2021").path)], "  re-deriving the "
                         "streets, addresses and localities these sources touch")
    start = time.monotonic()
    assert child.stdout.readline().strip() == "finished"
    span = time.monotonic() - start  # from the derive to the end of the build: the moments aimed at
    child.wait()
    assert digest(db) == states["new"]
    rng = random.Random(16)
    landed = []
    for _ in range(CRASH_KILLS):
        shutil.copyfile(old_copy, db)
        child, _ = run_until([KILL_CHILD, str(db), "none", str(tiger(real, "2021").path)], "  re-deriving the "
                             "streets, addresses and localities these sources touch")
        time.sleep(rng.uniform(0, span))
        child.send_signal(signal.SIGKILL)
        child.wait()
        now = digest(db)
        assert now in states.values(), "a killed refresh left neither the old gazetteer nor the new"
        landed.append("old" if now == states["old"] else "new")
        assert Gazetteer(db).version == now["version"][0]
    print(f"\n{CRASH_KILLS} kills in the {span:.2f} s from the derive to the end: the file was {landed}")


def test_refresh_needs_no_copy_of_the_file(tmp_path, real):
    """Peak disk beside the gazetteer while one county is refreshed: in place, a fraction of
    the file; on a copy (a reader has it open), the whole file again."""
    folder = tmp_path / "gaz"
    folder.mkdir()
    db = folder / "g.duckdb"
    build(db, base_sources(real) + [oa_spec(real, "berkeley_parcels.csv"), tiger(real, "2016")])
    size = db.stat().st_size
    county = sum(f.stat().st_size for f in tiger(real, "2021").files())
    lines: list[str] = []
    with PeakDisk(folder) as in_place:
        build(db, [tiger(real, "2021")], with_zipcodes=False, progress=lines.append)
    assert "  refreshing in place, in one transaction" in lines
    holder = Gazetteer(db)
    try:
        with PeakDisk(folder) as copied:
            build(db, [tiger(real, "2016")], with_zipcodes=False, allow_older=True, wait_for_readers=0)
    finally:
        holder.close()
    print(f"\nrefresh of one county ({county / 1e6:.1f} MB of GeoJSON) in a {size / 1e6:.1f} MB gazetteer: "
          f"peak extra disk {in_place.extra / 1e6:.1f} MB in place, {copied.extra / 1e6:.1f} MB on a copy")
    assert copied.extra >= size  # the copy path's cost, for scale
    # in place: the county's rows, and a fresh, partly filled block in each table written
    assert in_place.extra <= county + len(TABLES) * DUCKDB_BLOCK
    assert in_place.extra < copied.extra / 3


READER_CHILD = r"""
import sys
from pathlib import Path
from addressing.gazetteer import open_gazetteer

g = open_gazetteer(Path(sys.argv[1]))
print("open", g.version, flush=True)
sys.stdin.readline()
print("still", g.cursor().execute("SELECT value FROM meta WHERE key = 'version'").fetchone()[0], flush=True)
"""


@pytest.mark.slow
def test_a_reader_holding_the_file_sends_the_refresh_to_a_copy(tmp_path, real):
    """A worker keeps the gazetteer open: the refresh waits its bounded time, says so, and
    refreshes a copy renamed over the file; the worker goes on reading the old gazetteer, whole,
    and a new open reads the new one."""
    db = tmp_path / "g.duckdb"
    old = build(db, [oa_spec(real, "sf_eas_addresses_with_units.csv"), tiger(real, "2016")], with_zipcodes=False)
    reader = subprocess.Popen([sys.executable, "-c", READER_CHILD, str(db)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline().split() == ["open", old.version]
        lines: list[str] = []
        start = time.monotonic()
        new = build(db, [tiger(real, "2021")], with_zipcodes=False, progress=lines.append,
                    wait_for_readers=HOLD_SECONDS)
        assert time.monotonic() - start >= HOLD_SECONDS
        assert any("another process has had the file open for 2 s: refreshing a copy" in x for x in lines), lines
        reader.stdin.write("\n")
        reader.stdin.flush()
        assert reader.stdout.readline().split() == ["still", old.version]
    finally:
        reader.kill()
        reader.wait()
    assert open_gazetteer(db).version == new.version != old.version
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_a_reader_of_this_process_sends_the_refresh_to_a_copy_at_once(tmp_path, real):
    db = tmp_path / "g.duckdb"
    old = build(db, [oa_spec(real, "sf_eas_addresses_with_units.csv"), tiger(real, "2016")], with_zipcodes=False)
    mine = Gazetteer(db)
    try:
        lines: list[str] = []
        start = time.monotonic()
        new = build(db, [tiger(real, "2021")], with_zipcodes=False, progress=lines.append, wait_for_readers=600)
        assert time.monotonic() - start < 60  # waiting for itself would never end: no wait at all
        assert any("this process has the file open: refreshing a copy" in x for x in lines), lines
        assert mine.version == old.version
    finally:
        mine.close()
    assert Gazetteer(db).version == new.version


@pytest.mark.slow
def test_the_refresh_waits_for_a_reader_that_lets_go(tmp_path, real):
    db = tmp_path / "g.duckdb"
    build(db, [oa_spec(real, "sf_eas_addresses_with_units.csv"), tiger(real, "2016")], with_zipcodes=False)
    code = ("import sys, time, duckdb; c = duckdb.connect(sys.argv[1], read_only=True); print('open', flush=True); "
            f"time.sleep({HOLD_SECONDS}); c.close(); time.sleep(60)")
    reader, _ = run_until([code, str(db)], "open")
    try:
        lines: list[str] = []
        start = time.monotonic()
        build(db, [tiger(real, "2021")], with_zipcodes=False, progress=lines.append, wait_for_readers=60)
        assert time.monotonic() - start >= HOLD_SECONDS * 0.9
        assert "  refreshing in place, in one transaction" in lines
    finally:
        reader.kill()
        reader.wait()


POLLER = r"""
import sys, time
from pathlib import Path
from addressing.gazetteer import Gazetteer

db = Path(sys.argv[1])
print("polling", flush=True)
while not Path(sys.argv[2]).exists():
    g = Gazetteer(db)
    cur = g.cursor()
    seen = [g.version]
    for sql in ("SELECT vintage FROM sources WHERE source_name = 'tiger:30059'",
                "SELECT count(*) FROM segments", "SELECT count(*) FROM streets", "SELECT count(*) FROM addresses",
                "SELECT sum(n) FROM localities", "SELECT count(*) FROM segments WHERE street_id IS NULL"):
        seen.append(str(cur.execute(sql).fetchone()[0]))
    g.close()
    print(" ".join(seen), flush=True)
    time.sleep(0.01)
"""


@pytest.mark.slow
def test_readers_see_the_old_gazetteer_or_the_new_never_a_mix(tmp_path, real):
    """A reader opens, reads and closes the file over and over while the county is refreshed in
    place: each look is the whole old gazetteer or the whole new one (a reader that opens
    during the refresh waits for it)."""
    db, stop = tmp_path / "g.duckdb", tmp_path / "stop"
    build(db, base_sources(real) + [tiger(real, "2016")], with_zipcodes=False)
    poller, _ = run_until([POLLER, str(db), str(stop)], "polling")
    try:
        time.sleep(0.5)
        lines: list[str] = []
        build(db, [tiger(real, "2021")], with_zipcodes=False, progress=lines.append, wait_for_readers=60)
        assert "  refreshing in place, in one transaction" in lines
        time.sleep(0.5)
    finally:
        stop.touch()
        out, _ = poller.communicate(timeout=START_SECONDS)
    assert poller.returncode == 0
    looks = [tuple(line.split()) for line in out.splitlines()]

    def look(g: Path) -> tuple:
        gaz = Gazetteer(g)
        try:
            cur = gaz.cursor()
            return (gaz.version, *(str(cur.execute(sql).fetchone()[0]) for sql in (
                "SELECT vintage FROM sources WHERE source_name = 'tiger:30059'", "SELECT count(*) FROM segments",
                "SELECT count(*) FROM streets", "SELECT count(*) FROM addresses", "SELECT sum(n) FROM localities",
                "SELECT count(*) FROM segments WHERE street_id IS NULL")))
        finally:
            gaz.close()

    old = tmp_path / "old.duckdb"
    build(old, base_sources(real) + [tiger(real, "2016")], with_zipcodes=False)
    both = {look(old), look(db)}
    assert len(both) == 2
    assert set(looks) <= both, set(looks) - both
    assert looks[0] == look(old) and looks[-1] == look(db)


HOLDER = f"""
import sys, time, duckdb
c = duckdb.connect(sys.argv[1])  # what a refresh in place holds: the file, alone
print("open", flush=True)
time.sleep({HOLD_SECONDS})
c.close()
time.sleep(60)
"""


def test_opening_waits_for_a_refresh_then_gives_up(tmp_path, real, monkeypatch):
    db = tmp_path / "g.duckdb"
    build(db, [oa_spec(real, "sf_eas_addresses_with_units.csv")], with_zipcodes=False)
    writer, _ = run_until([HOLDER, str(db)], "open")
    try:
        monkeypatch.setenv("ADDRESSING_GAZETTEER_WAIT", "0.2")
        with pytest.raises(GazetteerReadError, match=r"g\.duckdb: a refresh has held the file for over 0\.2 s"):
            Gazetteer(db)
        monkeypatch.setenv("ADDRESSING_GAZETTEER_WAIT", "60")
        start = time.monotonic()
        g = open_gazetteer(db)  # waits for the writer to let go, then opens
        assert time.monotonic() - start > HOLD_SECONDS / 4 and g.version == digest(db)["version"][0]
    finally:
        writer.kill()
        writer.wait()
    monkeypatch.setenv("ADDRESSING_GAZETTEER_WAIT", "soon")
    from addressing.errors import ConfigError

    with pytest.raises(ConfigError, match="ADDRESSING_GAZETTEER_WAIT='soon' is not a number of seconds"):
        Gazetteer(db)


def test_environment_sets_the_refresh_wait(tmp_path, real, monkeypatch):
    db = tmp_path / "g.duckdb"
    build(db, [oa_spec(real, "sf_eas_addresses_with_units.csv"), tiger(real, "2016")], with_zipcodes=False)
    code = "import sys, time, duckdb; c = duckdb.connect(sys.argv[1], read_only=True); print('open', flush=True); " \
           "time.sleep(600)"
    reader, _ = run_until([code, str(db)], "open")
    try:
        monkeypatch.setenv("ADDRESSING_REFRESH_WAIT", "0.3")
        lines: list[str] = []
        build(db, [tiger(real, "2021")], with_zipcodes=False, progress=lines.append)
        assert any("open for 0.3 s: refreshing a copy" in x for x in lines), lines
    finally:
        reader.kill()
        reader.wait()
    assert os.path.exists(db) and q(db, "SELECT vintage FROM sources WHERE source_name = 'tiger:30059'") == \
        [("2021",)]


WAL_CHILD = """
import os, sys, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("SET checkpoint_threshold = '1TB'")   # keep the committed row in the log, not the file
con.execute("INSERT INTO meta VALUES ('probe', 'committed before the kill')")
os._exit(0)                                       # killed: no checkpoint, the log stays beside the file
"""


def test_a_refresh_on_a_copy_keeps_what_a_killed_writer_committed_and_leaves_no_log(tmp_path, real):
    """A writer killed after a commit leaves DuckDB's log beside the file; a refresh that has to
    work on a copy carries what the log committed, and no log of the old file is left beside
    the new one (DuckDB would replay it there)."""
    db = tmp_path / "g.duckdb"
    build(db, [oa_spec(real, "sf_eas_addresses_with_units.csv"), tiger(real, "2016")], with_zipcodes=False)
    subprocess.run([sys.executable, "-c", WAL_CHILD, str(db)], check=True)
    assert (tmp_path / "g.duckdb.wal").exists()
    mine = Gazetteer(db)  # a reader of this process: the refresh goes to a copy
    try:
        build(db, [tiger(real, "2021")], with_zipcodes=False)
    finally:
        mine.close()
    assert not (tmp_path / "g.duckdb.wal").exists()
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT value FROM meta WHERE key = 'probe'").fetchone() == ("committed before the kill",)
    finally:
        con.close()
