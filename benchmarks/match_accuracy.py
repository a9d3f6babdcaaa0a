"""Match accuracy and calibrated confidence on every real point set, reported on regions nothing was fitted on.

    export ADDRESSING_REALDATA=../shared/data        # default: ../shared/data next to the project
    .venv/bin/python benchmarks/match_accuracy.py              # report regions: per region, per kind, targets
    .venv/bin/python benchmarks/match_accuracy.py --failures 8 # ... and 8 wrong records per kind
    .venv/bin/python benchmarks/match_accuracy.py --fit        # refit addressing/data/calibration.json (fit regions)
    .venv/bin/python benchmarks/match_accuracy.py --tune       # search scoring.WEIGHTS (fit regions)
    .venv/bin/python benchmarks/match_accuracy.py --baselines  # + exact join and brute-force extractOne, timed
    .venv/bin/python benchmarks/match_accuracy.py --scaling    # match throughput at 10k / 100k / 1M points

Regions (``accuracy_regions``): every real point file and TIGER county of the shared data, and
synthetic regions derived from them for phenomena the files lack (0-prefixed ZIPs, look-alike
streets, one street name in two ZIPs of a town, lettered streets), all built into one gazetteer
with ``addressing.gazetteer.store.build``. Each region sits on a fixed side: *fit* (San
Francisco, Oakland, Autauga and what is derived from them: the weights and the calibration were
fitted there) or *report* (everything else). Every figure printed is on report regions, except
the block labelled as fit-region diagnosis (``--show-fit``).

Queries (``accuracy_mess``): from each region's distinct addresses, up to ``--per-kind`` seeded
queries of each kind of mess, one kind per query (``SPECIAL_FACTOR`` times as many of the kinds
only some truths have). They go through the real pipeline path, ``pipeline.clean_table`` (parse
-> match -> assess, as ``addressing clean`` runs it), and are judged on the output record:

- *right*: ``matched``, within ``RIGHT_M`` of the true point, the true unit;
- *confidently wrong*: confidence >= ``CONFIDENT`` and more than ``WRONG_M`` off (or no point)
  or the wrong unit, whatever the status;
- *ZIP kept*: where the customer wrote the true ZIP (``2118`` counts for ``02118``), the output
  ``postal_code`` is the truth ZIP, character for character.

The baseline in the same run is plain ``usaddress.tag`` and an exact lookup of (number,
directionals, name, type, ZIP) in the same gazetteer (the address point, or the TIGER range
holding the number). ``--fit`` fits the calibration on fit-region queries matched against the
gazetteer with ``WITHHELD`` of the fit regions' buildings left out (their queries are the
negatives: interpolations and numbers out of range); ``--tune`` searches ``scoring.WEIGHTS`` on
the same queries.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
from rapidfuzz import fuzz, process

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))
sys.path.insert(0, str(PROJECT / "benchmarks"))

import accuracy_mess as mess  # noqa: E402
import accuracy_regions as regions  # noqa: E402

from addressing import geocode  # noqa: E402
from addressing.gazetteer import open_gazetteer, query_arrow  # noqa: E402
from addressing.gazetteer.keys import name_key  # noqa: E402
from addressing.gazetteer.store import SourceSpec, build  # noqa: E402
from addressing.geocode import distance_m  # noqa: E402
from addressing.match import match_batch, scoring  # noqa: E402
from addressing.match.calibration import RANGE, STRATA, raw_score, reload_calibration  # noqa: E402
from addressing.match.queries import unit_norm  # noqa: E402
from addressing.parse import parse_batch, usps  # noqa: E402
from addressing.pipeline import clean_table  # noqa: E402
from addressing.risk import load_risk  # noqa: E402
from addressing.schema import Precision  # noqa: E402

WORK = PROJECT / "build" / "bench"
CALIBRATION = PROJECT / "addressing" / "data" / "calibration.json"
#: issue 15's definitions
RIGHT_M = 25.0             # right: within this of the true point
WRONG_M = 50.0             # confidently wrong: further than this (or no point), or the wrong unit
CONFIDENT = 0.9            # ... at confidence at least this
WITHHELD = 0.08            # --fit/--tune: share of fit buildings left out of the gazetteer matched against
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.97, 0.98, 0.99)
PER_KIND = 60              # queries per region and kind (default)
SPECIAL_FACTOR = 4         # ... times this for the kinds only some truths have
SPECIAL_KINDS = ("lettered", "leading_zero", "lookalike")
FIT_FACTOR = 3             # --fit draws this many times more queries per region and kind
HELD_SEED, FIT_SEED, EVAL_SEED = 20260102, 11, 22
#: what the product promises (issue 15); each is checked at the end of a run
TARGET_RIGHT = 0.98        # overall share right, report regions
TARGET_KIND_RIGHT = 0.95   # share right of every kind of mess
TARGET_CONF_WRONG = 0.002  # share confidently wrong
TARGET_ZIPS_KEPT = 1.0     # share of right-ZIP queries whose output keeps that ZIP exactly


def realdata() -> Path:
    return Path(os.environ.get("ADDRESSING_REALDATA") or PROJECT.parent / "shared" / "data")


# --------------------------------------------------------------------------- queries through the pipeline


def quotas(per_kind: int) -> dict[str, int]:
    return {k: per_kind * (SPECIAL_FACTOR if k in SPECIAL_KINDS else 1) for k in mess.KINDS}


def draw(truths: dict[str, list[dict]], per_kind: int, seed: int) -> list[mess.Query]:
    """Queries of every kind, each kind with its own quota per region."""
    return mess.make_queries(truths, quotas(per_kind), seed)


def answers_of_table(t: pa.Table) -> dict[str, list]:
    """The output record's fields the judging reads."""
    keep = ("match_status", "precision", "confidence", "lat", "lon", "unit_type", "unit", "postal_code", "house_number",
            "predirectional", "street_name", "street_type", "postdirectional", "city", "state", "corrections",
            "reason", "candidates", "parser")
    return {k: t.column(k).to_pylist() for k in keep}


