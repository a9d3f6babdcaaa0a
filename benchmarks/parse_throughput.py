"""Parse-stage throughput: ``parse_batch`` over the real Hamilton County strings vs a plain
``usaddress.tag`` loop over the same strings, in the same process.

Both run twice, interleaved (ours, usaddress, usaddress, ours), and the faster run of each is
kept, so load from other processes on the machine hits both alike. Models and tables are
loaded before timing (usaddress opens its model at import; ours loads the ZIP/city tables on
first use and libpostal only for input that needs it — the script reports if any did).

Accuracy on the same strings, without hand labels: every Hamilton string is ``[DIR ]NUMBER
STREET CITY OH ZIP``, so the house number (the number token), the city (the ZIP's own city
name written before ``OH``), the state and the ZIP follow from the string itself; the script
counts how often each parser returns all four, and how often the street name holds a digit-only
token (a house number swallowed into the street, as ``W 1214 SEYMOUR AVE`` tempts a CRF to do).

Run::

    ADDRESSING_REALDATA=../shared/data .venv/bin/python benchmarks/parse_throughput.py [--limit N]
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def load(limit: int | None) -> list[str]:
    real = os.environ.get("ADDRESSING_REALDATA")
    if not real:
        sys.exit("set ADDRESSING_REALDATA to the shared data folder (../shared/data)")
    path = Path(real) / "strings" / "hamilton_oh_voter_addresses.csv"
    with open(path, newline="", encoding="utf-8") as f:
        texts = [r["address"] for r in csv.DictReader(f)]
    return texts[:limit] if limit else texts


def usaddress_loop(texts: list[str]) -> list[dict]:
    import usaddress

    out = []
    for t in texts:
        try:
            out.append(usaddress.tag(t)[0])
        except usaddress.RepeatedLabelError:
            out.append({})
    return out


def ours(texts: list[str]) -> list:
    from addressing.parse import parse_batch

    return parse_batch(texts)


def expected(text: str) -> dict | None:
    """What the Hamilton line itself says: house number, city, state, ZIP."""
    from addressing.parse import places

    toks = text.split()
    if len(toks) < 5 or toks[-2] != "OH" or not re.fullmatch(r"\d{5}", toks[-1]):
        return None
    info = places.zip_info(toks[-1])
    number = next((t for t in toks[:2] if t.isdigit()), None)
    if info is None or number is None:
        return None
    names = {info.city, *info.acceptable_cities}
    body = toks[:-2]
    city = next((" ".join(body[-k:]) for k in (3, 2, 1) if " ".join(body[-k:]) in names), None)
    return {"house_number": number, "city": city, "state": "OH", "postal_code": toks[-1]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, help="use only the first N strings")
    args = ap.parse_args()
    texts = load(args.limit)
    n = len(texts)
    # warm up: usaddress's model, our ZIP/city tables
    from addressing import libpostal
    from addressing.parse import parse_batch, places

    places.cities_by_state()
    parse_batch(["3359 QUEEN CITY AVE CINCINNATI OH 45238"])
    usaddress_loop(["3359 QUEEN CITY AVE CINCINNATI OH 45238"])

    times = {"ours": [], "usaddress": []}
    results = {}
    for name in ("ours", "usaddress", "usaddress", "ours"):
        t0 = time.perf_counter()
        results[name] = ours(texts) if name == "ours" else usaddress_loop(texts)
        times[name].append(time.perf_counter() - t0)
    best = {k: min(v) for k, v in times.items()}
    rate = {k: n / best[k] for k in best}
    print(f"strings: {n:,} (distinct: {len(set(texts)):,})")
    print(f"ours (parse_batch):      {rate['ours']:>9,.0f} addresses/s  (runs: "
          + ", ".join(f"{t:.1f} s" for t in times["ours"]) + ")")
    print(f"usaddress.tag loop:      {rate['usaddress']:>9,.0f} addresses/s  (runs: "
          + ", ".join(f"{t:.1f} s" for t in times["usaddress"]) + ")")
    print(f"ratio ours / usaddress:  {rate['ours'] / rate['usaddress']:.2f}")
    parsed = results["ours"]
    print("answered by: " + ", ".join(f"{k} {v:,}" for k, v in Counter(p.parser for p in parsed).most_common())
          + f"; libpostal loaded: {libpostal.is_loaded()}")
    # accuracy against what each line itself says
    ok = {"ours": 0, "usaddress": 0}
    swallowed = {"ours": 0, "usaddress": 0}
    scored = 0
    for text, p, u in zip(texts, parsed, results["usaddress"]):
        exp = expected(text)
        if exp is None or exp["city"] is None:
            continue
        scored += 1
        mine = {"house_number": p.house_number, "city": p.city, "state": p.state, "postal_code": p.postal_code}
        theirs = {"house_number": u.get("AddressNumber"), "city": u.get("PlaceName"), "state": u.get("StateName"),
                  "postal_code": u.get("ZipCode")}
        ok["ours"] += mine == exp
        ok["usaddress"] += theirs == exp
        swallowed["ours"] += any(t.isdigit() for t in (p.street_name or "").split())
        swallowed["usaddress"] += any(t.isdigit() for t in (u.get("StreetName") or "").split())
    print(f"\nhouse number + city + state + ZIP as the line says ({scored:,} lines where that is unambiguous):")
    for k in ("ours", "usaddress"):
        print(f"  {k:<10} {ok[k] / scored:.2%} right; street name holding a bare number: {swallowed[k]:,}")


if __name__ == "__main__":
    main()
