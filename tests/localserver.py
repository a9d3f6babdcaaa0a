"""A real local Prefect server (API + UI on SQLite), its work pool and workers, as subprocesses.

Test and benchmark infrastructure, not product: used by the end-to-end tests, the import latency
benchmark and the screenshot script (those two put ``tests/`` on ``sys.path``), and handy by
hand: it runs exactly the commands the README lists (``prefect server start``, ``prefect
work-pool create``, ``prefect deploy --all``, ``prefect worker start``), each in its own
process group so that ``stop()`` ends them and every flow-run process they started.

    with LocalPrefect(home=Path("build/prefect-home")) as pf:
        pf.deploy()
        pf.start_worker()
        print(pf.ui_url)
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
POOL = "addressing"
POOL_LIMIT = 4
#: seconds to let in-process event and log workers send what they hold before the server stops
DRAIN_S = 30


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prefect_env(home: Path, api_url: str | None = None) -> dict[str, str]:
    """The environment every process of a local deployment shares (no telemetry, own home)."""
    env = dict(os.environ)
    env.update({
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_LOGGING_LEVEL": env.get("PREFECT_SERVER_LOGGING_LEVEL", "WARNING"),
    })
    if api_url:
        env["PREFECT_API_URL"] = api_url
        env["PREFECT_UI_API_URL"] = api_url
    return env


class LocalPrefect:
    """Start with ``start()`` (or ``with``); ``stop()`` ends the server, the workers and their runs."""

    def __init__(self, home: Path, port: int | None = None, project: Path = PROJECT, logs: Path | None = None):
        self.home = Path(home)
        self.port = port or free_port()
        self.project = Path(project)
        self.logs = Path(logs) if logs else self.home / "logs"
        self.api_url = f"http://127.0.0.1:{self.port}/api"
        self.ui_url = f"http://127.0.0.1:{self.port}"
        self.env = prefect_env(self.home, self.api_url)
        self.procs: list[subprocess.Popen] = []

    # ------------------------------------------------------------------ processes
    def _spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        self.logs.mkdir(parents=True, exist_ok=True)
        with open(self.logs / f"{name}.log", "ab") as log:
            proc = subprocess.Popen(args, cwd=self.project, env=env or self.env, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        return proc

    def prefect(self, *args: str, check: bool = True, timeout: float = 180) -> subprocess.CompletedProcess:
        """Run one ``prefect`` CLI command against this server."""
        cmd = [sys.executable, "-m", "prefect", *args]
        res = subprocess.run(cmd, cwd=self.project, env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and res.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({res.returncode}):\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
        return res

    def start(self, timeout: float = 120) -> LocalPrefect:
        self.home.mkdir(parents=True, exist_ok=True)
        server = self._spawn("server", [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                                        "--port", str(self.port), "--analytics-off"])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise RuntimeError(f"prefect server exited with {server.returncode}; see {self.logs / 'server.log'}")
            if self.healthy():
                return self
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"prefect server did not answer on {self.api_url} within {timeout:.0f} s")

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.api_url}/health", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def create_pool(self, pool: str = POOL, limit: int = POOL_LIMIT) -> None:
        self.prefect("work-pool", "create", pool, "--type", "process", "--overwrite")
        self.prefect("work-pool", "set-concurrency-limit", pool, str(limit))

    def deploy(self, *names: str, pool: str = POOL, extra: tuple[str, ...] = ()) -> None:
        """``prefect deploy`` from prefect.yaml (all deployments, or the named ones)."""
        self.create_pool(pool)
        sel = [a for n in names for a in ("--name", n)] or ["--all"]
        self.prefect("--no-prompt", "deploy", *sel, *extra)

    def set_parameters(self, deployment: str, **params) -> None:
        """Override some default parameters of a deployment (``flow-name/deployment-name``),
        as an operator would in the UI: e.g. point the paths at another gazetteer or folder."""
        import asyncio

        from prefect.client.orchestration import get_client
        from prefect.client.schemas.actions import DeploymentUpdate
        from prefect.settings import PREFECT_API_URL, temporary_settings

        async def update() -> None:
            async with get_client() as client:
                dep = await client.read_deployment_by_name(deployment)
                await client.update_deployment(dep.id, DeploymentUpdate(parameters={**dep.parameters, **params}))

        with temporary_settings({PREFECT_API_URL: self.api_url}):
            asyncio.run(update())

    def start_worker(self, pool: str = POOL, query_seconds: float = 1, name: str = "worker",
                     env: dict[str, str] | None = None) -> subprocess.Popen:
        wenv = dict(self.env)
        wenv["PREFECT_WORKER_QUERY_SECONDS"] = str(query_seconds)
        wenv.update(env or {})
        return self._spawn(name, [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool,
                                  "--type", "process", "--name", name], env=wenv)

    def start_import_worker(self, db: str, risk_policy: str | None = "addressing/demo/data/risk.toml",
                            name: str = "import-worker") -> subprocess.Popen:
        """The warm import worker (flows/import_worker.py); ready once ``import_worker_ready()``."""
        args = [sys.executable, "-m", "flows.import_worker", "--db", str(db)]
        if risk_policy:
            args += ["--risk-policy", str(risk_policy)]
        return self._spawn(name, args)

    def import_worker_ready(self) -> bool:
        import json

        from flows.clean_imported_orders import clean_import

        body = json.dumps({"task_worker_filter": {"task_keys": [clean_import.task_key]}}).encode()
        req = urllib.request.Request(f"{self.api_url}/task_workers/filter", data=body,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=3) as r:
                return bool(json.loads(r.read()))
        except OSError:
            return False

    def wait_for(self, check, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.2)
        raise RuntimeError(f"{what} not ready within {timeout:.0f} s (logs in {self.logs})")

    def stop_process(self, proc: subprocess.Popen) -> None:
        """End one process this object started (and its children)."""
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        if proc in self.procs:
            self.procs.remove(proc)

    def stop(self) -> None:
        """Stop the server and what was started beside it. Flows run in this process (with
        ``PREFECT_API_URL`` pointed here) leave Prefect's event and log workers bound to this
        server: they are drained first, while it still answers; left behind, they would keep
        retrying a dead address and a later ``prefect_test_harness`` would wait on them for ever."""
        from prefect.events.worker import EventsWorker
        from prefect.logging.handlers import APILogWorker

        for worker in (APILogWorker, EventsWorker):
            worker.drain_all(timeout=DRAIN_S)
        for proc in reversed(self.procs):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        self.procs.clear()

    def __enter__(self) -> LocalPrefect:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
