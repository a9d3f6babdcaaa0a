"""Operator decisions kept and honoured (addressing/confirmations): the input's key, the store
(append, revoke, list, purge, erase, readers beside a writer), the pipeline hook on both match
paths, a refresh that contradicts a confirmation, the review form and the review CSV in bulk."""

from __future__ import annotations

import csv
import datetime as dt
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow as pa
import pytest

from addressing import decisions as review
from addressing.confirmations import honour, keys, privacy, record, store
from addressing.errors import DecisionStoreError, InputError, LockHeldError
from addressing.parse import parse
from addressing.pipeline import clean_order, clean_table

PROJECT = Path(__file__).resolve().parents[2]
NO_UNIT = "650 Turk St, San Francisco CA 94102"          # review: missing unit, low confidence
NO_UNIT_AGAIN = "650  TURK STREET san francisco, ca. 94102"
GOOD = "7 Octavia St, San Francisco, CA 94102"           # deliver
NOWHERE = "99999 Nowhere Blvd, San Francisco CA 94102"   # hold: no such street


@pytest.fixture
def store_file(tmp_path, monkeypatch) -> Path:
    """A store of this test's own (never one beside the session's shared gazetteer)."""
    path = tmp_path / "decisions.duckdb"
    monkeypatch.setenv(store.STORE_ENV, str(path))
    return path


def decide(path: Path, text: str, row: dict, decision: str = "accept", **kw) -> str:
    """Keep ``decision`` on ``text`` with ``row`` (a cleaned output record) as its result."""
    action = kw.pop("action", "hold" if decision == "hold" else "deliver")
    [key] = record.input_keys([text], [None])
    rec = store.Record(kind="decision", operator=kw.pop("operator", "ann"), decision=decision, action=action,
                       batch_id="b1", order_id="o1", input=text, input_key=key,
                       accepted_flags=list(row["risk_flags"]), result={f: row.get(f) for f in store.RESULT_FIELDS},
                       **kw)
    [cid] = store.append(path, [rec])
    return cid


def test_input_key_folds_spellings_not_components():
    key = keys.input_key(parse(NO_UNIT))
    assert key == keys.input_key(parse(NO_UNIT_AGAIN)) == keys.input_key(parse("650 turk st san francisco ca 94102-1234"))
    assert keys.input_key(parse("650 Turk St Apt 3, San Francisco CA 94102")) == keys.input_key(
        parse("650 TURK ST #3 SAN FRANCISCO CA 94102"))
    for other in ("650 Turk St Apt 3, San Francisco CA 94102", "652 Turk St, San Francisco CA 94102",
                  "650 Turk Ave, San Francisco CA 94102", "650 Turk St, San Francisco CA 94109", "650 Turk St"):
        assert keys.input_key(parse(other)) != key, other
    assert keys.input_key(parse("")) is None and keys.input_key(parse("asdf qwer")) is None
    assert len(keys.digest(key)) == keys.DIGEST_CHARS and "TURK" not in keys.digest(key)


def test_store_appends_revokes_and_lists(store_file, gaz, risk_ctx):
    row = clean_order({"order_id": "1", "address": NO_UNIT}, gaz, risk_ctx)
    first = decide(store_file, NO_UNIT, row)
    assert decide(store_file, NO_UNIT, row) == first  # the same answer again is not a second row
    second = decide(store_file, NO_UNIT_AGAIN, row, "hold", reason="fraud ring")  # same key: supersedes
    [(key, live)] = store.answers(store_file).items()
    assert live["id"] == second and key == keys.input_key(parse(NO_UNIT))
    store.revoke(store_file, second, "bob", "mistake")
    assert store.answers(store_file)[key]["id"] == first  # the one before answers again
    with pytest.raises(DecisionStoreError, match="already revoked"):
        store.revoke(store_file, second, "bob")
    with pytest.raises(DecisionStoreError, match="no decision 'c-nope'"):
        store.revoke(store_file, "c-nope", "bob")
    listed = store.rows(store_file)
    assert [r["kind"] for r in listed] == ["decision", "decision", "revocation"]
    assert listed[1]["revoked_by"] == listed[2]["id"] and listed[2]["revokes"] == second
    assert not listed[0]["superseded"] and listed[0]["accepted_flags"] == row["risk_flags"]
    assert store.rows(store_file, "other-batch") == []


