"""A copy of the gazetteer per host: two Dask workers, each with its own folder of copies.

The workers are real ``dask worker`` processes, each told its own ``ADDRESSING_GAZETTEER_REPLICAS``
folder, as two hosts without a shared file system would be. A host whose copy is of another
version than its batch's fails the chunk: ``tests/gazetteer/test_replicas.py``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from addressing.batch import clean_file
from addressing.gazetteer import store

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parents[2]
DEMO = PROJECT / "addressing" / "demo" / "data"
#: seconds to wait for the scheduler and both workers to be up
CLUSTER_START_S = 120

#: orders the rules parser reads whole (a street of no gazetteer among them), so that the workers
#: never load libpostal's model: what this test is about is where the gazetteer comes from, and
#: tests/batch/test_scale.py runs orders of every parser on a cluster
ORDERS = ["7 Octavia St, San Francisco, CA 94102", "1 Dr Carlton B Goodlett Pl, San Francisco CA 94102",
          "2390 Cheshire Dr, Prattville AL 36067", "PO Box 12, Prattville AL 36067",
          "12 Nowhere Ln, Prattville AL 36067"]


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
    # each in a session of its own, stopped whole: a worker that ran a Prefect task started a
    # Prefect server of its own (no PREFECT_API_URL), which outlived the worker stopped alone
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--scheduler-file",
                               str(sched_file), "--port", "0", "--no-dashboard"], cwd=PROJECT, env=_env(tmp_path),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)]
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
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        from distributed import Client

        with Client(scheduler_file=str(sched_file), timeout=CLUSTER_START_S) as client:
            client.wait_for_workers(2, timeout=CLUSTER_START_S)
            address = client.scheduler.address
        yield address, hosts
    finally:
        for p in reversed(procs):
            _signal_session(p, signal.SIGTERM)
        for p in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=30)
            _signal_session(p, signal.SIGKILL)
        time.sleep(0.5)
        left = [p.pid for p in procs if _session_alive(p)]
        assert not left, f"processes of the cluster's sessions {left} outlived it"


def _signal_session(p: subprocess.Popen, sig: int) -> None:
    """Send ``sig`` to every process of ``p``'s session (its process group)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(p.pid, sig)


def _session_alive(p: subprocess.Popen) -> bool:
    """Whether a process of ``p``'s session is still running (not a zombie waiting for its parent)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == p.pid and fields[0] != "Z":
            return True
    return False


def _run(tmp_path: Path, args: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=_env(tmp_path, **env),
                          cwd=PROJECT, timeout=600)


def test_each_host_cleans_with_its_own_copy(cluster, demo_db, tmp_path):
    """The refresh flow installs the gazetteer on both worker hosts, the flow's own host takes
    a copy by hand, and the shared file goes away: the nightly flow still plans, cleans and
    assembles, from the copies alone, the bytes one process writes from the shared file."""
    address, hosts = cluster
    shared = tmp_path / "shared" / "gazetteer.duckdb"
    shared.parent.mkdir()
    shutil.copyfile(demo_db, shared)
    orders = tmp_path / "orders"
    orders.mkdir()
    (orders / "day.csv").write_text("order_id,address\n" + "".join(
        f'O{i},"{ORDERS[i % len(ORDERS)]}"\n' for i in range(300)))
    one = tmp_path / "one"
    clean_file(orders / "day.csv", one / "day.parquet", shared, chunk_rows=100, risk_policy="")

    done = _run(tmp_path, ["-m", "flows.refresh_gazetteer", "--sources", str(DEMO / "sources.toml"), "--db",
                           str(shared), "--kind", "openaddresses", "--kind", "tiger", "--copies-on", address])
    assert done.returncode == 0, done.stderr[-3000:]
    version = store.info(shared)["version"]
    for host in hosts:
        assert store.info(host / shared.name)["version"] == version
    flow_host = tmp_path / "flow-host"
    done = _run(tmp_path, ["-m", "addressing.cli", "gazetteer", "replicate", "--db", str(shared), "--to",
                           str(flow_host)])
    assert done.returncode == 0 and "copied" in done.stderr, done.stderr
    shared.unlink()

    out = tmp_path / "out"
    cleaned = _run(tmp_path, ["-m", "flows.nightly_clean", "--orders", str(orders), "--db", str(shared),
                              "--out-dir", str(out), "--batch-id", "b", "--risk-policy", "", "--chunk-rows", "100",
                              "--runner", address], ADDRESSING_GAZETTEER_REPLICAS=str(flow_host))
    assert cleaned.returncode == 0, cleaned.stderr[-3000:]
    assert _digest(one / "day.parquet") == _digest(out / "b" / "day.parquet")
    assert _digest(one / "day.review.csv") == _digest(out / "b" / "day.review.csv")
    review = (out / "b" / "day.review.csv").read_text()
    assert "O3," in review and "O4," in review  # the box and the street of no gazetteer
