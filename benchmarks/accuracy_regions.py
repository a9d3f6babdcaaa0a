"""Regions for the accuracy benchmark: every real point set and TIGER county in the shared data,
plus synthetic regions derived from them for US address phenomena the real files lack.

Every region sits on one FIXED side. *Fit* regions are where weights, thresholds and the
calibration map may be fitted (``match.scoring.WEIGHTS`` was tuned on San Francisco + Oakland +
Autauga, ``addressing/data/calibration.json`` fitted on San Francisco + Oakland, so those three
are fit regions); every other region is a *report* region, and only report regions give
figures. A derived region takes its parent's side: it is made of the parent's own points.

Real regions, each built into one gazetteer from its real file and its column map
(``tests/realdata_maps.py``'s ``OA_MAPS`` for the county CSVs, ``ORIGINAL_MAPS`` here
for the originals no CSV covers):

==========  ======  ===========================================================================
sf          fit     San Francisco EAS points (Hayes Valley / Civic Center), with units
oakland     fit     Alameda SPAD points, downtown Oakland
autauga     fit     Autauga County, AL: TIGER ranges (Nominatim CSV)
berkeley    report  Berkeley parcels
trumbull    report  Trumbull County, OH points (directional suffixes, alternate names)
park_wy     report  Park County, WY points: one ``DLVRY_ADD`` line, no ZIP, no city
sevier      report  Sevier County, UT points (no city: the gazetteer takes it from the ZIP)
portland    report  Portland, OR original ``address_data.csv`` (State Plane feet, converted here)
bucks       report  Bucks County, PA original parcels GeoJSON (no ZIP, no city)
grayson_va  report  Virginia original site addresses (Grayson County; ZIP written ``24,348``)
meagher     report  Meagher County, MT: TIGER ADDRFEAT shapefile ranges
==========  ======  ===========================================================================

The other originals under ``openaddresses/original/`` hold the CSVs' own sources (the SF,
Alameda, Berkeley, Trumbull, Utah and Park County excerpts) or no addresses at all (the
Oakland parcels), so they add no region.

Truth. A point region's truths are its distinct addresses (street, number, unit) as the
gazetteer stored them, at the mean of their rows; a TIGER region's are one number drawn in
each range, at the place the range puts it (``synth.range_truth``), where no other range of
the street holds it. The truth ZIP is the one the gazetteer stored (for a range, its side's,
else the other side's where TIGER writes ``99999``); where there is none, it is the ZIP of the
nearest point of the same street that has one (an address in Trumbull), else the ZIP whose
centroid is nearest among the county's standard ZIPs (all of Park County and Bucks): what a
customer there would write. ``zip_from`` says which. The truth city is the gazetteer's (the
source's, else the ZIP's), else that ZIP's city. A query can only be judged on what its
truth holds: a customer's ZIP for Park County is right when it is that nearest ZIP.

Derived regions are standard OpenAddresses CSVs written here and built with
``SourceSpec("openaddresses", path, name=...)``, so the loaders read them as a user's file:

- ``leading_zero``: the parent's streets moved onto real 0-prefixed ZIPs of CT, MA, ME, NH,
  NJ, RI, VT and PR, at each ZIP's centroid, with its real city and state;
- ``lookalike``: for some real streets, a second street of the same name with another Pub 28
  type (ST/CT, LN/RD, BLVD/AVE, DR/CIR...), the same house numbers and ZIP,
  ``LOOKALIKE_APART_M`` away;
- ``two_zips``: some real streets again in another ZIP of the same town,
  ``TWO_ZIPS_APART_M`` or more away;
- ``lettered``: real lettered streets (DC's ``K ST NW``, Sacramento's ``J ST``, Anchorage's
  ``I ST``...) in their real ZIPs, holding copies of a parent street's points.
Their truths are the components written, not the loader's reading of them.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import math
import random
import re
import sys
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import duckdb

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))
sys.path.insert(0, str(PROJECT / "tests"))

from realdata_maps import OA_MAPS  # noqa: E402

from addressing.demo import synth  # noqa: E402
from addressing.gazetteer import Gazetteer, open_gazetteer, query_arrow  # noqa: E402
from addressing.gazetteer.keys import name_key  # noqa: E402
from addressing.gazetteer.openaddresses import ColumnMap  # noqa: E402
from addressing.gazetteer.store import SourceSpec, build  # noqa: E402
from addressing.parse.places import zip_info, zip_table, zips_by_city  # noqa: E402

FIT, REPORT = "fit", "report"
LEADING_ZERO, LOOKALIKE, TWO_ZIPS, LETTERED = "leading_zero", "lookalike", "two_zips", "lettered"
METRES_PER_DEGREE = 111_320.0     # one degree of latitude, and of longitude at the equator

# ----------------------------------------------------------------------------- regions


@dataclass(frozen=True)
class Region:
    """One region of the benchmark. ``path`` is relative to the real-data folder; ``county`` and
    ``state`` name where a missing ZIP is looked for (``zipcodes``' own spelling)."""

    key: str
    label: str
    side: str
    kind: str = "openaddresses"          # or "tiger" (ranges)
    path: str | None = None
    county: str | None = None
    state: str | None = None
    parent: str | None = None           # derived regions: the region they are made from
    phenomenon: str | None = None       # derived regions: what they add

    @property
    def source_name(self) -> str:
        return f"bench:{self.key}"


REAL_REGIONS = (
    Region("sf", "San Francisco, CA", FIT, path="openaddresses/sf_eas_addresses_with_units.csv",
           county="San Francisco County", state="CA"),
    Region("oakland", "Oakland, CA", FIT, path="openaddresses/alameda_spad_oakland.csv",
           county="Alameda County", state="CA"),
    Region("autauga", "Autauga County, AL (TIGER ranges)", FIT, "tiger",
           path="tiger/autauga_al_01001/01001_nominatim.csv", county="Autauga County", state="AL"),
    Region("berkeley", "Berkeley, CA", REPORT, path="openaddresses/berkeley_parcels.csv",
           county="Alameda County", state="CA"),
    Region("trumbull", "Trumbull County, OH", REPORT, path="openaddresses/trumbull_county_oh_points.csv",
           county="Trumbull County", state="OH"),
    Region("park_wy", "Park County, WY", REPORT, path="openaddresses/park_county_wy_points.csv",
           county="Park County", state="WY"),
    Region("sevier", "Sevier County, UT", REPORT, path="openaddresses/sevier_county_ut_points.csv",
           county="Sevier County", state="UT"),
    Region("portland", "Portland, OR (original)", REPORT, path="openaddresses/original/us-or-portland.zip",
           county="Multnomah County", state="OR"),
    Region("bucks", "Bucks County, PA (original)", REPORT, path="openaddresses/original/us-pa-bucks.geojson",
           county="Bucks County", state="PA"),
    Region("grayson_va", "Grayson County, VA (original)", REPORT,
           path="openaddresses/original/VA_SiteAddress-excerpt.zip", county="Grayson County", state="VA"),
    Region("meagher", "Meagher County, MT (TIGER ranges)", REPORT, "tiger",
           path="tiger/meagher_mt_30059/tl_2021_30059_addrfeat.shp", county="Meagher County", state="MT"),
)
#: (key, parent, phenomenon); the side is the parent's
DERIVED = (
    ("sf_zip0", "sf", LEADING_ZERO),
    ("sf_lookalike", "sf", LOOKALIKE),
    ("oakland_two_zips", "oakland", TWO_ZIPS),
    ("oakland_lettered", "oakland", LETTERED),
    ("berkeley_zip0", "berkeley", LEADING_ZERO),
    ("berkeley_lookalike", "berkeley", LOOKALIKE),
    ("berkeley_two_zips", "berkeley", TWO_ZIPS),
    ("trumbull_lookalike", "trumbull", LOOKALIKE),
    ("trumbull_lettered", "trumbull", LETTERED),
)


def derived_regions() -> tuple[Region, ...]:
    parents = {r.key: r for r in REAL_REGIONS}
    out = []
    for key, parent, phenomenon in DERIVED:
        p = parents[parent]
        out.append(Region(key, f"{p.label}: {phenomenon.replace('_', ' ')} copy", p.side, path=None,
                          county=p.county, state=p.state, parent=parent, phenomenon=phenomenon))
    return tuple(out)


def all_regions() -> dict[str, Region]:
    return {r.key: r for r in (*REAL_REGIONS, *derived_regions())}


# ----------------------------------------------------------------------------- sources

CM = ColumnMap.parse
#: the originals no county CSV covers (their own column names)
ORIGINAL_MAPS = {
    "portland": CM("lon=lon,lat=lat,number=address_number,street=str_predir_code+street_name+street_type_code+"
                   "str_postdir_code,unit=unit_value,city=city,region=state_abbrev,postcode=zip_code,id=address_id"),
    "bucks": CM("number=SITUS_ADDR_NUM,street=SITUS_FDPRE+SITUS_FNAME+SITUS_FTYPE+SITUS_FDSUF,id=PARCEL_NUM",
                "region=PA"),
    "grayson_va": CM("lon=LONG,lat=LAT,number=ADDRNUM+ADDRNUMSUF,street=STREET_PREMOD+STREET_PREFIX+"
                     "STREET_PRE_TYPE+STREET_NAME+STREET_TYPE+STREET_SUFFIX,unit=UNITID,unit_type=UNITTYPE,"
                     "city=PO_NAME,region=STATE,postcode=ZIP_5,id=OBJECTID"),
}

# EPSG:2913, NAD83(HARN) / Oregon North (international feet), Lambert conformal conic on GRS80:
# the projection of Portland's address_data.csv X/Y (checked: 0 NE ALBERTA ST lands on NE Alberta
# St at 45.559 N, 2211 SE HUDSON CT in Troutdale, 2211 SE OCHOCO ST in Milwaukie)
GRS80_A, GRS80_F = 6378137.0, 1 / 298.257222101
OREGON_NORTH = {"lat_1": 46.0, "lat_2": 44 + 20 / 60, "lat_0": 43 + 40 / 60, "lon_0": -120.5,
                "x_0_m": 2_500_000.0, "y_0_m": 0.0}
FOOT_M = 0.3048


def lcc_inverse(x_m: float, y_m: float, p: dict = OREGON_NORTH) -> tuple[float, float]:
    """(lon, lat) of a Lambert conformal conic (two standard parallels) point in metres
    (Snyder, Map Projections: A Working Manual, eqs. 15-9 to 15-11, 7-9)."""
    e = math.sqrt(2 * GRS80_F - GRS80_F ** 2)

    def m(phi):
        return math.cos(phi) / math.sqrt(1 - (e * math.sin(phi)) ** 2)

    def t(phi):
        return math.tan(math.pi / 4 - phi / 2) / ((1 - e * math.sin(phi)) / (1 + e * math.sin(phi))) ** (e / 2)

    p1, p2, p0 = (math.radians(p[k]) for k in ("lat_1", "lat_2", "lat_0"))
    n = (math.log(m(p1)) - math.log(m(p2))) / (math.log(t(p1)) - math.log(t(p2)))
    big_f = m(p1) / (n * t(p1) ** n)
    rho0 = GRS80_A * big_f * t(p0) ** n
    x, y = x_m - p["x_0_m"], y_m - p["y_0_m"]
    rho = math.copysign(math.hypot(x, rho0 - y), n)
    tt = (rho / (GRS80_A * big_f)) ** (1 / n)
    lon = math.degrees(math.atan2(x, rho0 - y) / n) + p["lon_0"]
    phi = math.pi / 2 - 2 * math.atan(tt)
    for _ in range(8):  # converges to 1e-12 rad in 4-5 steps
        phi = math.pi / 2 - 2 * math.atan(tt * ((1 - e * math.sin(phi)) / (1 + e * math.sin(phi))) ** (e / 2))
    return lon, math.degrees(phi)


def portland_csv(data: Path, work: Path) -> Path:
    """The original ``address_data.csv`` with ``lon``/``lat`` columns added (its X/Y are
    State Plane feet, which the loaders refuse, as they should). One real row has a stray
    quote in its unit that shifts its fields: it keeps no coordinates, and the loader skips it."""
    out = work / "portland_address_data.csv"
    with zipfile.ZipFile(data / "openaddresses/original/us-or-portland.zip") as z:
        text = z.read("address_data.csv").decode("utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=[*rows[0].keys(), "lon", "lat"])
        w.writeheader()
        for r in rows:
            r = {k: v for k, v in r.items() if k is not None}
            try:
                lon, lat = lcc_inverse(float(r["X"]) * FOOT_M, float(r["Y"]) * FOOT_M)
                w.writerow({**r, "lon": f"{lon:.7f}", "lat": f"{lat:.7f}"})
            except (TypeError, ValueError):  # a real row broken by a stray quote: the loader reports it
                w.writerow({**r, "lon": "", "lat": ""})
    return out


def virginia_csv(data: Path, work: Path) -> Path:
    """``VA_SiteAddress.txt`` out of its zip, named ``.csv`` (it is a CSV; the loaders go by
    the extension)."""
    out = work / "VA_SiteAddress.csv"
    with zipfile.ZipFile(data / "openaddresses/original/VA_SiteAddress-excerpt.zip") as z:
        out.write_bytes(z.read("VA_SiteAddress.txt"))
    return out


def real_spec(region: Region, data: Path, work: Path) -> SourceSpec:
    if region.kind == "tiger":
        return SourceSpec("tiger", data / region.path, name=region.source_name)
    if region.key == "portland":
        path = portland_csv(data, work)
    elif region.key == "grayson_va":
        path = virginia_csv(data, work)
    else:
        path = data / region.path
    columns = ORIGINAL_MAPS.get(region.key) or OA_MAPS[Path(region.path).name]
    return SourceSpec("openaddresses", path, name=region.source_name, columns=columns)


# ----------------------------------------------------------------------------- truths

UNDELIVERABLE_NAMES = {"UNKNOWN"}
#: a run of units in one row (Trumbull's ``A~C``, loaded as ``A C``): no one unit to ask for
UNIT_RUN = re.compile(r"\w \w")


def point_truths(con, region: Region) -> tuple[list[dict], int]:
    """Distinct addresses (street, number, unit) of a point region, and how many were dropped
    as no deliverable address (number 0, street ``UNKNOWN``: placeholders in the source; a run
    of units in one row)."""
    sql = """SELECT p.number, any_value(p.predir) AS predir, any_value(p.name) AS name, any_value(p.type) AS type,
                    any_value(p.postdir) AS postdir, p.unit, any_value(p.unit_type) AS unit_type,
                    any_value(p.city) AS city, any_value(p.state) AS state, any_value(p.postal_code) AS zip,
                    avg(p.lat) AS lat, avg(p.lon) AS lon, p.street_id, list(p.source_key) AS keys
             FROM address_points p
             WHERE p.source_name = ? AND p.number_int IS NOT NULL
             GROUP BY p.street_id, p.number, p.unit
             ORDER BY p.street_id, p.number, p.unit NULLS FIRST"""
    rows = query_arrow(con, sql, [region.source_name]).to_pylist()
    keep = [r for r in rows if r["number"] != "0" and r["name"] not in UNDELIVERABLE_NAMES
            and not UNIT_RUN.fullmatch(r["unit"] or "")]
    for r in keep:
        r["range"] = False
    return keep, len(rows) - len(keep)


RANGE_TRIES = 5     # numbers drawn in a range before giving up on finding one no other range holds


def range_truths(con, region: Region, seed: int) -> tuple[list[dict], int]:
    """One number per TIGER range of the region (left side, as ``synth.ranges``), at the place
    the range puts it; and how many ranges gave none. A number that another range of a street
    of the same name also holds, in any ZIP (TIGER repeats numbers on overlapping ranges
    hundreds of metres apart) has no one true place: another is drawn, ``RANGE_TRIES`` times
    at most."""
    rng = random.Random(f"{seed}:{region.key}")
    sql = """SELECT g.from_left AS a, g.to_left AS b, g.parity_left AS parity, g.from_right, g.to_right,
                    g.parity_right, g.sided, g.geom, g.predir, g.name, g.type, g.postdir, g.city, g.state,
                    g.zip_left, g.postal_code, g.zip_right, g.street_id
             FROM segments g WHERE g.source_name = ? AND g.name IS NOT NULL
             ORDER BY g.street_id, g.from_left, g.source_key"""
    segs = query_arrow(con, sql, [region.source_name]).to_pylist()
    holders: dict[tuple, list[tuple]] = defaultdict(list)   # by name, whatever the ZIP (99999 too)
    for g in segs:
        for a, b, parity in ((g["a"], g["b"], g["parity"]), (g["from_right"], g["to_right"], g["parity_right"])):
            if a is not None and b is not None:
                holders[_named(g)].append((min(a, b), max(a, b), parity))
    out, dropped = [], 0
    for s in segs:
        if s["a"] is None or s["b"] is None:
            continue
        num = None
        for _ in range(RANGE_TRIES):
            n = synth.range_number(s, rng)
            if n is not None and sum(_holds(r, n) for r in holders[_named(s)]) == 1:
                num = n
                break
        if num is None:
            dropped += 1
            continue
        lat, lon = synth.range_truth(s, num)
        out.append({"number": str(num), "predir": s["predir"], "name": s["name"], "type": s["type"],
                    "postdir": s["postdir"], "unit": None, "unit_type": None, "city": s["city"],
                    "state": s["state"], "zip": _range_zip(s), "lat": lat, "lon": lon,
                    "street_id": s["street_id"], "keys": [], "range": True})
    return out, dropped


def _range_zip(s: dict) -> str | None:
    """The ZIP of the range's (left) side; where TIGER has none there (``99999``), the
    segment's, else the other side's: the same road."""
    return next((z for z in (s["zip_left"], s["postal_code"], s["zip_right"]) if z and zip_info(z)), None)


def _named(s: dict) -> tuple:
    return (s["predir"], s["name"], s["type"], s["postdir"])


def _holds(r: tuple, n: int) -> bool:
    lo, hi, parity = r
    return lo <= n <= hi and (parity not in ("O", "E") or n % 2 == (1 if parity == "O" else 0))


def nearest_zip(lat: float, lon: float, county: str, state: str) -> str | None:
    """The standard, active ZIP of ``county`` whose centroid is nearest."""
    best, best_d = None, math.inf
    for z in _county_zips(county, state):
        d = (z.lat - lat) ** 2 + ((z.lon - lon) * math.cos(math.radians(lat))) ** 2
        if d < best_d:
            best, best_d = z.zip_code, d
    return best


_county_cache: dict[tuple[str, str], list] = {}


def _county_zips(county: str, state: str) -> list:
    key = (county, state)
    if key not in _county_cache:
        _county_cache[key] = sorted((z for z in zip_table().values() if z.county == county and z.state == state
                                     and z.type == "STANDARD" and z.active and z.lat is not None),
                                    key=lambda z: z.zip_code)
    return _county_cache[key]


def finish_truths(truths: list[dict], region: Region) -> list[dict]:
    """Region, truth ZIP and city where the source had none (see the module docstring)."""
    for t in truths:
        if t.get("zip") and zip_info(t["zip"]) is None:   # TIGER's 99999: no ZIP
            t["zip"] = None
    zipped: dict[tuple, list[dict]] = defaultdict(list)
    for t in truths:
        if t.get("zip"):
            zipped[_named(t)].append(t)
    for t in truths:
        t["region"] = region.key
        t["zip_from"] = "source"
        if not t.get("zip") and zipped.get(_named(t)):
            near = min(zipped[_named(t)], key=lambda o: (o["lat"] - t["lat"]) ** 2 + (o["lon"] - t["lon"]) ** 2)
            t["zip"], t["zip_from"] = near["zip"], "its street's nearest point"
        elif not t.get("zip") and region.county:
            t["zip"] = nearest_zip(t["lat"], t["lon"], region.county, region.state)
            t["zip_from"] = "nearest centroid"
        if not t.get("city") and t.get("zip"):
            info = zip_info(t["zip"])
            t["city"] = info.city if info else None
        t["state"] = t.get("state") or region.state
    return truths


# ----------------------------------------------------------------------------- derived regions

OA_HEADER = ["LON", "LAT", "NUMBER", "STREET", "UNIT", "CITY", "DISTRICT", "REGION", "POSTCODE", "ID"]
LEADING_ZERO_STATES = ("CT", "MA", "ME", "NH", "NJ", "RI", "VT", "PR")
LEADING_ZERO_PER_STATE = 2          # ZIPs per state and side (the sides' ZIPs are disjoint)
LEADING_ZERO_STREETS = 40           # streets of the parent moved (all of a small parent)
#: look-alike street types: a street of this type gets a twin of the other type
LOOKALIKE_TYPES = {"ST": "CT", "CT": "ST", "AVE": "BLVD", "BLVD": "AVE", "LN": "RD", "RD": "LN", "DR": "CIR",
                   "CIR": "DR", "PL": "ST", "WAY": "ST", "TER": "CT"}
LOOKALIKE_SHARE = 0.15              # of a parent's streets (of a look-alike type) that get a twin
LOOKALIKE_APART_M = 400.0           # "some hundreds of metres": far enough to be another street
#: every this-many-th twin has no type at all, as TIGER's LIVE OAK beside LIVE OAK DR (Autauga)
LOOKALIKE_UNTYPED_EVERY = 4
TWO_ZIPS_SHARE = 0.10               # of a parent's streets that recur in another ZIP of the town
MIN_STREETS = 3                      # twinned or recurring streets: at least this many of a parent
TWO_ZIPS_APART_M = 3000.0           # two streets of one name in one town are kilometres apart
MIN_NUMBERS = 3                      # a street copied needs this many house numbers
#: real lettered streets and a ZIP each runs through; the report side has the ones issue 15
#: names, the fit side other real ones, so that nothing reported was fitted on
LETTERED_STREETS = {
    REPORT: (("K", "ST", "NW", "20005"), ("E", "ST", "SE", "20003"), ("P", "ST", "NW", "20036"),
             ("Q", "PL", "SE", "20020"), ("I", "ST", "NW", "20001"), ("J", "ST", None, "95811"),
             ("L", "ST", None, "95814"), ("I", "ST", None, "99501"), ("E", "ST", None, "99501")),
    FIT: (("M", "ST", "NW", "20036"), ("G", "ST", "NW", "20005"), ("H", "ST", "NE", "20002"),
          ("C", "ST", "SW", "20024"), ("K", "ST", None, "95814"), ("P", "ST", None, "95811"),
          ("C", "ST", None, "99501"), ("G", "ST", None, "99501")),
}
LETTER_SPACING_M = 250.0            # lettered streets sharing a ZIP are this far apart, east-west
DERIVED_SEED = 20260415


def _street_of(t: dict) -> tuple:
    return (t["zip"], t["predir"], t["name"], t["type"], t["postdir"])


def _by_street(truths: list[dict]) -> dict[tuple, list[dict]]:
    out: dict[tuple, list[dict]] = defaultdict(list)
    for t in truths:
        out[_street_of(t)].append(t)
    return dict(sorted(out.items(), key=lambda kv: tuple(x or "" for x in kv[0])))


def _shift(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    return (lat + north_m / METRES_PER_DEGREE,
            lon + east_m / (METRES_PER_DEGREE * math.cos(math.radians(lat))))


def _metres(lat1: float, lon1: float, lat2: float, lon2: float) -> tuple[float, float]:
    """(north, east) metres from point 1 to point 2 (flat-earth: towns, not continents)."""
    return ((lat2 - lat1) * METRES_PER_DEGREE,
            (lon2 - lon1) * METRES_PER_DEGREE * math.cos(math.radians((lat1 + lat2) / 2)))


def _relocate(t: dict, origin: tuple[float, float], dest: tuple[float, float], north_m: float = 0.0,
              east_m: float = 0.0) -> tuple[float, float]:
    """``t``'s place moved with its neighbourhood from ``origin`` to ``dest`` (both lat, lon):
    its offset from ``origin`` in metres, applied at ``dest``, plus ``north_m``/``east_m``."""
    north, east = _metres(origin[0], origin[1], t["lat"], t["lon"])
    return _shift(dest[0], dest[1], north + north_m, east + east_m)


def _centroid(pts: list[dict]) -> tuple[float, float]:
    return sum(t["lat"] for t in pts) / len(pts), sum(t["lon"] for t in pts) / len(pts)


def _quota(share: float, n: int) -> int:
    return max(MIN_STREETS, round(share * n))


def _copy(t: dict, region: str, n: int, **changes) -> dict:
    out = {**t, **changes, "region": region, "keys": [f"{region}-{n}"], "zip_from": "written", "range": False}
    out.pop("street_id", None)
    return out


def leading_zero_zips(side: str) -> list[str]:
    """Real standard 0-prefixed ZIPs, LEADING_ZERO_PER_STATE per state and side (seeded)."""
    rng = random.Random(DERIVED_SEED)
    out = []
    for st in LEADING_ZERO_STATES:
        zs = sorted(z.zip_code for z in zip_table().values() if z.state == st and z.zip_code.startswith("0")
                    and z.type == "STANDARD" and z.active and z.lat is not None)
        rng.shuffle(zs)
        k = LEADING_ZERO_PER_STATE
        out += zs[:k] if side == FIT else zs[k:2 * k]
    return out


def make_leading_zero(parent: list[dict], key: str, side: str, rng: random.Random) -> list[dict]:
    streets = list(_by_street(parent).values())
    rng.shuffle(streets)
    targets = leading_zero_zips(side)
    origin = _centroid(parent)
    out = []
    for i, pts in enumerate(streets[:LEADING_ZERO_STREETS]):
        info = zip_info(targets[i % len(targets)])
        for t in pts:
            lat, lon = _relocate(t, origin, (info.lat, info.lon))
            out.append(_copy(t, key, len(out), lat=lat, lon=lon, zip=info.zip_code, city=info.city,
                             state=info.state))
    return out


def make_lookalike(parent: list[dict], key: str, taken: set[tuple], rng: random.Random) -> list[dict]:
    """Twins of real streets: same name, ZIP and numbers, the other type of a look-alike pair
    (or no type, for every ``LOOKALIKE_UNTYPED_EVERY``-th)."""
    streets = [(s, pts) for s, pts in _by_street(parent).items()
               if s[3] in LOOKALIKE_TYPES and len({t["number"] for t in pts}) >= MIN_NUMBERS]
    rng.shuffle(streets)
    quota = _quota(LOOKALIKE_SHARE, len(_by_street(parent)))
    out = []
    for i, ((z, pre, name, typ, post), pts) in enumerate(streets):
        twin = None if i % LOOKALIKE_UNTYPED_EVERY == LOOKALIKE_UNTYPED_EVERY - 1 else LOOKALIKE_TYPES[typ]
        if (z, pre, name, twin, post) in taken:
            continue
        taken.add((z, pre, name, twin, post))
        for t in pts:
            lat, lon = _shift(t["lat"], t["lon"], LOOKALIKE_APART_M, 0.0)
            out.append(_copy(t, key, len(out), lat=lat, lon=lon, type=twin))
        if len({_street_of(t) for t in out}) >= quota:
            break
    return out


def make_two_zips(parent: list[dict], key: str, taken_names: set[tuple], rng: random.Random) -> list[dict]:
    """Real streets again in another standard ZIP of the same town, with the same numbers."""
    streets = [(s, pts) for s, pts in _by_street(parent).items() if len({t["number"] for t in pts}) >= MIN_NUMBERS]
    rng.shuffle(streets)
    quota = _quota(TWO_ZIPS_SHARE, len(_by_street(parent)))
    out = []
    for (z, _, name, _, _), pts in streets:
        info = zip_info(z)
        if info is None or info.lat is None:
            continue
        others = [o for o in zips_by_city().get((info.state, pts[0]["city"] or info.city), ())
                  if o != z and (o, name_key(name)) not in taken_names and zip_info(o).type == "STANDARD"
                  and zip_info(o).lat is not None]
        if not others:
            continue
        other = zip_info(rng.choice(others))
        north, east = _metres(info.lat, info.lon, other.lat, other.lon)
        far = math.hypot(north, east)
        if far < TWO_ZIPS_APART_M:
            scale = TWO_ZIPS_APART_M / far if far > 1 else 0.0
            north, east = (north * scale, east * scale) if scale else (TWO_ZIPS_APART_M, 0.0)
        taken_names.add((other.zip_code, name_key(name)))
        for t in pts:
            lat, lon = _shift(t["lat"], t["lon"], north, east)
            out.append(_copy(t, key, len(out), lat=lat, lon=lon, zip=other.zip_code))
        if len({_street_of(t) for t in out}) >= quota:
            break
    return out


def make_lettered(parent: list[dict], key: str, side: str, rng: random.Random) -> list[dict]:
    """Each real lettered street holds the numbers (and units) of one parent street."""
    streets = [pts for pts in _by_street(parent).values() if len({t["number"] for t in pts}) >= MIN_NUMBERS]
    rng.shuffle(streets)
    out = []
    in_zip: dict[str, int] = defaultdict(int)
    for (letter, typ, post, z), pts in zip(LETTERED_STREETS[side], streets):
        info = zip_info(z)
        east = LETTER_SPACING_M * in_zip[z]
        in_zip[z] += 1
        origin = _centroid(pts)
        for t in pts:
            lat, lon = _relocate(t, origin, (info.lat, info.lon), east_m=east)
            out.append(_copy(t, key, len(out), lat=lat, lon=lon, predir=None, name=letter, type=typ, postdir=post,
                             zip=z, city=info.city, state=info.state))
    return out


def write_oa_csv(truths: list[dict], path: Path) -> Path:
    """A standard OpenAddresses CSV of derived points (one row per truth)."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(OA_HEADER)
        for t in truths:
            street = " ".join(x for x in (t["predir"], t["name"], t["type"], t["postdir"]) if x)
            w.writerow([f"{t['lon']:.7f}", f"{t['lat']:.7f}", t["number"], street, t["unit"] or "", t["city"] or "",
                        "", t["state"] or "", t["zip"] or "", t["keys"][0]])
    return path


def derive(region: Region, parent: list[dict], all_truths: list[dict]) -> list[dict]:
    rng = random.Random(f"{DERIVED_SEED}:{region.key}")
    if region.phenomenon == LEADING_ZERO:
        return make_leading_zero(parent, region.key, region.side, rng)
    if region.phenomenon == LOOKALIKE:
        return make_lookalike(parent, region.key, {_street_of(t) for t in all_truths}, rng)
    if region.phenomenon == TWO_ZIPS:
        return make_two_zips(parent, region.key, {(t["zip"], name_key(t["name"])) for t in all_truths}, rng)
    if region.phenomenon == LETTERED:
        return make_lettered(parent, region.key, region.side, rng)
    raise ValueError(region.phenomenon)


# ----------------------------------------------------------------------------- the whole set

#: the code a gazetteer's content depends on besides its files: the loaders and the parse tables
#: and standardization they use
LOADER_CODE = ("addressing/gazetteer", "addressing/parse")


def loader_fingerprint() -> str:
    digest = hashlib.sha256()
    for folder in LOADER_CODE:
        for f in sorted((PROJECT / folder).rglob("*")):
            if f.is_file() and f.suffix in (".py", ".tsv", ".json", ".csv", ".txt"):
                digest.update(str(f.relative_to(PROJECT)).encode() + b"\0" + f.read_bytes())
    return digest.hexdigest()[:12]


def current_build(db: Path, specs: list[SourceSpec]) -> None:
    """``build``, after removing a file built by other loader code: a build skips files it has
    loaded before (same checksum), so a file built before a loader fix would hide the fix."""
    stamp = db.with_name(db.name + ".loaders")
    code = loader_fingerprint()
    if db.exists() and (not stamp.exists() or stamp.read_text() != code):
        db.unlink()
    build(db, specs)
    stamp.write_text(code)


@dataclass
class Bench:
    """The built gazetteer and every region's truths."""

    gaz: Gazetteer
    db: Path
    regions: dict[str, Region]
    truths: dict[str, list[dict]]
    specs: list[SourceSpec]
    dropped: dict[str, int]


def build_bench(data: Path, work: Path, db_name: str = "accuracy_regions.duckdb", seed: int = DERIVED_SEED,
                regions: tuple[str, ...] | None = None) -> Bench:
    """Build the gazetteer of the real regions, write the derived regions from their parents'
    truths, build again with them (incremental: only new or changed files load), and return
    every region's truths with their flags (``mark_truths``)."""
    work.mkdir(parents=True, exist_ok=True)
    regs = all_regions()
    wanted = set(regions or regs)
    real = [r for r in REAL_REGIONS if r.key in wanted or any(regs[d].parent == r.key for d in wanted
                                                             if regs[d].parent)]
    db = work / db_name
    specs = [real_spec(r, data, work) for r in real]
    current_build(db, specs)
    truths: dict[str, list[dict]] = {}
    dropped: dict[str, int] = {}
    # a plain connection, closed before the second build: while any handle on the file is open,
    # DuckDB hands the old file's database to every new connection in this process
    with contextlib.closing(duckdb.connect(str(db), read_only=True)) as con:
        for r in real:
            if r.kind == "tiger":
                segs, dropped[r.key] = range_truths(con, r, seed)
                truths[r.key] = finish_truths(segs, r)
            else:
                pts, dropped[r.key] = point_truths(con, r)
                truths[r.key] = finish_truths(pts, r)
    derived = [r for r in derived_regions() if r.key in wanted]
    for r in derived:
        everything = [t for ts in truths.values() for t in ts]
        truths[r.key] = derive(r, truths[r.parent], everything)
        specs.append(SourceSpec("openaddresses", write_oa_csv(truths[r.key], work / f"{r.key}.csv"),
                                name=r.source_name))
    current_build(db, specs)
    gaz = open_gazetteer(db)
    for key in [k for k in truths if k not in wanted]:
        del truths[key]
    mark_truths(truths)
    return Bench(gaz, db, {k: regs[k] for k in truths}, truths, specs, dropped)


def mark_truths(truths: dict[str, list[dict]]) -> None:
    """Flags the kinds of mess need, from every truth of every region:

    - ``lookalike``: the other streets of the same name in the same ZIP with another type,
      whatever their directionals (``CLAUDE CT`` for ``CLAUDE ST``, ``POPLAR CT`` for
      ``E POPLAR ST``), written out;
    - ``zip_decides``: the same number on a street of the same name in another ZIP of the same
      town: without the ZIP (or with a wrong one) the text fits two real addresses;
    - ``lettered``: a one-letter street name;
    - ``untyped_twin``: no type, and a street of the same name with a type in the ZIP: a
      customer who writes no type may mean either (no answer is right), so no query is made."""
    named: dict[tuple, set] = defaultdict(set)
    towns: dict[tuple, set] = defaultdict(set)
    for ts in truths.values():
        for t in ts:
            named[(t["zip"], t["name"])].add((t["predir"], t["type"], t["postdir"]))
            towns[(t["state"], t["city"], t["predir"], t["name"], t["type"], t["postdir"], t["number"])].add(t["zip"])
    for ts in truths.values():
        for t in ts:
            others = [s for s in named[(t["zip"], t["name"])] if s[1] != t["type"]]
            t["lookalike"] = sorted(" ".join(x for x in (pre, t["name"], typ, post) if x) for pre, typ, post in others)
            t["zip_decides"] = len(towns[(t["state"], t["city"], t["predir"], t["name"], t["type"], t["postdir"],
                                          t["number"])]) > 1
            t["lettered"] = bool(re.fullmatch(r"[A-Z]", t["name"] or ""))
            t["untyped_twin"] = t["type"] is None and bool(others)


def building(t: dict) -> str:
    """What a truth is about, for withholding and for counting independent records: the
    region, street and number (all units of a building together)."""
    return f"{t['region']}|{t['predir']}|{t['name']}|{t['type']}|{t['postdir']}|{t['zip']}|{t['number']}"


def withheld_copy(spec: SourceSpec, drop: set[str], work: Path) -> SourceSpec:
    """The source without the rows whose id is in ``drop`` (ids as the loader stores them)."""
    id_col = (spec.columns.columns.get("id") if spec.columns else None) or ["ID"]
    id_col = id_col[0]
    out = work / f"gaps_{spec.source_name().replace(':', '_')}{spec.path.suffix}"
    with open(spec.path, newline="", encoding="utf-8") as f, open(out, "w", newline="", encoding="utf-8") as g:
        reader = csv.DictReader(f)
        writer = csv.DictWriter(g, fieldnames=reader.fieldnames)
        writer.writeheader()
        for row in reader:
            if re.sub(r"\.0$", "", row[id_col] or "") not in drop:
                writer.writerow(row)
    return SourceSpec(spec.kind, out, name=spec.name, columns=spec.columns)


def gaps_gazetteer(bench: Bench, held: set[str], work: Path, db_name: str = "accuracy_regions_gaps.duckdb"):
    """The same sources, except the rows of the withheld buildings (fit point regions only)."""
    drop: dict[str, set[str]] = defaultdict(set)
    for key, ts in bench.truths.items():
        for t in ts:
            if building(t) in held:
                drop[bench.regions[key].source_name].update(str(k) for k in t["keys"])
    specs = [withheld_copy(s, drop[s.source_name()], work) if drop.get(s.source_name()) else s for s in bench.specs]
    db = work / db_name
    current_build(db, specs)
    return open_gazetteer(db)


def describe(bench: Bench) -> list[tuple]:
    """(region, side, parent, truths, ZIPs from the source / nearest centroid / written)."""
    rows = []
    for key, ts in bench.truths.items():
        r = bench.regions[key]
        zf = defaultdict(int)
        for t in ts:
            zf[t["zip_from"]] += 1
        rows.append((key, r.side, r.parent or "", r.phenomenon or ("ranges" if r.kind == "tiger" else "points"),
                     len(ts), dict(zf)))
    return rows
