"""End-to-end throughput and memory: N messy orders through the whole pipeline on W processes.

Builds a gazetteer from the real files in $ADDRESSING_REALDATA (San Francisco and Oakland
points, Autauga and Meagher TIGER ranges, US ZIPs), scaled up by replicating the real points
onto renamed streets, generates N messy orders from its addresses (seeded), then times
read -> parse -> match -> geocode -> assess -> write with ``addressing clean --workers W``
(chunks on disk, a process pool), and, in the same run on the same strings, a plain
single-process ``usaddress.tag`` loop. Memory is the peak over the run of the PSS summed
over the CLI and every process it starts (pages the workers share counted once), and the
largest single RSS.

    ADDRESSING_REALDATA=../shared/data .venv/bin/python benchmarks/end_to_end.py --orders 100000 1000000

``--no-libpostal-orders`` leaves out the orders only libpostal reads (those the rules parser and
usaddress do not settle: a few dozen in 60,000), for the time of a batch that never needs the
model. ``--root CHECKOUT`` cleans with another checkout of the project, so that two commits can
be timed one after the other on the same orders.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def realdata() -> Path:
    value = os.environ.get("ADDRESSING_REALDATA")
    if not value:
        sys.exit("set ADDRESSING_REALDATA to the shared real-data folder (../shared/data)")
    return Path(value)


def scaled_points(src: Path, dest: Path, copies: int) -> Path:
    """The SF points, and ``copies - 1`` copies of them moved to other real California towns
    (their real ZIP, city and centroid): the same street names recur in many towns, as they
    do in a national gazetteer."""
    from addressing.parse.places import zip_table

    towns = sorted({(z.city, z.zip_code, z.lat, z.lon) for z in zip_table().values()
                    if z.state == "CA" and z.type == "STANDARD" and z.lat and z.city != "SAN FRANCISCO"},
                   key=lambda t: t[1])
    step = max(1, len(towns) // max(copies, 1))
    picks = towns[::step][: copies - 1]
    with open(src, newline="") as f, open(dest, "w", newline="") as out:
        r = csv.DictReader(f)
        fields = list(r.fieldnames) + ["CITY"]
        w = csv.DictWriter(out, fieldnames=fields)
        w.writeheader()
        rows = list(r)
        lat0 = sum(float(x["lat"]) for x in rows) / len(rows)
        lon0 = sum(float(x["lon"]) for x in rows) / len(rows)
        for row in rows:
            w.writerow({**row, "CITY": "SAN FRANCISCO"})
        for city, zip_code, lat, lon in picks:
            for row in rows:
                w.writerow({**row, "CITY": city, "ZIPCODE": zip_code,
                            "lat": f"{float(row['lat']) - lat0 + lat:.7f}", "lon": f"{float(row['lon']) - lon0 + lon:.7f}"})
    return dest


def build_gazetteer(data: Path, work: Path, copies: int) -> Path:
    from addressing.gazetteer.openaddresses import ColumnMap
    from addressing.gazetteer.store import SourceSpec, build

    sf = scaled_points(data / "openaddresses/sf_eas_addresses_with_units.csv", work / "sf_scaled.csv", copies)
    specs = [
        SourceSpec("openaddresses", sf, name="oa:sf-scaled", columns=ColumnMap.parse(
            "lon=lon,lat=lat,number=ADDR_NUM+ADDR_N_SFX,street=ST_NAME+ST_TYPE,unit=UNIT_NUM,postcode=ZIPCODE,"
            "city=CITY", "region=CA")),
        SourceSpec("openaddresses", data / "openaddresses/alameda_spad_oakland.csv", name="oa:oakland",
                   columns=ColumnMap.parse("lon=lon,lat=lat,number=ST_NUM,street=DIRPRE+FEANME+FEATYP+DIRSUF,"
                                           "unit=UNIT,postcode=ZIPCODE,city=CITY", "region=CA")),
        SourceSpec("tiger", data / "tiger/autauga_al_01001/01001_nominatim.csv"),
        SourceSpec("tiger", data / "tiger/meagher_mt_30059/tl_2021_30059_addrfeat.shp"),
    ]
    db = work / "gazetteer.duckdb"
    build(db, specs)
    return db


def write_orders(db: Path, n: int, path: Path, seed: int = 7) -> list[str]:
    """N messy orders from the gazetteer's real addresses (points and ranges); a unit written
    on line 2 is joined with a comma, as ``address, address2`` come out of an order form.

    Customers live at addresses: an address's orders come from its own customer, except one
    in twenty, from some other customer (a gift, a pick-up for a neighbour). With random
    customers instead, a million orders over a hundred thousand addresses would make nearly
    every address "shared" by three customers, and the review queue the whole batch."""
    from addressing.demo.synth import address_points, messify, range_number, ranges
    from addressing.gazetteer import open_gazetteer

    gaz = open_gazetteer(db)
    rng = random.Random(seed)
    pts = address_points(gaz)
    segs = [s for s in ranges(gaz) if s["a"] and s["b"]]
    texts = []
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["order_id", "customer_id", "address"])
        for i in range(n):
            if rng.random() < 0.75:
                k = rng.randrange(len(pts))
                p = pts[k]
                text, line2, _ = messify(p, rng, p["unit"])
                home = f"P{k}"
            else:
                k = rng.randrange(len(segs))
                s = segs[k]
                num = range_number(s, rng) or s["a"]
                text, line2, _ = messify({**s, "number": num}, rng, None)
                home = f"S{k}-{num}"
            if line2:
                text = f"{text}, {line2}"
            texts.append(text)
            customer = home if rng.random() >= 0.05 else f"C{rng.randrange(10**6)}"
            w.writerow([f"O{i:08d}", customer, text])
    return texts


def drop_libpostal_orders(path: Path) -> int:
    """Rewrite the orders file at ``path`` without the orders whose address only libpostal
    reads (the strings a batch would ask it for); how many are left."""
    import addressing.parse as parse

    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    asked: list[str] = []
    real = parse.libpostal_server.labels
    parse.libpostal_server.labels = lambda requests: asked.extend(t for t, _ in requests) or [[] for _ in requests]
    try:
        parse.parse_batch([r[2] for r in rows[1:]])
    finally:
        parse.libpostal_server.labels = real
    asked_keys = {t.upper() for t in asked}
    keep = [rows[0]] + [r for r in rows[1:] if (parse.prepare(r[2]).text or "").upper() not in asked_keys]
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(keep)
    return len(keep) - 1


def usaddress_rate(texts: list[str], limit: int) -> float:
    import usaddress

    sample = texts[:limit]
    t0 = time.perf_counter()
    for t in sample:
        with contextlib.suppress(usaddress.RepeatedLabelError):
            usaddress.tag(t)
    return len(sample) / (time.perf_counter() - t0)


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(d))
    return kids


def _tree_memory(root: int) -> tuple[float, float]:
    """(sum of PSS, largest RSS) in MB over ``root`` and its descendants. PSS counts a page
    shared by n processes (the libpostal model the workers share) as 1/n in each."""
    kids = _children()
    todo, pss, rss = [root], 0, 0
    while todo:
        pid = todo.pop()
        todo += kids.get(pid, [])
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line and not line.startswith("0"))
            pss += int(fields["Pss"].split()[0])
            rss = max(rss, int(fields["Rss"].split()[0]))
        except (OSError, KeyError, ValueError):
            continue
    return pss / 1024, rss / 1024


def run_clean(orders: Path, out: Path, db: Path, workers: int, chunk_rows: int,
              root: Path | None = None) -> tuple[float, float, float, dict]:
    """Run the CLI in a child process (with the checkout at ``root``, if given); wall seconds,
    peak memory of it and every process it starts (PSS summed, and the largest single RSS, both
    MB, sampled every second: reading a process's page tables is not free), manifest."""
    cmd = [sys.executable, "-m", "addressing.cli", "clean", str(orders), "-o", str(out), "--db", str(db),
           "--workers", str(workers), "--chunk-rows", str(chunk_rows)]
    env = {**os.environ, "PYTHONPATH": str(root)} if root else None
    log = out.parent / "clean.log"          # a file, not a pipe: a pipe nobody reads can fill up and block
    log.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with open(log, "w") as sink:
        # from the checkout itself: ``-m`` puts the working folder first on the import path
        proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=root)
        peak_pss = peak_rss = 0.0
        while proc.poll() is None:
            pss, rss = _tree_memory(proc.pid)
            peak_pss, peak_rss = max(peak_pss, pss), max(peak_rss, rss)
            time.sleep(1.0)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(log.read_text()[-2000:])
    import json

    from addressing.batch.outputs import output_paths

    manifest = json.loads(output_paths(out)["manifest"].read_text())
    return wall, peak_pss, peak_rss, manifest


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, nargs="+", default=[100_000])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--copies", type=int, default=12, help="copies of the SF points in the gazetteer")
    ap.add_argument("--chunk-rows", type=int, default=20_000, help="as `addressing clean` by default")
    ap.add_argument("--baseline-sample", type=int, default=50_000)
    ap.add_argument("--no-libpostal-orders", action="store_true",
                    help="leave out the orders only libpostal reads (a batch that never needs the model)")
    ap.add_argument("--root", type=Path, help="the checkout to clean with (default: this one)")
    args = ap.parse_args()
    data = realdata()
    work = Path(tempfile.mkdtemp(prefix="e2e-"))
    try:
        t0 = time.perf_counter()
        db = build_gazetteer(data, work, args.copies)
        from addressing.gazetteer.store import info

        tables = info(db)["tables"]
        print(f"gazetteer: {tables['address_points']:,} points, {tables['segments']:,} segments "
              f"({time.perf_counter() - t0:.0f} s to build)")
        print(f"{'orders':>10} {'workers':>7} {'wall s':>8} {'orders/s':>10} {'usaddress/s':>12} {'ratio':>6} "
              f"{'peak PSS MB':>12} {'max RSS MB':>11}")
        for n in args.orders:
            orders = work / f"orders-{n}.csv"
            texts = write_orders(db, n, orders)
            if args.no_libpostal_orders:
                n = drop_libpostal_orders(orders)
            base = usaddress_rate(texts, args.baseline_sample)
            wall, pss, rss, manifest = run_clean(orders, work / f"out-{n}" / "cleaned.parquet", db, args.workers,
                                                 args.chunk_rows, args.root)
            assert manifest["outputs"]["cleaned"]["rows"] == n
            rate = n / wall
            print(f"{n:>10,} {args.workers:>7} {wall:>8.1f} {rate:>10,.0f} {base:>12,.0f} {rate / base:>6.2f} "
                  f"{pss:>12,.0f} {rss:>11,.0f}", flush=True)
            print(f"{'':>10} timings (s, summed over workers): {manifest['timings_s']}")
            print(f"{'':>10} status: {manifest['counts']['match_status']}")
            shutil.rmtree(work / f"out-{n}", ignore_errors=True)
            orders.unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
