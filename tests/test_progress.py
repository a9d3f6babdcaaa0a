"""Progress where people wait: on a terminal ``addressing clean`` and ``addressing gazetteer
build`` show rows done, rate and time left on stderr without a flag; on a pipe they stay quiet.
The terminal case runs the real command on a pseudo-terminal (``pty``)."""

from __future__ import annotations

import doctest
import io
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest

import addressing.gazetteer.sizes
import addressing.progress
from addressing.demo import DATA
from addressing.gazetteer.sizes import estimate_rows, file_rows
from addressing.progress import LOG_EVERY_S, REDRAW_S, Progress, for_stream, progress_line

TIGER = DATA / "01001_nominatim.csv"


class Clock:
    """Time that moves only when the test says so."""

    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_doctests():
    for module in (addressing.progress, addressing.gazetteer.sizes):
        assert doctest.testmod(module).failed == 0


@pytest.mark.parametrize("done, total, rate, expected", [
    (500, 2000, 50.0, "500 of 2,000 rows (25%), 50 rows/s, 0:30 left"),
    (2000, 2000, 50.0, "2,000 of 2,000 rows (100%), 50 rows/s"),
    (0, 2000, None, "0 of 2,000 rows (0%)"),
    (0, None, None, "0 rows"),
    (1200, None, 40.0, "1,200 rows, 40 rows/s"),
    (1, 100_000, 10.0, "1 of 100,000 rows (0%), 10 rows/s, 2:46:40 left"),
    (10, 0, None, "10 rows"),                   # an empty total says nothing about the work
])
def test_progress_line(done, total, rate, expected):
    assert progress_line(done, total, "rows", rate) == expected


def test_the_line_is_redrawn_in_place_at_most_every_redraw_interval():
    out, clock = io.StringIO(), Clock()
    p = Progress("rows", out, redraw=True, clock=clock)
    p.update(0, 1000, "clean")
    clock.now += REDRAW_S / 4
    p.update(100, 1000, "clean")                # too soon: not drawn
    assert out.getvalue() == "\rclean  0 of 1,000 rows (0%)"
    clock.now += REDRAW_S
    p.update(250, 1000, "clean")
    assert out.getvalue().split("\r")[-1] == "clean  250 of 1,000 rows (25%), 1,000 rows/s, 0:01 left"
    clock.now += 0.01
    p.update(1000, 1000, "clean")               # the end is always drawn
    assert out.getvalue().split("\r")[-1].startswith("clean  1,000 of 1,000 rows (100%)")
    p.close()
    assert out.getvalue().endswith("\n")


def test_a_shorter_line_blanks_the_rest_of_the_longer_one():
    out, clock = io.StringIO(), Clock()
    p = Progress("rows", out, redraw=True, clock=clock)
    p.update(0, None, "a long label for the first source")
    clock.now += 1
    p.update(5, None, "b")
    last = out.getvalue().split("\r")[-1]
    assert last.startswith("b  5 rows, 5 rows/s") and len(last) == len("a long label for the first source  0 rows")


def test_clear_erases_the_line_before_other_output():
    out, clock = io.StringIO(), Clock()
    p = Progress("rows", out, redraw=True, clock=clock)
    p.update(3, 10)
    p.clear()
    shown = "3 of 10 rows (30%)"
    assert out.getvalue() == f"\r{shown}\r{' ' * len(shown)}\r"
    p.clear()                                   # nothing shown: nothing to erase
    assert out.getvalue().endswith(" \r")


def test_work_done_before_the_run_does_not_count_in_the_rate():
    """A rerun that finds half the chunks finished reports its own speed, not double."""
    out, clock = io.StringIO(), Clock()
    p = Progress("rows", out, redraw=True, clock=clock)
    p.update(500, 1000)
    clock.now += 10
    p.update(600, 1000)
    assert out.getvalue().split("\r")[-1] == "600 of 1,000 rows (60%), 10 rows/s, 0:40 left"


def test_log_lines_when_forced_on_a_pipe():
    out, clock = io.StringIO(), Clock()
    p = Progress("rows", out, redraw=False, clock=clock)
    for i in range(10):
        p.update(i * 10, 100)
        clock.now += LOG_EVERY_S / 2
    p.close()
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue() and len(lines) == 6    # every other update, and the last state
    assert lines[-1] == "90 of 100 rows (90%), 4 rows/s, 0:03 left"   # 90 rows in 25 s


def test_close_without_any_update_writes_nothing():
    out = io.StringIO()
    Progress("rows", out).close()
    assert out.getvalue() == ""


def test_for_stream_shows_on_terminals_only_unless_told():
    pipe = io.StringIO()
    assert for_stream("rows", pipe) is None
    assert for_stream("rows", pipe, force=True).redraw is False
    master, slave = pty.openpty()
    try:
        with os.fdopen(slave, "w", closefd=False) as term:
            assert for_stream("rows", term).redraw is True
            assert for_stream("rows", term, force=False) is None
    finally:
        os.close(master)
        os.close(slave)


# --------------------------------------------------------------------------- row estimates


