"""Source files of a national-size gazetteer, made from the real files in $ADDRESSING_REALDATA.

The real address points (San Francisco, Oakland, Berkeley, Trumbull County OH, Park County WY,
Sevier County UT, Hoboken's Willow Ave and Manhattan's W 26th St) and the real TIGER ranges
(Meagher County MT ADDRFEAT, Autauga County AL) are the *base*. Every real standard US ZIP
with a centroid (``zipcodes``: all states, DC, PR and the territories) gets a window of the
base: its points and ranges moved (translated) to the ZIP's centroid, with the ZIP, its USPS
city and its state. ZIP ``k``'s window starts at its own place in the base (a Weyl sequence,
so neighbouring ZIPs hold different streets) and has as many rows as the size asks for, so
the first rows of every ZIP's window are the same at every size: an order drawn from the
smallest size's rows exists in every larger one.

Street names are varied per ZIP and street, so that a state does not hold one repeated town:
most streets get a word drawn from the real street names in front of their real name
(``HAYES MARKET ST``), some keep the real name alone (``MARKET ST`` recurs in many towns, as
``MAIN ST`` does). The number of distinct street names in a state grows with the size, as in
a real national file.

Files: one standard OpenAddresses CSV and one ADDRFEAT-like newline GeoJSON per chunk, a chunk
being the ZIPs of whole counties of one state, cut when it holds ``CHUNK_ZIPS`` ZIPs
(county-sized sources, as OpenAddresses and the Census ship them; a refresh replaces one).
Everything is made with numpy/pyarrow over whole chunks, written chunk by chunk, so memory
holds one chunk, never the country.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

OA_HEADER = ["LON", "LAT", "NUMBER", "STREET", "UNIT", "CITY", "DISTRICT", "REGION", "POSTCODE", "ID", "HASH"]
#: the real point files: path under $ADDRESSING_REALDATA, and the name of its column map in
#: ``tests/realdata_maps.OA_MAPS`` (None: the file is already standard OA CSV)
POINT_FILES = (
    ("openaddresses/sf_eas_addresses_with_units.csv", "sf_eas_addresses_with_units.csv"),
    ("openaddresses/alameda_spad_oakland.csv", "alameda_spad_oakland.csv"),
    ("openaddresses/berkeley_parcels.csv", "berkeley_parcels.csv"),
    ("openaddresses/trumbull_county_oh_points.csv", "trumbull_county_oh_points.csv"),
    ("openaddresses/park_county_wy_points.csv", "park_county_wy_points.csv"),
    ("openaddresses/sevier_county_ut_points.csv", "sevier_county_ut_points.csv"),
    ("pelias_interpolation/willow_ave_oa.csv", None),
    ("pelias_interpolation/west26th_oa.csv", None),
)
TIGER_FILES = ("tiger/meagher_mt_30059/tl_2021_30059_addrfeat.shp", "tiger/autauga_al_01001/01001_nominatim.csv")
#: the issue: "1M, 5M, 20M points (+ 20% as many ranges)"
RANGES_PER_POINT = 0.2
#: ZIPs per source file: about the ZIPs of one large county (Los Angeles County has ~300
#: standard ZIPs, Cook County ~180), so a source is county-sized and a state of 1,700 ZIPs
#: comes as a handful of files, as OpenAddresses' county sources do
CHUNK_ZIPS = 300
#: one street in this many keeps its real name with no word in front (street names recur
#: from town to town); set by hand
PLAIN_EVERY = 4
#: prefix words: whole alphabetic words of the real street names with at least this many
#: letters (shorter ones are mostly abbreviations: ``DR``, ``MLK``)
WORD_MIN_LETTERS = 4
#: fractional part of the golden ratio: ZIP k's window starts at frac(k * PHI) of the base,
#: the most evenly spread sequence of starts (Weyl / Fibonacci hashing)
PHI = (math.sqrt(5) - 1) / 2
#: decimals written: OpenAddresses writes 7 for points; TIGER/Line coordinates have 6
POINT_DECIMALS = 7
LINE_DECIMALS = 6
#: the vintage of the generated files, and of the "newer vintage" a refresh loads
VINTAGE = "2024"
NEW_VINTAGE = "2025"
#: a newer vintage drops one row in this many of the old one (demolished, renumbered): a
#: small change, as between two yearly TIGER releases of a county
REFRESH_DROP_EVERY = 50
#: TLIDs: ZIP index times this plus the row's place in the ZIP's window (unique while a ZIP
#: holds fewer ranges than this)
TLID_STRIDE = 1_000_000
#: rows written per CSV / GeoJSON batch (memory stays at one batch)
WRITE_ROWS = 250_000
#: splitmix64's constants (Steele, Lea, Flood 2014), to hash (ZIP, street) into a name variant
_MIX_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX_M1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_M2 = np.uint64(0x94D049BB133111EB)
#: bumped when the files this module writes change, so cached files are made again
GENERATOR_REVISION = "2"


# ----------------------------------------------------------------------------- the base


@dataclass
class Base:
    """The real rows every ZIP copies from. Points and ranges carry coordinates relative to
    their source's centroid, and a street index into one numbering of all base streets."""

    points: pa.Table        # number, predir, name, type, postdir, unit, dlon, dlat, street
    ranges: pa.Table        # predir, name, type, postdir, lf, lt, rf, rt, pl, pr, zl, zr, street
    vstart: np.ndarray      # ranges' first vertex in vx/vy
    vlen: np.ndarray        # ranges' vertex counts
    vx: np.ndarray          # vertices, relative to the source's centroid
    vy: np.ndarray
    words: pa.Array         # prefix words
    streets: int            # street indices run 0..streets-1 (points, then ranges)

    def fingerprint(self) -> str:
        return f"{self.points.num_rows}/{self.ranges.num_rows}/{len(self.words)}/{self.streets}"


