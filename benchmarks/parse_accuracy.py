"""Component accuracy and whole-address exact match: raw usaddress, raw libpostal and ours, side by side.

Sets:

* ``libpostal-us`` / ``libpostal-intl``: ``$ADDRESSING_REALDATA/parsing/parser_cases.jsonl``
  (libpostal's own labeled tests), split by country. Their labels are mapped onto our fields:
  ``house_number``; ``road`` -> the street; ``unit`` / ``level`` -> the unit; ``po_box`` (number
  only); ``postcode`` -> ``postal_code`` + ``zip4``; ``state``; ``country``. What cannot be compared
  fairly is left out: search queries with no street, box, postcode or state (``book stores near
  me``, ``whole foods nyc``) are dropped; ``house`` (venue names) and ``state_district`` are not
  scored; the city is scored only where exactly one of ``city`` / ``city_district`` / ``suburb``
  is labeled (``Crown Heights Brooklyn NYC`` names three localities and any pick is arguable).
  The case's country is given as a hint to libpostal and to ours (usaddress takes none).
* ``messy``: ``tests/data/parse_labeled.jsonl``, 500 messy strings built from real records
  (see ``tests/data/parse_build_labeled.py``); no hints. ``messy-holdout``: the same recipe on
  other records with another seed, kept out of the parser's tuning.

Labels are always in Pub 28 standard form (ours by construction; libpostal's labels go through the
same standardizer as the outputs). Outputs are scored in two modes:

* ``as-is``: each parser's output is only made comparable: upper case, accents folded, punctuation
  other than ``# / - &`` dropped, whitespace collapsed; a ZIP+4 is split at its hyphen; libpostal's
  ``po_box`` keeps its number. Street parts are compared joined (``W 26TH ST``) and so is the unit
  (``APT 4``), because libpostal returns them as one string. Writing ``Avenue`` where the label says
  ``AVE`` counts as wrong: producing the standard form is part of what a parser for orders must do.
* ``std``: every parser's output first goes through our Pub 28 standardizer (``split_street``,
  ``unit_type`` / ``unit_value``, ``state_code``, ``zip_parts``, country names to ISO codes),
  the same code our own back ends use, so this mode measures segmentation alone; the thirteen
  fields are scored one by one.

A field is scored on a case when the label or the parser has a value for it (both empty is not
counted, so it does not inflate anyone's score); ``country`` is scored on non-US cases only (a US
default would be free). Component accuracy = correct scored fields / scored fields; exact match =
cases whose every scored field is right.

Run::

    ADDRESSING_REALDATA=../shared/data .venv/bin/python benchmarks/parse_accuracy.py [--failures N]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import unicodedata
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from addressing.parse import places, usps  # noqa: E402
from addressing.parse.standardize import (  # noqa: E402
    house_number,
    split_street,
    split_unit,
    state_code,
    tokens_of,
    unit_type,
    unit_value,
    zip_parts,
)

FIELDS = ("house_number", "predirectional", "street_name", "street_type", "postdirectional", "unit_type", "unit",
          "po_box", "city", "state", "postal_code", "zip4", "country")
STREET = ("predirectional", "street_name", "street_type", "postdirectional")
ASIS_FIELDS = ("house_number", "street", "unit", "po_box", "city", "state", "postal_code", "zip4", "country")
PARSERS = ("usaddress", "libpostal", "ours")
_KEEP = re.compile(r"[^A-Z0-9#/&\- ]+")


_FRACTIONS = str.maketrans({"¼": " 1/4", "½": " 1/2", "¾": " 3/4", "\u2044": "/"})


def plain(value: object) -> str | None:
    """Upper case, accents folded, punctuation other than # / - & dropped, single spaces."""
    if value is None:
        return None
    text = unicodedata.normalize("NFKD", str(value).translate(_FRACTIONS))
    text = "".join(c for c in text if not unicodedata.combining(c)).upper().replace("'", "").replace("’", "")
    text = " ".join(_KEEP.sub(" ", text.replace(".", " ")).split()).strip(" -")
    return text or None


def country_iso(name: str | None) -> str | None:
    if not name:
        return None
    key = plain(name)
    if key in usps.COUNTRY_NAMES:
        return usps.COUNTRY_NAMES[key]
    return key if key and len(key) == 2 else key


def _zip_split(value: str | None) -> tuple[str | None, str | None]:
    if not value:
        return None, None
    compact = re.sub(r"\s+", "", value)
    m = re.fullmatch(r"(\d{5})-?(\d{4})?", compact)
    if m:
        return m.group(1), m.group(2)
    return value, None