def answers_of_results(results: list) -> dict[str, list]:
    """``match_batch`` results in the output record's field names (for --fit and --tune)."""
    fields = {"match_status": "status", "precision": "precision", "confidence": "confidence", "lat": "lat",
              "lon": "lon", "unit_type": "unit_type", "unit": "unit", "postal_code": "postal_code",
              "house_number": "house_number",
              "predirectional": "predirectional", "street_name": "street_name", "street_type": "street_type",
              "postdirectional": "postdirectional", "city": "city", "state": "state", "corrections": "corrections",
              "reason": "reason", "candidates": "candidates"}
    return {k: [getattr(r, a) for r in results] for k, a in fields.items()}


def run_pipeline(queries: list[mess.Query], gaz, risk) -> tuple[dict[str, list], float]:
    """Every query through ``clean_table`` as one batch of orders (``address`` + ``address2``)."""
    raw = pa.table({"order_id": [f"Q{i:06d}" for i in range(len(queries))],
                    "address": [q.text for q in queries],
                    "address2": [q.line2 for q in queries]})
    t0 = time.perf_counter()
    out = clean_table(raw, gaz, risk)
    return answers_of_table(out), time.perf_counter() - t0


def one_line(q: mess.Query) -> str:
    """The order as one line, as ``io.one_line`` joins ``address`` and ``address2``."""
    return f"{q.text}, {q.line2}" if q.line2 else q.text


# --------------------------------------------------------------------------- judging


def unit_right(unit_type: str | None, unit: str | None, truth: str | None) -> bool:
    """The true unit; a unit that takes no value (``REAR``) may come back as the designator."""
    if unit_norm(unit) == unit_norm(truth):
        return True
    return bool(mess.valueless(truth)) and not unit and unit_type == mess.valueless(truth)


def judge(queries: list[mess.Query], a: dict[str, list]) -> dict[str, np.ndarray]:
    lat = np.asarray([np.nan if v is None else v for v in a["lat"]], float)
    lon = np.asarray([np.nan if v is None else v for v in a["lon"]], float)
    err = distance_m(lon, lat, [q.truth["lon"] for q in queries], [q.truth["lat"] for q in queries])
    unit_ok = np.asarray([unit_right(ut, u, q.truth["unit"]) for ut, u, q in zip(a["unit_type"], a["unit"], queries)])
    status = np.asarray(a["match_status"])
    conf = np.asarray(a["confidence"], float)
    right = (status == "matched") & (err <= RIGHT_M) & unit_ok
    far = ~(err <= WRONG_M)                  # NaN (no point) counts as far
    wrote_zip = np.asarray([q.wrote_right_zip for q in queries])
    zip_kept = np.asarray([pc == q.truth["zip"] for pc, q in zip(a["postal_code"], queries)])
    return {"err": err, "unit_ok": unit_ok, "status": status, "conf": conf, "right": right,
            "conf_wrong": (conf >= CONFIDENT) & (far | ~unit_ok), "wrote_zip": wrote_zip, "zip_kept": zip_kept,
            "kind": np.asarray([q.kind for q in queries]), "region": np.asarray([q.region for q in queries])}


def row_figures(j: dict[str, np.ndarray], sel: np.ndarray, base_right: np.ndarray | None) -> tuple:
    n = int(sel.sum())
    if n == 0:
        return (0,) + (math.nan,) * 7
    st = j["status"][sel]
    matched_err = j["err"][sel & (j["status"] == "matched") & ~np.isnan(j["err"])]
    wrong = (st == "matched") & ~j["right"][sel]
    return (n, j["right"][sel].mean(), j["conf_wrong"][sel].mean(), (st == "ambiguous").mean(),
            np.isin(st, ("unmatched", "invalid")).mean(), wrong.mean(),
            float(np.median(matched_err)) if matched_err.size else math.nan,
            base_right[sel].mean() if base_right is not None else math.nan)


