"""Import latency and flow overhead, on a real local Prefect server.

1. Event to completed: ``order.imported`` for a 100-order file -> the deployment trigger ->
   a process worker (polling every second) starts the flow-run process -> cleaned, outputs and
   artifacts written -> Completed. Timed from the event's ``occurred`` to the run's end (both
   stamped on this machine), split into trigger (event -> run created), worker pickup (-> Pending),
   process start (-> Running: a new Python process imports Prefect and the flow) and run. ``review_timeout_s=0`` so the run does not
   wait for a human (orders needing one are held at once). Measured with the warm import
   worker (the README set-up) and, as the baseline, without it (the flow process loads the
   models itself).
2. Per-task overhead of nightly-clean: the same orders through the flow and through the
   library (``addressing.batch``: split, clean each chunk, assemble) in this process, each
   with few and with many chunks; the per-task overhead is the extra time of the flow that
   grows with the number of chunks, the rest is the flow's fixed cost (run, artifacts, map).

    .venv/bin/python benchmarks/import_latency.py [--imports 5] [--cold 2] [--orders 3000]

The demo gazetteer is built into a temporary folder (seconds) unless --db is given. Numbers
depend on the machine's load: the ratios printed are from runs in this same process.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # localserver.py: the local Prefect server the tests use too
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from addressing.demo import DATA  # noqa: E402

POLICY = DATA / "risk.toml"


def demo_gazetteer(dest: Path) -> Path:
    from addressing.gazetteer.sources import read_sources_toml
    from addressing.gazetteer.store import build

    db = dest / "demo.duckdb"
    build(db, [s for s in read_sources_toml(DATA / "sources.toml") if s.kind != "geonames"])
    return db


def write_orders(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["order_id", "customer_id", "address", "address2"])
        w.writeheader()
        w.writerows(rows)
    return path


def ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def api(url: str, path: str, body: dict | None = None):
    import urllib.error
    import urllib.request

    for attempt in range(20):
        req = urllib.request.Request(url + path, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"}, method="POST" if body else "GET")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as exc:
            if exc.code != 503 or attempt == 19:
                raise
            time.sleep(0.5)


def one_import(pf, src: Path, timeout: float = 120) -> dict:
    from flows.events import emit, order_imported_event

    event = order_imported_event(src, batch_id=f"bench-{src.stem}-{time.time_ns()}", extra={"review_timeout_s": 0})
    emit(event, api_url=pf.api_url)
    dep = api(pf.api_url, "/deployments/name/clean-imported-orders/on-import")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = [r for r in api(pf.api_url, "/flow_runs/filter", {"flow_runs": {"deployment_id": {"any_": [dep["id"]]}},
                                                                  "sort": "EXPECTED_START_TIME_DESC", "limit": 20})
                if r["parameters"].get("batch_id") == event.payload["batch_id"]]
        if runs and runs[0]["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED"):
            run = runs[0]
            if run["state"]["type"] != "COMPLETED":
                raise RuntimeError(f"import run {run['name']} {run['state']['type']}: {run['state']['message']}")
            occurred = event.occurred.timestamp()
            states = api(pf.api_url, f"/flow_run_states/?flow_run_id={run['id']}")
            pending = min(ts(st["timestamp"]) for st in states if st["type"] == "PENDING")
            return {"trigger": ts(run["created"]) - occurred, "pickup": pending - ts(run["created"]),
                    "boot": ts(run["start_time"]) - pending, "run": ts(run["end_time"]) - ts(run["start_time"]),
                    "total": ts(run["end_time"]) - occurred}
        time.sleep(0.1)
    raise RuntimeError(f"no completed run for {event.payload['batch_id']} within {timeout} s")


def show(label: str, rows: list[dict]) -> dict:
    med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    print(f"  {label:<28} n={len(rows)}  total median {med['total']:5.2f} s (min {min(r['total'] for r in rows):.2f}, "
          f"max {max(r['total'] for r in rows):.2f}) = trigger {med['trigger']:.2f} + worker pickup "
          f"{med['pickup']:.2f} + process start {med['boot']:.2f} + run {med['run']:.2f}")
    return med


def latency(pf, files: list[Path], cold: int, db: Path) -> None:
    print("event -> completed run, 100-order imports (target < 10 s):")
    proc = pf.start_import_worker(str(db), str(POLICY))
    pf.wait_for(pf.import_worker_ready, 300, "the warm import worker")
    one_import(pf, files[0])  # first run pays server-side first-use costs; not counted
    warm = show("warm import worker", [one_import(pf, f) for f in files[1:]])
    if cold:
        pf.stop_process(proc)
        time.sleep(2)
        base = show("no import worker (baseline)", [one_import(pf, f) for f in files[1:1 + cold]])
        print(f"  warm / baseline total: {warm['total'] / base['total']:.2f}")


def overhead(pf, rows: list[dict], db: Path, work: Path) -> None:
    """Prefect's cost in nightly-clean: the flow against the same batch steps called as plain
    functions, with few and with many chunks; the difference that grows with the chunk count is
    the per-task overhead."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from addressing import batch
    from flows.nightly_clean import nightly_clean

    day = work / "day"
    day.mkdir(parents=True)
    src = write_orders(day / "orders.csv", rows)
    n = len(rows)

    def flow(chunk_rows: int, out: Path) -> float:
        t0 = time.perf_counter()
        with temporary_settings({PREFECT_API_URL: pf.api_url}):
            nightly_clean(orders=str(day), db=str(db), out_dir=str(out), batch_id="b", risk_policy=str(POLICY),
                          chunk_rows=chunk_rows)
        return time.perf_counter() - t0

    def library(chunk_rows: int, out: Path) -> float:
        """What the flow does, without Prefect: the same batch steps, in this process."""
        t0 = time.perf_counter()
        batch.clean_file(src, out / "lib" / "orders.parquet", db, batch_id="b", risk_policy=str(POLICY),
                         chunk_rows=chunk_rows)
        return time.perf_counter() - t0

    print(f"nightly-clean overhead, {n:,} orders (this process, models loaded):")
    library(2000, work / "warm")  # loads the models
    result = {}
    for chunk_rows in (n // 2, max(n // 60, 1)):
        # a finished batch keeps no chunks, so both clean every chunk: the difference is the flow's
        lib_full = library(chunk_rows, work / f"lib{chunk_rows}")
        flow_full = flow(chunk_rows, work / f"rows{chunk_rows}")
        k = -(-n // chunk_rows)
        result[k] = flow_full - lib_full
        print(f"  {k:>3} chunks: library {lib_full:6.2f} s, flow {flow_full:6.2f} s (x{flow_full / lib_full:.2f})")
    (k1, o1), (k2, o2) = sorted(result.items())
    per_task = (o2 - o1) / (k2 - k1)
    print(f"  per clean-chunk task: {per_task * 1000:.0f} ms; fixed per flow run (run, progress, artifacts, map): "
          f"{o1 - k1 * per_task:.2f} s")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--imports", type=int, default=5, help="timed warm imports of 100 orders")
    ap.add_argument("--cold", type=int, default=2, help="timed imports without the import worker (0: skip)")
    ap.add_argument("--orders", type=int, default=3000, help="orders for the nightly overhead measurement (0: skip)")
    ap.add_argument("--db", help="gazetteer (default: the demo one, built into a temporary folder)")
    args = ap.parse_args(argv)

    from localserver import LocalPrefect

    from addressing.demo.day import demo_orders
    from addressing.gazetteer import open_gazetteer

    with tempfile.TemporaryDirectory(prefix="import-latency-") as tmp:
        tmp = Path(tmp)
        db = Path(args.db) if args.db else demo_gazetteer(tmp)
        rows, _ = demo_orders(open_gazetteer(db), n=max(100 * (args.imports + 1), args.orders), seed=7)
        files = [write_orders(tmp / f"import{i}.csv", rows[i * 100:(i + 1) * 100]) for i in range(args.imports + 1)]
        with LocalPrefect(home=tmp / "prefect-home") as pf:
            pf.deploy()
            pf.set_parameters("clean-imported-orders/on-import", db=str(db), out_dir=str(tmp / "out"),
                              risk_policy=str(POLICY))
            pf.start_worker(query_seconds=1)
            print(f"Prefect server {pf.ui_url}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
            latency(pf, files, args.cold, db)
            if args.orders:
                overhead(pf, rows[:args.orders], db, tmp / "nightly")
    return 0


if __name__ == "__main__":
    sys.exit(main())
