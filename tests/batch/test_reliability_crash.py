"""Crash safety: SIGKILL a batch run (and a gazetteer build) at random points, then show that
the next run finishes with byte-identical output and that the gazetteer was never corrupted.

The runs are real processes killed with SIGKILL. To keep the loop fast they are forked from
a warm "zygote" process that has imported the package and loaded the ZIP tables once (no
DuckDB connection, no threads: fork-safe); a few kills hit the real console script instead.
Kill times are seeded-random over the length of an uninterrupted run; where each kill landed
(splitting, cleaning chunks, assembling, done) is read from the disk afterwards and printed.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest
from reliability_data import DEMO, sf_points, write_csv

from addressing.gazetteer import Gazetteer
from addressing.gazetteer.sources import read_sources_toml
from addressing.gazetteer.store import build, check_gazetteer
from addressing.pipeline import clean_table

POLICY = DEMO / "risk.toml"
MIN_KILLS = 20
VOLATILE = ("timings_s", "wall_s", "chunks")
#: files whose appearance marks a moment to kill at: (glob under the output folder, up to how many)
AIMED = [(".work/*/*/out-*.parquet", 10), (".c.parquet.*.part", 1), ("c.parquet", 1), (".c.review.csv.*.part", 1),
         ("c.manifest.json", 1)]

ZYGOTE = r"""
import glob, json, os, signal, sys, time, traceback
from pathlib import Path
from addressing.batch import clean_file
from addressing.errors import AddressingError
from addressing.gazetteer.sources import read_sources_toml
from addressing.gazetteer.store import build
from addressing.parse.places import zip_table
from addressing.risk import load_risk

zip_table()
print("ready", flush=True)
for line in sys.stdin:
    req = json.loads(line)
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            if req["op"] == "clean":
                clean_file(**req["args"])
            else:
                build(Path(req["args"]["db"]), read_sources_toml(Path(req["args"]["sources"])))
        except AddressingError as exc:
            sys.stderr.write(f"{exc}\n")
            code = 2
        except BaseException:
            traceback.print_exc()
            code = 3
        os._exit(code)
    after = req.get("kill_after")
    on = req.get("kill_on")  # [folder, glob pattern, how many matches]
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        hit = on is not None and len(glob.glob(os.path.join(on[0], on[1]))) >= on[2]
        if hit or (after is not None and time.monotonic() - t0 >= after):
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            break
        time.sleep(0.002)
    killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
    print(json.dumps({"killed": killed, "exit": code, "seconds": time.monotonic() - t0}), flush=True)
"""


class Zygote:
    def __init__(self):
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        self.proc = subprocess.Popen([sys.executable, "-c", ZYGOTE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, env=env)
        assert self.proc.stdout.readline().strip() == "ready"

    def run(self, op: str, args: dict, kill_after: float | None = None, kill_on: list | None = None) -> dict:
        self.proc.stdin.write(json.dumps({"op": op, "args": args, "kill_after": kill_after, "kill_on": kill_on})
                              + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def zygote():
    z = Zygote()
    yield z
    z.close()


def snapshot(out_dir: Path) -> dict:
    """Everything a run leaves in its output folder, the manifest without its timings."""
    files = {}
    for p in sorted(out_dir.iterdir()):
        if p.name.endswith(".manifest.json"):
            m = json.loads(p.read_text())
            files[p.name] = {k: v for k, v in m.items() if k not in VOLATILE}
        else:
            files[p.name] = p.read_bytes() if p.is_file() else "<folder>"
    return files


def phase(out_dir: Path) -> str:
    """Where a killed run was, judged from what it left on disk."""
    if (out_dir / "c.manifest.json").exists():
        return "done"
    work = list((out_dir / ".work").glob("*/*")) if (out_dir / ".work").exists() else []
    if not work:
        return "starting"
    split = work[0] / "split.json"
    if not split.exists():
        return "splitting"
    chunks = json.loads(split.read_text())["chunks"]
    cleaned = sum((work[0] / c.replace("in-", "out-")).exists() for c in chunks)
    if cleaned < len(chunks):
        return "cleaning chunks"
    return "assembling"


@pytest.mark.slow
def test_killed_batch_run_restarts_to_identical_output(tmp_path, demo_db, zygote):
    rng = random.Random(20261125)
    rows = []
    for i, r in enumerate(sf_points(66, seed=21)):
        rows.append([f"K{i:04d}", f"{r['ADDRESS']}, San Francisco, CA {r['ZIPCODE']}", f"cust{i % 9}",
                     rng.choice(["=1+1", "x", "-3"]), ""])
    rows[5][1] = ""
    rows[9][0] = rows[8][0]
    src = write_csv(tmp_path / "orders.csv", rows)
    out_dir = tmp_path / "out"
    args = {"input_path": str(src), "output": str(out_dir / "c.parquet"), "db": str(demo_db),
            "risk_policy": str(POLICY), "chunk_rows": 5, "batch_id": "crash"}
    ref = zygote.run("clean", args)
    assert ref["exit"] == 0
    expected = snapshot(out_dir)
    assert sorted(expected) == ["c.manifest.json", "c.parquet", "c.review.csv"]
    assert expected["c.manifest.json"]["outputs"]["cleaned"]["rows"] == len(rows)
    span = ref["seconds"]

    kills, trials, finished_early = 0, 0, 0
    phases: Counter = Counter()
    aimed: Counter = Counter()
    attempts = 0
    cli_kills = 0
    while kills < MIN_KILLS:
        shutil.rmtree(out_dir)
        trials += 1
        for k in range(rng.choice([2, 2, 3])):  # kill the recovery runs too, then let one finish
            if trials % 4 == 0 and k == 0:  # now and then kill the real console script
                if not _kill_cli(args, rng.uniform(0.4, 0.9) * (span + 2.5)):
                    finished_early += 1
                    continue
                cli_kills += 1
                kills += 1
                phases[phase(out_dir)] += 1
            elif kills % 3 == 2:  # aimed at a moment: mid-chunks, output half written, output renamed...
                pattern, n = AIMED[attempts % len(AIMED)]
                attempts += 1
                r = zygote.run("clean", args, kill_on=[str(out_dir), pattern, rng.randint(1, n)])
                if not r["killed"]:
                    finished_early += 1
                    continue
                kills += 1
                aimed[phase(out_dir)] += 1
            else:
                fresh = k == 0
                r = zygote.run("clean", args, kill_after=rng.uniform(0, span if fresh else span * 0.6))
                if not r["killed"]:
                    finished_early += 1
                    if fresh:  # the machine got faster: aim the next kills inside a run
                        span = min(span, r["seconds"])
                    continue
                kills += 1
                phases[phase(out_dir)] += 1
        final = zygote.run("clean", args)
        assert final["exit"] == 0, final
        got = snapshot(out_dir)
        assert got == expected, f"trial {trials}: output differs from an uninterrupted run"
    print(f"\nclean crash loop: {kills} SIGKILLs ({cli_kills} of the console script) in {trials} trials, "
          f"{finished_early} runs finished before their kill time; random-time kills landed: {dict(phases)}; "
          f"aimed kills landed: {dict(aimed)}; every restart gave byte-identical outputs ({len(rows)} rows, "
          "none lost or doubled)")
    assert kills >= MIN_KILLS
    assert {"cleaning chunks", "assembling"} <= set(aimed), aimed


def _kill_cli(args: dict, after: float) -> bool:
    cmd = [sys.executable, "-m", "addressing.cli", "clean", args["input_path"], "-o", args["output"], "--db",
           args["db"], "--risk-policy", args["risk_policy"], "--chunk-rows", str(args["chunk_rows"]),
           "--batch-id", args["batch_id"]]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        p.wait(timeout=after)
        return False
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGKILL)
        p.wait()
        return True


def _sources(tmp_path: Path) -> tuple[Path, Path]:
    """A base gazetteer's sources (the Autauga TIGER ranges) and an SF address-point subset to add."""
    base = tmp_path / "base.toml"
    base.write_text(f'[[source]]\nkind = "tiger"\npath = "{DEMO / "01001_nominatim.csv"}"\n'
                    'name = "tiger:us-al-autauga-01001"\n')
    subset = tmp_path / "sf_subset.csv"
    with open(DEMO / "sf_eas_addresses_with_units.csv") as f:
        subset.write_text("".join(line for _, line in zip(range(1000), f)))
    add = tmp_path / "add.toml"
    spec = (DEMO / "sources.toml").read_text().split("[[source]]")[1]
    spec = spec.replace('path = "sf_eas_addresses_with_units.csv"', f'path = "{subset}"')
    add.write_text(base.read_text() + "\n[[source]]" + spec)
    return base, add