def test_a_confirmation_answers_a_single_order(store_file, gaz, risk_ctx):
    before = clean_order({"order_id": "1", "address": NO_UNIT}, gaz, risk_ctx)
    assert before["action"] == "review" and "missing_unit" in before["risk_flags"] and before["confirmation"] is None
    cid = decide(store_file, NO_UNIT, before)
    after = clean_order({"order_id": "2", "address": NO_UNIT_AGAIN}, gaz, risk_ctx)
    assert (after["match_status"], after["action"], after["confirmation"]) == ("matched", "deliver", cid)
    assert after["corrections"] == ["operator_confirmed"] and after["line1"] == before["line1"]
    assert (after["lat"], after["lon"], after["precision"]) == (before["lat"], before["lon"], before["precision"])
    assert after["risk_flags"] == before["risk_flags"] and after["risk_level"] == "none"  # kept, not counted
    # another unit of the same building is another input
    other = clean_order({"order_id": "3", "address": "650 Turk St Apt 9, San Francisco CA 94102"}, gaz, risk_ctx)
    assert other["confirmation"] is None
    store.revoke(store_file, cid, "bob")
    revoked = clean_order({"order_id": "4", "address": NO_UNIT_AGAIN}, gaz, risk_ctx)
    assert revoked["confirmation"] is None and revoked["action"] == "review" and revoked["corrections"] == []


def test_a_flag_the_operator_did_not_see_still_counts(store_file, gaz, risk_ctx):
    before = clean_order({"order_id": "1", "address": NO_UNIT}, gaz, risk_ctx)
    seen = [f for f in before["risk_flags"] if f != "missing_unit"]
    decide(store_file, NO_UNIT, {**before, "risk_flags": seen})
    after = clean_order({"order_id": "2", "address": NO_UNIT}, gaz, risk_ctx)
    assert after["confirmation"] is not None and after["action"] == "review" and after["risk_level"] == "medium"


def test_an_accepted_shared_address_is_left_out_of_the_batch_count(store_file, gaz, risk_ctx):
    from addressing import io as aio

    raw = pa.table({"order_id": ["1", "2", "3"], "customer_id": ["a", "b", "c"], "address": [GOOD] * 3})
    plain = clean_table(raw, gaz, risk_ctx, with_keys=True)
    assert plain.column(aio.ADDRESS_KEY).null_count == 0  # counted: three customers, one address
    row = plain.slice(0, 1).to_pylist()[0]
    decide(store_file, GOOD, {**row, "risk_flags": ["shared_address"]})
    decided = clean_table(raw, gaz, risk_ctx, with_keys=True)
    assert decided.column(aio.ADDRESS_KEY).null_count == 3
    assert decided.column("confirmation").null_count == 0


def test_a_confirmation_answers_on_the_batch_sql_path(store_file, gaz, risk_ctx, monkeypatch):
    from addressing.match import stage

    used = []
    real = stage.backend_for
    monkeypatch.setattr(stage, "backend_for", lambda g, n: used.append(type(real(g, n)).__name__) or real(g, n))
    cid = decide(store_file, NO_UNIT, clean_order({"order_id": "1", "address": NO_UNIT}, gaz, risk_ctx))
    texts = [f"{n} Octavia St, San Francisco CA 94102" for n in range(1, 140, 2)] + [NO_UNIT_AGAIN, NO_UNIT]
    out = clean_table(pa.table({"order_id": [str(i) for i in range(len(texts))], "address": texts}), gaz, risk_ctx)
    assert "SqlBackend" in used
    rows = out.to_pylist()
    assert [r["confirmation"] for r in rows[-2:]] == [cid, cid]
    assert all(r["action"] == "deliver" and r["corrections"] == ["operator_confirmed"] for r in rows[-2:])
    assert not any(r["confirmation"] for r in rows[:-2])