def load_base(real: Path) -> Base:
    """Read the real files with the project's own loaders (standardized street parts)."""
    import shapely
    from realdata_maps import OA_MAPS

    from addressing.gazetteer import openaddresses, tiger
    from addressing.gazetteer.model import LoadReport

    parts = []
    for rel, cmap in POINT_FILES:
        batches = [b for table, b in openaddresses.read_openaddresses(real / rel, OA_MAPS[cmap] if cmap else None,
                                                                      LoadReport()) if table == "address_points"]
        t = pa.Table.from_batches(batches)
        lon, lat = t["lon"].to_numpy(), t["lat"].to_numpy()
        t = t.select(["number", "number_int", "predir", "name", "type", "postdir", "unit_type", "unit"])
        t = t.append_column("dlon", pa.array(lon - lon.mean())).append_column("dlat", pa.array(lat - lat.mean()))
        parts.append(t.append_column("source", pa.array(np.full(t.num_rows, len(parts)))))
    points = pa.concat_tables(parts).sort_by([("source", "ascending"), ("name", "ascending"),
                                              ("predir", "ascending"), ("type", "ascending"),
                                              ("postdir", "ascending"), ("number_int", "ascending")])
    unit = pc.if_else(pc.equal(pc.fill_null(points["unit_type"], "#"), "#"), points["unit"],
                      pc.binary_join_element_wise(points["unit_type"], points["unit"], " "))
    points = points.set_column(points.schema.get_field_index("unit"), "unit", unit)

    seg_parts, vx, vy, vlen = [], [], [], []
    for k, rel in enumerate(TIGER_FILES):
        batches = [b for table, b in tiger.read_tiger(real / rel, LoadReport()) if table == "segments"]
        t = pa.Table.from_batches(batches)
        coords, index = shapely.get_coordinates(shapely.from_wkb(t["geom"].to_numpy(zero_copy_only=False)),
                                                return_index=True)
        x0, y0 = coords[:, 0].mean(), coords[:, 1].mean()
        seg_parts.append(t.select(["predir", "name", "type", "postdir", "from_left", "to_left", "from_right",
                                   "to_right", "parity_left", "parity_right", "zip_left", "zip_right"])
                         .append_column("source", pa.array(np.full(t.num_rows, k)))
                         .append_column("row", pa.array(np.arange(t.num_rows))))
        vlen.append(np.bincount(index, minlength=t.num_rows))
        vx.append(coords[:, 0] - x0)
        vy.append(coords[:, 1] - y0)
    # vertices stay in file order; ranges are sorted by street, each keeping its vertices
    seg = pa.concat_tables(seg_parts)
    lens = np.concatenate(vlen)
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    order = pc.sort_indices(seg, [("source", "ascending"), ("name", "ascending"), ("predir", "ascending"),
                                  ("type", "ascending"), ("postdir", "ascending"),
                                  ("from_left", "ascending")]).to_numpy()
    seg = seg.take(order)
    ranges = pa.table({
        "predir": seg["predir"], "name": seg["name"], "type": seg["type"], "postdir": seg["postdir"],
        "lf": seg["from_left"], "lt": seg["to_left"], "rf": seg["from_right"], "rt": seg["to_right"],
        "pl": seg["parity_left"], "pr": seg["parity_right"],
        "zl": pc.is_valid(seg["zip_left"]), "zr": pc.is_valid(seg["zip_right"]),
    })
    p_street = _street_index(points, "source")
    r_street = _street_index(seg, "source") + int(p_street.max()) + 1
    points = points.append_column("street", pa.array(p_street))
    ranges = ranges.append_column("street", pa.array(r_street))
    return Base(points=points, ranges=ranges, vstart=starts[order], vlen=lens[order],
                vx=np.concatenate(vx), vy=np.concatenate(vy), words=prefix_words(points, ranges),
                streets=int(r_street.max()) + 1)


