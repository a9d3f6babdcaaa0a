"""What a one-county refresh of a gazetteer costs: wall time, peak extra disk and peak memory,
in place and on a copy (the path a refresh takes when readers keep the file open), and, with
``--baseline REV``, with the package as it was at git revision REV, all in one run.

The gazetteer holds every real file in ``$ADDRESSING_REALDATA`` (the OpenAddresses point sets,
Autauga's and Meagher's TIGER ranges) and the US ZIPs. Two refreshes are measured: Meagher
County's TIGER ranges from the 2016 vintage to 2021, and Berkeley's points replaced by a newer
file (real rows, a few dropped, renamed, renumbered). ``--scaled N`` builds the gazetteer from
``benchmarks/national_data.py``'s files of N points instead, and refreshes one of its
county-sized chunks (OA + TIGER) with its next vintage.

Every build runs in a child process (its own peak memory; the baseline's own package); the
parent samples the gazetteer's folder for the peak extra disk. Each refresh starts from a copy
of the same built file, made before the clock starts.

Run::

    ADDRESSING_REALDATA=../shared/data .venv/bin/python tests/gazetteer/measure_refresh.py \\
        [--baseline REV] [--scaled 1000000] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(HERE)]

import duckdb  # noqa: E402
from refresh_helpers import PeakDisk, newer_openaddresses  # noqa: E402

MB = 1e6

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[3])
import addressing
from addressing.gazetteer.store import SourceSpec, build
from realdata_maps import OA_MAPS

def spec(d):
    columns = OA_MAPS[d["map"]] if d.get("map") else None
    return SourceSpec(d["kind"], Path(d["path"]), columns=columns)

specs = [spec(d) for d in json.loads(Path(sys.argv[2]).read_text())]
extra = {"wait_for_readers": 0} if "wait_for_readers" in build.__code__.co_varnames else {}
lines = []
start = time.perf_counter()
result = build(Path(sys.argv[1]), specs, with_zipcodes=sys.argv[4] == "zipcodes", progress=lines.append, **extra)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "loaded": result.loaded, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "lines": lines, "package": addressing.__file__}))
"""


def run_build(db: Path, specs: list[dict], package: Path, zipcodes: bool = False) -> dict:
    specs_file = db.parent.parent / f"{db.parent.name}-specs.json"
    specs_file.write_text(json.dumps(specs))
    env = {**os.environ, "PYTHONPATH": str(package)}
    args = [sys.executable, "-c", CHILD, str(db), str(specs_file), str(ROOT / "tests"),
            "zipcodes" if zipcodes else "none"]
    r = subprocess.run(args, capture_output=True, text=True, env=env, cwd=package)
    if r.returncode != 0:
        sys.exit(f"build failed ({package}): {r.stderr[-3000:]}")
    out = json.loads(r.stdout.strip().splitlines()[-1])
    if not out["package"].startswith(str(package)):
        sys.exit(f"the child imported {out['package']}, not the package under {package}")
    return out


def export(rev: str, into: Path) -> Path:
    """The ``addressing`` package as it was at ``rev``."""
    archive = into / "baseline.tar"
    with open(archive, "wb") as f:
        subprocess.run(["git", "-C", str(ROOT), "archive", rev, "addressing"], stdout=f, check=True)
    with tarfile.open(archive) as t:
        t.extractall(into / "baseline", filter="data")
    return into / "baseline"


def real_gazetteer(real: Path, work: Path) -> tuple[list[dict], list[tuple[str, list[dict], int]]]:
    """(the sources of the base gazetteer, [(refresh name, its sources, its files' bytes)])."""
    from realdata_maps import OA_MAPS

    oa = [{"kind": "openaddresses", "path": str(real / "openaddresses" / n), "map": n} for n in OA_MAPS]
    autauga = {"kind": "tiger", "path": str(real / "tiger/autauga_al_01001/01001_nominatim.csv")}
    meagher = real / "tiger/meagher_mt_30059"
    base = oa + [autauga, {"kind": "tiger", "path": str(meagher / "2016.geojsonl")}]
    berkeley = newer_openaddresses(real / "openaddresses/berkeley_parcels.csv", work / "newer", 2031)
    refreshes = [
        ("Meagher MT TIGER 2016 -> 2021", [{"kind": "tiger", "path": str(meagher / "2021.geojsonl")}],
         (meagher / "2021.geojsonl").stat().st_size),
        ("Berkeley OA -> newer file", [{"kind": "openaddresses", "path": str(berkeley), "map": "berkeley_parcels.csv"}],
         berkeley.stat().st_size),
    ]
    return base, refreshes