HEADER = (f"{'':<22} {'queries':>7} {'right':>7} {'conf.wrong':>10} {'ambiguous':>9} {'unmatched':>9} "
          f"{'matched, wrong':>14} {'median m':>8} {'baseline':>8}")


def print_row(label: str, f: tuple) -> None:
    n, right, cw, amb, unm, wrong, med, base = f
    if n == 0:
        print(f"{label:<22} {0:>7}")
        return
    print(f"{label:<22} {n:>7,} {right:>7.1%} {cw:>10.2%} {amb:>9.1%} {unm:>9.1%} {wrong:>14.1%} {med:>8.1f}"
          f" {base:>8.1%}")


def print_tables(j: dict[str, np.ndarray], base_right: np.ndarray, bench: regions.Bench, title: str) -> None:
    every = np.ones(j["right"].size, bool)
    print(f"\n== {title}: by region")
    print(HEADER)
    for key in bench.truths:
        sel = j["region"] == key
        if sel.any():
            print_row(key, row_figures(j, sel, base_right))
    print_row("all", row_figures(j, every, base_right))
    print(f"\n== {title}: by kind of mess")
    print(HEADER)
    for kind in mess.KINDS:
        print_row(kind, row_figures(j, j["kind"] == kind, base_right))
    print_row("all", row_figures(j, every, base_right))


def reliability(j: dict[str, np.ndarray]) -> list[tuple]:
    rows = []
    for c in THRESHOLDS:
        sel = j["conf"] >= c
        n = int(sel.sum())
        share = float(j["right"][sel].mean()) if n else math.nan
        rows.append((c, n, share, n == 0 or share >= c))
    return rows


def print_reliability(rows: list[tuple], n: int, title: str) -> None:
    print(f"\n== {title}: of the records with confidence >= c, the share right (ok when >= c)")
    print(f"{'c':>6} {'records':>9} {'of all':>7} {'right':>8}  ok")
    for c, k, share, ok in rows:
        print(f"{c:>6.2f} {k:>9,} {k / max(n, 1):>7.1%} {share:>8.2%}  {'yes' if ok else 'NO'}")


def zips_kept(j: dict[str, np.ndarray], queries: list[mess.Query], postal: list) -> tuple[float, int, Counter]:
    """Share of right-ZIP queries whose output keeps the ZIP; the misses per (region, what the
    output holds instead) so that a dropped leading zero shows as such."""
    sel = j["wrote_zip"]
    n = int(sel.sum())
    misses: Counter = Counter()
    for i in np.flatnonzero(sel & ~j["zip_kept"]):
        got = postal[i]
        form = "none" if not got else ("leading zero lost" if got.lstrip("0") == queries[i].truth["zip"].lstrip("0")
                                       else "another ZIP")
        misses[(queries[i].region, form)] += 1
    return (float(j["zip_kept"][sel].mean()) if n else math.nan), n, misses


# --------------------------------------------------------------------------- baseline: usaddress + exact lookup


USADDRESS_FIELDS = {"AddressNumber": "number", "StreetNamePreDirectional": "predir", "StreetName": "name",
                    "StreetNamePostType": "type", "StreetNamePostDirectional": "postdir",
                    "OccupancyIdentifier": "unit", "ZipCode": "zip"}


def _plain(v: str) -> str:
    return " ".join(v.upper().replace(".", " ").replace(",", " ").split())


def usaddress_parts(text: str) -> dict | None:
    """``usaddress.tag`` mapped to Pub 28 forms (the directional and type tables), nothing
    more: no fuzzy matching, no correction."""
    import usaddress

    try:
        tagged, _ = usaddress.tag(text)
    except usaddress.RepeatedLabelError:
        return None
    out = {v: None for v in USADDRESS_FIELDS.values()}
    for label, field in USADDRESS_FIELDS.items():
        if tagged.get(label):
            out[field] = _plain(tagged[label])
    for d in ("predir", "postdir"):
        if out[d]:
            out[d] = usps.DIRECTIONALS.get(out[d].replace(" ", ""), out[d])
    if out["type"]:
        out["type"] = usps.suffixes().get(out["type"], out["type"])
    if out["zip"]:
        out["zip"] = out["zip"][:5]
    return out


