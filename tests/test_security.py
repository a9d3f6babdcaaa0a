"""Hostile input and careless deployment: SQL injection, spreadsheet formulas, paths out of
the output folder, addresses in logs, redaction, and an authenticated Prefect server."""

from __future__ import annotations

import csv
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest
from reliability_data import DEMO, sf_orders, write_csv

from addressing.batch import clean_file
from addressing.cli import main
from addressing.errors import OutputError
from addressing.gazetteer import info
from addressing.gazetteer.sources import read_sources_toml
from addressing.gazetteer.store import build

INJECTIONS = [
    "1 Main St'; DROP TABLE streets; --, Prattville, AL 36067",
    '7 Octavia St" OR 1=1 --, San Francisco, CA 94102',
    "Robert'); DELETE FROM sources; --",
    "650 Turk St'; ATTACH '/tmp/pwned.duckdb' AS x; --, San Francisco, CA 94102",
    "1047 Spring St' UNION SELECT * FROM meta --, Prattville, AL 36067",
    "%' OR '%'='%, San Francisco, CA 94102",
    "1 Main St\\'; COPY streets TO '/tmp/pwned.csv'; --",
    "1 $1 St, ?, CA 94102",
]


def cli(capfd, *args: str) -> tuple[int, str]:
    rc = main(list(args))
    err = capfd.readouterr().err
    assert "Traceback" not in err and "internal error" not in err, err
    return rc, err.strip()


def test_injection_looking_addresses_and_file_names(tmp_path, demo_db, capfd):
    db = tmp_path / "gaz" / "g.duckdb"
    db.parent.mkdir()
    shutil.copyfile(demo_db, db)
    before = info(db)["tables"]
    folder = tmp_path / "in'; DROP TABLE meta; --"
    src = write_csv(folder / "o\"; DELETE FROM sources; --*.csv",
                    [[f"I{i}", a, "c", "", ""] for i, a in enumerate(INJECTIONS)])
    out = tmp_path / "out*'; DROP TABLE x; --" / "o'[1]?.parquet"
    # a glob-looking sibling folder must not be read as part of this batch
    decoy = tmp_path / "out-decoy'; DROP TABLE x; --"
    decoy.mkdir()
    rc, err = cli(capfd, "clean", str(src), "-o", str(out), "--db", str(db))
    assert rc == 0, err
    t = pq.read_table(out)
    assert t.column("order_id").to_pylist() == [f"I{i}" for i in range(len(INJECTIONS))]
    assert t.column("input").to_pylist() == INJECTIONS
    m = json.loads(out.with_name("o'[1]?.manifest.json").read_text())
    assert m["order_ids"]["rows"] == len(INJECTIONS) and m["order_ids"]["duplicated"] == 0
    assert info(db)["tables"] == before
    assert not Path("/tmp/pwned.csv").exists() and not Path("/tmp/pwned.duckdb").exists()


def test_injection_looking_source_file_names_in_a_build(tmp_path):
    name = "sf'; DROP TABLE sources; --\".csv"
    sub = tmp_path / name
    with open(DEMO / "sf_eas_addresses_with_units.csv") as f:
        sub.write_text("".join(line for _, line in zip(range(300), f)))
    spec = (DEMO / "sources.toml").read_text().split("[[source]]")[1]
    spec = spec.replace('path = "sf_eas_addresses_with_units.csv"', f"path = '''{sub}'''")
    spec = spec.replace('name = "oa:us-ca-san_francisco-eas"', "name = \"oa:x'); DELETE FROM meta; --\"")
    toml = tmp_path / "s.toml"
    toml.write_text("[[source]]" + spec)
    db = tmp_path / "g.duckdb"
    build(db, read_sources_toml(toml), with_zipcodes=False)
    data = info(db)
    assert [s["source_name"] for s in data["sources"]] == ["oa:x'); DELETE FROM meta; --"]
    assert data["sources"][0]["path"] == str(sub) and data["version"]
    assert data["tables"]["address_points"] > 0


FORMULAS = {"=HYPERLINK(\"http://evil\",\"x\")": True, "+1+1": True, "-2+3": True, "@SUM(A1:A9)": True,
            "\t=1": True, "\r=1": True, "-5": False, "-12.5": False, "plain": False, "": False}


