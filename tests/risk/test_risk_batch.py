"""Batch-wide risk: ``shared_address`` counts customers over the whole file, across chunks,
and the run's summary counts orders per flag and per action."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from addressing.batch import apply_shared_address, clean_file
from addressing.demo import DATA as DEMO
from addressing.report import summary_text
from addressing.risk import load_risk

#: (customer, address): one flat written four ways by three customers, spread over chunks of 2
ORDERS = [
    ("C1", "525 Gough St Apt 101, San Francisco, CA 94102"),
    ("C6", "380 10th St, San Francisco, CA 94103"),
    ("C4", "7 Octavia St, San Francisco, CA 94102"),
    ("C2", "525 GOUGH STREET #101 SAN FRANCISCO CA 94102"),
    ("C6", "380 Tenth Street, San Francisco, CA 94103"),
    ("C7", "525 Gough St Apt 102, San Francisco, CA 94102"),  # same building, another flat
    ("C5", "7 Octavia Street, San Francisco 94102"),
    ("C3", "525 gough st unit 101 san francisco ca"),
    ("C6", "380 10TH ST SAN FRANCISCO CA 94103"),  # one customer, three orders: not a signal
    ("C1", "525 Gough St Apt 101, San Francisco, CA 94102"),
]


def run(tmp_path: Path, demo_db: Path, policy: Path, name: str = "out") -> list[dict]:
    src = tmp_path / "orders.csv"
    with open(src, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["order_id", "customer_id", "address"])
        w.writerows([f"O{i}", c, a] for i, (c, a) in enumerate(ORDERS))
    out = tmp_path / name / "cleaned.parquet"
    manifest = clean_file(src, out, demo_db, risk_policy=policy, chunk_rows=2)
    assert manifest["chunks"]["count"] == 5
    return pq.read_table(out).to_pylist(), manifest


def shared(rows: list[dict]) -> list[bool]:
    return ["shared_address" in r["risk_flags"] for r in rows]


def test_shared_address_counts_distinct_customers_across_chunks(tmp_path, demo_db):
    rows, manifest = run(tmp_path, demo_db, DEMO / "risk.toml")
    assert shared(rows) == [True, False, False, True, False, False, False, True, False, True]
    flat = rows[0]
    assert "3 different customers" in flat["risk_reasons"][flat["risk_flags"].index("shared_address")]
    assert flat["risk_level"] == "medium" and flat["action"] == "review"
    assert manifest["counts"]["risk_flags"]["shared_address"] == 4


def test_shared_address_threshold_is_configurable(tmp_path, demo_db):
    policy = tmp_path / "risk.toml"
    policy.write_text("[rules.shared_address]\nmin_customers = 2\n")
    rows, _ = run(tmp_path, demo_db, policy)
    # Octavia now counts (two customers); 380 10th St is still one customer
    assert shared(rows) == [True, False, True, True, False, False, True, True, False, True]
    policy4 = tmp_path / "risk4.toml"  # a new file: policies are loaded once per process and path
    policy4.write_text("[rules.shared_address]\nmin_customers = 4\n")
    rows, _ = run(tmp_path, demo_db, policy4, name="out4")
    assert not any(shared(rows))


def test_shared_address_can_be_switched_off(tmp_path, demo_db):
    policy = tmp_path / "risk.toml"
    policy.write_text("[rules.shared_address]\nenabled = false\n")
    rows, _ = run(tmp_path, demo_db, policy)
    assert not any(shared(rows))


def test_shared_address_keeps_flags_worst_first_and_raises_the_level():
    ctx = load_risk(DEMO / "risk.toml")
    rule = ctx.policy.rule("shared_address")
    table = pa.table({
        "_address_key": ["1|a", "1|a", "2|b"],
        "risk_flags": [["forwarder", "corrected_heavily"], ["corrected_heavily"], []],
        "risk_reasons": [["fw", "fix"], ["fix"], []],
        "risk_level": ["high", "low", "none"],
        "action": ["hold", "deliver", "deliver"],
    })
    out = apply_shared_address(table, {"1|a": 3}, rule, ctx.policy.action_for).to_pylist()
    assert out[0]["risk_flags"] == ["forwarder", "shared_address", "corrected_heavily"]
    assert out[0]["risk_reasons"][1] == "the same address is on orders of 3 different customers"
    assert (out[0]["risk_level"], out[0]["action"]) == ("high", "hold")
    assert out[1]["risk_flags"] == ["shared_address", "corrected_heavily"]
    assert (out[1]["risk_level"], out[1]["action"]) == ("medium", "review")
    assert out[2]["risk_flags"] == [] and out[2]["action"] == "deliver"
    assert apply_shared_address(table, {}, rule, ctx.policy.action_for) is table


def test_summary_counts_orders_per_flag_and_per_action(tmp_path, demo_db):
    _, manifest = run(tmp_path, demo_db, DEMO / "risk.toml")
    text = summary_text([manifest])
    actions = next(line for line in text.splitlines() if line.strip().startswith("actions:"))
    flags = " ".join(line for line in text.splitlines() if "flags:" in line or line.startswith("             "))
    for action, n in manifest["counts"]["action"].items():
        assert f"{action} {n:,}" in actions
    assert sum(manifest["counts"]["action"].values()) == len(ORDERS)
    for flag, n in manifest["counts"]["risk_flags"].items():
        assert f"{flag} {n:,}" in flags
    assert "shared_address" in manifest["counts"]["risk_flags"]
    assert {"deliver", "review"} <= set(manifest["counts"]["action"])


def test_shared_address_also_counts_addresses_the_gazetteer_does_not_know(tmp_path, demo_db):
    """Three customers, one street address outside the gazetteer: the parsed, standardized
    address is still the same address."""
    src = tmp_path / "orders.csv"
    src.write_text("order_id,customer_id,address\n"
                   "1,C1,\"1 Nowhere St, San Francisco, CA 94102\"\n"
                   "2,C2,1 NOWHERE STREET SAN FRANCISCO CA 94102\n"
                   "3,C3,\"1 Nowhere St., San Francisco CA 94102\"\n"
                   "4,C3,\"2 Nowhere St, San Francisco, CA 94102\"\n")
    out = tmp_path / "out" / "cleaned.parquet"
    clean_file(src, out, demo_db, risk_policy=DEMO / "risk.toml", chunk_rows=2)
    rows = pq.read_table(out).to_pylist()
    assert [r["match_status"] for r in rows] == ["unmatched"] * 4
    assert shared(rows) == [True, True, True, False]


def test_shared_address_leaves_the_other_rows_and_their_decided_actions_alone():
    """Only the rows it flags change: a row whose action a dispatcher set (``deliver`` at a
    ``high`` level) keeps it when another row of the chunk is newly flagged, and a row already
    flagged is not flagged twice."""
    ctx = load_risk(DEMO / "risk.toml")
    rule = ctx.policy.rule("shared_address")
    table = pa.table({
        "_address_key": ["9|z", "1|a", None, "1|a"],
        "risk_flags": [["forwarder"], [], [], ["shared_address"]],
        "risk_reasons": [["fw"], [], [], ["shared"]],
        "risk_level": ["high", "none", "none", "medium"],
        "action": ["deliver", "deliver", "deliver", "review"],
    })
    out = apply_shared_address(table, {"1|a": 3}, rule, ctx.policy.action_for).to_pylist()
    assert out[0] == table.to_pylist()[0]
    assert (out[1]["risk_flags"], out[1]["risk_level"], out[1]["action"]) == (["shared_address"], "medium", "review")
    assert out[2] == table.to_pylist()[2]
    assert out[3] == table.to_pylist()[3]
