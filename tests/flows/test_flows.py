"""The Prefect operations, against a REAL local Prefect server (API + UI on SQLite).

One server per module (starting one costs ~10 s): deployed from prefect.yaml with
``prefect deploy --all``, a process worker (as the README starts it) and the warm import
worker. The tests then do what operations do: import orders (the ``addressing-flows orders import``
command emits ``order.imported``), decide on the orders needing a human through the flow-run
input API (what the UI's Resume form posts), kill a nightly run halfway and rerun it.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from localserver import LocalPrefect

from addressing.demo import DATA

pytestmark = pytest.mark.server

PROJECT = Path(__file__).resolve().parents[2]
POLICY = DATA / "risk.toml"
GOOD_ADDRESS = "7 Octavia St, San Francisco, CA 94102"


# ------------------------------------------------------------------------------- helpers


class Api:
    """The Prefect REST API, as the UI uses it."""

    def __init__(self, url: str):
        self.url = url

    def call(self, method: str, path: str, body: dict | None = None, attempts: int = 20):
        data = json.dumps(body).encode() if body is not None else None
        for attempt in range(attempts):
            req = urllib.request.Request(f"{self.url}{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=30) as r:
                    raw = r.read()
                return json.loads(raw) if raw else None
            except urllib.error.HTTPError as exc:  # 503: SQLite busy, retry as Prefect's client does
                if exc.code != 503 or attempt == attempts - 1:
                    raise
                time.sleep(0.5)

    def deployment(self, flow: str, name: str) -> dict:
        return self.call("GET", f"/deployments/name/{flow}/{name}")

    def runs_of(self, deployment_id: str) -> list[dict]:
        return self.call("POST", "/flow_runs/filter", {"flow_runs": {"deployment_id": {"any_": [deployment_id]}},
                                                        "sort": "EXPECTED_START_TIME_DESC", "limit": 50})

    def run(self, run_id: str) -> dict:
        return self.call("GET", f"/flow_runs/{run_id}")

    def artifacts(self, run_id: str) -> list[dict]:
        return self.call("POST", "/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [run_id]}}})

    def task_runs(self, run_id: str) -> list[dict]:
        return self.call("POST", "/task_runs/filter", {"task_runs": {"flow_run_id": {"any_": [run_id]}}, "limit": 200})

    def wait_run(self, find, states: set[str], timeout: float) -> dict:
        """Poll until ``find()`` gives a run whose state type is in ``states``."""
        deadline = time.monotonic() + timeout
        run = None
        while time.monotonic() < deadline:
            run = find()
            if run and run["state"] and run["state"]["type"] in states:
                return run
            if run and run["state"] and run["state"]["type"] in {"FAILED", "CRASHED", "CANCELLED"} - states:
                pytest.fail(f"run {run['name']} ended {run['state']['type']}: {run['state'].get('message')}")
            time.sleep(0.25)
        pytest.fail(f"no run reached {states} within {timeout:.0f} s; last: {run and run['state']}")


def write_orders(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["order_id", "customer_id", "address", "address2"])
        w.writeheader()
        w.writerows(rows)
    return path


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ------------------------------------------------------------------------------- the stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory, demo_db):
    """Server + deployments from prefect.yaml + process worker + warm import worker."""
    home = tmp_path_factory.mktemp("prefect-home")
    out = tmp_path_factory.mktemp("out")
    # the operators' decisions of these runs go to a store of their own, not beside the session's
    # gazetteer where every later test would meet them (every process started here inherits it)
    store_env = os.environ.get("ADDRESSING_DECISIONS_DB")
    os.environ["ADDRESSING_DECISIONS_DB"] = str(tmp_path_factory.mktemp("decisions") / "flows.decisions.duckdb")
    pf = LocalPrefect(home=home)
    pf.start()
    try:
        pf.start_import_worker(str(demo_db), str(POLICY))  # warms up while we deploy
        pf.deploy()
        # what an operator would set in the UI: this machine's gazetteer and output folder
        for deployment in ("clean-imported-orders/on-import", "import-deliveries/on-delivery"):
            pf.set_parameters(deployment, db=str(demo_db), out_dir=str(out), risk_policy=str(POLICY))
        pf.start_worker(query_seconds=1)
        pf.wait_for(pf.import_worker_ready, 180, "the warm import worker")
        yield {"pf": pf, "api": Api(pf.api_url), "out": out, "db": demo_db,
               "decisions": Path(os.environ["ADDRESSING_DECISIONS_DB"])}
    finally:
        pf.stop()
        if store_env is None:
            os.environ.pop("ADDRESSING_DECISIONS_DB", None)
        else:
            os.environ["ADDRESSING_DECISIONS_DB"] = store_env


@pytest.fixture(scope="module")
def orders(demo_db):
    from addressing.demo.day import demo_orders
    from addressing.gazetteer import open_gazetteer

    rows, truths = demo_orders(open_gazetteer(demo_db), n=1500, seed=8)
    # every fifth order a planted problem, so that any slice of a few dozen has orders needing a human
    planted = iter([r for r, t in zip(rows, truths) if t.planted])
    ordinary = iter([r for r, t in zip(rows, truths) if not t.planted])
    return [next(planted, None) or next(ordinary) if i % 5 == 0 else next(ordinary, None) or next(planted)
            for i in range(len(rows))]


def cli(pf: LocalPrefect, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flows", *args], env=pf.env, cwd=PROJECT,
                          capture_output=True, text=True, timeout=120)


def import_run(api: Api, batch_id: str):
    dep = api.deployment("clean-imported-orders", "on-import")

    def find():
        runs = [r for r in api.runs_of(dep["id"]) if r["parameters"].get("batch_id") == batch_id]
        return runs[0] if runs else None
    return find


# ------------------------------------------------------------------------------- the tests


def test_deployments_from_prefect_yaml(stack):
    api = stack["api"]
    nightly = api.deployment("nightly-clean", "nightly")
    sched = nightly["schedules"][0]["schedule"]
    import yaml

    spec = {d["name"]: d for d in yaml.safe_load((PROJECT / "prefect.yaml").read_text())["deployments"]}
    assert sched["cron"] == "0 2 * * *" == spec["nightly"]["schedules"][0]["cron"]
    assert sched["timezone"] == spec["nightly"]["schedules"][0]["timezone"]
    assert nightly["global_concurrency_limit"]["limit"] == 1 and nightly["work_pool_name"] == "addressing"
    assert nightly["concurrency_options"]["collision_strategy"] == "ENQUEUE"
    weekly = api.deployment("refresh-gazetteer", "weekly")
    assert weekly["schedules"][0]["schedule"]["cron"].endswith("* * 0")
    on_import = api.deployment("clean-imported-orders", "on-import")
    assert on_import["work_pool_name"] == "addressing"
    pool = api.call("GET", "/work_pools/addressing")
    assert pool["type"] == "process" and pool["concurrency_limit"] >= 1
    automations = api.call("POST", "/automations/filter", {})
    trigger = [a["trigger"] for a in automations if any(
        act.get("deployment_id") == on_import["id"] for act in a["actions"])]
    assert trigger and trigger[0]["expect"] == ["order.imported"]
    on_delivery = api.deployment("import-deliveries", "on-delivery")
    assert [a["trigger"]["expect"] for a in automations if any(
        act.get("deployment_id") == on_delivery["id"] for act in a["actions"])] == [["delivery.reported"]]


def test_import_event_runs_and_operator_decides(stack, orders, tmp_path):
    """`addressing-flows orders import FILE` -> order.imported -> the triggered run cleans the import,
    publishes its artifacts, pauses for decisions; the operator accepts one order, edits one and
    holds the rest; the run applies them and completes."""
    pf, api = stack["pf"], stack["api"]
    src = write_orders(tmp_path / "shop.csv", orders[:40])
    sent = time.time()
    r = cli(pf, "orders", "import", str(src), "--review-timeout", "300")
    assert r.returncode == 0, r.stderr
    batch_id = json.loads(cli(pf, "orders", "import", str(src), "--dry-run").stdout)["payload"]["batch_id"]
    find = import_run(api, batch_id)
    run = api.wait_run(find, {"PAUSED", "COMPLETED"}, timeout=90)
    assert run["state"]["type"] == "PAUSED", "the demo mix always has orders needing a human"
    first_pass_s = time.time() - sent

    # the outputs are already written (orders needing a human held) and the artifacts exist
    out_file = stack["out"] / batch_id / "shop.parquet"
    before = pq.read_table(out_file).to_pylist()
    assert len(before) == 40 and [x["order_id"] for x in before] == [o["order_id"] for o in orders[:40]]
    keys = {a["key"] for a in api.artifacts(run["id"])}
    assert {"import-summary", "import-review-queue", "import-map"} <= keys

    # the operator's form: one field per order of the page (as the UI shows it on Resume)
    pages = 0
    first_page: list[str] = []
    while run["state"]["type"] == "PAUSED":
        details = run["state"]["state_details"]
        schema = api.call("GET", f"/flow_runs/{run['id']}/input/{details['run_input_keyset']['schema']}")
        fields = sorted((k for k in schema["properties"] if k.startswith("order_")), key=lambda k: int(k.split("_")[1]))
        assert set(schema["properties"]) - set(fields) == {"operator"}
        answer: dict = {f: {"decision": "hold", "address": ""} for f in fields}
        answer["operator"] = "ann"
        if pages == 0:
            first_page = [schema["properties"][f]["title"].split(":")[0] for f in fields]
            answer[fields[0]] = {"decision": "accept", "address": ""}
            answer[fields[1]] = {"decision": "edit", "address": GOOD_ADDRESS}
        resumed = api.call("POST", f"/flow_runs/{run['id']}/resume", {"run_input": answer})
        assert resumed["status"] == "ACCEPT", resumed
        pages += 1

        def next_step(key=details["pause_key"]):
            x = find()
            paused_here = x["state"]["type"] == "PAUSED" and x["state"]["state_details"]["pause_key"] == key
            return None if paused_here else x
        run = api.wait_run(next_step, {"PAUSED", "COMPLETED"}, timeout=60)
    assert run["state"]["type"] == "COMPLETED"

    after = {x["order_id"]: x for x in pq.read_table(out_file).to_pylist()}
    accepted, edited = after[first_page[0]], after[first_page[1]]
    assert accepted["action"] == "deliver" and "accepted by ann" in accepted["risk_reasons"]
    assert edited["action"] == "deliver" and edited["line1"] == "7 OCTAVIA ST"
    assert edited["input"] == next(o["address"] for o in orders if o["order_id"] == first_page[1])
    decisions = json.loads((stack["out"] / batch_id / "shop.decisions.json").read_text())
    n_items = sum(1 for x in before if x["action"] != "deliver")
    assert decisions["counts"] == {"accept": 1, "edit -> deliver": 1, "hold": n_items - 2}
    # what the operator decided is kept for later orders (the holds they did not make are not)
    from addressing.confirmations import store

    kept = {r["order_id"]: r for r in store.rows(stack["decisions"], batch_id)}
    assert kept[first_page[0]]["decision"] == "accept" and kept[first_page[1]]["decision"] == "edit"
    assert {r["operator"] for r in kept.values()} == {"ann"} and len(kept) == n_items
    manifest = json.loads((stack["out"] / batch_id / "shop.manifest.json").read_text())
    delivered_before = sum(1 for x in before if x["action"] == "deliver")
    assert manifest["counts"]["action"]["deliver"] == delivered_before + 2
    assert manifest["outputs"]["review"]["rows"] == n_items - 2

    arts = api.artifacts(run["id"])
    summaries = [a for a in arts if a["key"] == "import-summary"]
    assert any("Operator decisions" in a["data"] for a in summaries)
    assert all(a["data"].startswith("data:image/png;base64,") for a in arts if a["key"] == "import-map")
    print(f"event -> outputs and artifacts ready (paused for decisions): {first_pass_s:.1f} s")


def test_inline_import_unanswered_defaults_to_hold(stack, orders):
    """Rows sent in the event itself; nobody answers: every open order is held and the run completes."""
    pf, api = stack["pf"], stack["api"]
    from flows.events import emit_order_imported

    rows = [{k: v for k, v in o.items() if v is not None} for o in orders[100:112]]
    emit_order_imported(orders=rows, batch_id="inline-test", extra={"review_timeout_s": 2}, api_url=pf.api_url)
    run = api.wait_run(import_run(api, "inline-test"), {"COMPLETED"}, timeout=90)
    assert run["parameters"]["orders"] and run["parameters"]["file"] is None
    folder = stack["out"] / "inline-test"
    decisions = json.loads((folder / "inline-test.decisions.json").read_text())
    assert decisions["decisions"] and {d["decision"] for d in decisions["decisions"]} == {"hold"}
    assert all("timeout" in d["by"] for d in decisions["decisions"])
    manifest = json.loads((folder / "inline-test.manifest.json").read_text())
    assert manifest["input"]["rows"] == 12 and "review" not in manifest["counts"]["action"]


def test_failed_import_says_why(stack, tmp_path):
    """A file gone before the run starts: the run fails with the reason in its state and an artifact."""
    pf, api = stack["pf"], stack["api"]
    from flows.events import emit, order_imported_event

    src = write_orders(tmp_path / "gone.csv", [{"order_id": "1", "address": GOOD_ADDRESS}])
    event = order_imported_event(src, batch_id="gone-test")
    src.unlink()
    emit(event, api_url=pf.api_url)
    run = api.wait_run(import_run(api, "gone-test"), {"FAILED"}, timeout=90)
    assert "no such file" in run["state"]["message"] and "gone.csv" in run["state"]["message"]
    failure = [a for a in api.artifacts(run["id"]) if a["key"] == "import-failure"]
    assert failure and "no such file" in failure[0]["data"]


def nightly_here(pf: LocalPrefect, **params):
    """The nightly flow in this test process (its models stay loaded between calls)."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.nightly_clean import nightly_clean

    with temporary_settings({PREFECT_API_URL: pf.api_url}):  # per thread: settings are context variables
        state = nightly_clean(**params, return_state=True)
    return state.state_details.flow_run_id, state.result()


