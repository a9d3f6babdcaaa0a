"""A build that reads its sources in worker processes gives the gazetteer one reading them itself
gives; a source's error comes as it would, and nothing is left behind."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from db_helpers import q, table_rows
from realdata_maps import OA_MAPS

from addressing.errors import ConfigError, GazetteerError
from addressing.gazetteer import read_ahead
from addressing.gazetteer.store import DATA_TABLES, SourceSpec, build

TABLES = (*DATA_TABLES, "streets", "addresses", "localities")


@pytest.fixture
def sources(real) -> list[SourceSpec]:
    oa = real / "openaddresses"
    return [
        SourceSpec("tiger", real / "tiger/meagher_mt_30059/tl_2021_30059_addrfeat.shp"),
        SourceSpec("openaddresses", oa / "park_county_wy_points.csv", columns=OA_MAPS["park_county_wy_points.csv"]),
        SourceSpec("tiger", real / "tiger/autauga_al_01001/01001_nominatim.csv"),
        SourceSpec("openaddresses", oa / "trumbull_county_oh_points.csv",
                   columns=OA_MAPS["trumbull_county_oh_points.csv"]),
        SourceSpec("tiger", real / "tiger/meagher_mt_30059/2016.geojsonl", name="tiger:meagher-2016"),
        SourceSpec("openaddresses", oa / "sf_eas_addresses_with_units.csv",
                   columns=OA_MAPS["sf_eas_addresses_with_units.csv"]),
    ]


def _contents(db: Path) -> dict[str, list]:
    out = table_rows(db, TABLES)
    out["sources"] = q(db, "SELECT source_name, kind, path, vintage, checksum, options, rows, skipped, bytes, "
                           "table_rows FROM sources ORDER BY source_name")
    return out


def _build(db: Path, specs: list[SourceSpec], workers: int, monkeypatch) -> list[str]:
    monkeypatch.setenv(read_ahead.WORKERS_ENV, str(workers))
    said: list[str] = []
    build(db, specs, progress=said.append)
    return said


def test_a_build_read_by_workers_equals_one_read_in_process(tmp_path, sources, monkeypatch):
    said = _build(tmp_path / "workers.duckdb", sources, 2, monkeypatch)
    assert "  reading sources in 2 worker processes" in said
    alone = _build(tmp_path / "alone.duckdb", sources, 0, monkeypatch)
    assert not any("worker" in line for line in alone)
    got, expected = _contents(tmp_path / "workers.duckdb"), _contents(tmp_path / "alone.duckdb")
    assert all(expected[t] for t in TABLES)
    assert got == expected
    # rows stored in the order read (``alt_names`` keeps it; a derive sorts the others by street)
    order = "SELECT source_name, source_key, name FROM alt_names ORDER BY rowid"
    assert q(tmp_path / "workers.duckdb", order) == q(tmp_path / "alone.duckdb", order)
    assert not list(tmp_path.glob(".*.build-*"))


def test_a_source_that_fails_in_a_worker_fails_the_build_as_in_process(tmp_path, sources, real, monkeypatch):
    bad = tmp_path / "tl_2021_30059_addrfeat.geojsonl"
    bad.write_bytes((real / "tiger/meagher_mt_30059/2021.geojsonl").read_bytes()[:200_000])
    db = tmp_path / "g.duckdb"
    _build(db, sources[:2], 0, monkeypatch)
    before = _contents(db)
    broken = [*sources[2:4], SourceSpec("tiger", bad), *sources[4:]]
    errors = []
    for workers in (2, 0):
        with pytest.raises(GazetteerError) as caught:
            _build(db, broken, workers, monkeypatch)
        errors.append((str(caught.value), caught.value.path))
    assert errors[0] == errors[1] and errors[0][1] == str(bad)
    assert "broken JSON" in errors[0][0] or "truncated" in errors[0][0]
    assert _contents(db) == before
    assert not list(tmp_path.glob(".*.build-*"))


def test_a_script_without_a_main_guard_builds_with_workers(tmp_path, real):
    """The workers are not ``multiprocessing`` children, which would run this script again."""
    script = tmp_path / "build_it.py"
    script.write_text(
        "from pathlib import Path\n"
        "from addressing.gazetteer.store import SourceSpec, build\n"
        f"real = Path({str(real)!r})\n"
        "said = []\n"
        f"build(Path({str(tmp_path / 'g.duckdb')!r}), [SourceSpec('tiger', real / "
        "'tiger/meagher_mt_30059/2021.geojsonl'), SourceSpec('tiger', real / "
        "'tiger/autauga_al_01001/01001_nominatim.csv')], with_zipcodes=False, progress=said.append)\n"
        "print([s for s in said if 'worker' in s])\n")
    root = Path(read_ahead.__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root), read_ahead.WORKERS_ENV: "2"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "['  reading sources in 2 worker processes']"
    assert q(tmp_path / "g.duckdb", "SELECT count(*) FROM sources")[0][0] == 2


def test_workers_follow_the_size_of_the_build_unless_set(monkeypatch):
    monkeypatch.delenv(read_ahead.WORKERS_ENV, raising=False)
    assert read_ahead.workers_for(read_ahead.READ_AHEAD_BYTES - 1, 10) == 0
    assert read_ahead.workers_for(read_ahead.READ_AHEAD_BYTES, 10) >= 1
    assert read_ahead.workers_for(read_ahead.READ_AHEAD_BYTES, 1) == 0
    monkeypatch.setenv(read_ahead.WORKERS_ENV, "3")
    assert read_ahead.workers_for(0, 5) == 3
    assert read_ahead.workers_for(0, 2) == 2  # never more workers than sources
    monkeypatch.setenv(read_ahead.WORKERS_ENV, "two")
    with pytest.raises(ConfigError, match=read_ahead.WORKERS_ENV):
        read_ahead.workers_for(0, 2)


def _workers_of_this_process() -> list[int]:
    """Live reading workers started by this process (``/proc``: their parent and command)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == os.getpid() and b"read_ahead import _serve" in cmd and state != "Z":
            found.append(int(entry.name))
    return found