def scaled_gazetteer(real: Path, work: Path, points: int) -> tuple[list[dict], list[tuple[str, list[dict], int]]]:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import national_data as nd

    base, zips = nd.load_base(real), nd.load_zips()
    manifest = nd.ensure_sources(work / "scaled", points, base, zips)
    specs = [d for c in manifest["chunks"] for d in ({"kind": "openaddresses", "path": c["oa"]},
                                                     {"kind": "tiger", "path": c["tiger"]})]
    chunk = max(manifest["chunks"], key=lambda c: c["points"])
    new_oa, new_tiger = nd.newer_vintage(work / "scaled", points, base, zips, chunk)
    changed = [{"kind": "openaddresses", "path": str(new_oa)}, {"kind": "tiger", "path": str(new_tiger)}]
    name = f"one chunk ({chunk['state']}, {chunk['zips']} ZIPs, {chunk['points']:,} points): OA + TIGER"
    return specs, [(name, changed, new_oa.stat().st_size + new_tiger.stat().st_size)]


def rows_of(db: Path) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return sum(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                   for t in ("address_points", "segments", "postal_codes"))
    finally:
        con.close()


def measure(built: Path, specs: list[dict], package: Path, folder: Path, hold: bool) -> dict:
    """Refresh a copy of ``built`` with ``specs`` in an empty ``folder``; ``hold``: a reader
    keeps the file open meanwhile."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    db = folder / "g.duckdb"
    shutil.copyfile(built, db)
    reader = duckdb.connect(str(db), read_only=True) if hold else None
    try:
        with PeakDisk(folder) as peak:
            res = run_build(db, specs, package)
    finally:
        if reader:
            reader.close()
    res["extra"] = peak.extra
    res["file"] = db.stat().st_size
    shutil.rmtree(folder)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", help="git revision whose package is measured too (every refresh copies then)")
    ap.add_argument("--scaled", type=int, help="points of a gazetteer made by benchmarks/national_data.py")
    ap.add_argument("--workdir", type=Path)
    args = ap.parse_args()
    real = Path(os.environ.get("ADDRESSING_REALDATA") or ROOT.parent / "shared" / "data")
    if not real.is_dir():
        sys.exit("set ADDRESSING_REALDATA to the shared data folder (../shared/data)")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="refresh-"))
    work.mkdir(parents=True, exist_ok=True)
    base, refreshes = scaled_gazetteer(real, work, args.scaled) if args.scaled else real_gazetteer(real, work)
    built = work / "base" / "g.duckdb"
    recipe = work / "base.json"  # the sources of the gazetteer in the work folder: built again when they change
    if built.exists() and recipe.exists() and json.loads(recipe.read_text()) == base:
        print(f"gazetteer: {rows_of(built):,} rows, {built.stat().st_size / MB:,.1f} MB, as built before ({work})")
    else:
        shutil.rmtree(built.parent, ignore_errors=True)
        built.parent.mkdir(parents=True)
        t0 = time.perf_counter()
        run_build(built, base, ROOT, zipcodes=True)
        recipe.write_text(json.dumps(base))
        print(f"gazetteer: {rows_of(built):,} rows, {built.stat().st_size / MB:,.1f} MB, built in "
              f"{time.perf_counter() - t0:.1f} s ({work})")
    ways = [("in place", ROOT, False), ("copy (a reader holds the file)", ROOT, True)]
    if args.baseline:
        ways.append((f"before ({args.baseline}: copy, whole derive)", export(args.baseline, work), False))
    print(f"{'refresh':<56} {'how':<44} {'seconds':>7} {'extra MB':>8} {'source MB':>9} {'RSS MB':>7}")
    for name, specs, nbytes in refreshes:
        for how, package, hold in ways:
            r = measure(built, specs, package, work / "run", hold)
            print(f"{name:<56} {how:<44} {r['seconds']:>7.2f} {r['extra'] / MB:>8.1f} {nbytes / MB:>9.1f} "
                  f"{r['rss_mb']:>7.0f}")


if __name__ == "__main__":
    main()
