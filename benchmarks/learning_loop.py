"""The learning loop over three nights (issue 17): operator decisions and proof of delivery.

A depot's three nights of demo orders (``addressing.demo.day``, the demo gazetteer), each the
same mix: ``--orders`` per night, of which ``--repeat`` (30%) come from regular customers, who
order every night with the address saved in their account (the same text), the rest from new
customers (a fresh demo day each night: same shares of planted problems).

- **Night 1** is cleaned with an empty decisions store. An operator works its review queue
  from the truth of each order: a planted problem is held (with a note), any other order is
  accepted (``addressing decisions apply`` on the edited review CSV). A few decisions are then
  revoked (``--revoke``, a share of them): those inputs must be cleaned as if never decided.
- **Proof of delivery**: every order delivered (action ``deliver``, or accepted by the
  operator) is reported by routing the next morning (``addressing deliveries import``). Each
  delivery point has a door 5-60 m from its address point, in a random direction (real drop
  offsets: back doors, lobbies, driveways); a drop lands there with GPS noise (``GPS_SIGMA_M``)
  and, now and then, far away (a neighbour, a GPS jump: ``OUTLIER_SHARE``); some attempts fail
  (``FAIL_SHARE``: nobody home), and at a few regulars' addresses every attempt fails (no
  access). The morning after night 1 the business also imports routing's history: the
  regulars' two earlier deliveries (weeks -2 and -1), so that points can be learned by night 2
  (three drops needed). Night 1 is cleaned knowing nothing: it is the "before".
- **Nights 2 and 3** are cleaned with what was learned.

Per night: orders, the review queue (rows the batch's review CSV lists: review + hold), the
orders still needing a human (queue rows no earlier decision answers), orders answered from
decisions, orders placed at drop points, ``failed_before`` flags, and the median distance from
our geocode to where that night's parcels were really left (all deliveries, and the addresses
learned by night 3, whose night 1 distance is the "before"). Checks: no order takes a revoked
decision, and no order is both confirmed and contradicted.

    .venv/bin/python benchmarks/learning_loop.py [--db build/demo/gazetteer.duckdb] [--orders 2000]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import math
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from addressing.demo import DATA  # noqa: E402

#: a door lies this far from its address point (issue 17: real drop offsets, 5-60 m)
DOOR_M = (5.0, 60.0)
#: a phone's GPS fix outdoors, one standard deviation
GPS_SIGMA_M = 4.0
#: drops left far from the door (a neighbour signed, a GPS jump), and how far
OUTLIER_SHARE = 0.05
OUTLIER_M = (150.0, 500.0)
#: attempts that fail for no reason of the address (nobody home)
FAIL_SHARE = 0.04
#: regulars whose every attempt fails (no access to the building)
NO_ACCESS_SHARE = 0.03
#: the review queue on night 3 against night 1 (issue 17 target: at least 30% smaller)
TARGET_QUEUE_CUT = 0.30
#: learned addresses: median geocode-to-drop distance on night 3 (issue 17 target)
TARGET_MEDIAN_M = 10.0
M_PER_DEG = 111_320.0


def moved(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    return lat + north_m / M_PER_DEG, lon + east_m / (M_PER_DEG * math.cos(math.radians(lat)))


def metres(lat1, lon1, lat2, lon2) -> float:
    from addressing.geocode import distance_m

    return float(distance_m(lon1, lat1, lon2, lat2))


class Routing:
    """Where parcels are really left: a door per delivery point, drops around it."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.doors: dict[tuple, tuple[float, float]] = {}
        self.no_access: set[tuple] = set()

    def door(self, point: tuple, lat: float, lon: float) -> tuple[float, float]:
        if point not in self.doors:
            d, bearing = self.rng.uniform(*DOOR_M), self.rng.uniform(0, 2 * math.pi)
            self.doors[point] = moved(lat, lon, d * math.cos(bearing), d * math.sin(bearing))
        return self.doors[point]

    def attempt(self, order_id: str, point: tuple, lat: float, lon: float, when: dt.datetime) -> dict:
        rng = self.rng
        if point in self.no_access:
            return {"order_id": order_id, "lat": "", "lon": "", "delivered_at": when.isoformat() + "Z",
                    "outcome": "failed", "reason": "no access to the building"}
        if rng.random() < FAIL_SHARE:
            return {"order_id": order_id, "lat": "", "lon": "", "delivered_at": when.isoformat() + "Z",
                    "outcome": "failed", "reason": "nobody home"}
        dlat, dlon = self.door(point, lat, lon)
        if rng.random() < OUTLIER_SHARE:
            d, bearing = rng.uniform(*OUTLIER_M), rng.uniform(0, 2 * math.pi)
            north, east = d * math.cos(bearing), d * math.sin(bearing)
        else:
            north, east = rng.gauss(0, GPS_SIGMA_M), rng.gauss(0, GPS_SIGMA_M)
        la, lo = moved(dlat, dlon, north, east)
        return {"order_id": order_id, "lat": la, "lon": lo, "delivered_at": when.isoformat() + "Z",
                "outcome": "delivered", "reason": ""}