def test_csv_output_neutralizes_formulas(tmp_path, demo_db, capfd):
    cells = list(FORMULAS)
    rows = [[f"F{i}", "7 Octavia St, San Francisco, CA 94102", "c", cell, ""] for i, cell in enumerate(cells)]
    rows.append(["=cmd|' /C calc'!A0", "=HYPERLINK(\"http://evil\")", "c", "x", ""])
    src = write_csv(tmp_path / "o.csv", rows, header=["order_id", "address", "customer_id", "=evil()", "notes"])
    out = tmp_path / "out" / "o.csv"
    rc, err = cli(capfd, "clean", str(src), "-o", str(out), "--db", str(demo_db), "--format", "csv")
    assert rc == 0, err
    with open(out, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        got = list(reader)
    assert "'=evil()" in header
    memo = header.index("'=evil()")
    for row, cell in zip(got, cells):
        assert row[memo] == ("'" + cell if FORMULAS[cell] else cell), (cell, row[memo])
    assert got[-1][0] == "'=cmd|' /C calc'!A0"
    for row in got:  # no cell anywhere starts a formula
        assert not any(c[:1] in ("=", "+", "@", "\t", "\r") for c in row), row
    with open(out.with_name("o.review.csv"), newline="", encoding="utf-8") as f:
        review = list(csv.DictReader(f))
    bad = [r for r in review if r["order_id"].startswith("'=cmd")]
    assert bad and bad[0]["input"] == "'=HYPERLINK(\"http://evil\")"


def test_glob_characters_in_paths_do_not_pull_in_other_batches(tmp_path, demo_db):
    """DuckDB's read_parquet expands ``*`` in paths; the batch-wide queries must not use it."""
    from addressing.batch import chunk_columns, order_id_report, split_input

    src = write_csv(tmp_path / "o.csv", sf_orders(8, seed=5))
    plans = {}
    for folder in ("out*", "out-other"):
        plan = split_input(src, tmp_path / folder, demo_db, 100)
        from addressing.batch import clean_chunk

        clean_chunk(plan.chunks[0], plan.outputs()[0], demo_db)
        plans[folder] = plan
    outs = plans["out*"].outputs()
    assert chunk_columns(outs, ["order_id"]).num_rows == 8
    assert order_id_report(outs)["rows"] == 8


def test_output_paths_cannot_escape_the_output_root(tmp_path, demo_db, capfd, monkeypatch):
    src = write_csv(tmp_path / "o.csv", sf_orders(3, seed=1))
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "link").symlink_to(outside, target_is_directory=True)
    (root / "file-link.parquet").symlink_to(outside / "victim.parquet")
    monkeypatch.chdir(root)
    refused = [
        (["-o", "../outside/x.parquet"], "outside the output root"),  # relative: the current folder is the root
        (["-o", "a/../../outside/x.parquet"], "outside the output root"),
        (["-o", "link/x.parquet"], "symlink leads out"),
        (["-o", "file-link.parquet"], "symlink leads out"),
        (["-o", str(outside / "x.parquet"), "--output-root", str(root)], "outside the output root"),
        (["-o", "x.parquet", "--output-root", str(root / "link")], None),  # the root itself may be a link
    ]
    for args, words in refused:
        rc, err = cli(capfd, "clean", str(src), "--db", str(demo_db), *args)
        if words is None:
            assert rc == 0, err
            continue
        assert rc == 2 and len(err.splitlines()) == 1 and words in err, (args, err)
    assert sorted(p.name for p in outside.iterdir()) == ["x.manifest.json", "x.parquet", "x.review.csv"]
    for p in outside.iterdir():
        p.unlink()
    monkeypatch.setenv("ADDRESSING_OUTPUT_ROOT", str(root / "sub"))
    rc, err = cli(capfd, "clean", str(src), "--db", str(demo_db), "-o", str(root / "x.parquet"))
    assert rc == 2 and "outside the output root" in err
    rc, err = cli(capfd, "clean", str(src), "--db", str(demo_db), "-o", "y.parquet")
    assert rc == 0 and (root / "sub" / "y.parquet").exists(), err
    # the work folder and the lock are inside the root too: a planted .work link is refused
    (root / "sub" / ".work").symlink_to(outside, target_is_directory=True)
    with pytest.raises(OutputError, match="symlink leads out"):
        clean_file(src, root / "sub" / "z.parquet", demo_db, output_root=root / "sub")
    assert list(outside.iterdir()) == []


def test_addresses_reach_logs_only_at_debug(tmp_path, demo_db):
    rows = sf_orders(12, seed=2)
    rows[4][1] = "1 Qwertyuiop St, San Francisco, CA 94102"  # unmatched: logged with its text at DEBUG
    src = write_csv(tmp_path / "o.csv", rows)
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    handler = Keep(level=logging.DEBUG)
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        clean_file(src, tmp_path / "out" / "o.parquet", demo_db, risk_policy=DEMO / "risk.toml", chunk_rows=5)
    finally:
        root.removeHandler(handler)
        root.setLevel(old)
    texts = [r[1] for r in rows if r[1]]
    streets = [t.split(",")[0] for t in texts]

    def leaks(rec: logging.LogRecord) -> list[str]:
        msg = rec.getMessage()
        return [s for s in streets if s in msg or s.upper() in msg]

    assert any(leaks(r) for r in records if r.levelno == logging.DEBUG), "the test saw no DEBUG address at all"
    loud = [(r.levelname, r.getMessage()) for r in records if r.levelno > logging.DEBUG and leaks(r)]
    assert loud == []
    assert any(r.levelno == logging.INFO and r.name.startswith("addressing.batch.") for r in records)