def _street_index(t: pa.Table, source: str) -> np.ndarray:
    """A dense index of the distinct (source, predir, name, type, postdir) of sorted rows."""
    keys = [source, "predir", "name", "type", "postdir"]
    cols = [pc.fill_null(t[c].cast(pa.string()), "").to_numpy(zero_copy_only=False) for c in keys]
    new = np.ones(t.num_rows, bool)
    new[1:] = np.logical_or.reduce([c[1:] != c[:-1] for c in cols])
    return np.cumsum(new) - 1


def prefix_words(points: pa.Table, ranges: pa.Table) -> pa.Array:
    """Words of the real street names that the project's own street splitter keeps inside a
    name when put in front of one (not a type, direction or unit word: ``GROVE`` is ``GRV``)."""
    from addressing.gazetteer.keys import split_full_name

    names = set(points["name"].drop_null().to_pylist()) | set(ranges["name"].drop_null().to_pylist())
    words = sorted({w for n in names for w in n.split() if w.isalpha() and len(w) >= WORD_MIN_LETTERS})
    probe_name, probe_type = "MARKET", "ST"
    keep = [w for w in words
            if split_full_name(f"{w} {probe_name} {probe_type}") == (None, f"{w} {probe_name}", probe_type, None)]
    return pa.array(keep, pa.string())


# ----------------------------------------------------------------------------- ZIPs and chunks


@dataclass
class Zips:
    """Every standard ZIP with a centroid, in ZIP order; ``chunks``: index arrays of whole
    counties of one state."""

    code: pa.Array
    city: pa.Array
    state: pa.Array
    lon: np.ndarray
    lat: np.ndarray
    chunks: list[tuple[str, int, np.ndarray]]   # (state, chunk number in the state, ZIP indices)

    def __len__(self) -> int:
        return len(self.code)


