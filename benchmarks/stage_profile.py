"""Per-stage cost of cleaning, in µs per order, on one core: where a worker's time goes.

Cleans N of the end-to-end benchmark's orders (same gazetteer, same seeded orders) in chunks,
in this process, after one warm-up chunk (models and tables loaded), and prints µs per order
for each stage. ``--root`` profiles another checkout of the project (e.g. an older commit, to
compare before and after a change); ``--py-spy FILE`` writes a py-spy profile of the timed part
when py-spy is installed (``pip install py-spy``), for finding the hot spots.

    ADDRESSING_REALDATA=../shared/data .venv/bin/python benchmarks/stage_profile.py
    git worktree add /tmp/before 2be34dc
    ADDRESSING_REALDATA=../shared/data .venv/bin/python benchmarks/stage_profile.py --root /tmp/before
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=40_000)
    ap.add_argument("--chunk-rows", type=int, default=5_000)
    ap.add_argument("--copies", type=int, default=12)
    ap.add_argument("--root", default=str(HERE.parent), help="the project checkout to profile")
    ap.add_argument("--py-spy", dest="py_spy", help="write a py-spy profile (raw format) of the timed part here")
    args = ap.parse_args()
    sys.path.insert(0, str(HERE))
    import end_to_end as e2e

    sys.path.insert(0, str(Path(args.root).resolve()))     # its ``addressing``, not this one's
    from addressing import io as aio
    from addressing.gazetteer import open_gazetteer
    from addressing.pipeline import Timings, clean_table_isolating
    from addressing.risk import load_risk

    work = Path(tempfile.mkdtemp(prefix="stages-"))
    try:
        db = e2e.build_gazetteer(e2e.realdata(), work, args.copies)
        orders = work / "orders.csv"
        e2e.write_orders(db, args.orders + args.chunk_rows, orders)
        chunks = list(itertools.islice(aio.read_orders(orders, args.chunk_rows), None))
        gaz = open_gazetteer(db)
        risk = load_risk(None)
        clean_table_isolating(chunks[0], gaz, risk, Timings(), with_keys=True)     # warm-up
        spy = None
        if args.py_spy:
            exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
            if not Path(exe).exists():
                sys.exit("--py-spy: py-spy is not installed (pip install py-spy)")
            spy = subprocess.Popen([exe, "record", "-r", "200", "-f", "raw", "-o", args.py_spy,
                                    "--pid", str(os.getpid())], stdout=subprocess.DEVNULL)
            time.sleep(1.0)
        timings = Timings()
        t0 = time.perf_counter()
        for chunk in chunks[1:]:
            clean_table_isolating(chunk, gaz, risk, timings, with_keys=True)
        wall = time.perf_counter() - t0
        if spy:
            spy.send_signal(signal.SIGINT)       # py-spy writes its file when interrupted
            spy.wait()
        rows = sum(c.num_rows for c in chunks[1:])
        stages = "  ".join(f"{k} {1e6 * v / rows:.1f}" for k, v in timings.seconds.items() if v)
        print(f"{args.root}: {rows:,} orders in chunks of {args.chunk_rows:,}, one core: "
              f"{1e6 * wall / rows:.1f} µs/order ({rows / wall:,.0f} orders/s); by stage (µs/order): {stages}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
