"""The parts of the flows that need no server: operator decisions, the import event and its
command (``addressing-flows orders import``), retries. (That ``addressing/`` never imports
Prefect: tests/test_layering.py.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from addressing import decisions as review
from addressing.errors import GazetteerError, GazetteerReadError, InputError, LockHeldError, OutputError
from flows.common import is_transient
from flows.events import MAX_INLINE_ROWS, default_batch_id, order_imported_event

PROJECT = Path(__file__).resolve().parents[2]
ADDRESSES = {
    "good": "7 Octavia St, San Francisco, CA 94102",
    "pobox": "PO Box 123, Prattville AL 36067",
    "nowhere": "99999 Nowhere Blvd, San Francisco CA 94102",
    "nounit": "650 Turk St, San Francisco CA 94102",
    "junk": "asdf qwer",
}


@pytest.fixture(scope="module")
def chunks(gaz, risk_ctx):
    """Two cleaned chunks, as batch.clean_chunk leaves them (with the hidden key columns)."""
    from addressing.pipeline import clean_table

    names = list(ADDRESSES)
    raw = pa.table({"order_id": names, "customer_id": [f"c-{n}" for n in names],
                    "address": [ADDRESSES[n] for n in names]})
    t = clean_table(raw, gaz, risk_ctx, with_keys=True)
    return [t.slice(0, 2), t.slice(2)]


def by_id(tables: list[pa.Table]) -> dict[str, dict]:
    return {r["order_id"]: r for t in tables for r in t.to_pylist()}


def test_review_items_are_the_orders_not_delivered_hold_first(chunks):
    items = review.review_items(chunks)
    rows = by_id(chunks)
    assert {i.order_id for i in items} == {k for k, r in rows.items() if r["action"] != "deliver"}
    assert "good" not in {i.order_id for i in items}
    actions = [i.action for i in items]
    assert actions == sorted(actions, key=lambda a: a != "hold")
    for i in items:
        assert chunks[i.chunk].column("order_id")[i.row].as_py() == i.order_id


def test_accept_edit_hold(chunks, gaz, risk_ctx):
    items = review.review_items(chunks)
    want = {"pobox": ("accept", ""), "nowhere": ("edit", ADDRESSES["good"]), "junk": ("edit", "asdf qwer"),
            "nounit": ("edit", "zzzz")}
    answers = [want.get(i.order_id, ("hold", "")) for i in items]
    tables, log = review.apply_decisions(chunks, items, answers, gaz, risk_ctx)
    rows = by_id(tables)
    assert [t.num_rows for t in tables] == [t.num_rows for t in chunks]
    assert rows["good"] == by_id(chunks)["good"]
    assert rows["pobox"]["action"] == "deliver" and "accepted by operator" in rows["pobox"]["risk_reasons"]
    assert "po_box" in rows["pobox"]["risk_flags"]  # the facts stay on record
    edited = rows["nowhere"]
    assert edited["action"] == "deliver" and edited["line1"] == "7 OCTAVIA ST"
    assert edited["input"] == ADDRESSES["nowhere"] and any("edited to" in n for n in edited["notes"])
    assert rows["nounit"]["action"] == "hold" and any("still needs review" in r for r in rows["nounit"]["risk_reasons"])
    assert rows["junk"]["action"] == "hold"  # an "edit" that changed nothing is a hold
    logged = {e["order_id"]: e for e in log}
    assert logged["junk"]["decision"] == "hold" and logged["nowhere"]["now"] == "deliver"
    assert review.decision_counts(log) == {"accept": 1, "edit -> deliver": 1, "edit -> hold": 1, "hold": 1}
    # applying the same decisions to the decided chunks changes nothing more
    again, _ = review.apply_decisions(tables, items, answers, gaz, risk_ctx)
    assert by_id(again) == rows


def test_decisions_must_match_items(chunks, risk_ctx):
    items = review.review_items(chunks)
    with pytest.raises(ValueError):
        review.apply_decisions(chunks, items, [("hold", "")] * (len(items) + 1), None, risk_ctx)
    with pytest.raises(ValueError, match="gazetteer"):
        review.apply_decisions(chunks, items, [("edit", "1 Main St")] * len(items), None, risk_ctx)


def test_review_form_defaults_to_hold(chunks):
    import dataclasses
    import time

    from flows.clean_imported_orders import review_form

    items = [dataclasses.asdict(i) for i in review.review_items(chunks)]
    form = review_form(items, 1, 1, time.time() + 60, "b1")
    schema = form.model_json_schema()
    assert len(schema["properties"]) == len(items) + 1  # one per order, and who decides
    assert form().operator == "operator" and form().order_1.reason == ""
    first = schema["properties"]["order_1"]
    assert first["title"].startswith(f"{items[0]['order_id']}: ")
    assert form().order_1.decision == "hold" and form().order_1.address == items[0]["suggestion"]
    assert "page 1 of 1" in form._description


def test_import_event_for_a_file(tmp_path):
    src = tmp_path / "shop.csv"
    src.write_text("order_id,address\n1,7 Octavia St, San Francisco CA 94102\n")
    ev = order_imported_event(src)
    assert ev.event == "order.imported" and ev.payload["file"] == str(src.resolve())
    assert ev.resource["prefect.resource.id"] == "order.import." + ev.payload["batch_id"]
    assert ev.payload["batch_id"] == default_batch_id(src) == order_imported_event(src).payload["batch_id"]
    copy = tmp_path / "shop2.csv"
    copy.write_text(src.read_text() + "2,1 Main St\n")
    assert default_batch_id(copy) != default_batch_id(src)
    assert order_imported_event(src, batch_id="b7").payload["batch_id"] == "b7"


def test_import_event_refuses_bad_requests(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        order_imported_event(tmp_path / "none.csv")
    (tmp_path / "x.xlsx").write_text("x")
    with pytest.raises(InputError, match="unknown input format"):
        order_imported_event(tmp_path / "x.xlsx")
    with pytest.raises(InputError, match="either a file or"):
        order_imported_event()
    for bad in ("../etc", "a/b", ".hidden", "x" * 200, "a..b", "-rf"):
        with pytest.raises(InputError, match="batch id"):
            order_imported_event(orders=[{"order_id": "1"}], batch_id=bad)
    rows = [{"order_id": str(i), "address": "1 Main St"} for i in range(MAX_INLINE_ROWS + 1)]
    with pytest.raises(InputError, match="too many"):
        order_imported_event(orders=rows)
    assert order_imported_event(orders=rows[:3]).payload["orders"] == rows[:3]


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    import os

    e = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "flows", *args], capture_output=True, text=True, env=e,
                          cwd=PROJECT, timeout=120)


@pytest.mark.slow
def test_cli_orders_import_dry_run_and_errors(tmp_path):
    src = tmp_path / "shop.csv"
    src.write_text("order_id,address\n1,7 Octavia St, San Francisco CA 94102\n2,1 Main St\n")
    r = cli("orders", "import", str(src), "--dry-run", "--inline", "--review-timeout", "0")
    assert r.returncode == 0, r.stderr
    ev = json.loads(r.stdout)
    assert [o["order_id"] for o in ev["payload"]["orders"]] == ["1", "2"] and ev["payload"]["review_timeout_s"] == 0
    r = cli("orders", "import", str(src), "--dry-run", "--batch-id", "shop-monday")
    assert r.returncode == 0, r.stderr
    ev = json.loads(r.stdout)
    assert ev["payload"] == {"file": str(src.resolve()), "batch_id": "shop-monday"}
    r = cli("orders", "import", str(src), "--dry-run", "--batch-id", "../up")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "batch id" in r.stderr
    r = cli("orders", "import", str(src), env={"PREFECT_HOME": str(tmp_path / "home")})
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "PREFECT_API_URL" in r.stderr
    r = cli("orders", "import", str(src), env={"PREFECT_API_URL": "http://127.0.0.1:9/api"})
    assert r.returncode == 2 and "does not answer" in r.stderr
    r = cli("orders", "import", str(tmp_path / "none.csv"))
    assert r.returncode == 2 and "no such file" in r.stderr


@pytest.mark.parametrize("exc, retry", [
    (OSError(5, "I/O error"), True),
    (TimeoutError(), True),
    (LockHeldError("another run is writing this batch (lock .o.lock held); wait for it to finish", "o"), True),
    (LockHeldError("another build of this gazetteer is running (lock held)", "g.duckdb.lock"), True),
    (GazetteerReadError("query failed (IO Error: could not read block)", "g.duckdb"), True),
    (GazetteerError("query failed (Catalog Error: Table with name streets does not exist!)", "g.duckdb"), False),
    # the type decides, not the words
    (OutputError("out.parquet: an I/O error, the lock held"), False),
    (InputError("no such file", "x.csv"), False),
    (ValueError("bad"), False),
    (None, False),
])
def test_only_transient_errors_are_retried(exc, retry):
    assert is_transient(exc) is retry