def delivery_point(t) -> tuple:
    """A delivery point as routing knows it: the true place and unit of the order."""
    return (round(t.lat, 7), round(t.lon, 7), t.unit or "")


def write_csv(path: Path, rows: list[dict], fields: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return path


ORDER_FIELDS = ["order_id", "customer_id", "address", "address2"]


def nights(gaz, n: int, repeat: float, rng: random.Random):
    """Three nights of orders with their truths; the regulars (night 1 customers) reorder on
    nights 2 and 3 with the same text."""
    from addressing.demo.day import demo_orders

    n_regular = round(repeat * n)
    first, truths = demo_orders(gaz, n, seed=20261201)
    regular_idx = sorted(rng.sample(range(n), n_regular))
    out = [(first, truths)]
    for night, seed in ((2, 20261202), (3, 20261203)):
        fresh, fresh_truths = demo_orders(gaz, n - n_regular, seed=seed)
        rows = [{**o, "order_id": f"N{night}-{o['order_id']}"} for o in fresh]
        rows += [{**first[i], "order_id": f"N{night}-R{first[i]['order_id']}"} for i in regular_idx]
        out.append((rows, fresh_truths + [truths[i] for i in regular_idx]))
    regulars = {first[i]["order_id"] for i in regular_idx}
    return out, regulars


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default=str(ROOT / "build/demo/gazetteer.duckdb"))
    ap.add_argument("--policy", default=str(DATA / "risk.toml"))
    ap.add_argument("--orders", type=int, default=2000, help="orders per night")
    ap.add_argument("--repeat", type=float, default=0.30, help="share of each night's orders from regulars")
    ap.add_argument("--revoke", type=float, default=0.05, help="share of night 1's decisions revoked")
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--work", help="keep the nights' files here (default: a temporary folder)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="learning-loop-") as tmp:
        run(args, Path(args.work) if args.work else Path(tmp))


