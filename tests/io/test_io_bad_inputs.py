"""The bad-input corpus (tests/data/bad_inputs/) and generated monsters, through the CLI.

Every case ends one of two ways: a one-line error naming the file (exit 2, nothing written),
or a batch where each input row is in the output once, in order, the bad ones ``invalid``
with a reason naming the line. Never a traceback. Most cases call ``addressing.cli.main``
in-process (the same code path as the console script, without paying a process start per
case); ``test_subprocess_*`` run the real console script.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from addressing.cli import main

CORPUS = Path(__file__).resolve().parents[1] / "data" / "bad_inputs"

#: file -> words the one-line error must contain
FILE_ERRORS = {
    "empty.csv": "empty file",
    "blank_lines.csv": "empty file",
    "header_only.csv": "no rows",
    "blank_header.csv": "header",
    "duplicate_header.csv": "duplicate column names: address",
    "missing_order_id.csv": "no order_id column",
    "missing_address.csv": "no address column",
    "utf16.csv": "UTF-16",
    "zip_bytes.csv": "binary data",
    "spreadsheet.xlsx": "unknown input format",
    "empty.jsonl": "empty file",
    "not_objects.jsonl": "no line is a JSON object",
    "json_array.json": "no line is a JSON object",
    "missing_columns.jsonl": "no order_id column",
    "empty.parquet": "not a readable Parquet file",
    "not_parquet.parquet": "not a readable Parquet file",
    "truncated.parquet": "not a readable Parquet file",
    "missing_order_id.parquet": "no order_id column",
}

#: file -> [(order_id, invalid reason words or None for a row that must not be invalid, passthrough)]
ROW_CASES = {
    "unbalanced_quotes.csv": [("U1", None, {"note": "a"}), ("U2", "malformed CSV row at line 3", {}),
                              ("U3", None, {"note": "c"}), ("U4", None, {"note": "d"}), ("U5", None, {"note": "e"})],
    "unbalanced_quote_at_end.csv": [("E1", None, {}), ("E2", None, {}), ("E3", "malformed CSV row at line 4", {})],
    "bad_char_after_quote.csv": [("Q1", "malformed CSV row at line 2", {}), ("Q2", None, {"note": "b"})],
    "ragged_rows.csv": [("R1", None, {"note": "a"}), ("R2", "2 fields, header has 3", {}),
                        ("R3", "4 fields, header has 3", {}), ("R4", None, {"note": "d"})],
    "bom.csv": [("B1", None, {"note": "café"}), ("B2", None, {"note": "b"})],
    "latin1.csv": [("L1", None, {"note": "café crème"}), ("L2", None, {"note": "naïve"}),
                   ("L3", None, {"note": "utf8 café"})],
    "nul_bytes.csv": [("N1", None, {"note": "ab"}), ("N2", None, {"note": "c"})],
    "semicolon.csv": [("S1", None, {"note": "a"}), ("S2", None, {"note": "b"})],
    "cr_line_ends.csv": [("M1", None, {"note": "a"}), ("M2", None, {"note": "b"})],
    "broken_lines.jsonl": [("J1", None, {"note": "a"}), ("J2", "broken JSON line 2", {}),
                           (None, "broken JSON line 4", {}), ("J4", None, {"gift": '{"wrap": true}'}),
                           ("J5", "broken JSON line 6", {}), (None, "broken JSON line 7", {}),
                           ("6", None, {"paid": "true"})],
    "broken_first_line.jsonl": [("F1", "broken JSON line 1", {}), ("F2", None, {})],
    "wrong_types.parquet": [("101", None, {"weight_kg": "1.5", "paid": "true", "tags": '["a", "b"]',
                                           "created": "2026-11-25 08:30:00.000000", "channel": "web"}),
                            ("102", None, {"raw": "café", "price": None}),
                            ("103", "empty address", {"meta": '{"k": 3}', "price": "0.01"})],
}


def clean(capfd, src: Path, out: Path, db: Path, *extra: str) -> tuple[int, list[str]]:
    rc = main(["clean", str(src), "-o", str(out), "--db", str(db), *extra])
    err = capfd.readouterr().err
    assert "Traceback" not in err and "internal error" not in err, err
    return rc, err.strip().splitlines()


def assert_one_line_error(rc: int, lines: list[str], name: str, words: str, out: Path) -> None:
    assert rc == 2, lines
    assert len(lines) == 1, lines
    assert lines[0].startswith("addressing: error: ") and name in lines[0] and words in lines[0], lines[0]
    leftovers = [p.name for p in out.parent.iterdir()] if out.parent.exists() else []
    assert leftovers == [], f"an input error left {leftovers} behind"


@pytest.mark.parametrize("name", sorted(FILE_ERRORS))
def test_file_level_error_is_one_line(name, tmp_path, demo_db, capfd):
    out = tmp_path / "out" / "x.parquet"
    rc, lines = clean(capfd, CORPUS / name, out, demo_db)
    assert_one_line_error(rc, lines, name, FILE_ERRORS[name], out)


@pytest.mark.parametrize("name", sorted(ROW_CASES))
def test_bad_rows_are_invalid_in_place(name, tmp_path, demo_db, capfd):
    out = tmp_path / "out" / "x.parquet"
    rc, lines = clean(capfd, CORPUS / name, out, demo_db)
    assert rc == 0, lines
    rows = pq.read_table(out).to_pylist()
    expected = ROW_CASES[name]
    assert [r["order_id"] for r in rows] == [oid for oid, _, _ in expected]
    for row, (oid, invalid, passthrough) in zip(rows, expected):
        if invalid:
            assert row["match_status"] == "invalid" and invalid in row["reason"], (oid, row["reason"])
        else:
            assert row["match_status"] != "invalid", (oid, row["reason"])
        for col, value in passthrough.items():
            assert row[col] == value, (oid, col, row[col])
    manifest = json.loads((out.parent / "x.manifest.json").read_text())
    assert manifest["input"]["rows"] == len(expected) == manifest["outputs"]["cleaned"]["rows"]


def test_encoding_notes_say_what_was_done(tmp_path, demo_db, capfd):
    out = tmp_path / "x.parquet"
    assert clean(capfd, CORPUS / "latin1.csv", out, demo_db)[0] == 0
    notes = {r["order_id"]: r["notes"] for r in pq.read_table(out).to_pylist()}
    assert any("Windows-1252" in n for n in notes["L1"]) and not any("1252" in n for n in notes["L3"])
    assert clean(capfd, CORPUS / "nul_bytes.csv", out, demo_db)[0] == 0
    assert all("NUL bytes removed" in r["notes"] for r in pq.read_table(out).to_pylist())


def _big_field_csv(path: Path, address: str, memo: str) -> Path:
    with open(path, "w", encoding="utf-8") as f:
        f.write("order_id,address,memo\n")
        f.write('G1,"7 Octavia St, San Francisco, CA 94102",ok\n')
        f.write(f'BIG,"{address}","{memo}"\n')
        f.write('G2,"27 Octavia St, San Francisco, CA 94102",ok\n')
    return path


def test_ten_megabyte_fields(tmp_path, demo_db, capfd):
    ten_mb = "x" * (10 * 1024 * 1024)
    # a 10 MB passthrough cell travels unchanged; the row is cleaned normally
    src = _big_field_csv(tmp_path / "memo.csv", "650 Turk St, San Francisco, CA 94102", ten_mb)
    out = tmp_path / "o1" / "x.parquet"
    assert clean(capfd, src, out, demo_db)[0] == 0
    rows = pq.read_table(out).to_pylist()
    assert [r["order_id"] for r in rows] == ["G1", "BIG", "G2"]
    assert rows[1]["memo"] == ten_mb and rows[1]["match_status"] == "matched"
    # a 10 MB address is invalid (too long), its neighbours are not touched
    src = _big_field_csv(tmp_path / "addr.csv", ten_mb, "m")
    out = tmp_path / "o2" / "x.parquet"
    assert clean(capfd, src, out, demo_db)[0] == 0
    rows = pq.read_table(out).to_pylist()
    assert [r["match_status"] for r in rows] == ["matched", "invalid", "matched"]
    assert "too long" in rows[1]["reason"]
    # past 16 MB a field is refused as a row (truncated passthrough, invalid with the reason)
    src = _big_field_csv(tmp_path / "huge.csv", "1 Main St", "y" * (17 * 1024 * 1024))
    out = tmp_path / "o3" / "x.parquet"
    assert clean(capfd, src, out, demo_db)[0] == 0
    rows = pq.read_table(out).to_pylist()
    assert rows[1]["match_status"] == "invalid" and "longer than 16 MB at line 3" in rows[1]["reason"]
    assert rows[2]["match_status"] == "matched"


def test_quote_that_never_closes_costs_one_row(tmp_path, demo_db, capfd):
    """An unbalanced quote early in a long file must not swallow the rest of the file."""
    lines = ["order_id,address,memo"]
    for i in range(300):
        addr = '"7 Octavia St, San Francisco, CA 94102' if i == 5 else '"27 Octavia St, San Francisco, CA 94102"'
        lines.append(f"O{i},{addr},m{i}")
    src = tmp_path / "runaway.csv"
    src.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out" / "x.parquet"
    assert clean(capfd, src, out, demo_db, "--chunk-rows", "50")[0] == 0
    rows = pq.read_table(out).to_pylist()
    assert [r["order_id"] for r in rows] == [f"O{i}" for i in range(300)]
    assert [r["order_id"] for r in rows if r["match_status"] == "invalid"] == ["O5"]
    assert [r["memo"] for r in rows if r["order_id"] != "O5"] == [f"m{i}" for i in range(300) if i != 5]


def test_paths_that_are_not_files(tmp_path, demo_db, capfd):
    out = tmp_path / "out" / "x.parquet"
    folder = tmp_path / "orders.csv"
    folder.mkdir()
    rc, lines = clean(capfd, folder, out, demo_db)
    assert_one_line_error(rc, lines, "orders.csv", "is a folder", out)
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    rc, lines = clean(capfd, fifo, out, demo_db)
    assert_one_line_error(rc, lines, "pipe.csv", "not a regular file", out)
    rc, lines = clean(capfd, tmp_path / "nope.csv", out, demo_db)
    assert_one_line_error(rc, lines, "nope.csv", "no such file", out)
    # a file that opens but cannot be read (EIO)
    mem = tmp_path / "mem.csv"
    mem.symlink_to("/proc/self/mem")
    rc, lines = clean(capfd, mem, out, demo_db)
    assert_one_line_error(rc, lines, "mem.csv", "Input/output error", out)
    # the output or the gazetteer is a folder
    src = CORPUS / "bom.csv"
    rc, lines = clean(capfd, src, tmp_path, demo_db)
    assert rc == 2 and len(lines) == 1 and "is a folder" in lines[0]
    rc, lines = clean(capfd, src, out, tmp_path)
    assert rc == 2 and len(lines) == 1 and "folder" in lines[0]


def test_unreadable_file_is_one_line(tmp_path, demo_db):
    """Permission denied, from the console script. As root the CLI runs as ``nobody`` (root
    reads any file), with a world-readable copy of the gazetteer."""
    base = Path(tempfile.mkdtemp(prefix="unreadable-"))
    try:
        os.chmod(base, 0o777)
        db = base / "gaz.duckdb"
        shutil.copyfile(demo_db, db)
        os.chmod(db, 0o644)
        src = base / "secret.csv"
        shutil.copyfile(CORPUS / "bom.csv", src)
        os.chmod(src, 0)
        out = base / "out" / "x.parquet"
        cmd = [sys.executable, "-m", "addressing.cli", "clean", str(src), "-o", str(out), "--db", str(db)]
        if os.geteuid() == 0:
            drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
            probe = subprocess.run([*drop, sys.executable, "-c", "import addressing.cli"], capture_output=True,
                                   text=True, cwd=base, env={**os.environ, "HOME": str(base)})
            if probe.returncode != 0:
                pytest.skip("user nobody cannot read this checkout (e.g. a clone under a private temp "
                            "folder), so permission denied cannot be provoked as root here")
            cmd = [*drop, *cmd]
        r = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "HOME": str(base)},
                           cwd=base)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1, r.stderr
        assert "secret.csv" in lines[0] and "permission denied" in lines[0]
        assert not out.exists()
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.slow
def test_subprocess_bad_inputs_never_print_a_traceback(tmp_path, demo_db):
    for name, words in [("broken_lines.jsonl", None), ("truncated.parquet", "not a readable Parquet file"),
                        ("utf16.csv", "UTF-16")]:
        out = tmp_path / name / "x.parquet"
        r = subprocess.run([sys.executable, "-m", "addressing.cli", "clean", str(CORPUS / name), "-o", str(out),
                            "--db", str(demo_db)], capture_output=True, text=True)
        assert "Traceback" not in r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1, r.stderr
        if words:
            assert r.returncode == 2 and words in lines[0] and name in lines[0]
        else:
            assert r.returncode == 0 and pq.read_metadata(out).num_rows == len(ROW_CASES[name])


_STREAM = """
import resource, sys
from addressing.batch import split_input
plan = split_input(sys.argv[1], sys.argv[2], sys.argv[3], 20000)
print(plan.rows, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _write_orders(path: Path, n: int, pad: int) -> None:
    line = f'",San Francisco CA 94102",{"p" * pad}\n'
    with open(path, "w") as f:
        f.write("order_id,address,memo\n")
        for start in range(0, n, 10_000):
            f.write("".join(f"{i},\"{i % 900 + 1} Octavia St{line}" for i in range(start, min(n, start + 10_000))))


@pytest.mark.slow
def test_huge_file_is_streamed(tmp_path, demo_db):
    """A 200 MB file is split into chunks with memory that does not grow with the file:
    peak RSS over a 2 MB file's run stays far below the file's size."""
    small, huge = tmp_path / "small.csv", tmp_path / "huge.csv"
    _write_orders(small, 2_000, 1000)
    _write_orders(huge, 200_000, 1000)
    size = huge.stat().st_size
    assert size > 190e6
    peaks = {}
    for src in (small, huge):
        r = subprocess.run([sys.executable, "-c", _STREAM, str(src), str(tmp_path / f"work-{src.stem}"),
                            str(demo_db)], capture_output=True, text=True, check=True)
        rows, rss_kb = map(int, r.stdout.split())
        peaks[src.stem] = rss_kb * 1024
        assert rows == (2_000 if src is small else 200_000)
    grew = peaks["huge"] - peaks["small"]
    print(f"peak RSS small {peaks['small'] / 1e6:.0f} MB, huge {peaks['huge'] / 1e6:.0f} MB, file {size / 1e6:.0f} MB")
    assert grew < size / 4, f"peak memory grew {grew / 1e6:.0f} MB for a {size / 1e6:.0f} MB file"