def test_a_held_address_is_held_again_with_the_reason(store_file, gaz, risk_ctx):
    good = clean_order({"order_id": "1", "address": GOOD}, gaz, risk_ctx)
    assert good["action"] == "deliver"
    cid = decide(store_file, GOOD, good, "hold", reason="chargebacks from this address")
    again = clean_order({"order_id": "2", "address": GOOD.upper()}, gaz, risk_ctx)
    assert (again["action"], again["risk_level"], again["confirmation"]) == ("hold", "high", cid)
    assert again["risk_flags"][0] == "operator_hold"
    assert "chargebacks from this address" in again["risk_reasons"][0] and "ann" in again["risk_reasons"][0]


def test_an_edit_that_did_not_validate_answers_nothing(store_file, gaz, risk_ctx):
    row = clean_order({"order_id": "1", "address": NOWHERE}, gaz, risk_ctx)
    decide(store_file, NOWHERE, row, "edit", action="hold")
    again = clean_order({"order_id": "2", "address": NOWHERE}, gaz, risk_ctx)
    assert again["confirmation"] is None and again["action"] == row["action"]


def test_decisions_older_than_retention_answer_nothing(store_file, gaz, risk_ctx):
    row = clean_order({"order_id": "1", "address": NO_UNIT}, gaz, risk_ctx)
    old = store.now() - dt.timedelta(days=risk_ctx.policy.retention_days + 1)
    decide(store_file, NO_UNIT, row, decided_at=old)
    assert clean_order({"order_id": "2", "address": NO_UNIT}, gaz, risk_ctx)["confirmation"] is None


OA_HEADER = "LON,LAT,NUMBER,STREET,UNIT,CITY,DISTRICT,REGION,POSTCODE,ID,HASH\n"


def oa_file(path: Path, street: str) -> Path:
    """Six real-looking points along one San Francisco street (a small source to refresh)."""
    rows = [f"{-122.4300 + 0.0002 * k:.6f},37.780000,{100 + 2 * k},{street},,SAN FRANCISCO,,CA,94115,,\n"
            for k in range(6)]
    path.write_text(OA_HEADER + "".join(rows))
    return path


def test_a_refresh_that_loses_the_confirmed_address_sends_it_to_review(store_file, tmp_path, risk_ctx):
    from addressing.gazetteer import open_gazetteer
    from addressing.gazetteer.store import SourceSpec, build

    db = tmp_path / "small.duckdb"
    src = tmp_path / "points.csv"
    build(db, [SourceSpec("openaddresses", oa_file(src, "Larkspur Lane"), name="points")], with_zipcodes=False)
    text = "104 Larkspur Ln, San Francisco CA 94115"
    first = clean_order({"order_id": "1", "address": text}, open_gazetteer(db), risk_ctx)
    assert first["match_status"] == "matched" and first["precision"] == "address_point"
    cid = decide(store_file, text, first)
    assert clean_order({"order_id": "2", "address": text}, open_gazetteer(db), risk_ctx)["confirmation"] == cid
    # the refreshed source renamed the street: the confirmed address is no longer in the gazetteer
    build(db, [SourceSpec("openaddresses", oa_file(src, "Juniper Court"), name="points")], with_zipcodes=False)
    gaz = open_gazetteer(db)
    assert gaz.version != first["gazetteer_version"]
    now = clean_order({"order_id": "3", "address": text}, gaz, risk_ctx)
    assert now["confirmation"] == cid and "operator_confirmed" not in now["corrections"]
    assert "confirmation_contradicted" in now["risk_flags"]
    assert now["action"] != "deliver" and now["match_status"] != "matched"
    reason = now["risk_reasons"][now["risk_flags"].index("confirmation_contradicted")]
    assert cid in reason and "finds no such address" in reason


def test_a_moved_point_contradicts_the_confirmation(store_file, gaz, risk_ctx):
    row = clean_order({"order_id": "1", "address": GOOD}, gaz, risk_ctx)
    far = {**row, "lat": row["lat"] + 0.01}   # about 1.1 km north of where the gazetteer puts it
    cid = decide(store_file, GOOD, far)
    now = clean_order({"order_id": "2", "address": GOOD}, gaz, risk_ctx)
    assert now["confirmation"] == cid and now["action"] == "review" and now["lat"] == row["lat"]
    assert "m from the confirmed point" in now["risk_reasons"][now["risk_flags"].index("confirmation_contradicted")]