def _box_number(value: str | None) -> str | None:
    if not value:
        return None
    m = re.search(r"([A-Za-z]?\d+[A-Za-z]?)\s*$", value)
    return m.group(1) if m else value


# ---------------------------------------------------------------- raw parsers -> our fields
def usaddress_raw(text: str) -> dict:
    import usaddress

    try:
        tagged, _ = usaddress.tag(text)
    except usaddress.RepeatedLabelError as exc:  # be generous: keep every label's words
        tagged = {}
        for word, label in exc.parsed_string:
            tagged[label] = f"{tagged[label]} {word}" if label in tagged else word
    except Exception:  # noqa: BLE001 - a baseline failure is an empty answer, not a crash
        tagged = {}
    g = tagged.get
    out = dict.fromkeys(FIELDS)
    out["house_number"] = " ".join(g(k) for k in ("AddressNumberPrefix", "AddressNumber", "AddressNumberSuffix")
                                   if g(k)) or None
    out["predirectional"] = g("StreetNamePreDirectional")
    out["street_name"] = " ".join(g(k) for k in ("StreetNamePreModifier", "StreetNamePreType", "StreetName")
                                  if g(k)) or None
    out["street_type"] = g("StreetNamePostType")
    out["postdirectional"] = g("StreetNamePostDirectional")
    out["unit_type"] = g("OccupancyType") or g("SubaddressType")
    out["unit"] = g("OccupancyIdentifier") or g("SubaddressIdentifier")
    if g("USPSBoxGroupType") and g("USPSBoxGroupID"):  # RR 2 / HC 1 / PSC 802
        out["street_name"] = f"{g('USPSBoxGroupType')} {g('USPSBoxGroupID')}"
    out["po_box"] = g("USPSBoxID")
    out["city"] = g("PlaceName")
    out["state"] = g("StateName")
    out["postal_code"], out["zip4"] = _zip_split(g("ZipCode"))
    out["country"] = g("CountryName")
    return out


def libpostal_raw(text: str, country: str | None) -> dict:
    from addressing import libpostal

    got: dict[str, str] = {}
    for value, label in libpostal.parse_address(text, country=country):
        got[label] = f"{got[label]} {value}" if label in got else value
    out = dict.fromkeys(FIELDS)
    out["house_number"] = got.get("house_number")
    out["street_name"] = got.get("road")  # one string; split only in std mode
    out["unit"] = got.get("unit") or got.get("level")
    out["po_box"] = _box_number(got.get("po_box"))
    out["city"] = got.get("city") or got.get("city_district") or got.get("suburb")
    out["state"] = got.get("state")
    if country in (None, "us"):
        out["postal_code"], out["zip4"] = _zip_split(got.get("postcode"))
    else:
        out["postal_code"] = got.get("postcode")
    out["country"] = got.get("country")
    return out


def ours(texts: list[str], hints: list[str | None]) -> list[dict]:
    from addressing.parse import parse_batch

    out = []
    for p in parse_batch(texts, hints):
        rec = {f: getattr(p, f) for f in FIELDS} | {"_invalid": p.invalid_reason, "_parser": p.parser}
        if "state_inferred" in p.corrections:
            rec["state"] = None  # inferred from the ZIP, not read from the text: not scored as parsing
        out.append(rec)
    return out


# ---------------------------------------------------------------- standardize (std mode)
def standardize(raw: dict, us: bool) -> dict:
    """Run a raw output through our Pub 28 standardizer (what our back ends do with them)."""
    out = dict.fromkeys(FIELDS)
    out["house_number"] = house_number(raw.get("house_number"))
    street = " ".join(raw[k] for k in STREET if raw.get(k))
    if us and street:
        toks = tokens_of(street)
        if re.fullmatch(r"(RR|HC|PSC|CMR|UNIT) \d+", " ".join(toks)):
            out["street_name"] = " ".join(toks)
        else:
            out.update(zip(STREET, split_street(toks)))
    elif street:
        out["street_name"] = " ".join(tokens_of(street))
    if raw.get("unit_type") or raw.get("unit"):
        if raw.get("unit_type"):
            out["unit_type"] = unit_type(raw["unit_type"]) or plain(raw["unit_type"])
            out["unit"] = unit_value(raw.get("unit"))
        else:
            out["unit_type"], out["unit"] = split_unit(raw["unit"])
    out["po_box"] = plain(_box_number(raw.get("po_box")))
    out["state"] = (state_code(raw.get("state")) if us else None) or plain(raw.get("state"))
    out["city"] = plain(raw.get("city"))
    if us and out["city"] and out["state"]:
        # the ZIP table's spelling of the same place (FT WALTON BEACH -> FORT WALTON BEACH)
        key = " ".join(tokens_of(out["city"].replace("-", " ")))
        out["city"] = places.cities_by_state().get(out["state"], {}).get(key, out["city"])
    if us:
        z, z4 = zip_parts(raw.get("postal_code"))
        out["postal_code"], out["zip4"] = (z, z4 or raw.get("zip4")) if z else (raw.get("postal_code"), raw.get("zip4"))
    else:
        out["postal_code"] = plain(raw.get("postal_code"))
    out["country"] = country_iso(raw.get("country"))
    return out