class ExactIndex:
    """The gazetteer as two dicts: address points by (number, predir, name, type, postdir, ZIP,
    unit) and TIGER ranges by (predir, name, type, postdir, ZIP)."""

    def __init__(self, gaz):
        pts = query_arrow(gaz.cursor(), """
            SELECT number, predir, name, type, postdir, postal_code, unit, avg(lat) AS lat, avg(lon) AS lon
            FROM address_points GROUP BY ALL""").to_pylist()
        self.points = {(p["number"], p["predir"], p["name"], p["type"], p["postdir"], p["postal_code"],
                        unit_norm(p["unit"])): (p["lat"], p["lon"]) for p in pts}
        segs = query_arrow(gaz.cursor(), """
            SELECT predir, name, type, postdir, zip_left, zip_right, postal_code, from_left, to_left, from_right,
                   to_right, parity_left, parity_right, sided, geom FROM segments""").to_pylist()
        self.ranges: dict[tuple, list[dict]] = defaultdict(list)
        for s in segs:
            for z in {s["zip_left"], s["zip_right"], s["postal_code"]} - {None}:
                self.ranges[(s["predir"], s["name"], s["type"], s["postdir"], z)].append(s)

    def find(self, p: dict | None) -> tuple[float, float, str | None] | None:
        if not p or not p["number"] or not p["name"]:
            return None
        street = (p["predir"], p["name"], p["type"], p["postdir"], p["zip"])
        unit = unit_norm(p["unit"])
        hit = self.points.get((p["number"], *street, unit))
        if hit:
            return hit[0], hit[1], p["unit"]
        if not p["number"].isdigit():
            return None
        return self._in_range(int(p["number"]), self.ranges.get(street, ()))

    @staticmethod
    def _in_range(num: int, segs) -> tuple[float, float, None] | None:
        import shapely

        for s in segs:
            for a, b, parity, side in ((s["from_left"], s["to_left"], s["parity_left"], "L"),
                                       (s["from_right"], s["to_right"], s["parity_right"], "R")):
                if a is None or b is None or not min(a, b) <= num <= max(a, b):
                    continue
                if parity in ("O", "E") and num % 2 != (1 if parity == "O" else 0):
                    continue
                lon, lat = geocode.interpolate_on_segments([shapely.from_wkb(s["geom"])], [num], [a], [b],
                                                           [side if s["sided"] else None])
                return float(lat[0]), float(lon[0]), None
        return None


def run_baseline(queries: list[mess.Query], gaz) -> tuple[np.ndarray, float]:
    """Right per query for usaddress + exact lookup, and its time."""
    index = ExactIndex(gaz)
    t0 = time.perf_counter()
    found = [index.find(usaddress_parts(one_line(q))) for q in queries]
    seconds = time.perf_counter() - t0
    lat = np.asarray([np.nan if f is None else f[0] for f in found], float)
    lon = np.asarray([np.nan if f is None else f[1] for f in found], float)
    err = distance_m(lon, lat, [q.truth["lon"] for q in queries], [q.truth["lat"] for q in queries])
    unit_ok = np.asarray([f is not None and unit_norm(f[2]) == unit_norm(q.truth["unit"])
                          for f, q in zip(found, queries)])
    return (err <= RIGHT_M) & unit_ok, seconds


# --------------------------------------------------------------------------- failures


def failure_class(j: dict[str, np.ndarray], i: int) -> str:
    st = j["status"][i]
    if st != "matched":
        return st
    if not j["unit_ok"][i]:
        return "matched, wrong unit"
    return "matched, far" if not np.isnan(j["err"][i]) else "matched, no point"


def print_failure_classes(j: dict[str, np.ndarray]) -> None:
    bad = np.flatnonzero(~j["right"])
    print(f"\n== report regions: what the {bad.size:,} records not right were, by kind")
    classes = Counter((j["kind"][i], failure_class(j, i)) for i in bad)
    for (kind, cls), n in classes.most_common():
        print(f"  {n:>5}  {kind:<16} {cls}")


def _components(num, pre, name, typ, post, unit=None) -> str:
    s = " ".join(str(x) for x in (num, pre, name, typ, post) if x)
    return f"{s} #{unit}" if unit else s