def test_review_form_decisions_are_kept_and_default_holds_are_not(store_file, gaz, risk_ctx):
    texts = {"nounit": NO_UNIT, "nowhere": NOWHERE, "pobox": "PO Box 123, Prattville AL 36067"}
    raw = pa.table({"order_id": list(texts), "customer_id": [f"c-{k}" for k in texts], "address": list(texts.values())})
    chunks = [clean_table(raw, gaz, risk_ctx, with_keys=True)]
    items = review.review_items(chunks)
    want = {"nounit": {"decision": "accept", "by": "ann"},
            "nowhere": {"decision": "edit", "address": GOOD, "by": "ann"},
            "pobox": {"decision": "hold", "by": "nobody", "human": False}}
    answers = [want[i.order_id] for i in items]
    tables, log = review.apply_decisions(chunks, items, answers, gaz, risk_ctx)
    recs = record.from_review(tables, items, answers, log, "b1")
    assert sorted(r.order_id for r in recs) == ["nounit", "nowhere"]
    by_order = {r.order_id: r for r in recs}
    assert by_order["nowhere"].decision == "edit" and by_order["nowhere"].action == "deliver"
    assert by_order["nowhere"].result["line1"] == "7 OCTAVIA ST" and by_order["nounit"].customer_id == "c-nounit"
    store.append(store_file, recs)
    again = clean_table(raw, gaz, risk_ctx).to_pylist()
    got = {r["order_id"]: r for r in again}
    assert got["nounit"]["action"] == "deliver" and got["nowhere"]["line1"] == "7 OCTAVIA ST"
    assert got["nowhere"]["action"] == "deliver" and got["nowhere"]["input"] == NOWHERE
    assert got["pobox"]["confirmation"] is None


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "addressing.cli", *args], capture_output=True, text=True,
                          cwd=PROJECT, timeout=300)


@pytest.mark.slow
def test_review_csv_applied_in_bulk_from_the_command_line(tmp_path, demo_db, risk_ctx, monkeypatch):
    from addressing.batch import clean_file
    from addressing.demo import DATA
    from addressing.gazetteer import open_gazetteer

    store_file = tmp_path / "decisions.duckdb"
    monkeypatch.setenv(store.STORE_ENV, str(store_file))
    orders = tmp_path / "shop.csv"
    with open(orders, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["order_id", "customer_id", "address"])
        w.writerows([["1", "c1", NO_UNIT], ["2", "c2", NOWHERE], ["3", "c3", GOOD], ["4", "c4", "asdf qwer"]])
    out = tmp_path / "out" / "shop.parquet"
    clean_file(orders, out, demo_db, risk_policy=DATA / "risk.toml", batch_id="day1", redact=True)
    queue = out.with_name("shop.review.csv")
    with open(queue, newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["order_id"] for r in rows} == {"1", "2", "4"}
    for r in rows:
        r.update({"1": {"decision": "accept"}, "2": {"decision": "edit", "address": GOOD},
                  "4": {"decision": "hold", "note": "junk order"}}[r["order_id"]])
    with open(queue, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]) + ["decision", "address", "note"])
        w.writeheader()
        w.writerows(rows)
    r = cli("decisions", "apply", str(queue), "--operator", "ann", "--batch", "day1", "--store", str(store_file),
            "--risk-policy", str(DATA / "risk.toml"))
    assert r.returncode == 0, r.stderr
    assert "kept 3 decision(s)" in r.stderr and "'edit -> deliver': 1" in r.stderr
    r = cli("decisions", "list", "--store", str(store_file))
    assert r.returncode == 0 and r.stdout.count("\n") == 3 and "TURK" not in r.stdout.upper()
    shown = cli("decisions", "list", "--store", str(store_file), "--show-addresses")
    assert "650 Turk St" in shown.stdout and "junk order" in shown.stdout
    # the next day's same orders: two answered from the decisions, the junk held again
    again = clean_table(pa.table({"order_id": ["a", "b", "c"], "address": [NO_UNIT, NOWHERE, "asdf qwer"]}),
                        open_gazetteer(demo_db),
                        risk_ctx).to_pylist()
    assert [x["action"] for x in again[:2]] == ["deliver", "deliver"] and again[1]["line1"] == "7 OCTAVIA ST"
    [first_id] = [x["id"] for x in store.rows(store_file) if x["order_id"] == "1"]
    r = cli("decisions", "revoke", first_id, "--store", str(store_file), "--reason", "wrong building")
    assert r.returncode == 0, r.stderr
    r = cli("decisions", "revoke", first_id, "--store", str(store_file))
    assert r.returncode == 2 and "already revoked" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = cli("forget", "--customer", "c2", "--store", str(store_file))
    assert r.returncode == 0 and "erased 1 row(s)" in r.stderr and "c2" not in r.stderr
    r = cli("forget", "--address", NO_UNIT_AGAIN, "--store", str(store_file))
    assert r.returncode == 0 and "erased 2 row(s)" in r.stderr and "TURK" not in r.stderr.upper()
    r = cli("decisions", "apply", str(tmp_path / "none.review.csv"), "--store", str(store_file))
    assert r.returncode == 2 and "no such file" in r.stderr


