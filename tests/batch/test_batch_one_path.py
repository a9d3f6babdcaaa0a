"""One road through a batch: ``addressing clean`` and the nightly flow clean a file through the
same ``addressing.batch`` steps, so they write the same bytes, leave nothing else behind (no
work folder, lock or temporary file), and either one finishes what a killed run of the other
left. The flow runs in this process against a real temporary Prefect server; the CLI is the
real console command.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from reliability_data import DEMO, sf_orders, write_csv

POLICY = DEMO / "risk.toml"
CHUNK_ROWS = 7
#: what a finished output folder holds, and nothing else
pytestmark = pytest.mark.server      # a real temporary Prefect server for the flows

FINISHED = ["night/shop.manifest.json", "night/shop.parquet", "night/shop.review.csv"]
#: manifest keys that differ between any two runs
VOLATILE = ("timings_s", "wall_s")


@pytest.fixture(scope="module")
def prefect_harness():
    """A real, temporary Prefect server (SQLite) for the flows run in this process. Per module:
    it sets the process's Prefect settings, which must be undone (and its events drained)
    before the server tests (test_flows.py) point this process at their own server."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def day_of_orders(folder: Path, n: int) -> Path:
    """``folder/shop.csv``: ``n`` orders, three customers sharing one address (a batch-wide flag)."""
    rows = sf_orders(n, seed=18)
    for i, k in enumerate((20, 21, 22)):
        rows[k][1], rows[k][2] = rows[5][1], f"sharer{i}"
    return write_csv(folder / "shop.csv", rows)


def left_behind(out_dir: Path) -> list[str]:
    """Every file and folder under ``out_dir`` (hidden ones too), relative, sorted."""
    return sorted(str(p.relative_to(out_dir)) for p in out_dir.rglob("*") if p.is_file() or not any(p.iterdir()))


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def manifest_of(out_dir: Path, *also: str) -> dict:
    """The manifest without what differs between runs (and without ``also``), paths relative."""
    m = json.loads((out_dir / "night" / "shop.manifest.json").read_text())
    for key in VOLATILE + also:
        m.pop(key)
    for part in m["outputs"].values():
        part["path"] = str(Path(part["path"]).relative_to(out_dir))
    return m


def cli_clean(src: Path, out_dir: Path, db: Path, **popen) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "addressing.cli", "clean", str(src), "-o", str(out_dir / "night" / "shop.parquet"),
           "--db", str(db), "--risk-policy", str(POLICY), "--chunk-rows", str(CHUNK_ROWS), "--batch-id", "night"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, **popen)


def nightly(orders: Path, out_dir: Path, db: Path) -> list[dict]:
    from flows.nightly_clean import nightly_clean

    return nightly_clean(orders=str(orders), db=str(db), out_dir=str(out_dir), batch_id="night",
                         risk_policy=str(POLICY), chunk_rows=CHUNK_ROWS)


def test_nightly_flow_and_cli_write_the_same_bytes_and_leave_nothing_else(tmp_path, demo_db, prefect_harness):
    orders = tmp_path / "orders"
    day_of_orders(orders, 60)
    cli = cli_clean(orders / "shop.csv", tmp_path / "cli", demo_db)
    assert cli.wait(timeout=300) == 0, cli.stderr.read()
    [flow_manifest] = nightly(orders, tmp_path / "flow", demo_db)

    assert left_behind(tmp_path / "cli") == FINISHED
    assert left_behind(tmp_path / "flow") == FINISHED
    for name in ("shop.parquet", "shop.review.csv"):
        assert sha(tmp_path / "cli" / "night" / name) == sha(tmp_path / "flow" / "night" / name), name
    assert manifest_of(tmp_path / "cli") == manifest_of(tmp_path / "flow")
    assert flow_manifest["counts"]["risk_flags"].get("shared_address", 0) >= 4  # the batch-wide rule ran
    assert flow_manifest["chunks"] == {"count": 9, "reused": 0}


def test_a_killed_cli_run_is_finished_by_the_nightly_flow_then_cleaned_up(tmp_path, demo_db, prefect_harness):
    from addressing.batch import clean_file

    orders = tmp_path / "orders"
    src = day_of_orders(orders, 90)
    reference = clean_file(src, tmp_path / "reference" / "night" / "shop.parquet", demo_db, risk_policy=POLICY,
                           chunk_rows=CHUNK_ROWS, batch_id="night")
    out = tmp_path / "out"
    victim = cli_clean(src, out, demo_db, start_new_session=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and victim.poll() is None:
        if len(list(out.glob("night/.work/*/*/out-*.parquet"))) >= 2:
            os.killpg(victim.pid, signal.SIGKILL)
            break
        time.sleep(0.005)
    victim.wait(timeout=30)
    assert victim.returncode == -signal.SIGKILL, "the run finished (or failed) before it could be killed"
    finished = {p.name: p.stat().st_mtime_ns for p in out.glob("night/.work/*/*/out-*.parquet")}
    assert 2 <= len(finished) < reference["chunks"]["count"]
    assert not (out / "night" / "shop.manifest.json").exists()

    [manifest] = nightly(orders, out, demo_db)
    assert manifest["chunks"] == {"count": reference["chunks"]["count"], "reused": len(finished)}
    assert left_behind(out) == FINISHED
    for name in ("shop.parquet", "shop.review.csv"):
        assert sha(out / "night" / name) == sha(tmp_path / "reference" / "night" / name), name
    assert manifest_of(out, "chunks") == manifest_of(tmp_path / "reference", "chunks")


def test_the_flow_refuses_a_batch_a_cli_run_is_writing(tmp_path, demo_db, prefect_harness):
    """One lock per output, whoever writes it: a nightly run does not write under a CLI run."""
    from addressing.batch import output_lock
    from addressing.errors import LockHeldError

    orders = tmp_path / "orders"
    day_of_orders(orders, 30)
    with output_lock(tmp_path / "out" / "night" / "shop.parquet"):
        with pytest.raises(LockHeldError, match="another run is writing this batch"):
            nightly(orders, tmp_path / "out", demo_db)
        assert left_behind(tmp_path / "out") == ["night/.shop.lock"]
