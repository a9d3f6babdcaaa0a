"""Build ``tests/data/parse_labeled.jsonl``: messy address strings with their expected components.

Two kinds of cases:

* **generated** from real records whose components the source itself gives (OpenAddresses-style
  point files with split number / street / unit / ZIP columns, the Hamilton County voter strings
  whose one-line form is unambiguous against the real ZIP -> city table, the malformed
  ``willow_ave_oa.csv`` rows such as ``1016-18``). Each record is rendered the way real order forms
  are messy (case, commas or none, unit inline / on line 2 / first / glued, long or dotted street
  types and directionals, state names, missing ZIP / city, phone, e-mail and delivery notes,
  care-of lines, duplicated fragments, stray whitespace). The label follows from the source
  record and the rendering (writing ``Avenue`` for ``AVE`` leaves the expected ``AVE``).
* **hand-labeled** hard cases (``HAND`` below), one per pattern of issue 4, each checked by hand.

Labels hold what the text says (a state the parser infers from the ZIP is not labeled), in our
output fields, Pub 28 standardized: ``house_number, predirectional,
street_name, street_type, postdirectional, unit_type, unit, po_box, city, state, postal_code,
zip4, country`` plus ``kind``; ``notes`` lists substrings the parser must move to notes;
``extra`` holds ``building`` / ``intersecting_street`` where they matter.

A second file, ``parse_labeled_holdout.jsonl``, renders other records of the same sources with
another seed; it was not looked at while the parser was tuned, so it shows how far the rules
generalize beyond the cases they were improved on.

Regenerate (deterministic; reads the shared real data)::

    ADDRESSING_REALDATA=../shared/data .venv/bin/python tests/data/parse_build_labeled.py
"""

from __future__ import annotations

import csv
import json
import os
import random
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "parse_labeled.jsonl"
HOLDOUT = HERE / "parse_labeled_holdout.jsonl"
FIELDS = ("house_number", "predirectional", "street_name", "street_type", "postdirectional", "unit_type", "unit",
          "po_box", "city", "state", "postal_code", "zip4", "country")

# ---------------------------------------------------------------- rendering vocabulary
TYPE_LONG = {"AVE": "Avenue", "ST": "Street", "DR": "Drive", "BLVD": "Boulevard", "WAY": "Way", "PL": "Place",
             "RD": "Road", "LN": "Lane", "CT": "Court", "CIR": "Circle", "PKWY": "Parkway", "TER": "Terrace",
             "HWY": "Highway", "TRL": "Trail", "SQ": "Square", "PARK": "Park", "PLZ": "Plaza", "PIKE": "Pike",
             "XING": "Crossing", "CV": "Cove", "HTS": "Heights", "RUN": "Run", "ALY": "Alley", "LOOP": "Loop",
             "PT": "Point", "RDG": "Ridge", "TRCE": "Trace", "WALK": "Walk", "ROW": "Row", "SPGS": "Springs",
             "HL": "Hill", "CRES": "Crescent", "CTR": "Center", "CRK": "Creek", "LNDG": "Landing",
             "MNR": "Manor", "VW": "View", "VLG": "Village", "XRD": "Crossroad", "BND": "Bend",
             "EXPY": "Expressway", "PATH": "Path", "GRN": "Green", "GLN": "Glen", "KNL": "Knoll",
             "HOLW": "Hollow", "CYN": "Canyon", "MDWS": "Meadows", "OVAL": "Oval", "TPKE": "Turnpike"}
#: a second common written variant people type (must map back to the same Pub 28 form)
TYPE_ALT = {"AVE": "Av", "BLVD": "Blvd.", "CIR": "Cir.", "CT": "Crt", "DR": "Dr.", "LN": "Ln.", "PKWY": "Pkwy.",
            "RD": "Rd.", "ST": "Str", "TER": "Terr", "PL": "Pl.", "HWY": "Hwy."}
DIR_LONG = {"N": "North", "S": "South", "E": "East", "W": "West", "NE": "Northeast", "NW": "Northwest",
            "SE": "Southeast", "SW": "Southwest"}
STATE_NAME = {"OH": "Ohio", "CA": "California", "NJ": "New Jersey", "NY": "New York", "WY": "Wyoming",
              "UT": "Utah"}
#: (how the designator is written, its Pub 28 form)
UNIT_WRITTEN = [("Apt", "APT"), ("APT", "APT"), ("apt.", "APT"), ("Apartment", "APT"), ("#", "#"), ("# ", "#"),
                ("Unit", "UNIT"), ("Ste", "STE"), ("Suite", "STE"), ("Apt #", "APT"), ("Apt. No.", "APT"),
                ("Unit #", "UNIT")]
PHONES = ["(513) 555-0142", "513-555-0199", "555.867.5309", "+1 415 555 0123", "tel: 510-555-0148",
          "Ph 307-555-0107", "cell (201) 555-0170"]
EMAILS = ["jdoe@example.com", "orders+42@example.org", "Maria.Lopez@example.net"]
INSTRUCTIONS = ["leave at back door", "Leave package at side gate", "ring bell twice", "gate code 4410",
                "please leave with neighbor", "do not leave at front porch", "call on arrival",
                "beware of dog", "deliver to back office"]
CARE_OF = ["c/o Jane Doe", "C/O Robert Smith", "Attn: Receiving", "ATTN Accounts Payable", "care of M. Alvarez"]
COMPANIES = ["Acme Supply Co", "Blue Heron Bakery", "Riverside Dental Group", "Northside Hardware"]


def tcase(word: str) -> str:
    return word.lower() if word[:1].isdigit() else word.capitalize()


def case(text: str, how: str) -> str:
    if how == "upper":
        return text.upper()
    if how == "lower":
        return text.lower()
    if how == "title":
        return " ".join(tcase(w) for w in text.split(" "))
    return text


def expected(**kw) -> dict:
    out = {f: None for f in FIELDS}
    out["country"] = "US"
    out["kind"] = "street"
    for k, v in kw.items():
        out[k] = v
    return out


# ---------------------------------------------------------------- real sources
def realdata() -> Path:
    value = os.environ.get("ADDRESSING_REALDATA")
    if not value:
        sys.exit("set ADDRESSING_REALDATA to the shared data folder (../shared/data)")
    return Path(value)