def test_killed_nightly_rerun_reuses_chunks_and_writes_same_bytes(stack, orders, tmp_path):
    """SIGKILL a nightly run once a few chunks are done; the rerun reuses exactly those chunks
    (not redone: shown as Reused in the UI), writes the bytes an uninterrupted run writes and
    then removes its work folder."""
    import concurrent.futures

    pf, api, db = stack["pf"], stack["api"], stack["db"]
    day = tmp_path / "orders"
    day.mkdir()
    write_orders(day / "shop.csv", orders[:600])
    out = tmp_path / "killed"
    params = {"orders": str(day), "db": str(db), "batch_id": "night", "chunk_rows": 30, "risk_policy": str(POLICY)}
    victim = subprocess.Popen(
        [sys.executable, "-m", "flows.nightly_clean", "--orders", str(day), "--db", str(db), "--out-dir", str(out),
         "--batch-id", "night", "--chunk-rows", "30", "--risk-policy", str(POLICY)],
        cwd=PROJECT, env=pf.env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        # the uninterrupted reference runs here meanwhile
        reference = pool.submit(nightly_here, pf, out_dir=str(tmp_path / "reference"), **params)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and victim.poll() is None:
            if len(list(out.glob("night/.work/*/*/out-*.parquet"))) >= 2:
                os.killpg(victim.pid, signal.SIGKILL)
                break
            time.sleep(0.01)
        victim.wait(timeout=30)
        _, ref = reference.result(timeout=300)
    assert victim.returncode == -signal.SIGKILL, "the run finished (or failed) before it could be killed"
    finished = {p.name for p in out.glob("night/.work/*/*/out-*.parquet")}
    chunks = len(list(out.glob("night/.work/*/*/in-*.parquet")))
    assert 2 <= len(finished) < chunks == 20
    assert not (out / "night" / "shop.manifest.json").exists()

    run_id, rerun = nightly_here(pf, out_dir=str(out), **params)
    assert rerun[0]["chunks"] == {"count": 20, "reused": len(finished)}
    assert sorted(p.name for p in (out / "night").iterdir()) == ["shop.manifest.json", "shop.parquet",
                                                                  "shop.review.csv"]
    for kind in ("cleaned", "review"):
        a, b = Path(ref[0]["outputs"][kind]["path"]), Path(rerun[0]["outputs"][kind]["path"])
        assert a != b and sha(a) == sha(b), kind
    arts = {a["key"]: a for a in api.artifacts(str(run_id))}
    assert {"nightly-clean-summary", "review-queue", "batch-map", "nightly-clean-progress"} <= set(arts)
    assert float(arts["nightly-clean-progress"]["data"]) == 100.0
    assert "600 of 600 orders cleaned" in arts["nightly-clean-progress"]["description"]
    reused = [t for t in api.task_runs(str(run_id)) if t["state"]["name"] == "Reused"]
    assert sorted(t["name"] for t in reused) == sorted(f"clean-shop.csv-{n[4:9]}" for n in finished)


def test_refresh_gazetteer_deployment(stack, tmp_path):
    """The weekly deployment, run now over a small sources file: a new gazetteer file appears
    whole (built on a copy, renamed into place), and the artifact says what was loaded."""
    api = stack["api"]
    demo = DATA
    sources = tmp_path / "sources.toml"
    sources.write_text(f'[[source]]\nkind = "tiger"\npath = "{demo / "01001_nominatim.csv"}"\n'
                       f'name = "tiger:us-al-autauga-01001"\n')
    db = tmp_path / "refresh.duckdb"
    dep = api.deployment("refresh-gazetteer", "weekly")
    params = {"sources": str(sources), "db": str(db), "with_zipcodes": False}
    run = api.call("POST", f"/deployments/{dep['id']}/create_flow_run", {"parameters": params})
    run = api.wait_run(lambda: api.run(run["id"]), {"COMPLETED"}, timeout=120)
    art = [a for a in api.artifacts(run["id"]) if a["key"] == "gazetteer-refresh"]
    assert art and "1 source(s) loaded, 0 unchanged" in art[0]["data"] and "`-` -> `" in art[0]["data"]
    assert "| segments | 6,213 |" in art[0]["data"]
    from addressing.gazetteer.store import info

    assert info(db)["tables"]["segments"] == 6213
    assert sorted(p.name for p in tmp_path.iterdir()) == ["refresh.duckdb", "refresh.duckdb.lock", "sources.toml"]


def test_delivery_event_keeps_reports_and_later_orders_use_them(stack, orders, tmp_path):
    """A nightly batch; routing reports three drops at one of its orders (`delivery.reported`,
    inline); the on-delivery run keeps them and says so; a later order of that address is
    placed at the drops."""
    pf, api, db = stack["pf"], stack["api"], stack["db"]
    day = tmp_path / "orders"
    day.mkdir()
    write_orders(day / "shop.csv", orders[200:260])
    _, manifests = nightly_here(pf, orders=str(day), db=str(db), out_dir=str(stack["out"]), batch_id="pod-night",
                                risk_policy=str(POLICY))
    rows = pq.read_table(manifests[0]["outputs"]["cleaned"]["path"]).to_pylist()
    home = next(r for r in rows if r["precision"] == "address_point" and r["action"] == "deliver")
    reports = [{"order_id": home["order_id"], "lat": home["lat"] + k * 1e-5, "lon": home["lon"] + 2e-4,
                "delivered_at": f"2026-12-0{k + 1}T17:00:00Z", "outcome": "delivered"} for k in range(3)]
    reports.append({"order_id": "not-ours", "lat": 1.0, "lon": 1.0, "delivered_at": "2026-12-01T10:00:00Z",
                    "outcome": "delivered"})
    with open(tmp_path / "pod.jsonl", "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in reports)
    r = cli(pf, "deliveries", "report", str(tmp_path / "pod.jsonl"), "--inline")
    assert r.returncode == 0, r.stderr
    dep = api.deployment("import-deliveries", "on-delivery")
    run = api.wait_run(lambda: (api.runs_of(dep["id"]) or [None])[0], {"COMPLETED"}, timeout=90)
    assert len(run["parameters"]["reports"]) == 4 and run["parameters"]["file"] is None
    [art] = [a for a in api.artifacts(run["id"]) if a["key"] == "deliveries-import"]
    assert "| 4 | 3 | 0 | 1 | 1 | 0 |" in art["data"] and "`not-ours`" in art["data"]
    assert home["line1"] not in art["data"]  # counts and order ids, never addresses
    from addressing.deliveries import store
    from addressing.gazetteer import open_gazetteer
    from addressing.pipeline import clean_order
    from addressing.risk import load_risk

    assert store.counts(stack["decisions"]) == {"delivered": 3}
    again = clean_order({"order_id": "next", "address": home["input"]}, open_gazetteer(db), load_risk(POLICY))
    assert again["precision"] == "delivery_point" and again["lon"] == pytest.approx(home["lon"] + 2e-4)
    # the next night's summary shows what the loop did, and the live accuracy against the drops
    run_id, _ = nightly_here(pf, orders=str(day), db=str(db), out_dir=str(stack["out"]), batch_id="pod-night-2",
                             risk_policy=str(POLICY))
    [summary] = [a for a in api.artifacts(str(run_id)) if a["key"] == "nightly-clean-summary"]
    same_home = sum(1 for r in rows if r["input"] == home["input"])
    assert "## Learning loop" in summary["data"]
    assert f"| placed at real drops (precision delivery_point) | {same_home:,} |" in summary["data"]
    assert "| address_point | 3 |" in summary["data"]  # our geocode to the three drops, by its precision