def _probe(db: Path) -> tuple[str, list]:
    """Open the file afresh (no cached handle) and match two addresses with it."""
    from addressing.risk import load_risk

    check_gazetteer(db)
    gaz = Gazetteer(db)
    try:
        raw = pa.table({"order_id": ["a", "b"], "address": ["1047 Spring St, Prattville, AL 36067",
                                                            "7 Octavia St, San Francisco, CA 94102"]})
        t = clean_table(raw, gaz, load_risk(None))
        return gaz.version, list(zip(t.column("match_status").to_pylist(), t.column("precision").to_pylist(),
                                     t.column("lat").to_pylist()))
    finally:
        gaz.close()


@pytest.mark.slow
def test_killed_gazetteer_build_never_corrupts_the_gazetteer(tmp_path, zygote):
    base_toml, add_toml = _sources(tmp_path)
    db = tmp_path / "gaz" / "g.duckdb"
    build(db, read_sources_toml(base_toml))
    before = _probe(db)
    assert before[1][0][0] == "matched" and before[1][1][0] != "matched"  # SF not loaded yet
    rng = random.Random(5)
    base_copy = tmp_path / "base-copy.duckdb"
    shutil.copyfile(db, base_copy)
    span = None
    kills = finished = 0
    while kills < 10:
        r = zygote.run("build", {"db": str(db), "sources": str(add_toml)},
                       kill_after=None if span is None else rng.uniform(0.02, 0.75) * span)
        if span is None or not r["killed"]:
            # it finished: the new gazetteer replaced the old one in one rename; put the old one back
            assert r["exit"] == 0, r
            span = span or r["seconds"]
            finished += 1
            assert _probe(db)[1][1][0] == "matched"
            shutil.copyfile(base_copy, db)
            continue
        kills += 1
        now = _probe(db)
        if now != before:
            # the kill landed after the new file was renamed into place: the whole new gazetteer,
            # never a mix (a kill can still arrive between that rename and the process's exit)
            assert now[0] != before[0] and now[1][1][0] == "matched", "a killed build broke the previous gazetteer"
            shutil.copyfile(base_copy, db)
    print(f"\ngazetteer crash loop: {kills} SIGKILLs during builds ({finished} builds finished, incl. the timing "
          "run); the previous gazetteer opened and matched identically after each kill")
    assert zygote.run("build", {"db": str(db), "sources": str(add_toml)})["exit"] == 0
    after = _probe(db)
    assert after[0] != before[0] and after[1][0] == before[1][0] and after[1][1][0] == "matched"
    leftovers = sorted(p.name for p in db.parent.iterdir() if p.name != "g.duckdb" and not p.name.endswith(".lock"))
    assert leftovers == [], f"killed builds left {leftovers}"