def _rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _zip_cities() -> dict[str, set[str]]:
    import zipcodes

    out: dict[str, set[str]] = {}
    for z in zipcodes.list_all():
        names = {z["city"].upper(), *(c.upper() for c in z["acceptable_cities"])}
        out[z["zip_code"]] = names
    return out


def _suffix_standards() -> set[str]:
    text = (HERE.parent.parent / "addressing/parse/tables/suffixes.tsv").read_text()
    return {line.split("\t")[1] for line in text.splitlines() if line and not line.startswith(("#", "variant"))}


DIRS = {"N", "S", "E", "W", "NE", "NW", "SE", "SW"}
DIR_WORDS = {"NORTH", "SOUTH", "EAST", "WEST", "NORTHEAST", "NORTHWEST", "SOUTHEAST", "SOUTHWEST"}


def hamilton_records(root: Path, rng: random.Random, n: int) -> list[dict]:
    """Voter strings whose split is unambiguous: number, [dir], name, Pub 28 type, ZIP's city, OH, ZIP."""
    zc = _zip_cities()
    std = _suffix_standards()
    rows = [r["address"] for r in _rows(root / "strings/hamilton_oh_voter_addresses.csv")]
    rng.shuffle(rows)
    out = []
    for s in rows:
        toks = s.split()
        if len(toks) < 6 or toks[-2] != "OH" or not re.fullmatch(r"\d{5}", toks[-1]):
            continue
        cities = zc.get(toks[-1], set())
        body = toks[:-2]
        city = None
        for k in (3, 2, 1):
            if " ".join(body[-k:]) in cities and len(body) > k + 2:
                city = " ".join(body[-k:])
                body = body[:-k]
                break
        if city is None:
            continue
        pre = None
        if body[0] in DIRS:  # the voter file writes the predirectional before the number
            pre, body = body[0], body[1:]
        if not re.fullmatch(r"[1-9]\d*", body[0]):
            continue
        num, street = body[0], body[1:]
        if pre is None and street[0] in DIRS and len(street) >= 3:
            pre, street = street[0], street[1:]
        if len(street) < 2 or street[-1] not in std:
            continue
        name, typ = street[:-1], street[-1]
        if any(t in DIRS or t in DIR_WORDS or t in std and t not in {"PARK", "LAKE", "HILL", "VIEW", "CREEK"}
               or not re.fullmatch(r"[A-Z]+|\d+(ST|ND|RD|TH)", t) for t in name):
            continue
        out.append(dict(source="hamilton", raw=s, num=num, pre=pre, name=" ".join(name), typ=typ, post=None,
                        unit=None, city=city, state="OH", zip=toks[-1]))
        if len(out) >= n:
            break
    return out


def _sample(rows: list[dict], rng: random.Random, n: int) -> list[dict]:
    rng.shuffle(rows)
    return rows[:n]


UNIT_OK = re.compile(r"\d{1,4}[A-Z]?|[A-Z]|[A-Z]\d{1,2}")