def as_is(rec: dict) -> dict:
    """Joined street and unit, plain-normalized, for the as-is mode."""
    out = {f: plain(rec.get(f)) for f in ("house_number", "po_box", "city", "state", "postal_code", "zip4")}
    out["street"] = plain(" ".join(rec[k] for k in STREET if rec.get(k))) or None
    out["unit"] = plain(" ".join(rec[k] for k in ("unit_type", "unit") if rec.get(k))) or None
    out["country"] = plain(rec.get("country"))
    return out


# ---------------------------------------------------------------- data sets
def libpostal_cases(path: Path) -> tuple[list[dict], list[dict]]:
    us, intl = [], []
    for line in path.open(encoding="utf-8"):
        case = json.loads(line)
        comps: dict[str, str] = {}
        for label, value in case["components"]:
            comps[label] = f"{comps[label]} {value}" if label in comps else value
        if "category" in comps or "near" in comps:
            continue
        if not any(k in comps for k in ("house_number", "road", "po_box", "postcode", "state", "city")):
            continue
        is_us = case["country"] == "us"
        if is_us and not any(k in comps for k in ("house_number", "road", "po_box", "postcode", "state")):
            continue  # 'whole foods nyc': a place search, not an address
        raw = dict.fromkeys(FIELDS)
        raw["house_number"] = comps.get("house_number")
        raw["street_name"] = comps.get("road")
        raw["unit"] = comps.get("unit") or comps.get("level")
        raw["po_box"] = _box_number(comps.get("po_box"))
        localities = [comps[k] for k in ("city", "city_district", "suburb") if k in comps]
        skip = set()
        if len(localities) == 1:
            raw["city"] = localities[0]
        elif localities:
            skip.add("city")
        raw["state"] = comps.get("state")
        if is_us:
            raw["postal_code"], raw["zip4"] = _zip_split(comps.get("postcode"))
        else:
            raw["postal_code"] = comps.get("postcode")
        if "country" in comps:
            raw["country"] = case["country"].upper()
        exp = standardize(raw, us=is_us)
        if is_us:
            exp["country"] = "US"
        elif "country" not in comps:
            skip.add("country")
        item = dict(input=case["input"], expected=exp, hint=case["country"], skip=skip, us=is_us)
        (us if is_us else intl).append(item)
    return us, intl


def messy_cases(path: Path) -> list[dict]:
    out = []
    for line in path.open(encoding="utf-8"):
        case = json.loads(line)
        exp = {f: case["expected"].get(f) for f in FIELDS}
        out.append(dict(input=case["input"], expected=exp, hint=None, skip=set(), us=exp["country"] == "US",
                        id=case["id"]))
    return out


# ---------------------------------------------------------------- scoring
def score_case(exp: dict, got: dict, fields: tuple[str, ...], skip: set, us: bool) -> tuple[int, int, list]:
    right = total = 0
    wrong = []
    for f in fields:
        if f in skip or (f == "country" and us):
            continue
        e, g = plain(exp.get(f)), plain(got.get(f))
        if e is None and g is None:
            continue
        total += 1
        if e == g:
            right += 1
        else:
            wrong.append((f, e, g))
    return right, total, wrong