def load_zips() -> Zips:
    from addressing.parse.places import zip_table

    zs = sorted((z for z in zip_table().values() if z.type == "STANDARD" and z.lat is not None and z.lon is not None),
                key=lambda z: z.zip_code)
    by_state: dict[str, list[tuple[str, int]]] = {}
    for i, z in enumerate(zs):
        by_state.setdefault(z.state, []).append((z.county or "", i))
    chunks = []
    for state in sorted(by_state):
        members = sorted(by_state[state])
        current: list[int] = []
        n = 0
        for j, (county, i) in enumerate(members):
            current.append(i)
            last_of_county = j + 1 == len(members) or members[j + 1][0] != county
            if last_of_county and len(current) >= CHUNK_ZIPS:
                chunks.append((state, n, np.array(current)))
                current, n = [], n + 1
        if current:
            chunks.append((state, n, np.array(current)))
    return Zips(code=pa.array([z.zip_code for z in zs]), city=pa.array([z.city for z in zs]),
                state=pa.array([z.state for z in zs]), lon=np.array([z.lon for z in zs]),
                lat=np.array([z.lat for z in zs]), chunks=chunks)


def per_zip(total: int, zips: int) -> np.ndarray:
    """Rows per ZIP for ``total`` rows: even, the first ``total % zips`` ZIPs one more. A ZIP
    never holds fewer rows at a larger total, so smaller sizes' windows are prefixes."""
    out = np.full(zips, total // zips, np.int64)
    out[: total % zips] += 1
    return out


def window_starts(zips: int, base_rows: int, salt: int) -> np.ndarray:
    return (np.floor(((np.arange(zips) + salt) * PHI % 1.0) * base_rows)).astype(np.int64)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 of each value (a stateless, well-spread hash)."""
    with np.errstate(over="ignore"):
        z = x.astype(np.uint64) * _MIX_GAMMA
        z = (z ^ (z >> np.uint64(30))) * _MIX_M1
        z = (z ^ (z >> np.uint64(27))) * _MIX_M2
        return z ^ (z >> np.uint64(31))


def street_words(base: Base, zi: np.ndarray, street: np.ndarray) -> pa.Array:
    """The word in front of each (ZIP, street)'s name; null where the real name stays alone."""
    h = _mix(zi.astype(np.uint64) * np.uint64(base.streets) + street.astype(np.uint64))
    plain = (h % np.uint64(PLAIN_EVERY)) == 0
    pick = ((h // np.uint64(PLAIN_EVERY)) % np.uint64(len(base.words))).astype(np.int64)
    return base.words.take(pa.array(pick, mask=plain))


# ----------------------------------------------------------------------------- rows of a window


def point_rows(base: Base, zips: Zips, zi: np.ndarray, j: np.ndarray) -> pa.Table:
    """Row ``j`` of ZIP ``zi``'s point window, for each pair: standardized parts and place."""
    b = (window_starts(len(zips), base.points.num_rows, 0)[zi] + j) % base.points.num_rows
    bi = pa.array(b)
    t = base.points
    return pa.table({
        "zi": zi, "j": j,
        "number": t["number"].take(bi), "predir": t["predir"].take(bi),
        "word": street_words(base, zi, t["street"].to_numpy()[b]), "base_name": t["name"].take(bi),
        "type": t["type"].take(bi), "postdir": t["postdir"].take(bi), "unit": t["unit"].take(bi),
        "lon": np.round(t["dlon"].to_numpy()[b] + zips.lon[zi], POINT_DECIMALS),
        "lat": np.round(t["dlat"].to_numpy()[b] + zips.lat[zi], POINT_DECIMALS),
        "city": zips.city.take(pa.array(zi)), "state": zips.state.take(pa.array(zi)),
        "postal_code": zips.code.take(pa.array(zi)),
    })


def range_rows(base: Base, zips: Zips, zi: np.ndarray, j: np.ndarray) -> tuple[pa.Table, np.ndarray]:
    """Row ``j`` of ZIP ``zi``'s range window, and each row's base range (for its vertices)."""
    b = (window_starts(len(zips), base.ranges.num_rows, 1)[zi] + j) % base.ranges.num_rows
    bi = pa.array(b)
    t = base.ranges
    cols = {c: t[c].take(bi) for c in ("predir", "name", "type", "postdir", "lf", "lt", "rf", "rt", "pl", "pr",
                                       "zl", "zr")}
    # a base range with no ZIP on either side (two of Meagher's) would lose its state: ADDRFEAT
    # names its county in the file name, these files do not; it gets the ZIP on its numbered sides
    no_zip = pc.invert(pc.or_(cols["zl"], cols["zr"]))
    cols["zl"] = pc.or_(cols["zl"], pc.and_(no_zip, pc.is_valid(cols["lf"])))
    cols["zr"] = pc.or_(cols["zr"], pc.and_(no_zip, pc.is_valid(cols["rf"])))
    cols["base_name"] = cols.pop("name")
    cols["word"] = street_words(base, zi, t["street"].to_numpy()[b])
    return pa.table({"zi": zi, "j": j, **cols, "city": zips.city.take(pa.array(zi)),
                     "state": zips.state.take(pa.array(zi)), "postal_code": zips.code.take(pa.array(zi))}), b


def street_name(rows: pa.Table) -> pa.Array:
    return pc.binary_join_element_wise(rows["word"], rows["base_name"], " ", null_handling="skip")


def full_street(rows: pa.Table) -> pa.Array:
    return pc.binary_join_element_wise(rows["predir"], rows["word"], rows["base_name"], rows["type"],
                                       rows["postdir"], " ", null_handling="skip")


def _window(ks: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ZIP index, place in its window) for every row of ZIPs ``ks`` with ``counts`` rows each."""
    zi = np.repeat(ks, counts)
    j = np.arange(len(zi)) - np.repeat(np.cumsum(counts) - counts, counts)
    return zi, j


def _keep(rows: int, drop_every: int | None) -> np.ndarray:
    """Rows of a file that a newer vintage keeps (every row of the file's own vintage)."""
    return np.ones(rows, bool) if not drop_every else (np.arange(rows) % drop_every) != drop_every - 1


# ----------------------------------------------------------------------------- writing


def write_points(path: Path, base: Base, zips: Zips, ks: np.ndarray, counts: np.ndarray,
                 drop_every: int | None = None) -> int:
    """One standard OA CSV for ZIPs ``ks``; returns the rows written."""
    zi_all, j_all = _window(ks, counts)
    keep = _keep(len(j_all), drop_every)
    zi_all, j_all = zi_all[keep], j_all[keep]
    tmp = path.with_name(path.name + ".part")
    with pacsv.CSVWriter(tmp, pa.schema([(c, pa.string()) for c in OA_HEADER])) as w:
        for s in range(0, len(zi_all), WRITE_ROWS):
            r = point_rows(base, zips, zi_all[s:s + WRITE_ROWS], j_all[s:s + WRITE_ROWS])
            n = r.num_rows
            empty = pa.nulls(n, pa.string())
            w.write_table(pa.table({
                "LON": pa.array(r["lon"]).cast(pa.string()), "LAT": pa.array(r["lat"]).cast(pa.string()),
                "NUMBER": r["number"], "STREET": full_street(r), "UNIT": r["unit"], "CITY": r["city"],
                "DISTRICT": empty, "REGION": r["state"], "POSTCODE": r["postal_code"],
                "ID": pc.binary_join_element_wise(r["postal_code"], pa.array(r["j"]).cast(pa.string()), "-"),
                "HASH": empty,
            }))
    tmp.replace(path)
    return len(zi_all)


def _json_text(a: pa.Array) -> pa.Array:
    """Strings as JSON text (the names hold no quote or backslash: checked), nulls as null."""
    return pc.fill_null(pc.binary_join_element_wise('"', a, '"', ""), "null")


def _json_number_text(a: pa.Array) -> pa.Array:
    return _json_text(a.cast(pa.string()))


def write_ranges(path: Path, base: Base, zips: Zips, ks: np.ndarray, counts: np.ndarray,
                 drop_every: int | None = None) -> int:
    """One ADDRFEAT-like newline GeoJSON (the Census's properties, lon/lat LineStrings)."""
    zi_all, j_all = _window(ks, counts)
    keep = _keep(len(j_all), drop_every)
    zi_all, j_all = zi_all[keep], j_all[keep]
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "w", encoding="utf-8") as f:
        for s in range(0, len(zi_all), WRITE_ROWS):
            zi, j = zi_all[s:s + WRITE_ROWS], j_all[s:s + WRITE_ROWS]
            r, b = range_rows(base, zips, zi, j)
            lens = base.vlen[b]
            vz = np.repeat(zi, lens)
            vi = np.repeat(base.vstart[b], lens) + (np.arange(lens.sum()) - np.repeat(np.cumsum(lens) - lens, lens))
            x = pa.array(np.round(base.vx[vi] + zips.lon[vz], LINE_DECIMALS)).cast(pa.string())
            y = pa.array(np.round(base.vy[vi] + zips.lat[vz], LINE_DECIMALS)).cast(pa.string())
            vertex = pc.binary_join_element_wise("[", x, ",", y, "]", "")
            offsets = pa.array(np.concatenate([[0], np.cumsum(lens)]).astype(np.int32))
            coords = pc.binary_join(pa.ListArray.from_arrays(offsets, vertex), ",")
            name = full_street(r)
            if pc.any(pc.match_substring_regex(name, r'["\\]')).as_py():
                raise SystemExit(f"{path}: a street name holds a quote or backslash; escape it")
            zl = pc.if_else(r["zl"], r["postal_code"], pa.nulls(len(zi), pa.string()))
            zr = pc.if_else(r["zr"], r["postal_code"], pa.nulls(len(zi), pa.string()))
            tlid = pa.array(zi.astype(np.int64) * TLID_STRIDE + j).cast(pa.string())
            line = pc.binary_join_element_wise(
                '{"type":"Feature","properties":{"TLID":', tlid,
                ',"FULLNAME":', _json_text(name),
                ',"LFROMHN":', _json_number_text(r["lf"]), ',"LTOHN":', _json_number_text(r["lt"]),
                ',"RFROMHN":', _json_number_text(r["rf"]), ',"RTOHN":', _json_number_text(r["rt"]),
                ',"ZIPL":', _json_text(zl), ',"ZIPR":', _json_text(zr),
                ',"PARITYL":', _json_text(r["pl"]), ',"PARITYR":', _json_text(r["pr"]),
                '},"geometry":{"type":"LineString","coordinates":[', coords, "]}}", "")
            f.write("\n".join(line.to_pylist()))
            f.write("\n")
    tmp.replace(path)
    return len(zi_all)


# ----------------------------------------------------------------------------- one size's files


def size_label(n: int) -> str:
    for unit, div in (("M", 1_000_000), ("k", 1_000)):
        if n >= div and n % div == 0:
            return f"{n // div}{unit}"
    return str(n)


def chunk_files(folder: Path, state: str, chunk: int, vintage: str) -> tuple[Path, Path]:
    """(OA CSV, ADDRFEAT GeoJSON) of a chunk. The names differ between vintages only in the
    year, so the default source names (``openaddresses:us-tx-c03``, ``tiger:tl_tx_c03_addrfeat``)
    stay the same and a newer vintage replaces the older."""
    st = state.lower()
    return (folder / "oa" / f"us-{st}-c{chunk:02d}-{vintage}.csv",
            folder / "tiger" / f"tl_{vintage}_{st}_c{chunk:02d}_addrfeat.geojsonl")


def ensure_sources(work: Path, points: int, base: Base, zips: Zips, say=print) -> dict:
    """The files of the gazetteer of ``points`` points (cached: made again only when their
    recipe changed). Returns the manifest: per chunk its state, files and rows."""
    folder = work / f"n{size_label(points)}"
    manifest_path = folder / "sources.json"
    recipe = recipe_of(points, base, zips)
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("recipe") == recipe and all(Path(c[k]).exists() for c in manifest["chunks"]
                                                   for k in ("oa", "tiger")):
            return manifest
    (folder / "oa").mkdir(parents=True, exist_ok=True)
    (folder / "tiger").mkdir(parents=True, exist_ok=True)
    pts = per_zip(points, len(zips))
    rngs = per_zip(round(points * RANGES_PER_POINT), len(zips))
    chunks = []
    for state, n, ks in zips.chunks:
        oa, tg = chunk_files(folder, state, n, VINTAGE)
        chunks.append({"state": state, "chunk": n, "zips": len(ks), "oa": str(oa), "tiger": str(tg),
                       "points": write_points(oa, base, zips, ks, pts[ks]),
                       "ranges": write_ranges(tg, base, zips, ks, rngs[ks])})
    manifest = {"recipe": recipe, "points": int(pts.sum()), "ranges": int(rngs.sum()), "chunks": chunks}
    manifest_path.write_text(json.dumps(manifest, indent=1))
    say(f"  wrote {len(chunks)} OA + {len(chunks)} TIGER files in {folder}")
    return manifest


def newer_vintage(work: Path, points: int, base: Base, zips: Zips, chunk: dict) -> tuple[Path, Path]:
    """The chunk's next vintage: its files with one row in ``REFRESH_DROP_EVERY`` gone."""
    folder = work / f"n{size_label(points)}" / "refresh"
    (folder / "oa").mkdir(parents=True, exist_ok=True)
    (folder / "tiger").mkdir(parents=True, exist_ok=True)
    ks = next(k for s, n, k in zips.chunks if s == chunk["state"] and n == chunk["chunk"])
    oa, tg = chunk_files(folder, chunk["state"], chunk["chunk"], NEW_VINTAGE)
    write_points(oa, base, zips, ks, per_zip(points, len(zips))[ks], REFRESH_DROP_EVERY)
    write_ranges(tg, base, zips, ks, per_zip(round(points * RANGES_PER_POINT), len(zips))[ks], REFRESH_DROP_EVERY)
    return oa, tg


def recipe_of(points: int, base: Base, zips: Zips) -> str:
    text = (f"{GENERATOR_REVISION}|{points}|{base.fingerprint()}|{len(zips)}|{CHUNK_ZIPS}|{RANGES_PER_POINT}|"
            f"{PLAIN_EVERY}|{WORD_MIN_LETTERS}|{VINTAGE}")
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# ----------------------------------------------------------------------------- what orders are drawn from


def common_rows(base: Base, zips: Zips, points: int, picks: np.ndarray, ranges: bool) -> list[dict]:
    """Records (as ``addressing.demo.synth.messify`` takes them) of rows ``picks`` (global row
    numbers) of the gazetteer of ``points`` points: every larger size holds them too."""
    counts = per_zip(round(points * RANGES_PER_POINT) if ranges else points, len(zips))
    ends = np.cumsum(counts)
    zi = np.searchsorted(ends, picks, side="right")
    j = picks - (ends - counts)[zi]
    if ranges:
        r, _ = range_rows(base, zips, zi, j)
    else:
        r = point_rows(base, zips, zi, j)
    r = r.append_column("name", street_name(r))
    return r.to_pylist()


def rows_in(points: int, zips: Zips, ranges: bool) -> int:
    return int(per_zip(round(points * RANGES_PER_POINT) if ranges else points, len(zips)).sum())


def state_rows(points: int, zips: Zips, state: str, ranges: bool) -> np.ndarray:
    """Global row numbers of ``state``'s rows in the gazetteer of ``points`` points."""
    counts = per_zip(round(points * RANGES_PER_POINT) if ranges else points, len(zips))
    starts = np.cumsum(counts) - counts
    ks = np.flatnonzero(pc.equal(zips.state, state).to_numpy(zero_copy_only=False))
    return np.concatenate([np.arange(starts[k], starts[k] + counts[k]) for k in ks])