def sf_records(root: Path, rng: random.Random, n: int) -> list[dict]:
    rows = []
    for r in _rows(root / "openaddresses/sf_eas_addresses_with_units.csv"):
        if r["ST_TYPE"] not in ("ST", "AVE") or not r["ZIPCODE"]:
            continue
        unit = r["UNIT_NUM"] or None
        if unit and not UNIT_OK.fullmatch(unit):
            continue
        name = r["ST_NAME"]
        pre = None
        if name.startswith("SOUTH VAN NESS"):
            pre, name = "S", "VAN NESS"  # USPS: S VAN NESS AVE
        elif name.split()[0] in DIR_WORDS:
            continue
        num = str(int(float(r["ADDR_NUM"]))) + (r["ADDR_N_SFX"] or "")
        rows.append(dict(source="sf_eas", raw=r["ADDRESS"], num=num, pre=pre, name=name, typ=r["ST_TYPE"], post=None,
                         unit=unit, city="SAN FRANCISCO", state="CA", zip=r["ZIPCODE"]))
    with_unit = [r for r in rows if r["unit"]]
    without = [r for r in rows if not r["unit"]]
    return _sample(with_unit, rng, n * 2 // 3) + _sample(without, rng, n - n * 2 // 3)


ALAMEDA_TYPES = {"AV": "AVE", "ST": "ST", "DR": "DR", "BL": "BLVD", "WY": "WAY", "PL": "PL", "RD": "RD", "": None}


def alameda_records(root: Path, rng: random.Random, n: int) -> list[dict]:
    rows = []
    for r in _rows(root / "openaddresses/alameda_spad_oakland.csv"):
        if r["FEATYP"] not in ALAMEDA_TYPES or not r["ZIPCODE"] or r["CITY"] != "OAKLAND":
            continue
        unit = r["UNIT"] or None
        if unit and not UNIT_OK.fullmatch(unit):
            continue
        if r["FEANME"].split()[0] in DIR_WORDS or not re.fullmatch(r"\d+", r["ST_NUM"]):
            continue
        if ALAMEDA_TYPES[r["FEATYP"]] is None and r["FEANME"] != "BROADWAY":
            continue
        rows.append(dict(source="alameda", raw=r["ADDRESS"], num=r["ST_NUM"], pre=r["DIRPRE"] or None,
                         name=r["FEANME"], typ=ALAMEDA_TYPES[r["FEATYP"]], post=r["DIRSUF"] or None, unit=unit,
                         city="OAKLAND", state="CA", zip=r["ZIPCODE"]))
    with_unit = [r for r in rows if r["unit"]]
    special = [r for r in rows if not r["unit"] and (r["pre"] or r["typ"] is None)]
    plain = [r for r in rows if not r["unit"] and not (r["pre"] or r["typ"] is None)]
    k = n // 3
    return _sample(with_unit, rng, k) + _sample(special, rng, k) + _sample(plain, rng, n - 2 * k)


def berkeley_records(root: Path, rng: random.Random, n: int) -> list[dict]:
    rows = []
    for r in _rows(root / "openaddresses/berkeley_parcels.csv"):
        if r["StreetSufx"] not in ("AVE", "ST", "WAY") or r["PreQualifi"] or r["Direction"]:
            continue
        unit = r["Unit"] or None
        if unit and not UNIT_OK.fullmatch(unit):
            continue
        if float(r["StreetNum"]) < 1:
            continue
        rows.append(dict(source="berkeley", raw=None, num=str(int(float(r["StreetNum"]))), pre=None,
                         name=r["StreetName"], typ=r["StreetSufx"], post=None, unit=unit, city="BERKELEY",
                         state="CA", zip=str(int(float(r["Zip"])))))
    with_unit = [r for r in rows if r["unit"]]
    mlk = [r for r in rows if r["name"] == "M L KING JR" and not r["unit"]]
    plain = [r for r in rows if not r["unit"] and r["name"] != "M L KING JR"]
    return _sample(with_unit, rng, n // 3) + _sample(mlk, rng, 3) + _sample(plain, rng, n - n // 3 - 3)


def trumbull_records(root: Path, rng: random.Random, n: int) -> list[dict]:
    rows = []
    for r in _rows(root / "openaddresses/trumbull_county_oh_points.csv"):
        if r["ST_NAME"].split()[0] in DIR_WORDS or r["ST_SUFFIX2"] or not r["ST_TYPE"]:
            continue
        if not re.fullmatch(r"\d+", r["HOUSENUM"]) or r["UNITNUM"]:
            continue
        rows.append(dict(source="trumbull", raw=r["LSN"], num=r["HOUSENUM"], pre=r["ST_PREFIX"] or None,
                         name=r["ST_NAME"], typ=r["ST_TYPE"], post=r["ST_SUFFIX"] or None, unit=None,
                         city=r["USPS_CITY"], state="OH", zip=r["ZIPCODE"], alt=r["ALSN"] or None))
    return _sample(rows, rng, n)


def park_records(root: Path, rng: random.Random, n: int) -> list[dict]:
    """Powell, WY delivery addresses (all points lie in ZIP 82435)."""
    rows = []
    for r in _rows(root / "openaddresses/park_county_wy_points.csv"):
        m = re.fullmatch(r"(\d+) ([NSEW]) (\w+) (ST|AVE)(?: #(\w+))?", r["DLVRY_ADD"])
        if not m or m.group(3) in DIR_WORDS and m.group(3) not in ("NORTH", "SOUTH"):
            continue
        rows.append(dict(source="park_wy", raw=r["DLVRY_ADD"], num=m.group(1), pre=m.group(2), name=m.group(3),
                         typ=m.group(4), post=None, unit=m.group(5), unit_written="#" if m.group(5) else None,
                         city="POWELL", state="WY", zip="82435"))
    with_unit = [r for r in rows if r["unit"]]
    return _sample(with_unit, rng, n // 3) + _sample([r for r in rows if not r["unit"]], rng, n - n // 3)


def sevier_records(root: Path, rng: random.Random, n: int) -> list[dict]:
    rows = []
    for r in _rows(root / "openaddresses/sevier_county_ut_points.csv"):
        if r["AddNumSuff"] or r["UnitID"] or not re.fullmatch(r"\d+", r["AddNum"]):
            continue
        name, typ = r["StreetName"], r["StreetType"] or None
        if name.startswith("US "):
            name = "US HWY " + name[3:]
        elif typ is None and not re.fullmatch(r"\d+", name):
            continue
        rows.append(dict(source="sevier_ut", raw=r["FullAdd"], num=r["AddNum"], pre=r["PrefixDir"] or None,
                         name=name, typ=typ, post=r["SuffixDir"] or None, unit=None, city="SEVIER", state="UT",
                         zip="84766"))
    grid = [r for r in rows if r["typ"] is None and re.fullmatch(r"\d+", r["name"])]
    hwy = [r for r in rows if r["name"].startswith("US HWY")]
    other = [r for r in rows if r not in grid and r not in hwy]
    return _sample(grid, rng, 4) + _sample(hwy, rng, 5) + _sample(other, rng, n - 9)


def willow_records(root: Path, rng: random.Random) -> list[dict]:
    """Hoboken rows of the malformed OA file: the NUMBER column holds '1016-18 WILLOW AVE'."""
    seen = {}
    for r in _rows(root / "pelias_interpolation/willow_ave_oa.csv"):
        lon, lat = float(r["LON"]), float(r["LAT"])
        if not (-74.045 < lon < -74.02 and 40.735 < lat < 40.76):
            continue
        m = re.fullmatch(r"(\d+(?:-\d+)?[A-Z]?|18OO) WILLOW AVE(NUE)?\.?", r["NUMBER"])
        if not m:
            continue
        seen.setdefault(m.group(1), r["NUMBER"])
    rows = []
    for num, raw in sorted(seen.items()):
        label = "1800" if num == "18OO" else num  # letter O typed for zero, a real malformed row
        rows.append(dict(source="willow_oa", raw=raw, num=label, written_num=num, pre=None, name="WILLOW",
                         typ="AVE", post=None, unit=None, city="HOBOKEN", state="NJ", zip="07030"))
    rng.shuffle(rows)
    return rows[:30]


def west26_records(root: Path, rng: random.Random, n: int) -> list[dict]:
    rows = []
    for r in _rows(root / "pelias_interpolation/west26th_oa.csv"):
        if r["STREET"] != "West 26 Street" or not r["POSTCODE"] or not re.fullmatch(r"\d+", r["NUMBER"]):
            continue
        rows.append(dict(source="west26_oa", raw=f"{r['NUMBER']} {r['STREET']}", num=r["NUMBER"], pre="W",
                         name="26TH", written_name="26", typ="ST", post=None, unit=None, city="NEW YORK",
                         state="NY", zip=r["POSTCODE"]))
    return _sample(rows, rng, n)


# ---------------------------------------------------------------- messy rendering
def render(rec: dict, rng: random.Random) -> dict:
    """One messy string for a record, and its label."""
    pats: list[str] = []
    # Pub 28 keeps SAINT in a name as ST ("SAINT LAWRENCE AVE" -> "ST LAWRENCE AVE")
    name = re.sub(r"^SAINT (?=\w)", "ST ", rec["name"])
    exp = expected(house_number=rec["num"], predirectional=rec["pre"], street_name=name,
                   street_type=rec["typ"], postdirectional=rec["post"], city=rec["city"], state=rec["state"],
                   postal_code=rec["zip"])
    notes: list[str] = []
    # delivery line
    words = [rec.get("written_num", rec["num"])]
    if rec["pre"]:
        r = rng.random()
        words.append(DIR_LONG[rec["pre"]] if r < 0.25 else rec["pre"] + "." if r < 0.35 else rec["pre"])
        pats.append("dir_long" if r < 0.25 else "dir_dot" if r < 0.35 else "dir")
    words.append(rec.get("written_name", rec["name"]))
    if rec["typ"]:
        r = rng.random()
        if r < 0.3 and rec["typ"] in TYPE_LONG:
            words.append(TYPE_LONG[rec["typ"]])
            pats.append("type_long")
        elif r < 0.45 and rec["typ"] in TYPE_ALT:
            words.append(TYPE_ALT[rec["typ"]])
            pats.append("type_variant")
        elif r < 0.55:
            words.append(rec["typ"] + ".")
            pats.append("type_dot")
        else:
            words.append(rec["typ"])
    if rec["post"]:
        words.append(DIR_LONG[rec["post"]] if rng.random() < 0.3 else rec["post"])
    line1 = " ".join(words)
    unit_text = None
    if rec["unit"]:
        written, std = ("#", "#") if rec.get("unit_written") == "#" and rng.random() < 0.5 else rng.choice(UNIT_WRITTEN)
        value = rec["unit"]
        if rng.random() < 0.2 and re.fullmatch(r"\d+[A-Z]", value):
            value = f"{value[:-1]}-{value[-1]}"
            pats.append("unit_hyphen")
        sep = "" if written.endswith("#") or written.endswith(" ") else " "
        if written == "#" and rng.random() < 0.5:
            sep = ""
        unit_text = f"{written}{sep}{value}"
        exp["unit_type"], exp["unit"] = std, rec["unit"]
    # last line
    state = rec["state"]
    r = rng.random()
    if r < 0.15:
        state = STATE_NAME[state]
        pats.append("state_name")
    elif r < 0.22:
        state = state[0] + "." + state[1] + "." if state in ("NY", "NJ") else state.lower()
        pats.append("state_odd")
    city = rec["city"]
    zip_code = rec["zip"]
    r = rng.random()
    if r < 0.08:
        zip_code = None
        exp["postal_code"] = None
        pats.append("no_zip")
    elif r < 0.14:
        city = None
        exp["city"] = None
        pats.append("no_city")
    style = rng.random()
    if style < 0.35:
        last = ", ".join(x for x in (city, " ".join(x for x in (state, zip_code) if x)) if x)
        sep1 = ", "
    elif style < 0.65:
        last = " ".join(x for x in (city, state, zip_code) if x)
        sep1 = " "
        pats.append("no_commas")
    elif style < 0.8:
        last = ", ".join(x for x in (city, state, zip_code) if x)
        sep1 = "\n"
        pats.append("two_lines")
    else:
        last = ", ".join(x for x in (city, state) if x) + (f" {zip_code}" if zip_code else "")
        sep1 = ",  "
        pats.append("extra_space")
    # where the unit goes
    if unit_text:
        r = rng.random()
        if r < 0.35:
            line1 = f"{line1} {unit_text}"
            pats.append("unit_inline")
        elif r < 0.65:
            line1 = f"{line1}, {unit_text}"
            pats.append("unit_line2")
        elif r < 0.8:
            line1 = f"{line1}\n{unit_text}"
            pats.append("unit_newline")
        elif r < 0.9:
            line1 = f"{unit_text}, {line1}"
            pats.append("unit_first")
        else:
            glued = unit_text.replace(" ", "")
            line1 = f"{line1} {glued}"
            pats.append("unit_glued")
    text = f"{line1}{sep1}{last}"
    # casing
    how = rng.choice(["upper", "title", "title", "lower", "asis"])
    text = case(text, how)
    pats.append(f"case_{how}")
    # extras
    r = rng.random()
    if r < 0.1:
        phone = rng.choice(PHONES)
        text = f"{text} {phone}"
        notes.append(re.sub(r"^\D+", "", phone))
        pats.append("phone")
    elif r < 0.17:
        email = rng.choice(EMAILS)
        text = f"{text}, {email}"
        notes.append(email)
        pats.append("email")
    elif r < 0.27:
        ins = rng.choice(INSTRUCTIONS)
        text = f"{text} ({ins})" if rng.random() < 0.5 else f"{text} - {ins}"
        notes.append(ins)
        pats.append("instructions")
    elif r < 0.33:
        co = rng.choice(CARE_OF)
        text = f"{co}, {text}" if rng.random() < 0.6 else f"{co} {text}"
        notes.append(re.sub(r"^(c/o|C/O|Attn:|ATTN|care of)\s*", "", co))
        pats.append("care_of")
    elif r < 0.38:
        company = rng.choice(COMPANIES)
        text = f"{company}, {text}" if rng.random() < 0.5 else f"{company} {text}"
        pats.append("company")
    elif r < 0.42 and city and not unit_text:
        text = f"{text} {case(city, how)} {case(line1, how)}"
        pats.append("duplicated")
    elif r < 0.47:
        text = f"{text}, USA" if rng.random() < 0.5 else f"{text} United States"
        pats.append("country")
    elif r < 0.52:
        text = text.replace(" ", "  ", 2).replace(", ", " ,\t", 1) + "  "
        pats.append("whitespace")
    return dict(source=rec["source"], patterns=pats, input=text, expected=exp, notes=notes,
                origin=rec.get("raw"))


# ---------------------------------------------------------------- hand-labeled hard cases
def H(text: str, notes: tuple = (), extra: dict | None = None, **kw) -> dict:
    return dict(source="hand", patterns=[kw.pop("pattern")], input=text, expected=expected(**kw),
                notes=list(notes), extra=extra or {})


HAND = [
    # PO boxes
    H("P.O. Box 11637 Washington, DC 20008", pattern="po_box", kind="po_box", po_box="11637", city="WASHINGTON",
      state="DC", postal_code="20008"),
    H("PO Box 1, Seattle, WA 98103", pattern="po_box", kind="po_box", po_box="1", city="SEATTLE", state="WA",
      postal_code="98103"),
    H("POB 77 Prattville AL 36067", pattern="po_box", kind="po_box", po_box="77", city="PRATTVILLE", state="AL",
      postal_code="36067"),
    H("Box 12, Prattville AL 36067", pattern="po_box", kind="po_box", po_box="12", city="PRATTVILLE", state="AL",
      postal_code="36067"),
    H("P O Box 4521, Cincinnati OH 45204", pattern="po_box", kind="po_box", po_box="4521", city="CINCINNATI",
      state="OH", postal_code="45204"),
    H("Post Office Box 950, Hoboken NJ 07030", pattern="po_box", kind="po_box", po_box="950", city="HOBOKEN",
      state="NJ", postal_code="07030"),
    H("PO BOX #332 POWELL WY 82435", pattern="po_box", kind="po_box", po_box="332", city="POWELL", state="WY",
      postal_code="82435"),
    H("p.o.box 72, Sevier, Utah 84766", pattern="po_box", kind="po_box", po_box="72", city="SEVIER", state="UT",
      postal_code="84766"),
    H("pobox 1450 oakland ca 94604", pattern="po_box", kind="po_box", po_box="1450", city="OAKLAND", state="CA",
      postal_code="94604"),
    H("PO Box 5, Cincinnati, Ohio 45201-0005", pattern="po_box", kind="po_box", po_box="5", city="CINCINNATI",
      state="OH", postal_code="45201", zip4="0005"),
    H("PO Box 1200, Warren OH 44482", pattern="po_box", kind="po_box", po_box="1200",
      city="WARREN", state="OH", postal_code="44482"),
    H("2443 Fillmore St PMB 380, San Francisco CA 94115", pattern="pmb", house_number="2443", street_name="FILLMORE",
      street_type="ST", po_box="380", city="SAN FRANCISCO", state="CA", postal_code="94115"),
    H("1849 Shattuck Ave Ste 203 PMB 12 Berkeley CA 94709", pattern="pmb", house_number="1849",
      street_name="SHATTUCK", street_type="AVE", unit_type="STE", unit="203", po_box="12", city="BERKELEY",
      state="CA", postal_code="94709"),
    H("123 Main St #PMB 456, Prattville AL 36067", pattern="pmb", house_number="123", street_name="MAIN",
      street_type="ST", po_box="456", city="PRATTVILLE", state="AL", postal_code="36067"),
    # rural routes and highway contracts
    H("RR 2 Box 15, Springfield IL 62701", pattern="rural_route", kind="rural_route", street_name="RR 2",
      po_box="15", city="SPRINGFIELD", state="IL", postal_code="62701"),
    H("R.R. 3, Box 120, Sevier UT 84766", pattern="rural_route", kind="rural_route", street_name="RR 3",
      po_box="120", city="SEVIER", state="UT", postal_code="84766"),
    H("Rural Route 1 Box 64 Powell WY 82435", pattern="rural_route", kind="rural_route", street_name="RR 1",
      po_box="64", city="POWELL", state="WY", postal_code="82435"),
    H("RR2 BOX 15A WARREN OH 44481", pattern="rural_route", kind="rural_route", street_name="RR 2", po_box="15A",
      city="WARREN", state="OH", postal_code="44481"),
    H("HC 1 Box 5 Ely NV 89301", pattern="highway_contract", kind="highway_contract", street_name="HC 1",
      po_box="5", city="ELY", state="NV", postal_code="89301"),
    H("HCR 65 Box 220, Powell, WY 82435", pattern="highway_contract", kind="highway_contract", street_name="HC 65",
      po_box="220", city="POWELL", state="WY", postal_code="82435"),
    H("hc 2 box 71 sevier ut 84766", pattern="highway_contract", kind="highway_contract", street_name="HC 2",
      po_box="71", city="SEVIER", state="UT", postal_code="84766"),
    # military
    H("PSC 802 Box 74, APO AE 09499", pattern="military", kind="military", street_name="PSC 802", po_box="74",
      city="APO", state="AE", postal_code="09499", country="US"),
    H("UNIT 2050 BOX 4190 APO AP 96278", pattern="military", kind="military", street_name="UNIT 2050",
      po_box="4190", city="APO", state="AP", postal_code="96278"),
    H("CMR 480 Box 1234, APO AE 09128", pattern="military", kind="military", street_name="CMR 480", po_box="1234",
      city="APO", state="AE", postal_code="09128"),
    H("PSC 1234 Box 5678 DPO AA 34002", pattern="military", kind="military", street_name="PSC 1234",
      po_box="5678", city="DPO", state="AA", postal_code="34002"),
    H("Unit 8400, Box 1300\nFPO AE 09498", pattern="military", kind="military", street_name="UNIT 8400",
      po_box="1300", city="FPO", state="AE", postal_code="09498"),
    H("psc 3 box 4020 apo ap 96266-0040", pattern="military", kind="military", street_name="PSC 3", po_box="4020",
      city="APO", state="AP", postal_code="96266", zip4="0040"),
    # intersections
    H("Main St & 5th Ave, Springfield IL", pattern="intersection", kind="intersection", street_name="MAIN",
      street_type="ST", city="SPRINGFIELD", state="IL", extra={"intersecting_street": "5TH AVE"}),
    H("Laurel Place & Willow Avenue, Hoboken NJ 07030", pattern="intersection", kind="intersection",
      street_name="LAUREL", street_type="PL", city="HOBOKEN", state="NJ", postal_code="07030",
      extra={"intersecting_street": "WILLOW AVE"}),
    H("Vine St and W 8th St, Cincinnati OH 45202", pattern="intersection", kind="intersection", street_name="VINE",
      street_type="ST", city="CINCINNATI", state="OH", postal_code="45202",
      extra={"intersecting_street": "W 8TH ST"}),
    H("Broadway @ 14th St Oakland CA 94612", pattern="intersection", kind="intersection", street_name="BROADWAY",
      city="OAKLAND", state="CA", postal_code="94612", extra={"intersecting_street": "14TH ST"}),
    # care-of, attention, building and company names
    H("c/o John Smith, 742 Evergreen Terrace, Springfield IL 62701", ("John Smith",), pattern="care_of",
      house_number="742", street_name="EVERGREEN", street_type="TER", city="SPRINGFIELD", state="IL",
      postal_code="62701"),
    H("Attn: Accounts Payable, 1849 Shattuck Ave Suite 203, Berkeley CA 94709", ("Accounts Payable",),
      pattern="care_of", house_number="1849", street_name="SHATTUCK", street_type="AVE", unit_type="STE",
      unit="203", city="BERKELEY", state="CA", postal_code="94709"),
    H("ATTN Receiving Dept 2127 Broadway Oakland CA 94612", ("Receiving Dept",), pattern="care_of",
      house_number="2127", street_name="BROADWAY", city="OAKLAND", state="CA", postal_code="94612"),
    H("Acme Corp 500 Fifth Avenue New York NY 10110", pattern="building", house_number="500",
      street_name="5TH", street_type="AVE", city="NEW YORK", state="NY", postal_code="10110",
      extra={"building": "ACME CORP"}),
    H("The Kroger Co., 1014 Vine St, Cincinnati, OH 45202", pattern="building", house_number="1014",
      street_name="VINE", street_type="ST", city="CINCINNATI", state="OH", postal_code="45202"),
    H("Hamilton County Courthouse 1000 Main St Cincinnati OH 45202", pattern="building", house_number="1000",
      street_name="MAIN", street_type="ST", city="CINCINNATI", state="OH", postal_code="45202"),
    H("Atrium Mall, 640 Arthur Kill Rd, Staten Island, NY 10312", pattern="building", house_number="640",
      street_name="ARTHUR KILL", street_type="RD", city="STATEN ISLAND", state="NY", postal_code="10312"),
    H("Planned Parenthood, 44 Court St, 6th Floor, Brooklyn NY 11201", pattern="building", house_number="44",
      street_name="COURT", street_type="ST", unit_type="FL", unit="6", city="BROOKLYN", state="NY",
      postal_code="11201"),
    # notes mixed into the address
    H("4411 Stone Way N, Seattle WA 98103 - leave at back door", ("leave at back door",), pattern="instructions",
      house_number="4411", street_name="STONE", street_type="WAY", postdirectional="N", city="SEATTLE",
      state="WA", postal_code="98103"),
    H("1849 Shattuck Ave #203 Berkeley CA 94709 ph: (510) 555-0148", ("555-0148",), pattern="phone",
      house_number="1849", street_name="SHATTUCK", street_type="AVE", unit_type="#", unit="203",
      city="BERKELEY", state="CA", postal_code="94709"),
    H("152 High St NE Warren OH 44483 (ring bell twice)", ("ring bell twice",), pattern="instructions",
      house_number="152", street_name="HIGH", street_type="ST", postdirectional="NE", city="WARREN", state="OH",
      postal_code="44483"),
    H("123 Main Street, Springfield, IL 62701 call 555-123-4567 leave at back door john@example.com",
      ("555-123-4567", "leave at back door", "john@example.com"), pattern="notes_mixed", house_number="123",
      street_name="MAIN", street_type="ST", city="SPRINGFIELD", state="IL", postal_code="62701"),
    H("jane.roe@example.com 3359 Queen City Ave Cincinnati OH 45238", ("jane.roe@example.com",), pattern="email",
      house_number="3359", street_name="QUEEN CITY", street_type="AVE", city="CINCINNATI", state="OH",
      postal_code="45238"),
    H("601 Van Ness Ave Apt 531 San Francisco CA 94102 gate code 4410, text 415-555-0123",
      ("gate code 4410", "415-555-0123"), pattern="notes_mixed", house_number="601", street_name="VAN NESS",
      street_type="AVE", unit_type="APT", unit="531", city="SAN FRANCISCO", state="CA", postal_code="94102"),
    # duplicated fragments
    H("100 diamond st san francisco ca 94114 san francisco 100 diamond st", pattern="duplicated",
      house_number="100", street_name="DIAMOND", street_type="ST", city="SAN FRANCISCO", state="CA",
      postal_code="94114"),
    H("3359 QUEEN CITY AVE CINCINNATI OH 45238 3359 QUEEN CITY AVE", pattern="duplicated", house_number="3359",
      street_name="QUEEN CITY", street_type="AVE", city="CINCINNATI", state="OH", postal_code="45238"),
    H("1040 Kreis Ln, 1040 Kreis Ln, Cincinnati OH 45205", pattern="duplicated", house_number="1040",
      street_name="KREIS", street_type="LN", city="CINCINNATI", state="OH", postal_code="45205"),
    H("9960 Daly Rd Cincinnati OH 45231 Cincinnati OH 45231", pattern="duplicated", house_number="9960",
      street_name="DALY", street_type="RD", city="CINCINNATI", state="OH", postal_code="45231"),
    # grid and mile-marker style numbers
    H("W1234 County Rd K, Random Lake WI 53075", pattern="grid", house_number="W1234",
      street_name="COUNTY ROAD K", city="RANDOM LAKE", state="WI", postal_code="53075"),
    H("N89W16785 Main St, Menomonee Falls WI 53051", pattern="grid", house_number="N89W16785",
      street_name="MAIN", street_type="ST", city="MENOMONEE FALLS", state="WI", postal_code="53051"),
    H("n4215 county road m, random lake, wi 53075", pattern="grid", house_number="N4215",
      street_name="COUNTY ROAD M", city="RANDOM LAKE", state="WI", postal_code="53075"),
    H("W5210 State Hwy 23 Plymouth WI 53073", pattern="grid", house_number="W5210", street_name="STATE HWY 23",
      city="PLYMOUTH", state="WI", postal_code="53073"),
    H("1025 S 4500 W, Sevier UT 84766", pattern="grid", house_number="1025", predirectional="S",
      street_name="4500", postdirectional="W", city="SEVIER", state="UT", postal_code="84766"),
    H("350 East 200 South, Salt Lake City, UT 84111", pattern="grid", house_number="350", predirectional="E",
      street_name="200", postdirectional="S", city="SALT LAKE CITY", state="UT", postal_code="84111"),
    # fractional and hyphenated numbers
    H("12 1/2 Elm St Springfield IL 62701", pattern="fraction", house_number="12 1/2", street_name="ELM",
      street_type="ST", city="SPRINGFIELD", state="IL", postal_code="62701"),
    H("1016-18 Willow Avenue, Hoboken, NJ 07030", pattern="hyphen_number", house_number="1016-18",
      street_name="WILLOW", street_type="AVE", city="HOBOKEN", state="NJ", postal_code="07030"),
    H("99-40 63rd Rd, Queens, NY 11374", pattern="hyphen_number", house_number="99-40", street_name="63RD",
      street_type="RD", city="QUEENS", state="NY", postal_code="11374"),
    H("912-914 8TH ST, CLARKSTON, WA 99403", pattern="hyphen_number", house_number="912-914", street_name="8TH",
      street_type="ST", city="CLARKSTON", state="WA", postal_code="99403"),
    H("2455-B W Bench Rd Othello WA 99344", pattern="hyphen_number", house_number="2455B", predirectional="W",
      street_name="BENCH", street_type="RD", city="OTHELLO", state="WA", postal_code="99344"),
    H("807 1/2 E Market St, Warren OH 44481", pattern="fraction", house_number="807 1/2", predirectional="E",
      street_name="MARKET", street_type="ST", city="WARREN", state="OH", postal_code="44481"),
    # unicode, accents, tabs, repeated whitespace
    H("123\tMain   Street,\n Springfield,  IL 62701", pattern="whitespace", house_number="123", street_name="MAIN",
      street_type="ST", city="SPRINGFIELD", state="IL", postal_code="62701"),
    H("45 Café Ave, Springfield IL 62701", pattern="unicode", house_number="45", street_name="CAFE",
      street_type="AVE", city="SPRINGFIELD", state="IL", postal_code="62701"),
    H("1 Ave Ponce de León, San Juan PR 00907", pattern="unicode", house_number="1",
      street_name="AVE PONCE DE LEON", city="SAN JUAN", state="PR", postal_code="00907"),
    H("３３５９ Queen City Ave\u00a0Cincinnati OH\u00a045238", pattern="unicode", house_number="3359",
      street_name="QUEEN CITY", street_type="AVE", city="CINCINNATI", state="OH", postal_code="45238"),
    H("220 O’Farrell St, San Francisco, CA 94102", pattern="unicode", house_number="220", street_name="OFARRELL",
      street_type="ST", city="SAN FRANCISCO", state="CA", postal_code="94102"),
    H("2500 Cañada Rd, Woodside CA 94062", pattern="unicode", house_number="2500", street_name="CANADA",
      street_type="RD", city="WOODSIDE", state="CA", postal_code="94062"),
    H("  1330   STEVENSON ST\t\t#103 ,,  SAN FRANCISCO ,CA  94103  ", pattern="whitespace", house_number="1330",
      street_name="STEVENSON", street_type="ST", unit_type="#", unit="103", city="SAN FRANCISCO", state="CA",
      postal_code="94103"),
    # units in every form
    H("452 Maxwell Ave\nApt 3A\nRochester, NY 14619", pattern="unit_newline", house_number="452",
      street_name="MAXWELL", street_type="AVE", unit_type="APT", unit="3A", city="ROCHESTER", state="NY",
      postal_code="14619"),
    H("Apt 3A, 452 Maxwell Ave, Rochester NY 14619", pattern="unit_first", house_number="452",
      street_name="MAXWELL", street_type="AVE", unit_type="APT", unit="3A", city="ROCHESTER", state="NY",
      postal_code="14619"),
    H("452 Maxwell Ave Rochester NY 14619 Apt 3A", pattern="unit_last", house_number="452", street_name="MAXWELL",
      street_type="AVE", unit_type="APT", unit="3A", city="ROCHESTER", state="NY", postal_code="14619"),
    H("123 Main St Apt No. 456 Oakland CA 94612", pattern="unit_inline", house_number="123", street_name="MAIN",
      street_type="ST", unit_type="APT", unit="456", city="OAKLAND", state="CA", postal_code="94612"),
    H("30 West 26th Street Sixth Floor New York NY 10010", pattern="unit_floor", house_number="30",
      predirectional="W", street_name="26TH", street_type="ST", unit_type="FL", unit="6", city="NEW YORK",
      state="NY", postal_code="10010"),
    H("30 W 26th St 6th Fl, New York, NY 10010", pattern="unit_floor", house_number="30", predirectional="W",
      street_name="26TH", street_type="ST", unit_type="FL", unit="6", city="NEW YORK", state="NY",
      postal_code="10010"),
    H("25050 ALESSANDRO BLVD, STE B, MORENO VALLEY, CA, 92553-4313", pattern="unit_line2", house_number="25050",
      street_name="ALESSANDRO", street_type="BLVD", unit_type="STE", unit="B", city="MORENO VALLEY", state="CA",
      postal_code="92553", zip4="4313"),
    H("5850 US Highway 431, STE 1, Albertville, AL, 35950-2049", pattern="unit_line2", house_number="5850",
      street_name="US HWY 431", unit_type="STE", unit="1", city="ALBERTVILLE", state="AL", postal_code="35950",
      zip4="2049"),
    H("1330 Stevenson St Bldg 2 Rm 14 San Francisco CA 94103", ("BLDG 2",), pattern="unit_two",
      house_number="1330", street_name="STEVENSON", street_type="ST", unit_type="RM", unit="14",
      city="SAN FRANCISCO", state="CA", postal_code="94103"),
    H("88 Oak Grove Rd Lot 15, Prattville AL 36067", pattern="unit_inline", house_number="88",
      street_name="OAK GROVE", street_type="RD", unit_type="LOT", unit="15", city="PRATTVILLE", state="AL",
      postal_code="36067"),
    H("604 Brooklyn Av Rear Oakland CA 94606", pattern="unit_novalue", house_number="604", street_name="BROOKLYN",
      street_type="AVE", unit_type="REAR", city="OAKLAND", state="CA", postal_code="94606"),
    H("565 Bellevue Ave Penthouse Oakland CA 94610", pattern="unit_novalue", house_number="565",
      street_name="BELLEVUE", street_type="AVE", unit_type="PH", city="OAKLAND", state="CA", postal_code="94610"),
    H("2029 Channing Way Apt. 4-A, Berkeley, Calif. 94704", pattern="unit_inline", house_number="2029",
      street_name="CHANNING", street_type="WAY", unit_type="APT", unit="4A", city="BERKELEY", state="CA",
      postal_code="94704"),
    H("955 E 3rd St Unit #7 Powell WY 82435", pattern="unit_inline", house_number="955", predirectional="E",
      street_name="3RD", street_type="ST", unit_type="UNIT", unit="7", city="POWELL", state="WY",
      postal_code="82435"),
    H("387 N FERRIS ST APT C POWELL WY 82435", pattern="unit_inline", house_number="387", predirectional="N",
      street_name="FERRIS", street_type="ST", unit_type="APT", unit="C", city="POWELL", state="WY",
      postal_code="82435"),
    H("123 Main St 4B Prattville AL 36067", pattern="unit_bare", house_number="123", street_name="MAIN",
      street_type="ST", unit_type="#", unit="4B", city="PRATTVILLE", state="AL", postal_code="36067"),
    # Pub 28 standardization: directionals, numbered streets, Saint, states, ZIP+4
    H("1600 pennsylvania av nw apt 2 washington dc 20500", pattern="std", house_number="1600",
      street_name="PENNSYLVANIA", street_type="AVE", postdirectional="NW", unit_type="APT", unit="2",
      city="WASHINGTON", state="DC", postal_code="20500"),
    H("1600 Pennsylvania Avenue Northwest, Washington, D.C. 20500-0003", pattern="std", house_number="1600",
      street_name="PENNSYLVANIA", street_type="AVE", postdirectional="NW", city="WASHINGTON", state="DC",
      postal_code="20500", zip4="0003"),
    H("1600 Pennsylvania Ave NW Washington DC 205000003", pattern="zip9", house_number="1600",
      street_name="PENNSYLVANIA", street_type="AVE", postdirectional="NW", city="WASHINGTON", state="DC",
      postal_code="20500", zip4="0003"),
    H("351 NW North St, Chehalis, WA 98532-1900", pattern="std", house_number="351", predirectional="NW",
      street_name="NORTH", street_type="ST", city="CHEHALIS", state="WA", postal_code="98532", zip4="1900"),
    H("100 Saint Charles Ave New Orleans LA 70130", pattern="std", house_number="100", street_name="ST CHARLES",
      street_type="AVE", city="NEW ORLEANS", state="LA", postal_code="70130"),
    H("500 Fifth Avenue Suite 200 New York NY 10110", pattern="std", house_number="500", street_name="5TH",
      street_type="AVE", unit_type="STE", unit="200", city="NEW YORK", state="NY", postal_code="10110"),
    H("221 Twenty-Third Street, Hoboken NJ 07030", pattern="std", house_number="221", street_name="23RD",
      street_type="ST", city="HOBOKEN", state="NJ", postal_code="07030"),
    H("10 West 26 Street, New York, NY 10010", pattern="std", house_number="10", predirectional="W",
      street_name="26TH", street_type="ST", city="NEW YORK", state="NY", postal_code="10010"),
    H("2 North St Springfield MA 01105", pattern="std", house_number="2", street_name="NORTH", street_type="ST",
      city="SPRINGFIELD", state="MA", postal_code="01105"),
    H("2501 N Blackwelder Ave, Oklahoma City, Oklahoma 73106", pattern="std", house_number="2501",
      predirectional="N", street_name="BLACKWELDER", street_type="AVE", city="OKLAHOMA CITY", state="OK",
      postal_code="73106"),
    H("1011 South Dr, Indiana, Pennsylvania 15705", pattern="std", house_number="1011", street_name="SOUTH",
      street_type="DR", city="INDIANA", state="PA", postal_code="15705"),
    H("18312 SE Brooklyn CT Gresham OR", pattern="std", house_number="18312", predirectional="SE",
      street_name="BROOKLYN", street_type="CT", city="GRESHAM", state="OR"),
    H("775 St Rte 169 Warren OH 44483", pattern="std", house_number="775", street_name="STATE RTE 169",
      city="WARREN", state="OH", postal_code="44483"),
    H("4596 S US Hwy 89, Sevier UT 84766", pattern="std", house_number="4596", predirectional="S",
      street_name="US HWY 89", city="SEVIER", state="UT", postal_code="84766"),
    H("18OO Willow Ave Hoboken NJ 07030", pattern="malformed_number", house_number="1800", street_name="WILLOW",
      street_type="AVE", city="HOBOKEN", state="NJ", postal_code="07030"),
    # missing pieces
    H("3359 Queen City Ave 45238", pattern="zip_only", house_number="3359", street_name="QUEEN CITY",
      street_type="AVE", postal_code="45238"),
    H("473 Boston Rd, Wilbraham, MA", pattern="no_zip", house_number="473", street_name="BOSTON",
      street_type="RD", city="WILBRAHAM", state="MA"),
    H("2127 Broadway, Oakland 94612", pattern="no_state", house_number="2127", street_name="BROADWAY",
      city="OAKLAND", postal_code="94612"),
    H("General Delivery, Powell WY 82435", pattern="general_delivery", kind="general_delivery", city="POWELL",
      state="WY", postal_code="82435"),
    # other countries go to libpostal
    H("Potsdamer Platz 1, 10785 Berlin, Germany", pattern="foreign", house_number="1",
      street_name="POTSDAMER PLATZ", city="BERLIN", postal_code="10785", country="DE"),
    H("Rigaer Straße 100 A, 10247 Berlin, Deutschland", pattern="foreign", house_number="100 A",
      street_name="RIGAER STRASSE", city="BERLIN", postal_code="10247", country="DE"),
    H("1 Yonge St, Toronto ON M5E 1W7", pattern="foreign", house_number="1", street_name="YONGE ST",
      city="TORONTO", state="ON", postal_code="M5E 1W7", country="CA"),
    H("10 Downing Street, London SW1A 2AA, United Kingdom", pattern="foreign", house_number="10",
      street_name="DOWNING STREET", city="LONDON", postal_code="SW1A 2AA", country="GB"),
    H("16 Glasgow Street, Kelburn, Wellington 6012, New Zealand", pattern="foreign", house_number="16",
      street_name="GLASGOW STREET", city="WELLINGTON", postal_code="6012", country="NZ"),
]


def _records(root: Path, rng: random.Random) -> list[dict]:
    return (hamilton_records(root, rng, 150) + sf_records(root, rng, 60) + alameda_records(root, rng, 45)
            + berkeley_records(root, rng, 30) + trumbull_records(root, rng, 25) + park_records(root, rng, 21)
            + sevier_records(root, rng, 20) + willow_records(root, rng) + west26_records(root, rng, 12))


def _key(rec: dict) -> tuple:
    return (rec["source"], rec["num"], rec["name"], rec["unit"], rec["zip"])


def _write(path: Path, cases: list[dict]) -> int:
    seen = set()
    with open(path, "w", encoding="utf-8") as f:
        for i, c in enumerate(cases):
            if c["input"] in seen:
                continue
            seen.add(c["input"])
            c = {"id": f"{c['source']}-{i:04d}", **c}
            f.write(json.dumps(c, ensure_ascii=False) + "\n")
    print(f"wrote {len(seen)} cases to {path}")
    return len(seen)


def main() -> None:
    root = realdata()
    rng = random.Random(20240604)
    recs = _records(root, rng)
    _write(OUT, [render(r, rng) for r in recs] + HAND)
    # a hold-out set: other records, other renderings, never looked at while tuning the parser
    used = {_key(r) for r in recs}
    rng = random.Random(78)
    fresh = [r for r in _records(root, rng) if _key(r) not in used]
    _write(HOLDOUT, [render(r, rng) for r in fresh])


if __name__ == "__main__":
    main()
