"""Match accuracy, calibrated confidence, baselines and scaling on real SF + Oakland points.

    export ADDRESSING_REALDATA=../shared/data        # default: ../shared/data next to the project
    .venv/bin/python benchmarks/match_accuracy.py --fit        # refit addressing/data/calibration.json
    .venv/bin/python benchmarks/match_accuracy.py              # accuracy + reliability (held-out sample)
    .venv/bin/python benchmarks/match_accuracy.py --baselines  # exact join and brute-force extractOne
    .venv/bin/python benchmarks/match_accuracy.py --scaling    # match throughput at 10k / 100k / 1M points

The gazetteer is built with ``addressing.gazetteer.store.build`` from the San Francisco EAS points
(mapped as in ``data/demo/sources.toml``) and the Alameda SPAD Oakland points. The distinct
addresses (street, number, unit: SF repeats 329 Fulton St 1,194 times) are shuffled with a seed
and split in two halves: the calibration is fitted on queries made from one half and evaluated
on queries made from the other (``addressing.synth.messy_queries``, seeded). A record is *right*
when it is ``matched``, within 50 m of the true point and has the true unit; *confidently wrong*
when its confidence is >= 0.9 and it is more than 50 m off or has the wrong unit (whatever its
status). Speed figures are ratios against baselines timed in the same process.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
import re
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
from rapidfuzz import fuzz, process

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))
sys.path.insert(0, str(PROJECT / "benchmarks"))

from addressing import match, synth  # noqa: E402
from addressing.gazetteer import open_gazetteer, query_arrow  # noqa: E402
from addressing.gazetteer.keys import name_key  # noqa: E402
from addressing.gazetteer.openaddresses import ColumnMap  # noqa: E402
from addressing.gazetteer.store import SourceSpec, build  # noqa: E402
from addressing.geocode import distance_m  # noqa: E402
from addressing.parse import parse_batch  # noqa: E402

WORK = PROJECT / "build" / "bench"
CALIBRATION = PROJECT / "addressing" / "data" / "calibration.json"
RIGHT_M = 50.0
WITHHELD = 0.08      # share of buildings left out of the gazetteer the queries are matched against
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.97, 0.98, 0.99)
SPLIT_SEED, FIT_SEED, EVAL_SEED = 20260101, 11, 22

SF_COLUMNS = {"columns": {"lon": "lon", "lat": "lat", "number": ["ADDR_NUM", "ADDR_N_SFX"],
                          "street": ["ST_NAME", "ST_TYPE"], "unit": "UNIT_NUM", "postcode": "ZIPCODE",
                          "id": "EAS_SUBID"},
              "constants": {"city": "SAN FRANCISCO", "region": "CA"}}
OAKLAND_COLUMNS = {"columns": {"lon": "lon", "lat": "lat", "number": "ST_NUM",
                               "street": ["DIRPRE", "FEANME", "FEATYP", "DIRSUF"], "unit": "UNIT",
                               "postcode": "ZIPCODE", "city": "CITY", "id": "SPADID"},
                   "constants": {"region": "CA"}}


def realdata() -> Path:
    return Path(os.environ.get("ADDRESSING_REALDATA") or PROJECT.parent / "shared" / "data")


def sources(data: Path) -> list[SourceSpec]:
    oa = data / "openaddresses"
    return [
        SourceSpec("openaddresses", oa / "sf_eas_addresses_with_units.csv", name="oa:us-ca-san_francisco-eas",
                   columns=ColumnMap.from_dict(SF_COLUMNS)),
        SourceSpec("openaddresses", oa / "alameda_spad_oakland.csv", name="oa:us-ca-oakland-spad",
                   columns=ColumnMap.from_dict(OAKLAND_COLUMNS)),
    ]


def gazetteer(data: Path, work: Path = WORK):
    db = work / "sf_oakland.duckdb"
    build(db, sources(data))
    return open_gazetteer(db)


def tiger_gazetteer(data: Path, work: Path = WORK):
    """Autauga County, AL: real TIGER ranges only (no points), for range-interpolated matches."""
    db = work / "autauga.duckdb"
    build(db, [SourceSpec("tiger", data / "tiger" / "autauga_al_01001" / "01001_nominatim.csv",
                          name="tiger:us-al-autauga-01001")])
    return open_gazetteer(db)


def withhold(gaz, points: list[dict]) -> set[tuple]:
    """A seeded WITHHELD share of the buildings (street, number: all their units), to be left
    out of the gazetteer the queries are matched against: their queries test interpolation
    between the neighbours and numbers out of range, and give the calibration its negatives."""
    buildings = sorted({(p["street_id"], p["number"]) for p in points})
    rng = random.Random(SPLIT_SEED + 1)
    return set(rng.sample(buildings, round(WITHHELD * len(buildings))))


def gaps_gazetteer(data: Path, gaz, held: set[tuple], work: Path = WORK):
    """The same sources without the withheld buildings' rows (matched by the source's id)."""
    keys = query_arrow(gaz.cursor(), "SELECT source_name, source_key, street_id, number FROM address_points").to_pydict()
    drop: dict[str, set[str]] = {}
    for name, key, sid, num in zip(keys["source_name"], keys["source_key"], keys["street_id"], keys["number"]):
        if (sid, num) in held:
            drop.setdefault(name, set()).add(key)
    specs = []
    for spec in sources(data):
        out = work / f"gaps_{spec.path.name}"
        id_col = spec.columns.columns["id"][0]
        with open(spec.path, newline="", encoding="utf-8") as f, open(out, "w", newline="", encoding="utf-8") as g:
            reader = csv.DictReader(f)
            writer = csv.DictWriter(g, fieldnames=reader.fieldnames)
            writer.writeheader()
            gone = drop.get(spec.source_name(), set())
            for row in reader:
                if re.sub(r"\.0$", "", row[id_col] or "") not in gone:
                    writer.writerow(row)
        specs.append(SourceSpec(spec.kind, out, name=spec.name, columns=spec.columns))
    db = work / "sf_oakland_gaps.duckdb"
    build(db, specs)
    return open_gazetteer(db)


def truth_points(gaz) -> tuple[list[dict], Counter]:
    """Distinct real addresses; drops the ones that are not deliverable addresses in the
    source (``0 UNKNOWN``) and counts what was dropped."""
    pts = synth.address_points(gaz)
    dropped: Counter = Counter()
    keep = []
    for p in pts:
        if p["name"] == "UNKNOWN" or p["number"] == "0":
            dropped["no street or number 0 in the source"] += 1
        elif len(p["name"]) == 1 and p["type"] is None and p["state"] == "CA":
            # the SF number suffix (ADDR_N_SFX) read as the street by the loader: 32A ELGIN PARK
            dropped["number suffix read as the street (loader)"] += 1
        else:
            keep.append(p)
    return keep, dropped


def split(points: list[dict]) -> tuple[list[dict], list[dict]]:
    order = list(range(len(points)))
    random.Random(SPLIT_SEED).shuffle(order)
    half = len(order) // 2
    return [points[i] for i in order[:half]], [points[i] for i in order[half:]]


# --------------------------------------------------------------------------- scoring a run


def unit_of(u) -> str | None:
    return match.unit_norm(u) if u else None


def judge(results: list, picks: list[dict], held: set[tuple] | None = None) -> dict[str, np.ndarray]:
    lat = np.asarray([np.nan if r.lat is None else r.lat for r in results], float)
    lon = np.asarray([np.nan if r.lon is None else r.lon for r in results], float)
    err = distance_m(lon, lat, [p["lon"] for p in picks], [p["lat"] for p in picks])
    unit_ok = np.asarray([unit_of(r.unit) == unit_of(p["unit"]) for r, p in zip(results, picks)])
    status = np.asarray([r.status for r in results])
    near = err <= RIGHT_M
    right = (status == "matched") & near & unit_ok
    conf = np.asarray([r.confidence for r in results], float)
    same = np.asarray([r.house_number == p["number"] and r.street_name == p["name"] and r.street_type == p["type"]
                       and r.predirectional == p["predir"] for r, p in zip(results, picks)])
    return {"err": err, "unit_ok": unit_ok, "status": status, "right": right, "conf": conf,
            "wrong": ~(near & unit_ok), "same": (status == "matched") & same & unit_ok,
            "precision": np.asarray([r.precision for r in results]),
            "stratum": np.asarray([r.stratum or r.precision for r in results]),
            "raw": match.raw_score(np.asarray([r.score for r in results]), np.asarray([r.margin for r in results])),
            "capped": np.asarray([r.unit_known is False or (not r.unit and r.n_units > 0 and not r.has_base)
                                  for r in results]),
            "held": np.asarray([(p["street_id"], p["number"]) in (held or ()) for p in picks])}


def summary(j: dict[str, np.ndarray], label: str) -> dict:
    n = len(j["right"])
    matched = j["status"] == "matched"
    err_m = j["err"][matched & ~np.isnan(j["err"])]
    cw = (j["conf"] >= 0.9) & j["wrong"]
    out = {"label": label, "n": n, "right": j["right"].mean(), "same_address": j["same"].mean(),
           "confidently_wrong": cw.mean(), "n_confidently_wrong": int(cw.sum()),
           "median_err_m": float(np.median(err_m)) if err_m.size else math.nan,
           "p95_err_m": float(np.percentile(err_m, 95)) if err_m.size else math.nan,
           "status": dict(Counter(j["status"].tolist())), "precision": dict(Counter(j["precision"].tolist()))}
    return out


def print_summary(s: dict) -> None:
    print(f"\n== {s['label']}: {s['n']:,} queries")
    print(f"right (matched, <= {RIGHT_M:.0f} m, right unit): {s['right']:.2%}   "
          f"(same street, number and unit: {s['same_address']:.2%})")
    print(f"confidently wrong (conf >= 0.9 and > {RIGHT_M:.0f} m off or wrong unit): {s['confidently_wrong']:.3%} "
          f"({s['n_confidently_wrong']})")
    print(f"error of matched records: median {s['median_err_m']:.1f} m, p95 {s['p95_err_m']:.1f} m")
    print(f"status: {s['status']}")
    print(f"precision: {s['precision']}")


def print_split(j: dict[str, np.ndarray]) -> None:
    """The addresses in the gazetteer and the withheld ones, apart."""
    print(f"{'':<28} {'queries':>8} {'right':>8} {'conf>=0.9':>10} {'conf.wrong':>11} {'median m':>9} {'p95 m':>7}")
    for label, sel in (("address in the gazetteer", ~j["held"]), ("building withheld from it", j["held"])):
        n = int(sel.sum())
        if not n:
            continue
        matched = sel & (j["status"] == "matched") & ~np.isnan(j["err"])
        e = j["err"][matched]
        hi = sel & (j["conf"] >= 0.9)
        cw = hi & j["wrong"]
        print(f"{label:<28} {n:>8,} {j['right'][sel].mean():>8.2%} {hi.sum() / n:>10.1%} {cw.sum() / n:>11.3%}"
              f" {np.median(e) if e.size else math.nan:>9.1f} {np.percentile(e, 95) if e.size else math.nan:>7.1f}")


def reliability(j: dict[str, np.ndarray]) -> list[tuple]:
    rows = []
    for c in THRESHOLDS:
        sel = j["conf"] >= c
        n = int(sel.sum())
        share = float(j["right"][sel].mean()) if n else math.nan
        rows.append((c, n, share, n == 0 or share >= c))
    return rows


def print_reliability(rows: list[tuple], n: int) -> None:
    print("\nreliability (held-out): of the records with confidence >= c, the share that is right")
    print(f"{'c':>6} {'records':>9} {'of all':>7} {'right':>8}  ok")
    for c, k, share, ok in rows:
        print(f"{c:>6.2f} {k:>9,} {k / n:>7.1%} {share:>8.2%}  {'yes' if ok else 'NO'}")


# --------------------------------------------------------------------------- calibration fit


def isotonic(x: np.ndarray, y: np.ndarray) -> list[tuple[float, float, int, int]]:
    """Pool-adjacent-violators over y sorted by x: blocks (x_lo, x_hi, n, n_right)."""
    order = np.argsort(x, kind="stable")
    blocks: list[list] = []       # [x_lo, x_hi, n, k]
    for xi, yi in zip(x[order], y[order]):
        blocks.append([float(xi), float(xi), 1, int(yi)])
        while len(blocks) >= 2 and blocks[-2][3] / blocks[-2][2] >= blocks[-1][3] / blocks[-1][2]:
            b = blocks.pop()
            a = blocks[-1]
            a[1], a[2], a[3] = b[1], a[2] + b[2], a[3] + b[3]
    return [tuple(b) for b in blocks]


def wilson_lower(k: int, n: int, z: float = 1.645) -> float:
    """One-sided 95% lower bound of a proportion."""
    if n == 0:
        return 0.0
    p = k / n
    d = 1 + z * z / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, (centre - spread) / d)


def fit_calibration(raw: np.ndarray, right: np.ndarray, groups: np.ndarray | None = None,
                    min_block: int = 40) -> dict:
    """Monotone map raw -> confidence: isotonic regression, each block replaced by the lower
    95% bound of its share right (small blocks merged first), kept non-decreasing.

    ``groups`` (the building each record is about): records of one building are not
    independent (a withheld building's units all fail together), so a block's bound counts
    its distinct buildings, not its records."""
    order = np.argsort(raw, kind="stable")
    raw, right = raw[order], right[order]
    groups = np.arange(raw.size) if groups is None else np.asarray(groups)[order]
    blocks = isotonic(raw, right.astype(int))
    merged: list[list] = []
    for b in blocks:                       # merge small blocks into their right neighbour
        if merged and merged[-1][2] < min_block:
            m = merged[-1]
            m[1], m[2], m[3] = b[1], m[2] + b[2], m[3] + b[3]
        else:
            merged.append(list(b))
    if len(merged) >= 2 and merged[-1][2] < min_block:
        b = merged.pop()
        merged[-1][1], merged[-1][2], merged[-1][3] = b[1], merged[-1][2] + b[2], merged[-1][3] + b[3]
    lows, start = [], 0
    for _, _, n, k in merged:
        n_eff = len(set(groups[start:start + n].tolist()))
        lows.append(wilson_lower(round(n_eff * k / n), n_eff))
        start += n
    for i in range(len(lows) - 2, -1, -1):  # non-decreasing: never above what comes after
        lows[i] = min(lows[i], lows[i + 1])
    xs, ys = [0.0], [0.0]
    for (lo, hi, _, _), c in zip(merged, lows):
        for x in (lo, hi):
            if x > xs[-1]:
                xs.append(round(x, 5))
                ys.append(round(max(c, ys[-1]), 4))
    if xs[-1] < 1.0:
        xs.append(1.0)
        ys.append(ys[-1])
    return {"raw": xs, "confidence": ys,
            "blocks": [{"raw_from": round(lo, 4), "raw_to": round(hi, 4), "n": n, "right": k, "confidence": round(c, 4)}
                       for (lo, hi, n, k), c in zip(merged, lows)]}


# --------------------------------------------------------------------------- baselines


def street_table(gaz) -> dict:
    sql = "SELECT street_id, predir, name, type, postdir, postal_code, city FROM streets WHERE NOT alt"
    return query_arrow(gaz.cursor(), sql).to_pydict()


def point_lookup(gaz) -> dict:
    """(street_id, number, unit or None) -> (lat, lon): for the baselines' final step."""
    sql = """SELECT street_id, number, unit, avg(lat) AS lat, avg(lon) AS lon FROM address_points
             GROUP BY street_id, number, unit"""
    t = query_arrow(gaz.cursor(), sql).to_pydict()
    return {(s, n, unit_of(u)): (la, lo) for s, n, u, la, lo in zip(t["street_id"], t["number"], t["unit"],
                                                                      t["lat"], t["lon"])}


def exact_join(gaz, parsed: list) -> list[tuple]:
    """Plain exact join of the parsed components on the address points (no fuzziness, no
    blocking rounds): name key, type, directionals, number, ZIP (city when no ZIP), unit."""
    q = pa.table({
        "qid": pa.array(range(len(parsed)), pa.int64()),
        "name_key": [name_key(p.street_name) for p in parsed],
        "type": [p.street_type for p in parsed], "predir": [p.predirectional for p in parsed],
        "postdir": [p.postdirectional for p in parsed], "number": [p.house_number for p in parsed],
        "postal_code": [p.postal_code for p in parsed], "city": [p.city for p in parsed],
        "unit": [unit_of(p.unit) for p in parsed],
    })
    sql = """
        SELECT q.qid, avg(a.lat) AS lat, avg(a.lon) AS lon, any_value(a.unit) AS unit
        FROM _q q JOIN address_points a
          ON a.name_key = q.name_key AND a.number = q.number
         AND a.type IS NOT DISTINCT FROM q.type AND a.predir IS NOT DISTINCT FROM q.predir
         AND a.postdir IS NOT DISTINCT FROM q.postdir
         AND (a.postal_code = q.postal_code OR (q.postal_code IS NULL AND a.city = q.city))
         AND ltrim(regexp_replace(upper(coalesce(a.unit, '')), '[^A-Z0-9]', '', 'g'), '0')
             = coalesce(q.unit, '')
        GROUP BY q.qid"""
    cur = gaz.cursor()
    cur.register("_q", q)
    try:
        t = query_arrow(cur, sql).to_pydict()
    finally:
        cur.unregister("_q")
    out: list[tuple] = [(None, None, None)] * len(parsed)
    for qid, la, lo, u in zip(t["qid"], t["lat"], t["lon"], t["unit"]):
        out[qid] = (la, lo, u)
    return out


def brute_force(parsed: list, streets: dict, points: dict) -> list[tuple]:
    """``rapidfuzz.process.extractOne`` of each query's street over every street, then the
    address point of the number (and unit) on the street found."""
    choices = [" ".join(x for x in (a, b, c, d) if x) for a, b, c, d in
               zip(streets["predir"], streets["name"], streets["type"], streets["postdir"])]
    out = []
    for p in parsed:
        text = " ".join(x for x in (p.predirectional, p.street_name, p.street_type, p.postdirectional) if x)
        hit = process.extractOne(text, choices, scorer=fuzz.ratio, score_cutoff=72) if text else None
        if hit is None:
            out.append((None, None, None))
            continue
        sid = streets["street_id"][hit[2]]
        u = unit_of(p.unit)
        pt = points.get((sid, p.house_number, u))
        out.append((pt[0], pt[1], p.unit) if pt else (None, None, None))
    return out


def judge_simple(found: list[tuple], picks: list[dict]) -> float:
    lat = np.asarray([np.nan if f[0] is None else f[0] for f in found], float)
    lon = np.asarray([np.nan if f[1] is None else f[1] for f in found], float)
    err = distance_m(lon, lat, [p["lon"] for p in picks], [p["lat"] for p in picks])
    unit_ok = np.asarray([unit_of(f[2]) == unit_of(p["unit"]) for f, p in zip(found, picks)])
    return float(((err <= RIGHT_M) & unit_ok).mean())


def timed(fn, *args, repeat: int = 2):
    best, out = math.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best, out


def run_baselines(gaz, parsed: list, picks: list[dict], ours: list, held: set[tuple]) -> None:
    streets = street_table(gaz)
    points = point_lookup(gaz)
    t_ours, _ = timed(match.match_batch, parsed, gaz)
    t_exact, exact = timed(exact_join, gaz, parsed)
    t_brute, brute = timed(brute_force, parsed, streets, points, repeat=1)
    n = len(parsed)
    print(f"\n== baselines on the same {n:,} parsed held-out queries ({len(streets['street_id']):,} streets)")
    print(f"{'method':<44} {'right':>8} {'addr/s':>10} {'time vs ours':>13}")
    rows = [("ours: blocked DuckDB + rapidfuzz cpdist", judge(ours, picks, held)["right"].mean(), t_ours),
            ("exact join (name key, type, dirs, number, ZIP)", judge_simple(exact, picks), t_exact),
            ("brute force extractOne over all streets", judge_simple(brute, picks), t_brute)]
    for label, right, t in rows:
        print(f"{label:<44} {right:>8.2%} {n / t:>10,.0f} {t / t_ours:>12.2f}x")


# --------------------------------------------------------------------------- scaling


def replica_csv(gaz, size: int, path: Path) -> int:
    """An OA CSV of ``size`` points: the real points, then copies of them as other towns
    (coordinates shifted, real CA ZIPs and their cities, streets renamed from a pool of
    real street names, so names repeat across towns as they do in life)."""
    real = query_arrow(gaz.cursor(), """
        SELECT lon, lat, number, concat_ws(' ', predir, name, type, postdir) AS street, unit, city, postal_code
        FROM address_points ORDER BY street_id, number_int, unit""").to_pydict()
    n_real = len(real["lon"])
    with open(realdata() / "tiger" / "autauga_al_01001" / "01001_nominatim.csv", newline="") as f:
        pool = sorted({row["street"].upper() for row in csv.DictReader(f, delimiter=";") if row["street"]})
    zips = sorted(z for (c, z), info in gaz.postal().items()
                  if c == "US" and info.state == "CA" and info.type == "STANDARD" and info.city
                  and z not in set(real["postal_code"]))
    rng = random.Random(size)
    rng.shuffle(zips)
    streets = sorted(set(real["street"]))
    real_zips = sorted({z for z in real["postal_code"] if z})
    written = 0
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["LON", "LAT", "NUMBER", "STREET", "UNIT", "CITY", "REGION", "POSTCODE"])
        k = 0
        size = max(size, n_real)
        while written < size:
            if k == 0:
                names, zmap, dlat, dlon = {s: s for s in streets}, {z: z for z in real_zips}, 0.0, 0.0
            else:
                names = {s: rng.choice(pool) for s in streets}
                zmap = {z: zips[(k * len(real_zips) + i) % len(zips)] for i, z in enumerate(real_zips)}
                dlat, dlon = 0.07 * (k % 12 + 1), 0.07 * (k // 12 + 1)
            for i in range(n_real):
                if written >= size:
                    break
                z = zmap.get(real["postal_code"][i], real["postal_code"][i])
                city = real["city"][i] if k == 0 else gaz.postal()[("US", z)].city
                w.writerow([f"{real['lon'][i] + dlon:.7f}", f"{real['lat'][i] + dlat:.7f}", real["number"][i],
                            names[real["street"][i]], real["unit"][i] or "", city, "CA", z])
                written += 1
            k += 1
    return written


def run_scaling(gaz, parsed: list, picks: list[dict], work: Path, repeat: int = 5) -> None:
    """Match-stage time at 10k / 100k / 1M points, each the best of ``repeat`` rounds taken in
    turn (so that load from other processes hits every size alike), against brute-force
    ``extractOne`` over all streets on a sample of the same queries."""
    sizes = (10_000, 100_000, 1_000_000)
    gazs = []
    for size in sizes:
        db = work / f"scale_{size}.duckdb"
        if not db.exists():
            src = work / f"scale_{size}.csv"
            t0 = time.perf_counter()
            replica_csv(gaz, size, src)
            build(db, [SourceSpec("openaddresses", src, name=f"oa:scale-{size}")])
            print(f"  built {db.name} in {time.perf_counter() - t0:.0f} s", flush=True)
        g = open_gazetteer(db)
        match.match_batch(parsed[:50], g)       # warm caches (postal table, coverage)
        gazs.append(g)
    sample = parsed[:300]
    best = [math.inf] * len(sizes)
    brute = [math.inf] * len(sizes)
    right = [0.0] * len(sizes)
    streets = [street_table(g) for g in gazs]
    for _ in range(repeat):
        for i, g in enumerate(gazs):
            t, res = timed(match.match_batch, parsed, g, repeat=1)
            best[i] = min(best[i], t)
            right[i] = judge(res, picks)["right"].mean()
            tb, _ = timed(brute_force, sample, streets[i], {}, repeat=1)
            brute[i] = min(brute[i], tb / len(sample))
    print(f"\n== match stage throughput vs gazetteer size ({len(parsed):,} distinct parsed queries per run,"
          f" best of {repeat})")
    print(f"{'points':>10} {'streets':>8} {'match s':>8} {'addr/s':>9} {'cost x':>7} {'size x':>7} {'right':>7}"
          f" {'extractOne addr/s':>18} {'ours / extractOne':>18}")
    p0 = None
    for i, g in enumerate(gazs):
        c = query_arrow(g.cursor(), "SELECT (SELECT count(*) FROM address_points) AS p, "
                                    "(SELECT count(*) FROM streets WHERE NOT alt) AS s").to_pylist()[0]
        p0 = p0 or c["p"]
        ours = len(parsed) / best[i]
        print(f"{c['p']:>10,} {c['s']:>8,} {best[i]:>8.2f} {ours:>9,.0f} {best[i] / best[0]:>7.2f} {c['p'] / p0:>7.0f}"
              f" {right[i]:>7.2%} {1 / brute[i]:>18,.0f} {ours * brute[i]:>17.1f}x")


# --------------------------------------------------------------------------- main


def queries(points: list[dict], n: int, seed: int, hard: bool = False):
    texts, picks = synth.messy_queries(points, n, seed, hard=hard)
    t0 = time.perf_counter()
    parsed = parse_batch(texts)
    return texts, picks, parsed, time.perf_counter() - t0


def fit(gaz, points: list[dict], n: int, held: set[tuple]) -> None:
    """Fit one calibration map per precision on the fit half: ordinary and hard queries, so
    that low scores are seen often enough to be measured."""
    parts = []
    for seed, hard in ((FIT_SEED, False), (FIT_SEED + 1, True)):
        _, picks, parsed, _ = queries(points, n, seed, hard)
        j = judge(match.match_batch(parsed, gaz), picks, held)
        use = (j["status"] == "matched") & ~j["capped"]
        building = np.asarray([f"{p['street_id']}|{p['number']}" for p in picks])
        parts.append((j["raw"][use], j["right"][use], j["stratum"][use], building[use]))
    raw, right, prec, building = (np.concatenate([p[k] for p in parts]) for k in range(4))
    strata = {}
    print(f"\nfitted on {raw.size:,} matched records of the fit half (ordinary + hard queries)"
          f" -> {CALIBRATION.relative_to(PROJECT)}")
    for stratum in match.STRATA:
        sel = prec == stratum
        if stratum == match.RANGE:
            strata[stratum] = range_map(strata.get(match.Precision.ADDRESS_POINT.value))
            continue
        if sel.sum() < 20:
            print(f"  {stratum}: {int(sel.sum())} records, too few: the default map stays")
            continue
        strata[stratum] = fit_calibration(raw[sel], right[sel], building[sel])
        for b in strata[stratum]["blocks"]:
            print(f"  {stratum:<18} raw {b['raw_from']:.3f}..{b['raw_to']:.3f}: {b['right']:>5}/{b['n']:<5} right"
                  f" -> {b['confidence']:.3f}")
    cal = {"strata": strata,
           "fitted_on": "SF EAS + Alameda SPAD Oakland points, benchmarks/match_accuracy.py --fit",
           "sample": {"split_seed": SPLIT_SEED, "query_seeds": [FIT_SEED, FIT_SEED + 1], "n": int(raw.size),
                      "withheld_buildings": WITHHELD},
           "method": "per kind of answer: isotonic regression, each block's 95% lower Wilson bound over its "
                     "distinct buildings, non-decreasing",
           "weights": match.WEIGHTS}
    CALIBRATION.parent.mkdir(parents=True, exist_ok=True)
    CALIBRATION.write_text(json.dumps(cal, indent=1) + "\n")
    match.reload_calibration()


def tune(gaz, points: list[dict], n: int, held: set[tuple]) -> dict:
    """Coordinate search over ``match.WEIGHTS`` on the fit half (ordinary + hard queries) and on
    queries for numbers in real TIGER ranges (Autauga County, AL), the mean share right:
    each weight scaled by 0.6 .. 1.5 in turn (the others renormalized), kept when the share
    right improves; two passes. Prints the best weights; copy them into ``match.WEIGHTS``."""
    samples = []
    for seed, hard in ((FIT_SEED, False), (FIT_SEED + 1, True)):
        _, picks, parsed, _ = queries(points, n, seed, hard)
        samples.append((parsed, picks, gaz))
    tiger = tiger_gazetteer(realdata())
    texts, picks = synth.range_queries(tiger, n // 2, FIT_SEED)
    samples.append((parse_batch(texts), picks, tiger))
    def score(w: dict) -> float:
        match.WEIGHTS.clear()
        match.WEIGHTS.update(w)
        return float(np.mean([judge(match.match_batch(parsed, g), picks, held)["right"].mean()
                              for parsed, picks, g in samples]))

    start = dict(match.WEIGHTS)
    best, best_score = dict(start), score(start)
    print(f"\ntuning WEIGHTS on the fit half; start {best_score:.4%}: {best}")
    for _ in range(2):
        for key in start:
            for f in (0.6, 0.8, 1.25, 1.5):
                w = dict(best)
                w[key] *= f
                total = sum(w.values())
                w = {k: round(v / total, 3) for k, v in w.items()}
                sc = score(w)
                if sc > best_score + 1e-9:
                    best, best_score = w, sc
                    print(f"  {key} x{f}: {sc:.4%}  {w}")
    match.WEIGHTS.clear()
    match.WEIGHTS.update(best)
    print(f"best {best_score:.4%}: {best}")
    return best


def range_map(point_map: dict | None) -> dict | None:
    """TIGER-range answers: no such streets in the SF/Oakland sample, so their map is the
    address-point map (finding the right street and number) times the lower bound of the
    share of range interpolations within RIGHT_M of the real point on the pelias Willow Ave
    and W 26th St sets (``benchmarks/interpolation.py``: leave-one-out ranges, default offset)."""
    if not point_map:
        return None
    from interpolation import range_errors

    err = range_errors(realdata())
    err = err[~np.isnan(err)]
    k, n = int((err <= RIGHT_M).sum()), int(err.size)
    factor = wilson_lower(k, n)
    print(f"  {match.RANGE:<18} address-point map x {factor:.3f} ({k}/{n} range interpolations within"
          f" {RIGHT_M:.0f} m on the pelias sets)")
    return {"raw": point_map["raw"], "confidence": [round(c * factor, 4) for c in point_map["confidence"]],
            "range_within_m": {"metres": RIGHT_M, "within": k, "n": n, "factor": round(factor, 4)}}


def held_out(gaz, points: list[dict], n: int, seed: int, hard: bool, held: set[tuple], failures: int = 0):
    texts, picks, parsed, t_parse = queries(points, n, seed, hard)
    t0 = time.perf_counter()
    res = match.match_batch(parsed, gaz)
    t_match = time.perf_counter() - t0
    j = judge(res, picks, held)
    print_summary(summary(j, f"held-out half, {'hard' if hard else 'ordinary'} queries (seed {seed})"))
    print_split(j)
    print(f"parse {len(parsed) / t_parse:,.0f} addr/s, match {len(parsed) / t_match:,.0f} addr/s")
    print_reliability(reliability(j), len(parsed))
    if failures:
        bad = np.flatnonzero(~j["right"])
        print(f"\n{bad.size} not right; the first {min(failures, bad.size)}:")
        for i in bad[:failures]:
            r, p = res[i], picks[i]
            print(f"  {texts[i]!r}\n    truth {p['number']} {p['predir'] or ''} {p['name']} {p['type'] or ''} #{p['unit']}"
                  f" -> {r.status} {r.house_number} {r.predirectional or ''} {r.street_name} {r.street_type or ''}"
                  f" #{r.unit} {j['err'][i]:.0f} m conf {r.confidence} {r.corrections} {r.reason or ''}")
    return parsed, picks, res


def tiger_held_out(n: int) -> None:
    """Numbers inside real TIGER ranges: right = matched within RIGHT_M of where the range puts
    the number (the range is the truth here: this measures finding the street and range)."""
    tiger = tiger_gazetteer(realdata())
    texts, picks = synth.range_queries(tiger, n, EVAL_SEED)
    res = match.match_batch(parse_batch(texts), tiger)
    j = judge(res, picks)
    s = summary(j, "numbers in Autauga TIGER ranges (seed 22)")
    print(f"\n== {s['label']}: {s['n']:,} queries; right {s['right']:.2%}; confidently wrong "
          f"{s['confidently_wrong']:.3%}; status {s['status']}")
    print_reliability(reliability(j), len(res))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=3500, help="queries per sample (fit and held-out)")
    ap.add_argument("--fit", action="store_true", help="refit and save addressing/data/calibration.json")
    ap.add_argument("--tune", action="store_true", help="search WEIGHTS on the fit half (prints them)")
    ap.add_argument("--baselines", action="store_true")
    ap.add_argument("--scaling", action="store_true")
    ap.add_argument("--failures", type=int, default=0, help="print this many wrong held-out records")
    ap.add_argument("--work", type=Path, default=WORK)
    args = ap.parse_args(argv)
    data = realdata()
    if not (data / "openaddresses").is_dir():
        print(f"no real data at {data} (set ADDRESSING_REALDATA)", file=sys.stderr)
        return 2
    args.work.mkdir(parents=True, exist_ok=True)
    full = gazetteer(data, args.work)
    points, dropped = truth_points(full)
    fit_pts, eval_pts = split(points)
    held = withhold(full, points)
    gaz = gaps_gazetteer(data, full, held, args.work)
    print(f"{len(points):,} distinct addresses (street, number, unit) kept ({sum(dropped.values())} dropped: "
          f"{dict(dropped)}); halves of {len(fit_pts):,} / {len(eval_pts):,}; {len(held):,} buildings "
          f"({WITHHELD:.0%}) withheld from {gaz.path.name}, which the queries are matched against")
    if args.tune:
        tune(gaz, fit_pts, args.n, held)
    if args.fit:
        fit(gaz, fit_pts, args.n, held)
    parsed, picks, res = held_out(gaz, eval_pts, args.n, EVAL_SEED, False, held, args.failures)
    held_out(gaz, eval_pts, args.n, EVAL_SEED + 1, True, held)
    tiger_held_out(args.n // 2)
    if args.baselines:
        run_baselines(gaz, parsed, picks, res, held)
    if args.scaling:
        run_scaling(full, parsed, picks, args.work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