def test_estimates_of_source_rows(tmp_path):
    lines = len(TIGER.read_bytes().splitlines())
    assert TIGER.stat().st_size > 1 << 20 and 0.95 * lines < file_rows(TIGER) < 1.05 * lines   # from its first MiB
    small = tmp_path / "small.csv"
    small.write_text("a,b\n1,2\n3,4")
    assert file_rows(small) == 3
    assert estimate_rows("zipcodes", []) > 40_000
    big = tmp_path / "big.csv"
    big.write_text("a,b\n" + "".join(f"{i},{'x' * (i % 50)}\n" for i in range(100_000)))
    est = file_rows(big)
    assert 0.9 * 100_000 < est < 1.1 * 100_000
    one_line = tmp_path / "one.geojson"
    one_line.write_text('{"type": "FeatureCollection", "features": []}')
    assert file_rows(one_line) is None and estimate_rows("openaddresses", [big, one_line]) is None
    assert estimate_rows("openaddresses", [big, big]) == 2 * est
    assert file_rows(tmp_path / "missing.csv") is None
    bad_zip = tmp_path / "x.zip"
    bad_zip.write_bytes(b"not a zip")
    assert file_rows(bad_zip) is None


# --------------------------------------------------------------------------- the commands


def on_terminal(args: list[str], cwd: Path) -> tuple[int, str, str]:
    """Run ``addressing ARGS`` with stderr on a pseudo-terminal: (exit code, stdout, terminal)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "addressing.cli", *args], cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    seen = b""
    while True:
        ready, _, _ = select.select([master], [], [], 600)
        if not ready:
            proc.kill()
            raise TimeoutError(args)
        try:
            chunk = os.read(master, 65536)
        except OSError:                        # EIO: the command ended and the terminal closed
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    out = proc.stdout.read().decode()
    return proc.wait(), out, seen.decode(errors="replace")


def build_args(db: Path) -> list[str]:
    return ["gazetteer", "build", "--db", str(db), "--tiger", str(TIGER), "--no-zipcodes"]


def test_gazetteer_build_shows_progress_on_a_terminal(tmp_path):
    rc, out, term = on_terminal(build_args(tmp_path / "g.duckdb"), tmp_path)
    assert rc == 0, term
    assert "tiger:" in out and "loaded 1, unchanged 0" in out            # the command's output is unchanged
    assert "\r" in term and "source 1/1 tiger:" in term
    last = term.replace("\r\n", "\n").split("\n")[0].split("\r")[-1].strip()
    assert last.endswith("rows/s") and "6,213 of" in last and "rows (100%)" in last
    rc, out, term = on_terminal(build_args(tmp_path / "g.duckdb"), tmp_path)
    assert rc == 0 and "unchanged 1" in out and "rows/s" not in term    # nothing loaded: nothing to show


@pytest.mark.slow
def test_gazetteer_build_is_quiet_on_a_pipe(tmp_path):
    r = subprocess.run([sys.executable, "-m", "addressing.cli", *build_args(tmp_path / "g.duckdb")],
                       capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert r.returncode == 0 and "loaded 1" in r.stdout
    assert r.stderr == ""
    r = subprocess.run([sys.executable, "-m", "addressing.cli", *build_args(tmp_path / "h.duckdb"), "--progress"],
                       capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert r.returncode == 0 and "\r" not in r.stderr and "rows (100%)" in r.stderr.splitlines()[-1]


@pytest.fixture(scope="module")
def orders_csv(gaz, tmp_path_factory) -> Path:
    """120 San Francisco orders (the rules parser reads them: no model to load)."""
    from addressing.demo.synth import address_points

    path = tmp_path_factory.mktemp("orders") / "orders.csv"
    lines = ["order_id,address"] + [f'{i},"{p["number"]} {p["name"]} {p["type"] or ""}, San Francisco, CA '
                                    f'{p["postal_code"]}"' for i, p in enumerate(address_points(gaz)[:120])]
    path.write_text("\n".join(lines) + "\n")
    return path


def clean_args(src: Path, out: Path, db: Path) -> list[str]:
    return ["clean", str(src), "-o", str(out), "--db", str(db), "--chunk-rows", "20"]


def test_clean_shows_progress_on_a_terminal(tmp_path, orders_csv, demo_db):
    rc, out, term = on_terminal(clean_args(orders_csv, tmp_path / "o.parquet", demo_db), tmp_path)
    assert rc == 0, term
    text = term.replace("\r\n", "\n")
    bar, _, after = text.partition("\n")
    assert bar.startswith("\r0 of 120 rows (0%)")                      # drawn as soon as the file is split
    assert bar.split("\r")[-1].strip().startswith("120 of 120 rows (100%), ") and bar.rstrip().endswith("rows/s")
    assert after.startswith("120 rows -> ")                               # the summary on its own line after it


@pytest.mark.slow
def test_clean_is_quiet_on_a_pipe(tmp_path, orders_csv, demo_db):
    r = subprocess.run([sys.executable, "-m", "addressing.cli", *clean_args(orders_csv, tmp_path / "o.parquet",
                                                                              demo_db)],
                       capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert r.returncode == 0, r.stderr
    assert len(r.stderr.splitlines()) == 1 and r.stderr.startswith("120 rows -> ") and "rows/s" not in r.stderr
    r = subprocess.run([sys.executable, "-m", "addressing.cli", *clean_args(orders_csv, tmp_path / "p.parquet",
                                                                              demo_db), "--progress"],
                       capture_output=True, text=True, cwd=tmp_path, timeout=600)
    lines = r.stderr.splitlines()
    assert r.returncode == 0 and "\r" not in r.stderr
    assert lines[0] == "0 of 120 rows (0%)" and lines[-2].startswith("120 of 120 rows (100%), ")
