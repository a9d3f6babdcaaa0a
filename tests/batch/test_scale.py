"""Scale-out: the same batch gives the same output on one process, on a Dask LocalCluster of
two worker processes, and on a process pool (``addressing clean --workers 2``)."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from addressing.batch import clean_file

PROJECT = Path(__file__).resolve().parents[2]

ORDERS = [
    "7 Octavia St, San Francisco, CA 94102",
    "27 OCTAVIA STREET SAN FRANCISCO CA",
    "650 Turk St Apt 201, San Francisco CA 94102",
    "342 hayes st #0A 94102",
    "1047 Spring St, Prattville, AL 36067",
    "1050 Sprng Street Prattville AL",
    "99999 Spring St Prattville AL 36067",
    "P.O. Box 12, Prattville, AL 36067",
    "PSC 802 Box 74, APO AE 09499",
    "3359 QUEEN CITY AVE CINCINNATI OH 45238",
    "",
    "asdf qwer",
    # only libpostal reads it: on a process pool, the workers ask the pool's libpostal server
    "10 Downing St, London SW1A 2AA, United Kingdom",
]


def _write_orders(path: Path, n: int) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["order_id", "customer_id", "address"])
        for i in range(n):
            w.writerow([f"S{i:05d}", f"C{i % 7}", ORDERS[i % len(ORDERS)]])


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def orders_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("scale-orders")
    _write_orders(d / "day.csv", 600)
    return d


@pytest.mark.slow
def test_process_pool_gives_the_same_output(orders_dir, demo_db, tmp_path):
    one = clean_file(orders_dir / "day.csv", tmp_path / "one" / "day.parquet", demo_db, chunk_rows=100, workers=1)
    two = clean_file(orders_dir / "day.csv", tmp_path / "two" / "day.parquet", demo_db, chunk_rows=100, workers=2)
    assert one["outputs"]["cleaned"]["rows"] == two["outputs"]["cleaned"]["rows"] == 600
    assert _digest(tmp_path / "one" / "day.parquet") == _digest(tmp_path / "two" / "day.parquet")
    assert _digest(tmp_path / "one" / "day.review.csv") == _digest(tmp_path / "two" / "day.review.csv")


@pytest.mark.slow
def test_nightly_clean_on_a_local_dask_cluster_gives_the_same_output(orders_dir, demo_db, tmp_path):
    """The flow's CLI entry point on a Dask LocalCluster of two processes, with its own Prefect home
    (Prefect's temporary local server), as an operator would run it, writes the bytes one process
    writes (``tests/batch/test_batch_one_path.py``: the flow on one process writes what the CLI writes)."""
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect-home"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "DO_NOT_TRACK": "1", "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120"}
    env.pop("PREFECT_API_URL", None)
    out_dir = tmp_path / "dask"
    proc = subprocess.run(
        [sys.executable, "-m", "flows.nightly_clean", "--orders", str(orders_dir), "--db", str(demo_db),
         "--out-dir", str(out_dir), "--batch-id", "same", "--risk-policy", "", "--chunk-rows", "100",
         "--runner", "processes:2"],
        capture_output=True, text=True, env=env, cwd=PROJECT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    dask = out_dir / "same"
    manifest = json.loads((dask / "day.manifest.json").read_text())
    assert manifest["outputs"]["cleaned"]["rows"] == 600
    one = tmp_path / "one"
    clean_file(orders_dir / "day.csv", one / "day.parquet", demo_db, chunk_rows=100, workers=1, risk_policy="")
    assert pq.read_table(one / "day.parquet").equals(pq.read_table(dask / "day.parquet"))
    assert _digest(one / "day.parquet") == _digest(dask / "day.parquet")
    assert _digest(one / "day.review.csv") == _digest(dask / "day.review.csv")