def print_failures(queries: list[mess.Query], a: dict[str, list], j: dict[str, np.ndarray], per_kind: int,
                   title: str = "report regions") -> None:
    """``per_kind`` records not right of each kind, regions taken in turn: the text, the truth,
    and what the pipeline answered, in the output record's own fields."""
    print(f"\n== {title}: up to {per_kind} records not right per kind")
    for kind in mess.KINDS:
        idx = np.flatnonzero((j["kind"] == kind) & ~j["right"])
        if not idx.size:
            continue
        by_region: dict[str, list[int]] = defaultdict(list)
        for i in idx:
            by_region[j["region"][i]].append(int(i))
        shown = []
        while len(shown) < per_kind and any(by_region.values()):
            for key in sorted(by_region):
                if by_region[key] and len(shown) < per_kind:
                    shown.append(by_region[key].pop(0))
        print(f"\n-- {kind}: {idx.size} of {int((j['kind'] == kind).sum())} not right")
        for i in shown:
            q, t = queries[i], queries[i].truth
            line2 = f"  + line 2 {q.line2!r}" if q.line2 else ""
            print(f"  [{q.region}] {q.text!r}{line2}   ({q.detail})")
            print(f"     truth   {_components(t['number'], t['predir'], t['name'], t['type'], t['postdir'], t['unit'])},"
                  f" {t['city']} {t['state']} {t['zip']}  ({t['lat']:.5f}, {t['lon']:.5f})")
            err = "" if np.isnan(j["err"][i]) else f"{j['err'][i]:.0f} m off"
            print(f"     answer  {a['match_status'][i]} {a['precision'][i]} conf {a['confidence'][i]:.2f} {err}:"
                  f" {_components(a['house_number'][i], a['predirectional'][i], a['street_name'][i], a['street_type'][i], a['postdirectional'][i], a['unit'][i])},"
                  f" {a['city'][i]} {a['state'][i]} {a['postal_code'][i]}")
            extra = [f"parser {a['parser'][i]}"] if a.get("parser") else []
            if a["corrections"][i]:
                extra.append(f"corrections {a['corrections'][i]}")
            if a["reason"][i]:
                extra.append(f"reason {a['reason'][i]!r}")
            if a["candidates"][i]:
                cands = "; ".join(_candidate(c) for c in a["candidates"][i][:3])
                extra.append(f"candidates {cands}")
            if extra:
                print("             " + " | ".join(extra))


def _candidate(c) -> str:
    if isinstance(c, dict):
        line = c.get("line1") or _components(c.get("house_number"), c.get("predirectional"), c.get("street_name"),
                                              c.get("street_type"), c.get("postdirectional"))
        return f"{line} {c.get('postal_code') or ''} score {c.get('score')}"
    return str(c)


# --------------------------------------------------------------------------- targets


def check_targets(j: dict[str, np.ndarray], zip_share: float, rel: list[tuple]) -> list[tuple[str, str, bool]]:
    kinds = {k: j["right"][j["kind"] == k].mean() for k in mess.KINDS if (j["kind"] == k).any()}
    worst = min(kinds, key=kinds.get)
    return [
        (f"overall right >= {TARGET_RIGHT:.0%}", f"{j['right'].mean():.2%}", j["right"].mean() >= TARGET_RIGHT),
        (f"every kind right >= {TARGET_KIND_RIGHT:.0%}", f"worst: {worst} {kinds[worst]:.2%}; below: "
         + (", ".join(f"{k} {v:.1%}" for k, v in kinds.items() if v < TARGET_KIND_RIGHT) or "none"),
         kinds[worst] >= TARGET_KIND_RIGHT),
        (f"confidently wrong <= {TARGET_CONF_WRONG:.1%}", f"{j['conf_wrong'].mean():.3%} ({int(j['conf_wrong'].sum())})",
         j["conf_wrong"].mean() <= TARGET_CONF_WRONG),
        (f"ZIPs kept {TARGET_ZIPS_KEPT:.0%}", f"{zip_share:.2%}", zip_share >= TARGET_ZIPS_KEPT),
        ("calibration: share right >= c at every c", ", ".join(f"{c:.2f}: {s:.1%}" for c, _, s, ok in rel if not ok)
         or "every threshold holds", all(ok for *_, ok in rel)),
    ]


def print_targets(rows: list[tuple[str, str, bool]]) -> None:
    print("\n== targets (report regions)")
    for label, value, ok in rows:
        print(f"  {'HOLDS' if ok else 'FAILS':<6} {label:<42} {value}")


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


def range_map(point_map: dict | None) -> dict | None:
    """TIGER-range answers: their truth is where the range itself puts the number, so the
    queries cannot say how far that is from the real house. Their map is the address-point map
    (finding the right street and number) times the lower bound of the share of range
    interpolations within RIGHT_M of the real point on the pelias Willow Ave and W 26th St
    sets (``benchmarks/interpolation.py``: leave-one-out ranges, default offset)."""
    if not point_map:
        return None
    from interpolation import range_errors

    err = range_errors(realdata())
    err = err[~np.isnan(err)]
    k, n = int((err <= RIGHT_M).sum()), int(err.size)
    factor = wilson_lower(k, n)
    print(f"  {RANGE:<18} address-point map x {factor:.3f} ({k}/{n} range interpolations within"
          f" {RIGHT_M:.0f} m on the pelias sets)")
    return {"raw": point_map["raw"], "confidence": [round(c * factor, 4) for c in point_map["confidence"]],
            "range_within_m": {"metres": RIGHT_M, "within": k, "n": n, "factor": round(factor, 4)}}


def withheld_buildings(bench: regions.Bench) -> set[str]:
    """A seeded WITHHELD share of the fit point regions' buildings (all their units)."""
    keys = sorted({regions.building(t) for key, ts in bench.truths.items() if bench.regions[key].side == regions.FIT
                   for t in ts if not t["range"]})
    rng = random.Random(HELD_SEED)
    return set(rng.sample(keys, round(WITHHELD * len(keys))))