def test_cli_stderr_at_info_has_no_addresses(tmp_path, demo_db):
    rows = sf_orders(8, seed=3)
    src = write_csv(tmp_path / "o.csv", rows)
    r = subprocess.run([sys.executable, "-m", "addressing.cli", "clean", str(src), "-o", str(tmp_path / "o.parquet"),
                        "--db", str(demo_db)], capture_output=True, text=True,
                       env={**os.environ, "ADDRESSING_LOG": "INFO"})
    assert r.returncode == 0, r.stderr
    assert "chunk in-00000.parquet" in r.stderr or "chunk out-00000.parquet" in r.stderr
    for row in rows:
        if row[1]:
            assert row[1].split(",")[0] not in r.stderr


def test_redact_blanks_addresses_in_the_review_queue(tmp_path, demo_db, capfd):
    rows = sf_orders(30, seed=4)
    src = write_csv(tmp_path / "o.csv", rows)
    out = tmp_path / "out" / "o.parquet"
    rc, err = cli(capfd, "clean", str(src), "-o", str(out), "--db", str(demo_db), "--redact",
                  "--risk-policy", str(DEMO / "risk.toml"))
    assert rc == 0, err
    text = out.with_name("o.review.csv").read_text()
    with open(out.with_name("o.review.csv"), newline="") as f:
        review = list(csv.DictReader(f))
    assert review, "the demo policy sends some of these orders to review"
    for r in review:
        assert r["input"] in ("[redacted]", "") and r["line1"] in ("[redacted]", "")
    for row in rows:
        if row[1]:
            assert row[1].split(",")[0].upper() not in text.upper()
    assert pq.read_table(out).column("input").to_pylist()[0] == rows[0][1]  # the batch itself keeps them
    assert json.loads(out.with_name("o.manifest.json").read_text())["outputs"]["review"]["redacted"] is True


def test_flow_review_artifact_rows_redact(tmp_path, demo_db):
    import pyarrow.csv as pacsv

    from addressing.report import review_rows

    src = write_csv(tmp_path / "o.csv", sf_orders(30, seed=4))
    clean_file(src, tmp_path / "o.parquet", demo_db, risk_policy=DEMO / "risk.toml")
    review = pacsv.read_csv(tmp_path / "o.review.csv")
    plain, red = review_rows(review, redact=False), review_rows(review, redact=True)
    assert plain and len(plain) == len(red)
    assert all(r["address"] == "[redacted]" for r in red) and any(r["address"] != "[redacted]" for r in plain)


# ----------------------------------------------------------------------------- Prefect server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    """A real ``prefect server start`` that requires PREFECT_SERVER_API_AUTH_STRING."""
    home = tmp_path_factory.mktemp("prefect-home")
    port = _free_port()
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_API_AUTH_STRING": "ops:correct-horse",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
    env.pop("PREFECT_API_URL", None)
    env.pop("PREFECT_API_AUTH_STRING", None)
    log = open(home / "server.log", "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port",
                             str(port), "--no-services", "--no-ui"], env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"prefect server did not start: {(home / 'server.log').read_text()[-2000:]}")
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@pytest.mark.server
def test_prefect_server_refuses_unauthenticated_clients(auth_server):
    api = f"{auth_server}/api/flows/filter"
    assert httpx.post(api, json={}).status_code == 401
    assert httpx.post(api, json={}, auth=("ops", "wrong")).status_code == 401
    assert httpx.post(api, json={}, auth=("ops", "correct-horse")).status_code == 200


_CLIENT = """
import asyncio
from prefect.client.orchestration import get_client

async def main():
    async with get_client() as c:
        try:
            await c.read_flows()
            print("allowed")
        except Exception as exc:
            print("refused", getattr(getattr(exc, "response", None), "status_code", type(exc).__name__))

asyncio.run(main())
"""


@pytest.mark.server
def test_prefect_client_needs_the_auth_string(auth_server, tmp_path):
    env = {**os.environ, "PREFECT_API_URL": f"{auth_server}/api", "PREFECT_HOME": str(tmp_path),
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
    env.pop("PREFECT_API_AUTH_STRING", None)
    r = subprocess.run([sys.executable, "-c", _CLIENT], env=env, capture_output=True, text=True, timeout=120)
    assert r.stdout.strip() == "refused 401", r.stdout + r.stderr
    env["PREFECT_API_AUTH_STRING"] = "ops:correct-horse"
    r = subprocess.run([sys.executable, "-c", _CLIENT], env=env, capture_output=True, text=True, timeout=120)
    assert r.stdout.strip() == "allowed", r.stdout + r.stderr
