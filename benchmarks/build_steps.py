"""A first build's time and peak memory, step by step: loading, numbering the streets, writing
the points and segments in street order, ``addresses``, localities, indexes.

Builds a gazetteer from the sources ``benchmarks/national.py`` wrote (its ``build-specs.json``),
in this process, with its RSS sampled every half second and each derive step stamped. ``--root``
builds with another checkout of the project (an older commit, to compare before and after).

    ADDRESSING_BUILD_MEMORY=512MB .venv/bin/python benchmarks/build_steps.py \\
        /tmp/national/n60M/build-specs.json /tmp/steps/gazetteer.duckdb
    git worktree add /tmp/before 65c3807
    ADDRESSING_BUILD_MEMORY=512MB .venv/bin/python benchmarks/build_steps.py --root /tmp/before ...
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import threading
import time
from pathlib import Path

#: seconds between samples of this process's resident memory
SAMPLE_S = 0.5
#: derive functions whose call starts a step, and the step their return starts (the loading ends
#: at the first; the points and segments are written between numbering and alternate names)
STEPS = {"number_streets": ("numbering streets", "writing points and segments"),
         "_alt_streets": ("alternate names", None), "_addresses": ("addresses", None),
         "_localities": ("localities", None), "index_sql": ("indexes", None)}


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("specs", type=Path, help="a build-specs.json of benchmarks/national.py")
    ap.add_argument("db", type=Path, help="the gazetteer to build (its folder is emptied first)")
    ap.add_argument("--root", type=Path, help="the checkout to build with (default: this one)")
    args = ap.parse_args()
    sys.path.insert(0, str((args.root or Path(__file__).resolve().parents[1]).resolve()))
    from addressing.gazetteer import derive
    from addressing.gazetteer.store import SourceSpec, build

    marks = [("loading", time.perf_counter())]
    peaks: dict[str, float] = {}

    def sample() -> None:
        while True:
            step = marks[-1][0]
            peaks[step] = max(peaks.get(step, 0.0), rss_mb())
            time.sleep(SAMPLE_S)

    def enter(step: str) -> None:
        if marks[-1][0] != step:
            marks.append((step, time.perf_counter()))

    def stamped(name: str, step: str, then: str | None = None):
        real = getattr(derive, name)

        def call(*a, **k):
            enter(step)
            out = real(*a, **k)
            if then:
                enter(then)
            return out
        return call

    for name, (step, then) in STEPS.items():
        setattr(derive, name, stamped(name, step, then))

    specs = [SourceSpec(s["kind"], Path(s["path"])) for s in json.loads(args.specs.read_text())]
    shutil.rmtree(args.db.parent, ignore_errors=True)
    args.db.parent.mkdir(parents=True)
    threading.Thread(target=sample, daemon=True).start()
    t0 = time.perf_counter()
    result = build(args.db, specs)
    marks.append(("end", time.perf_counter()))
    total = marks[-1][1] - t0
    rows = result.rows["address_points"] + result.rows["segments"]
    print(f"build of {len(specs)} sources: {total:.1f} s, {rows:,} points and segments, {rows / total:,.0f} rows/s")
    merged: dict[str, float] = {}
    for (step, t), (_, t_next) in zip(marks, marks[1:]):
        merged[step] = merged.get(step, 0.0) + t_next - t
    for step, seconds in merged.items():
        peak = f"{peaks[step]:6.0f} MB" if step in peaks else "not sampled"
        print(f"  {step:28s} {seconds:7.1f} s  peak RSS {peak}")


if __name__ == "__main__":
    main()
