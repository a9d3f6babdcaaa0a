"""The risk stage's share of the whole pipeline's time on the demo batch (target: under 10%).

Regenerates the demo's day of orders (seeded: the same 6,000 orders ``addressing demo`` writes,
split into the same two files) from the demo gazetteer, then cleans both files in this one
process exactly as ``addressing clean`` does (split into chunks, clean each, assemble) and
times, inside the same runs:

- risk: ``assess`` in every chunk (building the facts, address keys, every rule, the one
  STRtree query) + the batch-wide ``shared_address`` (``shared_keys`` over the chunk files and
  ``apply_shared_address``) + loading the policy (polygons, forwarder list);
- whole: wall time of the file cleans (read, parse, match, assess, write, assemble).

Pass 1 is cold (libpostal loads on first use, caches are empty); pass 2 runs warm, which is
the honest denominator for a long-running worker. Both share the machine's load equally.
It also checks the flags against the generator's truth (recall of the flags each order
was made to raise).

    .venv/bin/python benchmarks/risk_share.py [--db build/demo/gazetteer.duckdb] [--passes 2]
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from addressing import risk as risk_module  # noqa: E402
from addressing.batch import assembly, chunks, clean_file  # noqa: E402
from addressing.demo import DATA  # noqa: E402
from addressing.demo.day import demo_orders  # noqa: E402
from addressing.demo.workdir import DEMO_ORDERS, WEBSHOP_SHARE  # noqa: E402
from addressing.gazetteer import open_gazetteer  # noqa: E402
from addressing.parse import parse_batch  # noqa: E402


class Clock:
    """Wraps a function of ``addressing.batch.assembly`` and adds up the time spent in it."""

    def __init__(self, name: str):
        self.name, self.seconds, self.fn = name, 0.0, getattr(assembly, name)

    def __call__(self, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return self.fn(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - t0

    def install(self) -> Clock:
        setattr(assembly, self.name, self)
        return self


def write_demo_orders(db: Path, folder: Path) -> tuple[list[Path], dict[str, list[str]]]:
    orders, truth = demo_orders(open_gazetteer(db), DEMO_ORDERS)
    cut = int(len(orders) * WEBSHOP_SHARE)
    webshop, market = folder / "webshop.csv", folder / "marketplace.jsonl"
    with open(webshop, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["order_id", "customer_id", "address", "address2"])
        w.writeheader()
        w.writerows(orders[:cut])
    with open(market, "w", encoding="utf-8") as f:
        for o in orders[cut:]:
            row = {k: o[k] for k in ("order_id", "customer_id", "address")}
            if o["address2"]:
                row["address2"] = o["address2"]
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return [webshop, market], {o["order_id"]: t.expect_flags for o, t in zip(orders, truth)}


def one_pass(files: list[Path], db: Path, policy: Path, out: Path) -> dict:
    risk_module._loaded.clear()  # load the policy inside the timed pass
    chunks._stamp_cache.clear()
    shared, apply = Clock("shared_keys").install(), Clock("apply_shared_address").install()
    try:
        t0 = time.perf_counter()
        parse_batch(["1 Main St, Springfield, IL 62701"])  # the parser's one-time warm-up is parse time, not
        load_s = time.perf_counter()                     # the forwarder list's (it is parsed at policy load)
        risk_module.risk_context(policy)
        load_s = time.perf_counter() - load_s
        manifests = [clean_file(f, out / f"{f.stem}.parquet", db, risk_policy=policy) for f in files]
        whole = time.perf_counter() - t0
    finally:
        assembly.shared_keys, assembly.apply_shared_address = shared.fn, apply.fn
    stages: Counter = Counter()
    for m in manifests:
        stages.update(m["timings_s"])
    risk = stages["assess"] + shared.seconds + apply.seconds + load_s
    return {"whole_s": whole, "risk_s": risk, "assess_s": stages["assess"], "shared_s": shared.seconds + apply.seconds,
            "load_policy_s": load_s, "stages_s": dict(stages), "manifests": manifests,
            "rows": sum(m["input"]["rows"] for m in manifests)}


def recall(out: Path, files: list[Path], expected: dict[str, list[str]]) -> dict[str, tuple[int, int]]:
    import pyarrow.parquet as pq

    got: dict[str, list[str]] = {}
    for f in files:
        t = pq.read_table(out / f"{f.stem}.parquet", columns=["order_id", "risk_flags"])
        got.update(zip(t.column("order_id").to_pylist(), t.column("risk_flags").to_pylist()))
    hits: dict[str, list[int]] = {}
    for oid, flags in expected.items():
        for flag in flags:
            h = hits.setdefault(flag, [0, 0])
            h[1] += 1
            h[0] += flag in (got.get(oid) or [])
    return {k: (v[0], v[1]) for k, v in sorted(hits.items())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default=str(ROOT / "build/demo/gazetteer.duckdb"))
    ap.add_argument("--policy", default=str(DATA / "risk.toml"))
    ap.add_argument("--passes", type=int, default=2)
    args = ap.parse_args()
    db, policy = Path(args.db), Path(args.policy)
    if not db.exists():
        sys.exit(f"{db}: no demo gazetteer; run `.venv/bin/addressing demo` first")
    work = Path(tempfile.mkdtemp(prefix="risk_share_"))
    try:
        files, expected = write_demo_orders(db, work)
        print(f"demo batch: {DEMO_ORDERS:,} orders in {', '.join(f.name for f in files)}; policy {policy}")
        shares = []
        for i in range(args.passes):
            out = work / f"out{i}"
            r = one_pass(files, db, policy, out)
            share = r["risk_s"] / r["whole_s"]
            shares.append(share)
            label = "cold" if i == 0 else "warm"
            st = ", ".join(f"{k} {v:.2f}" for k, v in r["stages_s"].items())
            print(f"pass {i + 1} ({label}): whole {r['whole_s']:.2f} s for {r['rows']:,} rows; risk {r['risk_s']:.3f} s "
                  f"= assess {r['assess_s']:.3f} + shared_address {r['shared_s']:.3f} + policy load "
                  f"{r['load_policy_s']:.3f}  -> risk share {100 * share:.2f}%")
            print(f"    stages (s, summed over chunks): {st}")
        flags = Counter()
        actions = Counter()
        for m in r["manifests"]:
            flags.update(m["counts"]["risk_flags"])
            actions.update(m["counts"]["action"])
        print("flags:   " + ", ".join(f"{k} {v:,}" for k, v in flags.most_common()))
        print("actions: " + ", ".join(f"{k} {v:,}" for k, v in actions.most_common()))
        print("recall of the flags the generator planted: " + ", ".join(
            f"{k} {h}/{n} ({100 * h / n:.0f}%)" for k, (h, n) in recall(out, files, expected).items()))
        worst = max(shares[1:] or shares)
        verdict = "OK" if worst < 0.10 else "OVER TARGET"
        print(f"risk share (warm{'' if len(shares) > 1 else '/cold'}, worst pass): {100 * worst:.2f}% "
              f"(target < 10%): {verdict}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
