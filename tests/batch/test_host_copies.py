"""A copy of the gazetteer per host: two Dask workers, each with its own folder of copies.

The workers are real ``dask worker`` processes, each told its own ``ADDRESSING_GAZETTEER_REPLICAS``
folder, as two hosts without a shared file system would be. The refresh flow installs the
gazetteer on both; the nightly flow, planned on the shared file, cleans on them and writes the
bytes one process writes. When the shared file moves on to a new version and the copies do not,
the chunks fail with a message saying so instead of mixing versions in one batch.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from addressing.batch import clean_file
from addressing.gazetteer import store
from addressing.gazetteer.sources import read_sources_toml

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parents[2]
DEMO = PROJECT / "addressing" / "demo" / "data"
#: seconds to wait for the scheduler and both workers to be up
CLUSTER_START_S = 120

ORDERS = ["7 Octavia St, San Francisco, CA 94102", "1 Dr Carlton B Goodlett Pl, San Francisco CA 94102",
          "2390 Cheshire Dr, Prattville AL 36067", "PO Box 12, Prattville AL 36067", "nonsense"]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect-home"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "DO_NOT_TRACK": "1", "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120"}
    env.pop("PREFECT_API_URL", None)
    env.pop("ADDRESSING_GAZETTEER_REPLICAS", None)
    env.update(extra)
    return env


@pytest.fixture
def cluster(tmp_path):
    """A scheduler and two workers, each worker with its own folder of copies."""
    sched_file = tmp_path / "scheduler.json"
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--scheduler-file",
                               str(sched_file), "--port", "0", "--no-dashboard"], cwd=PROJECT, env=_env(tmp_path),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    hosts = [tmp_path / "host-a", tmp_path / "host-b"]
    try:
        deadline = time.monotonic() + CLUSTER_START_S
        while not sched_file.exists():
            assert time.monotonic() < deadline, "the Dask scheduler did not start"
            time.sleep(0.2)
        for host in hosts:
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file", str(sched_file),
                 "--nworkers", "1", "--nthreads", "1", "--no-dashboard"],
                cwd=PROJECT, env=_env(tmp_path, ADDRESSING_GAZETTEER_REPLICAS=str(host)),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from distributed import Client

        with Client(scheduler_file=str(sched_file), timeout=CLUSTER_START_S) as client:
            client.wait_for_workers(2, timeout=CLUSTER_START_S)
            address = client.scheduler.address
        yield address, hosts
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def _flow(tmp_path: Path, module: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True,
                          env=_env(tmp_path), cwd=PROJECT, timeout=600)


def test_each_host_cleans_with_its_own_copy_of_the_batch_version(cluster, demo_db, tmp_path):
    address, hosts = cluster
    shared = tmp_path / "shared" / "gazetteer.duckdb"
    shared.parent.mkdir()
    shutil.copyfile(demo_db, shared)
    orders = tmp_path / "orders"
    orders.mkdir()
    (orders / "day.csv").write_text("order_id,address\n" + "".join(
        f'O{i},"{ORDERS[i % len(ORDERS)]}"\n' for i in range(300)))
    sources = str(DEMO / "sources.toml")

    # the refresh flow (nothing new to load) installs the gazetteer on both hosts
    done = _flow(tmp_path, "flows.refresh_gazetteer", "--sources", sources, "--db", str(shared),
                 "--kind", "openaddresses", "--kind", "tiger", "--copies-on", address)
    assert done.returncode == 0, done.stderr[-3000:]
    version = store.info(shared)["version"]
    for host in hosts:
        assert store.info(host / shared.name)["version"] == version

    # the shared file moves on; the hosts' copies do not: the batch fails and says why
    store.build(shared, list(read_sources_toml(Path(sources))))
    new_version = store.info(shared)["version"]
    assert new_version != version
    nightly = ["--orders", str(orders), "--db", str(shared), "--batch-id", "b", "--risk-policy", "",
               "--chunk-rows", "100", "--runner", address]
    failed = _flow(tmp_path, "flows.nightly_clean", "--out-dir", str(tmp_path / "out-stale"), *nightly)
    assert failed.returncode != 0
    assert f"is version {version} here, but the batch was planned with {new_version}" in failed.stdout + failed.stderr

    # the next refresh installs the new version on both hosts, and the batch cleans there
    done = _flow(tmp_path, "flows.refresh_gazetteer", "--sources", sources, "--db", str(shared),
                 "--copies-on", address)
    assert done.returncode == 0, done.stderr[-3000:]
    for host in hosts:
        assert store.info(host / shared.name)["version"] == new_version
    out = tmp_path / "out"
    cleaned = _flow(tmp_path, "flows.nightly_clean", "--out-dir", str(out), *nightly)
    assert cleaned.returncode == 0, cleaned.stderr[-3000:]
    one = tmp_path / "one"
    clean_file(orders / "day.csv", one / "day.parquet", shared, chunk_rows=100, risk_policy="")
    assert _digest(one / "day.parquet") == _digest(out / "b" / "day.parquet")
    assert _digest(one / "day.review.csv") == _digest(out / "b" / "day.review.csv")