def run(args, work: Path) -> None:
    import pyarrow.parquet as pq

    from addressing.batch import clean_file
    from addressing.confirmations import record
    from addressing.confirmations import store as decisions
    from addressing.deliveries.ingest import ingest
    from addressing.deliveries.reports import read_reports
    from addressing.gazetteer import open_gazetteer
    from addressing.risk import load_risk

    os.environ[decisions.STORE_ENV] = str(work / "loop.decisions.duckdb")
    store_file = Path(os.environ[decisions.STORE_ENV])
    rng = random.Random(args.seed)
    gaz = open_gazetteer(args.db)
    policy = load_risk(args.policy).policy
    t0 = time.perf_counter()
    days, regulars = nights(gaz, args.orders, args.repeat, rng)
    routing = Routing(rng)
    out_root = work / "out"
    today = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0, second=0, minute=0)
    night_dates = [today - dt.timedelta(days=3 - k) for k in range(3)]  # nights 1..3 end today
    print(f"# Learning loop: 3 nights of {args.orders:,} orders, {args.repeat:.0%} from {len(regulars):,} regulars "
          f"(orders drawn in {time.perf_counter() - t0:.1f} s)\n")

    # routing's history before night 1 (imported the morning after): the regulars' two earlier deliveries
    first_rows, first_truths = days[0]
    history, truth_of_history = [], {}
    for o, t in zip(first_rows, first_truths):
        if o["order_id"] in regulars and not t.planted and t.lat is not None:
            for week in (2, 1):
                hid = f"H{week}-{o['order_id']}"
                history.append({**o, "order_id": hid})
                truth_of_history[hid] = (t, night_dates[0] - dt.timedelta(weeks=week))
    regular_points = sorted({delivery_point(t) for o, t in zip(first_rows, first_truths)
                             if o["order_id"] in regulars and t.lat is not None})
    routing.no_access = set(rng.sample(regular_points, round(NO_ACCESS_SHARE * len(regular_points))))

    def import_history() -> None:
        hist_in = write_csv(work / "orders" / "history.csv", history, ORDER_FIELDS)
        clean_file(hist_in, out_root / "history" / "history.parquet", args.db, risk_policy=args.policy,
                   batch_id="history")
        reports = [routing.attempt(hid, delivery_point(t), t.lat, t.lon, when)
                   for hid, (t, when) in truth_of_history.items()]
        pod = write_csv(work / "pod" / "history.csv", reports, ["order_id", "lat", "lon", "delivered_at", "outcome",
                                                                "reason"])
        done = ingest(read_reports(pod), [out_root], args.db, args.policy)
        print(f"routing history imported after night 1: {done.text()}")

    revoked: set[str] = set()
    table = []
    per_night_rows = []
    for k, (rows, truths) in enumerate(days, start=1):
        src = write_csv(work / "orders" / f"night{k}.csv", rows, ORDER_FIELDS)
        out = out_root / f"night{k}" / "orders.parquet"
        t1 = time.perf_counter()
        manifest = clean_file(src, out, args.db, risk_policy=args.policy, batch_id=f"night{k}")
        secs = time.perf_counter() - t1
        cleaned = pq.read_table(out).to_pylist()
        per_night_rows.append(cleaned)
        truth_by_id = {o["order_id"]: t for o, t in zip(rows, truths)}
        queue = [r for r in cleaned if r["action"] != "deliver"]
        answered = [r for r in cleaned if "operator_confirmed" in (r["corrections"] or [])
                    or "operator_hold" in (r["risk_flags"] or [])]
        need_human = [r for r in queue if r not in answered]
        # problems night 1 could not see: flagged only because deliveries there failed since
        only_failed = [r for r in need_human if _only_failed_before(r, policy)]
        bad_revoked = [r for r in cleaned if r["confirmation"] in revoked]
        both = [r for r in cleaned if "operator_confirmed" in (r["corrections"] or [])
                and "confirmation_contradicted" in (r["risk_flags"] or [])]
        placed = sum(r["precision"] == "delivery_point" for r in cleaned)
        failed_before = sum("failed_before" in (r["risk_flags"] or []) for r in cleaned)
        accepted_ids: set[str] = set()
        if k == 1:
            import_history()
            accepted_ids = operator_works_queue(out, truth_by_id, args.db, args.policy, record)
            live = [r["id"] for r in decisions.rows(store_file) if r["kind"] == "decision"]
            for cid in rng.sample(live, round(args.revoke * len(live))):
                decisions.revoke(store_file, cid, "bench", "customer moved")
                revoked.add(cid)
        # the night's deliveries, reported the next morning
        attempts = []
        for r in cleaned:
            t = truth_by_id[r["order_id"]]
            if (r["action"] == "deliver" or r["order_id"] in accepted_ids) and t.lat is not None:
                attempts.append(routing.attempt(r["order_id"], delivery_point(t), t.lat, t.lon,
                                                night_dates[k - 1] + dt.timedelta(hours=rng.uniform(8, 20))))
        pod = write_csv(work / "pod" / f"night{k}.csv", attempts,
                        ["order_id", "lat", "lon", "delivered_at", "outcome", "reason"])
        kept = ingest(read_reports(pod), [out_root], args.db, args.policy)
        table.append({"night": k, "orders": len(cleaned), "queue": len(queue), "need": len(need_human),
                      "need_known": len(need_human) - len(only_failed),
                      "answered": len(answered), "placed": placed, "failed_before": failed_before,
                      "bad_revoked": len(bad_revoked), "both": len(both), "seconds": secs,
                      "deliveries": kept.reports, "attempts": attempts, "manifest": manifest})

    # distances: each night's geocode to that night's real drops
    learned = {r["input"] for r in per_night_rows[2] if r["precision"] == "delivery_point"}
    print("\n| night | orders | review queue | needing a human | of them, only for failed_before | "
          "answered from decisions | placed at drops | failed_before | median m, all drops | "
          "median m, learned addresses | clean s |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for k, row in enumerate(table, start=1):
        by_id = {r["order_id"]: r for r in per_night_rows[k - 1]}
        all_d, learned_d = [], []
        for a in row["attempts"]:
            if a["outcome"] != "delivered":
                continue
            r = by_id[a["order_id"]]
            if r["lat"] is None:
                continue
            d = metres(r["lat"], r["lon"], a["lat"], a["lon"])
            all_d.append(d)
            if r["input"] in learned:
                learned_d.append(d)
        row["median_all"] = float(np.median(all_d)) if all_d else float("nan")
        row["median_learned"] = float(np.median(learned_d)) if learned_d else float("nan")
        print(f"| {k} | {row['orders']:,} | {row['queue']:,} | {row['need']:,} | {row['need'] - row['need_known']:,} "
              f"| {row['answered']:,} "
              f"({row['answered'] / row['orders']:.1%}) | {row['placed']:,} | {row['failed_before']:,} | "
              f"{row['median_all']:.1f} | {row['median_learned']:.1f} (n={len(learned_d)}) | {row['seconds']:.1f} |")
    cut_queue = 1 - table[2]["queue"] / table[0]["queue"]
    cut_need = 1 - table[2]["need"] / table[0]["need"]
    cut_known = 1 - table[2]["need_known"] / table[0]["need_known"]
    bad = sum(r["bad_revoked"] + r["both"] for r in table)
    print(f"\nnight 3 against night 1 (target: at least {TARGET_QUEUE_CUT:.0%} smaller):")
    print(f"  review queue rows (review + hold, held-again orders included): {cut_queue:.1%} smaller")
    print(f"  orders needing a human (no earlier decision answers them): {cut_need:.1%} fewer -> "
          f"{'holds' if cut_need >= TARGET_QUEUE_CUT else 'does not hold'}")
    print(f"  the same, without orders flagged only for failed_before (new problems night 1 could not see): "
          f"{cut_known:.1%} fewer -> {'holds' if cut_known >= TARGET_QUEUE_CUT else 'does not hold'}")
    print(f"orders answered from a revoked decision or both confirmed and contradicted: {bad} (target 0) -> "
          f"{'holds' if bad == 0 else 'does not hold'}; {len(revoked)} decision(s) revoked after night 1")
    med = table[2]["median_learned"]
    print(f"learned addresses ({len(learned):,}): median geocode-to-drop {table[0]['median_learned']:.1f} m on night 1 "
          f"(before) -> {med:.1f} m on night 3 (target under {TARGET_MEDIAN_M:g} m) -> "
          f"{'holds' if med < TARGET_MEDIAN_M else 'does not hold'}")


def _only_failed_before(r: dict, policy) -> bool:
    """Would this row be delivered but for ``failed_before`` (its other flags' worst severity
    maps to ``deliver`` under ``policy``)?"""
    from addressing.risk.config import SEVERITIES, SEVERITY_RANK

    if "failed_before" not in (r["risk_flags"] or []):
        return False
    worst = max((SEVERITY_RANK[policy.rule(f).severity] for f in r["risk_flags"] if f != "failed_before"), default=0)
    return policy.action_for[SEVERITIES[worst]] == "deliver"


def operator_works_queue(out: Path, truth_by_id: dict, db: str, policy: str, record) -> set[str]:
    """The operator's decisions on a night's review queue, from each order's truth: planted
    problems held, the rest accepted; returns the accepted order ids."""
    queue = out.with_name(out.name.split(".")[0] + ".review.csv")
    with open(queue, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return set()
    accepted = set()
    for r in rows:
        planted = truth_by_id[r["order_id"]].planted
        r["decision"] = "hold" if planted else "accept"
        r["note"] = "checked with the customer: not deliverable" if planted else ""
        if not planted:
            accepted.add(r["order_id"])
    with open(queue, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    kept = record.apply_review_csv(queue, "ops", risk_policy=policy)
    print(f"night 1: the operator decided {sum(kept['decisions'].values()):,} queued orders {kept['decisions']}")
    return accepted


if __name__ == "__main__":
    main()
