"""Re-check after a gazetteer refresh (issue 17, part 3): what it costs on the demo day.

The demo day (6,000 orders in two files, ``addressing demo``) is cleaned as the nightly run
cleans it, against the demo gazetteer as it was before San Francisco's address points held
``STREETS_ADDED_LATER`` (the shipped EAS file without them: an older vintage of the same
source). The refresh then loads the shipped file (a new vintage: that source's rows replaced,
a new version), and the waiting orders are re-checked three times:

1. ``addressing recheck`` in a fresh process, as an operator or the refresh flow's worker runs
   it (imports, the parser's tables and, for the waiting orders abroad, the libpostal model);
2. the same in this process, warm (its first call loads what it needs; the second is timed);
3. the check that the rerun rewrote the same bytes.

    .venv/bin/python benchmarks/recheck.py [--workdir DIR]
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from addressing.demo import DATA  # noqa: E402

#: the streets the older vintage lacks: real SF streets of the demo layer with enough points
#: (68 and 44) that a day of orders has dozens on them
STREETS_ADDED_LATER = ("DORE", "LINDEN")
SF_SOURCE = "sf_eas_addresses_with_units.csv"
#: the nightly deployment's chunk size (prefect.yaml)
CHUNK_ROWS = 2000


def older_vintage(folder: Path) -> Path:
    """The shipped SF points without ``STREETS_ADDED_LATER``, under the shipped file's name."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / SF_SOURCE
    with open(DATA / SF_SOURCE, newline="", encoding="utf-8") as f, open(path, "w", newline="",
                                                                          encoding="utf-8") as g:
        rows = csv.DictReader(f)
        w = csv.DictWriter(g, fieldnames=rows.fieldnames)
        w.writeheader()
        w.writerows(r for r in rows if r["ST_NAME"] not in STREETS_ADDED_LATER)
    return path


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", help="where the demo day, gazetteer and outputs go (default: a temporary folder)")
    args = ap.parse_args(argv)
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="recheck-bench-"))

    from addressing.batch.recheck import recheck
    from addressing.demo.workdir import prepare
    from addressing.gazetteer.sources import read_sources_toml
    from addressing.gazetteer.store import build

    demo = prepare(work / "demo", progress=None)
    policy = str(demo["policy"])
    db = work / "gazetteer.duckdb"
    shipped = read_sources_toml(DATA / "sources.toml")
    old_sf = older_vintage(work / "older")
    older = [dataclasses.replace(s, path=old_sf) if Path(s.path).name == SF_SOURCE else s for s in shipped]
    before = build(db, older).version

    out = work / "out"
    orders = sorted(p for p in demo["orders"].iterdir() if not p.name.startswith("."))
    for f in orders:
        done = subprocess.run([sys.executable, "-m", "addressing.cli", "clean", str(f), "-o",
                               str(out / "demo" / f"{f.stem}.parquet"), "--db", str(db), "--risk-policy", policy,
                               "--batch-id", "demo", "--chunk-rows", str(CHUNK_ROWS), "--output-root", str(out)],
                              capture_output=True, text=True, cwd=ROOT)
        if done.returncode:
            sys.exit(done.stderr)

    t0 = time.perf_counter()
    after = build(db, shipped).version
    refresh_s = time.perf_counter() - t0
    print(f"gazetteer {before} -> {after} (the SF source's newer vintage, refreshed in place in {refresh_s:.1f} s)")

    t0 = time.perf_counter()
    cold = subprocess.run([sys.executable, "-m", "addressing.cli", "recheck", "--out-dir", str(out), "--db",
                           str(db), "--risk-policy", policy], capture_output=True, text=True, cwd=ROOT)
    cold_s = time.perf_counter() - t0
    if cold.returncode:
        sys.exit(cold.stderr)
    print(f"\naddressing recheck, a fresh process: {cold_s:.1f} s wall\n{cold.stdout}")
    first = digests(out)

    recheck(out, db, 7, policy)  # loads the models and tables this process has not loaded yet
    t0 = time.perf_counter()
    warm = recheck(out, db, 7, policy)
    warm_s = time.perf_counter() - t0
    same = digests(out)
    rewritten = {k: v for k, v in same.items() if not k.endswith(".manifest.json")}
    unchanged = rewritten == {k: v for k, v in first.items() if not k.endswith(".manifest.json")}
    waiting = sum(f.checked for f in warm.files)
    moved = sorted(c.moved_m for c in warm.changes if c.moved_m is not None)
    actions: dict[str, int] = {}
    for c in warm.changes:
        key = f"{c.old['action']} -> {c.new['action']}"
        actions[key] = actions.get(key, 0) + 1
    print(f"warm, in this process: {waiting:,} waiting order(s) of {len(warm.files)} output(s) re-checked, "
          f"{len(warm.changes):,} changed, in {warm_s:.2f} s ({1000 * warm_s / max(waiting, 1):.1f} ms per order)")
    print(f"  changes: {actions}; median move {moved[len(moved) // 2] if moved else 0:,.0f} m")
    print(f"  the rerun rewrote the same bytes (outputs and review queues): {unchanged}")
    print(f"\nfiles in {work}")
    return 0 if unchanged else 1


if __name__ == "__main__":
    sys.exit(main())