def test_review_csv_needs_a_decision_column(tmp_path):
    bad = tmp_path / "x.review.csv"
    bad.write_text("order_id,input\n1,a\n")
    with pytest.raises(InputError, match="order_id and decision"):
        record.read_review_csv(bad)
    bad.write_text("order_id,decision\n1,maybe\n")
    with pytest.raises(InputError, match="row 2"):
        record.read_review_csv(bad)
    bad.write_text("order_id,decision,address\n1,edit,\n")
    with pytest.raises(InputError, match="needs the address"):
        record.read_review_csv(bad)


# ----------------------------------------------------------------------------- privacy

SECRET = "4711 Quixotic Zebra Boulevard"


def secret_rows(path: Path, n: int, gaz, risk_ctx, days_old: int = 0) -> list[str]:
    row = clean_order({"order_id": "1", "address": GOOD}, gaz, risk_ctx)
    when = store.now() - dt.timedelta(days=days_old)
    recs = [store.Record(kind="decision", operator="ann", decision="hold", action="hold", order_id=str(k),
                         customer_id=f"cust-{k}", input=f"{SECRET} {k}, San Francisco CA 94102",
                         input_key=keys.input_key(parse(f"{SECRET} {k}, San Francisco CA 94102")),
                         result={f: row.get(f) for f in store.RESULT_FIELDS}, decided_at=when) for k in range(n)]
    return store.append(path, recs)


def file_holds(path: Path, text: str) -> bool:
    data = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*") if p.is_file())
    return text.encode() in data


def test_purge_deletes_what_is_older_than_the_retention(store_file, gaz, risk_ctx):
    old = secret_rows(store_file, 3, gaz, risk_ctx, days_old=400)
    store.revoke(store_file, old[0], "bob")
    young = decide(store_file, NO_UNIT, clean_order({"order_id": "9", "address": NO_UNIT}, gaz, risk_ctx))
    assert file_holds(store_file, SECRET)  # stored as written: what the purge must remove
    done = privacy.purge_expired(Path("unused.duckdb"), PROJECT / "addressing/demo/data/risk.toml")
    assert done == {"store": str(store_file), "retention_days": 365, "purged": 4}  # with the young revocation
    assert [r["id"] for r in store.rows(store_file)] == [young]
    assert not file_holds(store_file, SECRET)
    assert privacy.purge_expired(Path("unused.duckdb"))["purged"] == 0


def test_forget_erases_an_address_and_a_customer_from_the_file(store_file, gaz, risk_ctx, caplog):
    import logging

    ids = secret_rows(store_file, 3, gaz, risk_ctx)
    store.revoke(store_file, ids[1], "bob", "wrong")
    assert file_holds(store_file, f"{SECRET} 0")
    with caplog.at_level(logging.DEBUG, logger="addressing"):
        done = privacy.forget_address(store_file, f"{SECRET.upper()} 0 san francisco ca 94102")
    assert done["erased"] == 1 and not file_holds(store_file, f"{SECRET} 0")
    assert SECRET.upper() not in caplog.text.upper() and done["address"] in caplog.text
    assert privacy.forget_customer(store_file, "cust-1")["erased"] == 2  # the decision and its revocation
    assert [r["customer_id"] for r in store.rows(store_file)] == ["cust-2"]
    assert file_holds(store_file, f"{SECRET} 2") and not file_holds(store_file, f"{SECRET} 1")
    assert privacy.forget_customer(store_file, "nobody")["erased"] == 0
    with pytest.raises(InputError, match="not an address"):
        privacy.forget_address(store_file, "asdf qwer")