def fit_sample(bench: regions.Bench, per_kind: int, seed: int) -> tuple[list[mess.Query], list]:
    """Fit-region queries and their parses (the fit works on ``match_batch`` results: it needs
    the raw score and the kind of answer, which the output record does not carry)."""
    fit_truths = {k: ts for k, ts in bench.truths.items() if bench.regions[k].side == regions.FIT}
    queries = draw(fit_truths, per_kind, seed)
    return queries, parse_batch([one_line(q) for q in queries])


def fit(bench: regions.Bench, gaps, held: set[str], per_kind: int, out: Path) -> None:
    """One calibration map per kind of answer, from fit-region queries matched against the
    gazetteer without the withheld buildings."""
    queries, parsed = fit_sample(bench, per_kind * FIT_FACTOR, FIT_SEED)
    results = match_batch(parsed, gaps)
    j = judge(queries, answers_of_results(results))
    capped = np.asarray([r.unit_known is False or (not r.unit and r.n_units > 0 and not r.has_base) for r in results])
    use = (j["status"] == "matched") & ~capped
    raw = raw_score(np.asarray([r.score for r in results]), np.asarray([r.margin for r in results]))[use]
    right = j["right"][use]
    stratum = np.asarray([r.stratum or r.precision for r in results])[use]
    group = np.asarray([regions.building(q.truth) for q in queries])[use]
    held_n = sum(regions.building(q.truth) in held for q in queries)
    print(f"\nfitted on {raw.size:,} matched records of {len(queries):,} fit-region queries ({held_n:,} about "
          f"withheld buildings) -> {out}")
    strata = {}
    for s in STRATA:
        sel = stratum == s
        if s == RANGE:
            strata[s] = range_map(strata.get(Precision.ADDRESS_POINT.value))
            continue
        if sel.sum() < 20:
            print(f"  {s}: {int(sel.sum())} records, too few: the default map stays")
            continue
        strata[s] = fit_calibration(raw[sel], right[sel], group[sel])
        for b in strata[s]["blocks"]:
            print(f"  {s:<18} raw {b['raw_from']:.3f}..{b['raw_to']:.3f}: {b['right']:>5}/{b['n']:<5} right"
                  f" -> {b['confidence']:.3f}")
    fit_keys = sorted(k for k, r in bench.regions.items() if r.side == regions.FIT)
    cal = {"strata": strata,
           "fitted_on": f"fit regions {', '.join(fit_keys)}: benchmarks/match_accuracy.py --fit",
           "sample": {"held_seed": HELD_SEED, "query_seed": FIT_SEED, "per_kind": per_kind * FIT_FACTOR,
                      "n": int(raw.size), "withheld_buildings": WITHHELD, "right_m": RIGHT_M},
           "method": "per kind of answer: isotonic regression, each block's 95% lower Wilson bound over its "
                     "distinct buildings, non-decreasing",
           "weights": scoring.WEIGHTS}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(cal, indent=1) + "\n")
    if out.resolve() == CALIBRATION.resolve():
        reload_calibration()


def tune(bench: regions.Bench, gaps, per_kind: int) -> dict:
    """Coordinate search over ``scoring.WEIGHTS`` on fit-region queries (against the gazetteer
    without the withheld buildings), the share right: each weight scaled by 0.6 .. 1.5 in turn
    (the others renormalized), kept when the share right improves; two passes. Prints the best
    weights; copy them into ``scoring.WEIGHTS``."""
    queries, parsed = fit_sample(bench, per_kind, FIT_SEED + 1)

    def score(w: dict) -> float:
        scoring.WEIGHTS.clear()
        scoring.WEIGHTS.update(w)
        return float(judge(queries, answers_of_results(match_batch(parsed, gaps)))["right"].mean())

    start = dict(scoring.WEIGHTS)
    best, best_score = dict(start), score(start)
    print(f"\ntuning WEIGHTS on {len(queries):,} fit-region queries; start {best_score:.4%}: {best}")
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
    scoring.WEIGHTS.clear()
    scoring.WEIGHTS.update(best)
    print(f"best {best_score:.4%}: {best}")
    return best


# --------------------------------------------------------------------------- --baselines: more baselines, timed


def street_table(gaz) -> dict:
    sql = "SELECT street_id, predir, name, type, postdir, postal_code, city FROM streets WHERE NOT alt"
    return query_arrow(gaz.cursor(), sql).to_pydict()


def point_lookup(gaz) -> dict:
    """(street_id, number, unit or None) -> (lat, lon): for the baselines' final step."""
    sql = """SELECT street_id, number, unit, avg(lat) AS lat, avg(lon) AS lon FROM address_points
             GROUP BY street_id, number, unit"""
    t = query_arrow(gaz.cursor(), sql).to_pydict()
    return {(s, n, unit_norm(u)): (la, lo) for s, n, u, la, lo in zip(t["street_id"], t["number"], t["unit"],
                                                                           t["lat"], t["lon"])}