def test_a_failure_storing_a_source_stops_the_workers_while_its_error_is_kept(tmp_path, sources, monkeypatch):
    """A source without a usable row fails in the build's own process, after a worker read it:
    the workers stop at once, though the error (and its traceback) is still held."""
    empty = tmp_path / "tl_2021_30059_addrfeat.geojsonl"
    empty.write_text('{"type": "Feature", "properties": {"TLID": 1, "FULLNAME": "Main St", "LFROMHN": null, '
                     '"LTOHN": null, "RFROMHN": null, "RTOHN": null}, "geometry": null}\n')
    try:
        _build(tmp_path / "g.duckdb", [*sources[:2], SourceSpec("tiger", empty, name="tiger:empty"), *sources[2:]], 2,
               monkeypatch)
    except GazetteerError as exc:
        kept = exc
    assert "no usable rows" in str(kept)
    assert _workers_of_this_process() == []
    assert not list(tmp_path.glob(".*.build-*"))


def _read_or_die(spec: str, report) -> Iterator:
    """A reader for ``read_ahead``'s workers: ``slow`` takes a second, ``dies`` ends its worker."""
    if spec.endswith("slow"):
        time.sleep(1)
    if spec.endswith("dies"):
        os._exit(3)
    yield "address_points", pa.record_batch({"spec": [spec]})


def test_a_worker_that_stops_is_named_with_the_source_it_was_reading(tmp_path):
    """Worker 1 is given sources 1 and 3 at once and stops reading 3 while the build still waits
    for source 0; the sources before 3 come whole, and the error names source 3, in its turn,
    not the source the build gives that worker next."""
    specs = ["0-slow", "1", "2", "3-dies", "4", "5", "6"]
    got = []
    with pytest.raises(GazetteerError, match="stopped") as err:
        for spec, items, _ in read_ahead.read_sources(specs, _read_or_die, 2, tmp_path / "scratch"):
            got.append((spec, [b.column("spec")[0].as_py() for _, b in items]))
    assert got == [(s, [s]) for s in specs[:3]]
    assert err.value.path == "3-dies"
