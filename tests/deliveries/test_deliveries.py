"""Proof of delivery (addressing/deliveries): reports read and checked, joined to cleaned
orders, kept once; the robust drop centre with outliers; ``delivery_point`` on the batch and
single-order paths; ``failed_before`` as the policy says; purge and erase; the CLI and flow."""

from __future__ import annotations

import csv
import datetime as dt
import math
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from addressing.cli import main as cli
from addressing.confirmations import privacy
from addressing.confirmations import store as decisions_store
from addressing.deliveries import store
from addressing.deliveries.ingest import ingest
from addressing.deliveries.reports import read_reports, reports_from_rows
from addressing.errors import InputError
from addressing.geocode import distance_m
from addressing.pipeline import clean_order, clean_table
from addressing.risk import RiskContext, RiskPolicy

PROJECT = Path(__file__).resolve().parents[2]
POLICY = PROJECT / "addressing/demo/data/risk.toml"
HOME = "7 Octavia St, San Francisco, CA 94102"           # deliver, at an address point
FLAT = "650 Turk St Apt 3, San Francisco CA 94102"
OTHER = "31 Octavia St, San Francisco, CA 94102"
M_PER_DEG_LAT = 111_320.0


@pytest.fixture
def store_file(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "decisions.duckdb"
    monkeypatch.setenv(decisions_store.STORE_ENV, str(path))
    return path


@pytest.fixture
def batch(tmp_path, demo_db, store_file) -> Path:
    """A cleaned batch (with its manifest) of three orders, by the CLI."""
    orders = tmp_path / "orders.csv"
    with open(orders, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["order_id", "customer_id", "address"])
        w.writerows([["o-home", "c-1", HOME], ["o-flat", "c-2", FLAT], ["o-other", "c-3", OTHER]])
    out = tmp_path / "out" / "day1" / "orders.parquet"
    assert cli(["clean", str(orders), "-o", str(out), "--db", str(demo_db), "--risk-policy", str(POLICY)]) == 0
    return out


def cleaned(out: Path, order_id: str) -> dict:
    return next(r for r in pq.read_table(out).to_pylist() if r["order_id"] == order_id)


def moved(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    return lat + north_m / M_PER_DEG_LAT, lon + east_m / (M_PER_DEG_LAT * math.cos(math.radians(lat)))


def drops(order_id: str, lat: float, lon: float, offsets: list[tuple[float, float]], days_ago: int = 1) -> list[dict]:
    day = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0) - dt.timedelta(days=days_ago)
    out = []
    for i, (n, e) in enumerate(offsets):
        la, lo = moved(lat, lon, n, e)
        out.append({"order_id": order_id, "lat": la, "lon": lo, "delivered_at": day - dt.timedelta(days=i),
                    "outcome": "delivered", "reason": None})
    return out


def failures(order_id: str, days_ago: list[int], reason: str = "no access") -> list[dict]:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    return [{"order_id": order_id, "lat": None, "lon": None, "delivered_at": now - dt.timedelta(days=d),
             "outcome": "failed", "reason": reason} for d in days_ago]


# ----------------------------------------------------------------------------- reading reports


def test_reports_are_checked_row_by_row(tmp_path):
    good = {"order_id": "a", "lat": "37.7", "lon": "-122.4", "delivered_at": "2026-11-30T17:05:00-08:00",
            "outcome": "DELIVERED", "reason": ""}
    t = reports_from_rows([good, {**good, "outcome": "failed", "lat": "", "lon": "", "reason": "dog"}])
    assert t.column("delivered_at").to_pylist()[0] == dt.datetime(2026, 12, 1, 1, 5)
    assert t.column("outcome").to_pylist() == ["delivered", "failed"] and t.column("reason").to_pylist() == [None, "dog"]
    for bad, why in (({"lat": "north"}, "row 2: lat 'north' is not a number"),
                     ({"lon": "-200"}, "row 2: lon -200.0 is outside"),
                     ({"outcome": "lost"}, "row 2: outcome 'lost' is not one of delivered, failed"),
                     ({"delivered_at": "yesterday"}, "row 2: delivered_at 'yesterday' is not an ISO 8601"),
                     ({"lat": "", "lon": ""}, "row 2: a delivered report needs lat and lon"),
                     ({"lon": ""}, "row 2: lat and lon come together"),
                     ({"order_id": " "}, "row 2: order_id is empty")):
        with pytest.raises(InputError, match=why):
            reports_from_rows([good, {**good, **bad}])
    path = tmp_path / "pod.csv"
    path.write_text("order_id,lat,lon,delivered_at,outcome\na,37.7,-122.4,2026-11-30T10:00:00Z,delivered\n"
                    "b,37.7,-122.4,2026-11-30T10:00:00Z,kaput\n")
    with pytest.raises(InputError, match=r"pod.csv, row 3: outcome 'kaput'"):
        read_reports(path)
    path.write_text("order_id,where\na,home\n")
    with pytest.raises(InputError, match="no delivered_at, outcome column"):
        read_reports(path)


# ----------------------------------------------------------------------------- learning


def test_the_drop_centre_is_robust_to_outliers_and_needs_three_drops(batch, store_file, gaz, risk_ctx):
    home = cleaned(batch, "o-home")
    assert home["precision"] == "address_point"
    near = [(0, 20), (2, 22), (-1, 19), (1, 21)]
    done = ingest(reports_from_rows(drops("o-home", home["lat"], home["lon"], near[:2] + [(0, 400), (-300, 0)])),
                  [batch.parent])
    assert (done.added, done.points_placed) == (4, 0)  # two drops near each other: not yet trusted
    assert clean_order({"order_id": "x", "address": HOME}, gaz, risk_ctx)["precision"] == "address_point"
    done = ingest(reports_from_rows(drops("o-home", home["lat"], home["lon"], near[2:], days_ago=10)), [batch.parent])
    assert (done.added, done.points_placed) == (2, 1)
    row = clean_order({"order_id": "x", "address": "7 octavia street san francisco ca 94102"}, gaz, risk_ctx)
    assert row["precision"] == "delivery_point" and row["match_status"] == "matched" and row["action"] == "deliver"
    want = moved(home["lat"], home["lon"], 0.5, 20.5)  # the median of the four near drops; the two far ones left out
    assert float(distance_m(row["lon"], row["lat"], want[1], want[0])) < 1.0
    assert float(distance_m(row["lon"], row["lat"], home["lon"], home["lat"])) == pytest.approx(20.5, abs=1.0)
    # another unit of the same building is another delivery point
    assert clean_order({"order_id": "y", "address": "7 Octavia St Apt 9, San Francisco CA 94102"}, gaz,
                       risk_ctx)["precision"] != "delivery_point"


def test_drop_points_apply_on_the_batch_sql_path_too(batch, store_file, gaz, risk_ctx, monkeypatch):
    from addressing.match import stage

    home = cleaned(batch, "o-home")
    ingest(reports_from_rows(drops("o-home", home["lat"], home["lon"], [(0, 30), (1, 31), (0, 29)])), [batch])
    used = []
    real = stage.backend_for
    monkeypatch.setattr(stage, "backend_for", lambda g, n: used.append(type(real(g, n)).__name__) or real(g, n))
    texts = [f"{n} Octavia St, San Francisco CA 94102" for n in range(1, 140, 2)] + [HOME]
    rows = clean_table(pa.table({"order_id": [str(i) for i in range(len(texts))], "address": texts}), gaz,
                       risk_ctx).to_pylist()
    assert "SqlBackend" in used
    assert rows[-1]["precision"] == "delivery_point" and rows[3]["precision"] == "delivery_point"  # 7 Octavia
    assert sum(r["precision"] == "delivery_point" for r in rows) == 2


def test_failed_before_needs_two_failures_in_the_window_and_the_policy_decides(batch, store_file, gaz, risk_ctx):
    ingest(reports_from_rows(failures("o-flat", [3]) + failures("o-flat", [120], "closed")), [batch])
    assert "failed_before" not in clean_order({"order_id": "x", "address": FLAT}, gaz, risk_ctx)["risk_flags"]
    ingest(reports_from_rows(failures("o-flat", [40], "customer not home")), [batch])
    row = clean_order({"order_id": "x", "address": FLAT}, gaz, risk_ctx)
    assert "failed_before" in row["risk_flags"] and row["action"] == "review"
    [reason] = [r for r in row["risk_reasons"] if "failed deliveries" in r]
    assert reason.startswith("2 failed deliveries here in the last 90 days: ") and "customer not home" in reason
    assert "closed" not in reason  # 120 days ago: outside the window
    strict = RiskContext(RiskPolicy.from_dict({"rules": {"failed_before": {"severity": "high", "window_days": 200}}}))
    row = clean_order({"order_id": "x", "address": FLAT}, gaz, strict)
    assert row["action"] == "hold" and any(r.startswith("3 failed deliveries") for r in row["risk_reasons"])
    off = RiskContext(RiskPolicy.from_dict({"rules": {"failed_before": {"enabled": False}}}))
    assert "failed_before" not in clean_order({"order_id": "x", "address": FLAT}, gaz, off)["risk_flags"]
    assert "failed_before" not in clean_order({"order_id": "x", "address": OTHER}, gaz, risk_ctx)["risk_flags"]


# ----------------------------------------------------------------------------- keeping


def test_an_import_is_kept_once_and_unknown_orders_are_named(batch, store_file):
    home = cleaned(batch, "o-home")
    rows = drops("o-home", home["lat"], home["lon"], [(0, 5)]) + failures("o-nobody", [1])
    first = ingest(reports_from_rows(rows), [batch.parent])
    assert (first.reports, first.added, first.already, first.unknown, first.unknown_examples) == (
        2, 1, 0, 1, ["o-nobody"])
    again = ingest(reports_from_rows(rows), [batch.parent])
    assert (again.added, again.already) == (0, 1) and store.counts(store_file) == {"delivered": 1}
    [acc] = store.accuracy(store_file, dt.datetime(2000, 1, 1))
    assert acc["precision"] == "address_point" and acc["deliveries"] == 1 and acc["median_m"] == pytest.approx(5, abs=.5)
    with pytest.raises(InputError, match="none of the 1 report"):
        ingest(reports_from_rows(failures("o-nobody", [1])), [batch.parent])
    with pytest.raises(InputError, match="orders.csv: not a cleaned batch"):
        ingest(reports_from_rows(rows), [batch.parent.parent.parent / "orders.csv"])
    (batch.parent.parent / "empty").mkdir()
    with pytest.raises(InputError, match="no finished cleaned outputs"):
        ingest(reports_from_rows(rows), [batch.parent.parent / "empty"])


def test_the_newest_output_of_an_order_wins(batch, tmp_path, demo_db, store_file):
    orders = tmp_path / "again.csv"
    orders.write_text(f'order_id,customer_id,address\no-home,c-1,"{OTHER}"\n')
    later = tmp_path / "out" / "day2" / "again.parquet"
    assert cli(["clean", str(orders), "-o", str(later), "--db", str(demo_db)]) == 0
    other = cleaned(later, "o-home")
    ingest(reports_from_rows(drops("o-home", other["lat"], other["lon"], [(0, 1)])), [tmp_path / "out"])
    [acc] = store.accuracy(store_file, dt.datetime(2000, 1, 1))
    assert acc["median_m"] == pytest.approx(1, abs=.5)  # joined to 31 Octavia (day 2), not 7 Octavia (day 1)


def test_purge_and_forget_remove_deliveries(batch, store_file, gaz, risk_ctx):
    home = cleaned(batch, "o-home")
    ingest(reports_from_rows(drops("o-home", home["lat"], home["lon"], [(0, 1), (0, 2), (0, 3)])
                             + failures("o-flat", [2, 3]) + failures("o-flat", [500])), [batch])
    assert store.counts(store_file) == {"delivered": 3, "failed": 3}
    assert privacy.purge_expired(Path("unused.duckdb"), POLICY)["purged"] == 1  # 500 days old
    assert privacy.forget_customer(store_file, "c-2")["erased"] == 2
    assert store.counts(store_file) == {"delivered": 3}
    assert clean_order({"order_id": "x", "address": HOME}, gaz, risk_ctx)["precision"] == "delivery_point"
    assert privacy.forget_address(store_file, HOME)["erased"] == 3
    assert store.counts(store_file) == {}
    assert clean_order({"order_id": "x", "address": HOME}, gaz, risk_ctx)["precision"] == "address_point"
    assert b"o-home" not in store_file.read_bytes()


def test_the_command_line_imports_and_reports_accuracy(batch, tmp_path, demo_db, store_file, capsys):
    home = cleaned(batch, "o-home")
    path = tmp_path / "pod.csv"
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["order_id", "lat", "lon", "delivered_at", "outcome", "reason"])
        w.writeheader()
        for r in drops("o-home", home["lat"], home["lon"], [(0, 10), (0, 12), (0, 11)]):
            w.writerow({**r, "delivered_at": r["delivered_at"].isoformat() + "Z"})
    assert cli(["deliveries", "import", str(path), "--orders", str(tmp_path / "out"), "--db", str(demo_db)]) == 0
    said = capsys.readouterr().err
    assert "3 report(s): 3 kept" in said and "1 delivery point(s) now placed at their drops" in said
    assert cli(["deliveries", "accuracy", "--db", str(demo_db)]) == 0
    out = capsys.readouterr().out
    assert "address_point" in out and "100.0%" in out
    path.write_text("order_id,lat,lon,delivered_at,outcome\no-home,x,1,2026-01-01,delivered\n")
    assert cli(["deliveries", "import", str(path), "--orders", str(tmp_path / "out"), "--db", str(demo_db)]) == 2
    assert "pod.csv, row 2: lat 'x' is not a number" in capsys.readouterr().err