def exact_join(gaz, parsed: list) -> list[tuple]:
    """Plain exact join of our parse's components on the address points (no fuzziness, no
    blocking rounds): name key, type, directionals, number, ZIP (city when no ZIP), unit."""
    q = pa.table({
        "qid": pa.array(range(len(parsed)), pa.int64()),
        "name_key": [name_key(p.street_name) for p in parsed],
        "type": [p.street_type for p in parsed], "predir": [p.predirectional for p in parsed],
        "postdir": [p.postdirectional for p in parsed], "number": [p.house_number for p in parsed],
        "postal_code": [p.postal_code for p in parsed], "city": [p.city for p in parsed],
        "unit": [unit_norm(p.unit) for p in parsed],
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
        pt = points.get((sid, p.house_number, unit_norm(p.unit)))
        out.append((pt[0], pt[1], p.unit) if pt else (None, None, None))
    return out


def judge_simple(found: list[tuple], queries: list[mess.Query]) -> float:
    lat = np.asarray([np.nan if f[0] is None else f[0] for f in found], float)
    lon = np.asarray([np.nan if f[1] is None else f[1] for f in found], float)
    err = distance_m(lon, lat, [q.truth["lon"] for q in queries], [q.truth["lat"] for q in queries])
    unit_ok = np.asarray([unit_norm(f[2]) == unit_norm(q.truth["unit"]) for f, q in zip(found, queries)])
    return float(((err <= RIGHT_M) & unit_ok).mean())


def timed(fn, *args, repeat: int = 2):
    best, out = math.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best, out


def run_baselines(gaz, queries: list[mess.Query], right: float) -> None:
    """Our match stage against an exact join and brute-force ``extractOne``, all on our parse
    of the report queries, timed in this process."""
    parsed = parse_batch([one_line(q) for q in queries])
    streets = street_table(gaz)
    points = point_lookup(gaz)
    t_ours, _ = timed(match_batch, parsed, gaz)
    t_exact, exact = timed(exact_join, gaz, parsed)
    t_brute, brute = timed(brute_force, parsed, streets, points, repeat=1)
    n = len(parsed)
    print(f"\n== baselines on our parse of the {n:,} report queries ({len(streets['street_id']):,} streets)")
    print(f"{'method':<48} {'right':>8} {'addr/s':>10} {'time vs ours':>13}")
    rows = [("ours: clean_table (right) / match_batch (time)", right, t_ours),
            ("exact join (name key, type, dirs, number, ZIP)", judge_simple(exact, queries), t_exact),
            ("brute force extractOne over all streets", judge_simple(brute, queries), t_brute)]
    for label, r, t in rows:
        print(f"{label:<48} {r:>8.2%} {n / t:>10,.0f} {t / t_ours:>12.2f}x")


# --------------------------------------------------------------------------- --scaling


def replica_csv(gaz, size: int, path: Path) -> int:
    """An OA CSV of ``size`` points: the real points, then copies of them as other towns
    (coordinates shifted, real CA ZIPs and their cities, streets renamed from a pool of
    real street names, so names repeat across towns as they do in life)."""
    import csv

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


def run_scaling(data: Path, work: Path, per_kind: int, repeat: int = 5) -> None:
    """Match-stage time at 10k / 100k / 1M points (San Francisco + Oakland replicated), each the
    best of ``repeat`` rounds taken in turn (so that load from other processes hits every size
    alike), against brute-force ``extractOne`` over all streets on a sample of the queries.
    The queries are on San Francisco and Oakland, fit regions: the share right is a check
    that scale does not cost accuracy, not a result."""
    base = regions.build_bench(data, work, db_name="scaling_base.duckdb", regions=("sf", "oakland"))
    queries = draw(base.truths, per_kind, EVAL_SEED)
    parsed = parse_batch([one_line(q) for q in queries])
    sizes = (10_000, 100_000, 1_000_000)
    gazs = []
    for size in sizes:
        db = work / f"scale_{size}.duckdb"
        if not db.exists():
            src = work / f"scale_{size}.csv"
            t0 = time.perf_counter()
            replica_csv(base.gaz, size, src)
            build(db, [SourceSpec("openaddresses", src, name=f"oa:scale-{size}")])
            print(f"  built {db.name} in {time.perf_counter() - t0:.0f} s", flush=True)
        g = open_gazetteer(db)
        match_batch(parsed[:50], g)       # warm caches (postal table, coverage)
        gazs.append(g)
    sample = parsed[:300]
    best = [math.inf] * len(sizes)
    brute = [math.inf] * len(sizes)
    right = [0.0] * len(sizes)
    streets = [street_table(g) for g in gazs]
    for _ in range(repeat):
        for i, g in enumerate(gazs):
            t, res = timed(match_batch, parsed, g, repeat=1)
            best[i] = min(best[i], t)
            right[i] = judge(queries, answers_of_results(res))["right"].mean()
            tb, _ = timed(brute_force, sample, streets[i], {}, repeat=1)
            brute[i] = min(brute[i], tb / len(sample))
    print(f"\n== match stage throughput vs gazetteer size ({len(parsed):,} parsed queries per run, best of {repeat};"
          f" 'right' on fit-region queries: a check, not a result)")
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


def print_regions(bench: regions.Bench) -> None:
    print(f"{'region':<20} {'':<36} {'side':<7} {'what':<13} {'truths':>7}  truth ZIP from")
    for key, side, _, what, n, zf in regions.describe(bench):
        print(f"{key:<20} {bench.regions[key].label:<36} {side:<7} {what:<13} {n:>7,}  {zf}")
    dropped = {k: v for k, v in bench.dropped.items() if v}
    print(f"dropped: no deliverable address in the source (number 0, street UNKNOWN, a run of units), or ranges"
          f" with no number that only they hold: {dropped}")


def evaluate(bench: regions.Bench, side: str, per_kind: int, risk) -> tuple[list, dict, dict, np.ndarray]:
    truths = {k: ts for k, ts in bench.truths.items() if bench.regions[k].side == side}
    queries = draw(truths, per_kind, EVAL_SEED)
    answers, seconds = run_pipeline(queries, bench.gaz, risk)
    j = judge(queries, answers)
    base_right, base_s = run_baseline(queries, bench.gaz)
    print(f"\n{len(queries):,} {side}-region queries through clean_table in {seconds:.1f} s "
          f"({len(queries) / seconds:,.0f}/s); baseline usaddress + exact lookup {base_s:.1f} s")
    return queries, answers, j, base_right


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-kind", type=int, default=PER_KIND, help="queries per region and kind of mess")
    ap.add_argument("--fit", action="store_true", help="refit the calibration on fit regions (writes --calibration)")
    ap.add_argument("--calibration", type=Path, default=CALIBRATION, help="where --fit writes the map")
    ap.add_argument("--tune", action="store_true", help="search WEIGHTS on fit regions (prints them)")
    ap.add_argument("--show-fit", action="store_true", help="also print the fit regions' tables, for diagnosis")
    ap.add_argument("--baselines", action="store_true", help="exact join and brute-force extractOne, timed")
    ap.add_argument("--scaling", action="store_true")
    ap.add_argument("--failures", type=int, default=0, help="print this many wrong records per kind")
    ap.add_argument("--work", type=Path, default=WORK)
    args = ap.parse_args(argv)
    data = realdata()
    if not (data / "openaddresses").is_dir():
        print(f"no real data at {data} (set ADDRESSING_REALDATA)", file=sys.stderr)
        return 2
    args.work.mkdir(parents=True, exist_ok=True)
    bench = regions.build_bench(data, args.work)
    print_regions(bench)
    if args.tune or args.fit:
        held = withheld_buildings(bench)
        gaps = regions.gaps_gazetteer(bench, held, args.work)
        if args.tune:
            tune(bench, gaps, args.per_kind)
            print("the figures below are with these weights")
        if args.fit:
            fit(bench, gaps, held, args.per_kind, args.calibration)
            if args.calibration.resolve() == CALIBRATION.resolve():
                print("the figures below are with this calibration")
    risk = load_risk(None)
    if args.show_fit:
        title = "FIT regions, for diagnosis only (weights and calibration were fitted here)"
        qf, af, jf, bf = evaluate(bench, regions.FIT, args.per_kind, risk)
        print_tables(jf, bf, bench, title)
        if args.failures:
            print_failures(qf, af, jf, args.failures, title)
    queries, answers, j, base_right = evaluate(bench, regions.REPORT, args.per_kind, risk)
    print_tables(j, base_right, bench, "report regions")
    rel = reliability(j)
    print_reliability(rel, j["right"].size, "report regions, reliability")
    share, n, misses = zips_kept(j, queries, answers["postal_code"])
    print(f"\n== report regions, ZIPs kept: {share:.2%} of {n:,} queries with the right ZIP written keep it exactly")
    for (region, form), k in misses.most_common():
        print(f"  {k:>5}  {region:<20} {form}")
    print_failure_classes(j)
    print(f"\nbaseline (usaddress.tag + exact lookup) right {base_right.mean():.2%}; ours {j['right'].mean():.2%}")
    print_targets(check_targets(j, share, rel))
    if args.failures:
        print_failures(queries, answers, j, args.failures)
    if args.baselines:
        run_baselines(bench.gaz, queries, float(j["right"].mean()))
    if args.scaling:
        run_scaling(data, args.work, args.per_kind)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
