"""Screenshots of the Prefect UI for the docs, from a real run: rerun it to refresh them.

Starts a local Prefect server (API + UI) in a temporary folder, builds the demo gazetteer
there, runs ``nightly-clean`` over 1,000 demo orders and ``clean-imported-orders`` over 40
(left paused for an operator's decisions), then drives headless Chromium over the DevTools
protocol (clicks the flow-run page's Artifacts tab, opens the Resume form) and writes:

    docs/flow-run-summary.png     the nightly-clean run page, Artifacts tab
    docs/summary-artifact.png     the run's markdown summary artifact
    docs/map-artifact.png         the map image artifact
    docs/review-form.png          a paused import run's decision form (Resume)

    .venv/bin/python docs/screenshot.py [--chromium chromium] [--out docs]

Needs Chromium (Debian: ``apt-get install chromium``).
"""

from __future__ import annotations

import argparse
import base64
import csv
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # localserver.py: the local Prefect server the tests use too
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from addressing.demo import DATA  # noqa: E402

POLICY = DATA / "risk.toml"
CHROME_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--hide-scrollbars", "--mute-audio"]


class Browser:
    """Just enough of the Chrome DevTools protocol: navigate, run JS, wait, screenshot."""

    def __init__(self, chromium: str, profile: Path, width: int = 1440, height: int = 1100):
        from localserver import free_port

        port = free_port()
        self.proc = subprocess.Popen([chromium, *CHROME_FLAGS, f"--user-data-dir={profile}",
                                      f"--remote-debugging-port={port}", f"--window-size={width},{height}",
                                      "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2) as r:
                    pages = [t for t in json.loads(r.read()) if t["type"] == "page"]
                if pages:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("chromium did not start its DevTools endpoint")
            time.sleep(0.2)
        from websockets.sync.client import connect

        self.ws = connect(pages[0]["webSocketDebuggerUrl"], max_size=64 * 2**20)
        self.ids = itertools.count(1)
        self.call("Page.enable")
        self.size(width, height)

    def call(self, method: str, **params):
        msg_id = next(self.ids)
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def js(self, expression: str):
        res = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return res.get("result", {}).get("value")

    def goto(self, url: str, ready_text: str, timeout: float = 60) -> None:
        self.call("Page.navigate", url=url)
        self.wait_text(ready_text, timeout)

    def wait_text(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.js(f"document.body && document.body.innerText.includes({json.dumps(text)})"):
                time.sleep(1.0)  # let charts and images settle
                return
            time.sleep(0.3)
        raise RuntimeError(f"page never showed {text!r}")

    def click_text(self, text: str, selector: str = "button, a, [role=tab], li") -> None:
        found = self.js(f"""(() => {{
            const el = [...document.querySelectorAll({json.dumps(selector)})]
                .find(e => e.innerText && e.innerText.trim() === {json.dumps(text)});
            if (el) {{ el.click(); return true; }} return false; }})()""")
        if not found:
            raise RuntimeError(f"nothing to click labelled {text!r}")

    def size(self, width: int, height: int) -> None:
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                  mobile=False)

    def list_view(self) -> None:
        """The grid/list toggle of the Artifacts tab (two icon buttons): pick the list."""
        if not self.js("""(() => { const b = document.querySelectorAll('.p-button-group__button');
                           if (b.length < 2) return false; b[1].click(); return true; })()"""):
            raise RuntimeError("no grid/list toggle on the Artifacts tab")

    def shot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        print(f"wrote {path}")

    def close(self) -> None:
        self.ws.close()
        self.proc.terminate()
        self.proc.wait(timeout=10)


def write_orders(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["order_id", "customer_id", "address", "address2"])
        w.writeheader()
        w.writerows(rows)
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Screenshots of the Prefect UI for the docs.")
    ap.add_argument("--chromium", default=shutil.which("chromium") or shutil.which("chromium-browser") or "chromium")
    ap.add_argument("--out", default=str(ROOT / "docs"))
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from localserver import LocalPrefect
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from addressing.demo.day import demo_orders
    from addressing.gazetteer import open_gazetteer
    from addressing.gazetteer.sources import read_sources_toml
    from addressing.gazetteer.store import build

    with tempfile.TemporaryDirectory(prefix="ui-shots-") as tmp:
        tmp = Path(tmp)
        db = tmp / "demo.duckdb"
        build(db, [s for s in read_sources_toml(DATA / "sources.toml") if s.kind != "geonames"])
        rows, _ = demo_orders(open_gazetteer(db), n=1040, seed=11)
        day = tmp / "orders"
        day.mkdir()
        write_orders(day / "webshop.csv", rows[:700])
        write_orders(day / "marketplace.csv", rows[700:1000])
        imported = write_orders(tmp / "import.csv", rows[1000:])
        with LocalPrefect(home=tmp / "prefect-home") as pf, temporary_settings({PREFECT_API_URL: pf.api_url}):
            from flows.clean_imported_orders import clean_imported_orders
            from flows.nightly_clean import nightly_clean

            state = nightly_clean(orders=str(day), db=str(db), out_dir=str(tmp / "out"), batch_id="2026-11-24",
                                  risk_policy=str(POLICY), chunk_rows=250, return_state=True)
            nightly_id = state.state_details.flow_run_id
            def run_import() -> None:
                with temporary_settings({PREFECT_API_URL: pf.api_url}):  # settings do not follow threads
                    clean_imported_orders(file=str(imported), db=str(db), out_dir=str(tmp / "out"),
                                          risk_policy=str(POLICY), review_timeout_s=900)

            importer = threading.Thread(target=run_import, daemon=True)
            importer.start()
            browser = Browser(args.chromium, tmp / "chromium")
            try:
                browser.goto(f"{pf.ui_url}/runs/flow-run/{nightly_id}", "Artifacts")
                browser.click_text("Artifacts")
                browser.wait_text("nightly-clean-summary")
                browser.list_view()  # artifacts as rows, with their descriptions in full
                browser.wait_text("match rate")
                browser.shot(out / "flow-run-summary.png")
                arts = _api(pf.api_url, "/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [str(nightly_id)]}}})
                by_key = {a["key"]: a["id"] for a in arts}
                browser.size(1440, 2300)
                browser.goto(f"{pf.ui_url}/artifacts/artifact/{by_key['nightly-clean-summary']}", "match rate")
                browser.shot(out / "summary-artifact.png")
                browser.size(1440, 1100)
                browser.goto(f"{pf.ui_url}/artifacts/artifact/{by_key['batch-map']}", "Image URL")
                browser.shot(out / "map-artifact.png")
                paused = _wait_paused(pf.api_url)
                browser.goto(f"{pf.ui_url}/runs/flow-run/{paused}", "Resume")
                browser.click_text("Resume")
                browser.wait_text("page 1 of")
                browser.shot(out / "review-form.png")
            finally:
                browser.close()
            from prefect.flow_runs import resume_flow_run

            _resume_all_hold(pf.api_url, paused, resume_flow_run)
            importer.join(timeout=120)
    return 0


def _api(url: str, path: str, body: dict | None = None):
    req = urllib.request.Request(url + path, data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"}, method="POST" if body else "GET")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def _wait_paused(url: str, timeout: float = 180) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = _api(url, "/flow_runs/filter", {"flow_runs": {"state": {"type": {"any_": ["PAUSED"]}}}})
        if runs:
            return runs[0]["id"]
        time.sleep(0.5)
    raise RuntimeError("the import run never paused for decisions")


def _resume_all_hold(url: str, run_id: str, resume) -> None:
    """Answer every page with the defaults (hold), so the run finishes before the server stops."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        run = _api(url, f"/flow_runs/{run_id}")
        if run["state"]["type"] != "PAUSED":
            if run["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED"):
                return
            time.sleep(0.3)
            continue
        keyset = run["state"]["state_details"]["run_input_keyset"]
        schema = _api(url, f"/flow_runs/{run_id}/input/{keyset['schema']}")
        resume(run_id, run_input={k: {"decision": "hold", "address": ""} for k in schema["properties"]})
        time.sleep(1)


if __name__ == "__main__":
    sys.exit(main())