# ----------------------------------------------------------------------------- concurrency

HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from addressing.confirmations import store
    with store.writing(Path(sys.argv[1])) as con:
        con.execute("INSERT OR REPLACE INTO meta VALUES ('holder', ?)", [sys.argv[2]])
        print("holding", flush=True)
        time.sleep(float(sys.argv[2]))
""")


@pytest.mark.slow
def test_readers_wait_for_a_write_and_see_it_whole(store_file, gaz, risk_ctx, monkeypatch):
    decide(store_file, NO_UNIT, clean_order({"order_id": "1", "address": NO_UNIT}, gaz, risk_ctx))
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(store_file), "1.5"], stdout=subprocess.PIPE,
                              text=True, cwd=PROJECT)
    try:
        assert holder.stdout.readline().strip() == "holding"
        t0 = time.monotonic()
        assert len(store.answers(store_file)) == 1  # waited for the writer, then read
        assert time.monotonic() - t0 > 0.5
        with store.reading(store_file) as con:
            assert con.execute("SELECT value FROM meta WHERE key = 'holder'").fetchall() == [("1.5",)]
    finally:
        holder.wait(timeout=60)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(store_file), "3"], stdout=subprocess.PIPE,
                              text=True, cwd=PROJECT)
    try:
        assert holder.stdout.readline().strip() == "holding"
        monkeypatch.setenv(store.WAIT_ENV, "0.2")
        with pytest.raises(LockHeldError, match="decisions store"):
            store.answers(store_file)
    finally:
        holder.wait(timeout=60)


def test_the_lookup_is_a_copy_in_memory_read_again_when_the_file_changes(store_file, gaz, risk_ctx):
    row = clean_order({"order_id": "1", "address": NO_UNIT}, gaz, risk_ctx)
    assert len(honour.answers(store_file)) == 0
    cid = decide(store_file, NO_UNIT, row)
    table = honour.answers(store_file)
    assert [c.id for c in table.values()] == [cid] and honour.answers(store_file) is table
    assert table.get(keys.input_key(parse(NO_UNIT_AGAIN))).accepted_flags == frozenset(row["risk_flags"])
    store.revoke(store_file, cid, "bob")
    assert len(honour.answers(store_file)) == 0


def test_the_review_form_says_who_decided_before(store_file, tmp_path, demo_db, gaz, risk_ctx):
    from addressing import imports
    from flows.clean_imported_orders import review_form

    good = clean_order({"order_id": "1", "address": GOOD}, gaz, risk_ctx)
    held = decide(store_file, GOOD, good, "hold", reason="chargebacks", operator="ann")
    src = tmp_path / "shop.csv"
    src.write_text(f'order_id,address\na,"{GOOD}"\nb,"{NOWHERE}"\n')
    first = imports.first_pass(str(src), str(tmp_path / "out" / "shop.parquet"), str(demo_db), "parquet", "b2",
                               str(PROJECT / "addressing/demo/data/risk.toml"), await_decisions=False)
    items = {i["order_id"]: i for i in first["items"]}
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert items["a"]["confirmation"] == held
    assert items["a"]["previously"] == f"held by ann on {today}: chargebacks (decision {held})"
    assert items["b"]["previously"] is None  # nobody decided on it before
    form = review_form(first["items"], 1, 1, time.time() + 60, "b2")
    described = {form.model_json_schema()["properties"][f]["title"].split(":")[0]:
                 form.model_json_schema()["properties"][f]["description"] for f in ("order_1", "order_2")}
    assert described["a"].startswith(f"Previously held by ann on {today}")
    assert f"held by ann on {today}" in form._description