def run_set(name: str, cases: list[dict], outputs: dict[str, list[dict]], show: int) -> dict:
    result = {}
    for parser in PARSERS:
        stats = {"asis": [0, 0, 0], "std": [0, 0, 0]}
        per_field = defaultdict(lambda: [0, 0])
        fails = []
        for case, raw in zip(cases, outputs[parser]):
            exp = case["expected"]
            # as-is
            skip = case["skip"] | ({"street"} if {"street_name"} & case["skip"] else set())
            r, t, _ = score_case(as_is(exp), as_is(raw), ASIS_FIELDS, skip, case["us"])
            stats["asis"][0] += r
            stats["asis"][1] += t
            stats["asis"][2] += r == t
            # std
            got = raw if parser == "ours" else standardize(raw, case["us"])
            r, t, wrong = score_case(exp, got, FIELDS, case["skip"], case["us"])
            stats["std"][0] += r
            stats["std"][1] += t
            stats["std"][2] += r == t
            for f in FIELDS:
                if f in case["skip"] or (f == "country" and case["us"]):
                    continue
                e, g = plain(exp.get(f)), plain(got.get(f))
                if e is None and g is None:
                    continue
                per_field[f][1] += 1
                per_field[f][0] += e == g
            if wrong and parser == "ours":
                fails.append((case.get("id", ""), case["input"], wrong, raw.get("_parser"), raw.get("_invalid")))
        result[parser] = (stats, per_field, fails)
    n = len(cases)
    print(f"\n## {name} ({n} cases)\n")
    print("| parser | component acc (as-is) | exact (as-is) | component acc (std) | exact (std) |")
    print("|---|---|---|---|---|")
    for parser in PARSERS:
        s = result[parser][0]
        print(f"| {parser} | {s['asis'][0] / max(1, s['asis'][1]):.1%} | {s['asis'][2] / n:.1%} "
              f"| {s['std'][0] / max(1, s['std'][1]):.1%} | {s['std'][2] / n:.1%} |")
    fields = [f for f in FIELDS if any(result[p][1][f][1] for p in PARSERS)]
    print("\nper field (std):\n")
    print("| parser | " + " | ".join(fields) + " |")
    print("|---|" + "---|" * len(fields))
    for parser in PARSERS:
        pf = result[parser][1]
        print(f"| {parser} | " + " | ".join(f"{pf[f][0] / pf[f][1]:.0%}" if pf[f][1] else "-" for f in fields) + " |")
    if show:
        print(f"\nours, first {show} failures (std):")
        for cid, text, wrong, used, invalid in result["ours"][2][:show]:
            print(f"  {cid} {text!r} [{used}{' invalid: ' + invalid if invalid else ''}]")
            for f, e, g in wrong:
                print(f"      {f}: want {e!r} got {g!r}")
    return {p: result[p][0] for p in PARSERS}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--failures", type=int, default=0, help="print this many of our failures per set")
    ap.add_argument("--only", choices=["libpostal-us", "libpostal-intl", "messy", "messy-holdout"], action="append")
    args = ap.parse_args()
    real = os.environ.get("ADDRESSING_REALDATA")
    sets: list[tuple[str, list[dict]]] = []
    if real:
        us, intl = libpostal_cases(Path(real) / "parsing" / "parser_cases.jsonl")
        sets += [("libpostal-us", us), ("libpostal-intl", intl)]
    else:
        print("ADDRESSING_REALDATA is not set: skipping libpostal's parser_cases", file=sys.stderr)
    sets.append(("messy", messy_cases(ROOT / "tests" / "data" / "parse_labeled.jsonl")))
    sets.append(("messy-holdout", messy_cases(ROOT / "tests" / "data" / "parse_labeled_holdout.jsonl")))
    if args.only:
        sets = [s for s in sets if s[0] in args.only]
    summary = {}
    for name, cases in sets:
        texts = [c["input"] for c in cases]
        hints = [c["hint"] for c in cases]
        t0 = time.perf_counter()
        outputs = {
            "usaddress": [usaddress_raw(t) for t in texts],
            "libpostal": [libpostal_raw(t, h) for t, h in zip(texts, hints)],
            "ours": ours(texts, hints),
        }
        summary[name] = run_set(name, cases, outputs, args.failures)
        print(f"\n({time.perf_counter() - t0:.1f} s)")
    print("\n## best per set")
    ok = True
    for name, stats in summary.items():
        for mode in ("asis", "std"):
            best = max(PARSERS, key=lambda p: (stats[p][mode][0] / max(1, stats[p][mode][1]), p == "ours"))
            ours_best = all(stats["ours"][mode][i] / max(1, stats["ours"][mode][1] if i == 0 else 1)
                            >= stats[p][mode][i] / max(1, stats[p][mode][1] if i == 0 else 1)
                            for p in PARSERS for i in (0, 2))
            ok &= ours_best
            print(f"- {name} [{mode}]: best component accuracy: {best}; ours best or tied on both measures: "
                  f"{'yes' if ours_best else 'NO'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
