"""No loader ever turns a postal code into a number.

Every ZIP of New England, New Jersey, Puerto Rico and APO/FPO AE starts with 0. Each loader and
each format is fed such ZIPs, as text and, where the format has numbers (GeoJSON properties,
numeric DBF fields, float-looking CSV cells such as Berkeley's ``94704.0``), as numbers too,
and the gazetteer must hold the 5-digit text. Codes of other countries stay as written.

The points sit on the ZIPs' own centroids from the ``zipcodes`` package, so that the loaders'
"is this point in the US" checks see real places.
"""

from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path

import duckdb
import pytest
import shapefile
from db_helpers import q

from addressing.gazetteer.openaddresses import ColumnMap
from addressing.gazetteer.store import SourceSpec, build
from addressing.parse import places

#: (ZIP, state, city): one of each 0-prefixed kind
ZERO_ZIPS = [("00601", "PR", "ADJUNTAS"), ("02118", "MA", "BOSTON"), ("06042", "CT", "MANCHESTER"),
             ("07030", "NJ", "HOBOKEN")]
#: what a number keeps of each ZIP: its digits without the leading zeros
AS_NUMBER = {"00601": 601, "02118": 2118, "06042": 6042, "07030": 7030}
#: a German point on a code that starts with 0 (Dresden): never padded, never made US
DRESDEN = (13.7383, 51.0493)


def _where(zip_code: str) -> tuple[float, float]:
    info = places.zip_info(zip_code)
    return info.lon, info.lat


def _points(db: Path) -> dict[str, tuple]:
    """number -> (postal_code, its DuckDB type, state, country) of each loaded point."""
    rows = q(db, "SELECT number, postal_code, typeof(postal_code), state, country FROM address_points")
    return {r[0]: r[1:] for r in rows}


def _load(tmp_path: Path, kind: str, path: Path, columns: ColumnMap | None = None) -> Path:
    db = tmp_path / "g.duckdb"
    build(db, [SourceSpec(kind, path, columns=columns)], with_zipcodes=False)
    return db


def _expect_zero_zips(got: dict[str, tuple], numbers: list[str]) -> None:
    assert {n: got.get(n) for n in numbers} == {n: (z, "VARCHAR", st, "US") for n, (z, st, _) in zip(numbers, ZERO_ZIPS)}


# ----------------------------------------------------------------------------- OpenAddresses CSV

OA_HEADER = ["LON", "LAT", "NUMBER", "STREET", "UNIT", "CITY", "DISTRICT", "REGION", "POSTCODE", "ID", "HASH"]


def _oa_csv(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=OA_HEADER)
        w.writeheader()
        w.writerows(rows)
    return path


def _oa_row(number: str, zip_code: str, postcode: str, region: str | None = None, city: str = "") -> dict:
    lon, lat = _where(zip_code)
    return {"LON": lon, "LAT": lat, "NUMBER": number, "STREET": "Main Street", "CITY": city,
            "REGION": region or "", "POSTCODE": postcode}


def test_standard_oa_csv_keeps_the_zeros(tmp_path):
    """The file of issue 15: POSTCODE ``06042`` came out as ``6042`` (the column was read as int64)."""
    rows = [_oa_row(str(10 + i), z, z, st, city) for i, (z, st, city) in enumerate(ZERO_ZIPS)]
    rows[0]["ID"] = "000123"                    # an id with leading zeros is text too
    db = _load(tmp_path, "openaddresses", _oa_csv(tmp_path / "oa.csv", rows))
    _expect_zero_zips(_points(db), ["10", "11", "12", "13"])
    assert q(db, "SELECT source_key FROM address_points WHERE number = '10'") == [("000123",)]


def test_oa_csv_zips_that_lost_their_zeros(tmp_path):
    """ZIPs a spreadsheet wrote as numbers (``6042``, Berkeley-style ``2118.0``, ``601``) get their
    zeros back when the ZIP table puts them in the row's state, or (no state) where the point is."""
    rows = [_oa_row("10", "00601", "601", "PR"), _oa_row("11", "02118", "2118.0", "MA"),
            _oa_row("12", "06042", "6042"), _oa_row("13", "07030", "7030.0", "New Jersey")]
    db = _load(tmp_path, "openaddresses", _oa_csv(tmp_path / "oa.csv", rows))
    _expect_zero_zips(_points(db), ["10", "11", "12", "13"])


def test_oa_csv_a_short_zip_in_another_state_is_not_padded(tmp_path):
    """``6042`` in Illinois is not Connecticut's 06042: kept as written, not made someone else's ZIP."""
    lon, lat = _where("62701")
    row = {"LON": lon, "LAT": lat, "NUMBER": "10", "STREET": "Main Street", "REGION": "IL", "POSTCODE": "6042"}
    db = _load(tmp_path, "openaddresses", _oa_csv(tmp_path / "oa.csv", [row]))
    assert _points(db)["10"] == ("6042", "VARCHAR", "IL", "US")


def test_oa_csv_foreign_codes_stay_as_written(tmp_path):
    rows = [{"LON": DRESDEN[0], "LAT": DRESDEN[1], "NUMBER": "1", "STREET": "Prager Strasse", "POSTCODE": "01067"},
            {"LON": DRESDEN[0], "LAT": DRESDEN[1], "NUMBER": "2", "STREET": "Prager Strasse", "POSTCODE": "1067"},
            {"LON": -0.1276, "LAT": 51.5034, "NUMBER": "10", "STREET": "Downing Street", "POSTCODE": "sw1a  2aa",
             "CITY": "London"}]
    db = _load(tmp_path, "openaddresses", _oa_csv(tmp_path / "oa.csv", rows))
    got = _points(db)
    assert got["1"] == ("01067", "VARCHAR", None, None)
    assert got["2"] == ("1067", "VARCHAR", None, None)     # never zero-padded outside the US
    assert got["10"] == ("SW1A 2AA", "VARCHAR", None, None)


def test_column_mapped_csv_keeps_the_zeros(tmp_path):
    path = tmp_path / "county.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["X", "Y", "HOUSENUM", "ST_NAME", "ZIPCODE", "ST"])
        for i, (z, st, _) in enumerate(ZERO_ZIPS):
            w.writerow([*_where(z), 10 + i, "MAIN ST", z if i % 2 else AS_NUMBER[z], st])
    cm = ColumnMap.parse("lon=X,lat=Y,number=HOUSENUM,street=ST_NAME,postcode=ZIPCODE,region=ST")
    db = _load(tmp_path, "openaddresses", path, cm)
    _expect_zero_zips(_points(db), ["10", "11", "12", "13"])


# ----------------------------------------------------------------------------- OpenAddresses GeoJSON


def _feature(props: dict, lon: float, lat: float) -> dict:
    return {"type": "Feature", "properties": props, "geometry": {"type": "Point", "coordinates": [lon, lat]}}


@pytest.mark.parametrize("form", ["text", "int", "float"])
def test_oa_geojson_keeps_the_zeros(tmp_path, form):
    """OA GeoJSON properties hold text, but real exports write a ZIP as a JSON number too."""
    feats = []
    for i, (z, st, _) in enumerate(ZERO_ZIPS):
        value = {"text": z, "int": AS_NUMBER[z], "float": float(AS_NUMBER[z])}[form]
        feats.append(_feature({"number": str(10 + i), "street": "Main Street", "region": st, "postcode": value},
                              *_where(z)))
    feats.append(_feature({"number": "1", "street": "Prager Strasse", "postcode": 1067 if form != "text" else "01067"},
                          *DRESDEN))
    path = tmp_path / "oa.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}), encoding="utf-8")
    got = _points(_load(tmp_path, "openaddresses", path))
    _expect_zero_zips(got, ["10", "11", "12", "13"])
    assert got["1"][:2] == ("01067" if form == "text" else "1067", "VARCHAR")


def test_oa_geojson_number_without_state_is_placed_by_the_point(tmp_path):
    feats = [_feature({"number": "10", "street": "Main Street", "postcode": 6042}, *_where("06042"))]
    path = tmp_path / "oa.geojsonl"
    path.write_text("\n".join(json.dumps(f) for f in feats) + "\n", encoding="utf-8")
    assert _points(_load(tmp_path, "openaddresses", path))["10"] == ("06042", "VARCHAR", "CT", "US")


# ----------------------------------------------------------------------------- shapefiles


def _zip_set(shp: Path) -> Path:
    """The shapefile set as one .zip, the way county sites and the Census ship them."""
    z = shp.with_suffix(".zip")
    with zipfile.ZipFile(z, "w") as zf:
        for part in shp.parent.glob(shp.stem + ".*"):
            if part.suffix != ".zip":
                zf.write(part, part.name)
    return z


@pytest.mark.parametrize(("field", "packed"), [(("N", 5, 0), ".shp"), (("N", 7, 1), ".zip"), (("C", 10, 0), ".zip")])
def test_point_shapefile_keeps_the_zeros(tmp_path, field, packed):
    """A ZIP in a numeric DBF field is read back as a number (pyshp: int, or float with decimals)."""
    shp = tmp_path / "points.shp"
    with shapefile.Writer(str(shp), shapeType=shapefile.POINT) as w:
        w.field("NUMBER", "C", 10)
        w.field("STREET", "C", 40)
        w.field("REGION", "C", 2)
        w.field("POSTCODE", *field)
        for i, (z, st, _) in enumerate(ZERO_ZIPS):
            w.point(*_where(z))
            w.record(str(10 + i), "Main Street", st, z if field[0] == "C" else AS_NUMBER[z])
    path = _zip_set(shp) if packed == ".zip" else shp
    _expect_zero_zips(_points(_load(tmp_path, "openaddresses", path)), ["10", "11", "12", "13"])


def _addrfeat(shp: Path, zip_field: tuple, zips: list[str]) -> Path:
    """An ADDRFEAT-style set with one edge on each ZIP's centroid, the ZIPs in ``zip_field``."""
    with shapefile.Writer(str(shp), shapeType=shapefile.POLYLINE) as w:
        w.field("TLID", "N", 10, 0)
        w.field("FULLNAME", "C", 40)
        for name in ("LFROMHN", "LTOHN", "RFROMHN", "RTOHN"):
            w.field(name, "C", 12)
        w.field("ZIPL", *zip_field)
        w.field("ZIPR", *zip_field)
        for i, z in enumerate(zips):
            lon, lat = _where(z)
            w.line([[[lon, lat], [lon + 0.001, lat + 0.001]]])
            value = z if zip_field[0] == "C" else AS_NUMBER[z]
            w.record(1000 + i, "Main St", "1", "99", "2", "98", value, value)
    return shp


@pytest.mark.parametrize(("zip_field", "packed"), [(("N", 5, 0), ".shp"), (("N", 5, 0), ".zip"),
                                                    (("C", 5, 0), ".shp")])
def test_addrfeat_shapefile_keeps_the_zeros(tmp_path, zip_field, packed):
    shp = _addrfeat(tmp_path / "addrfeat.shp", zip_field, [z for z, _, _ in ZERO_ZIPS])
    db = _load(tmp_path, "tiger", _zip_set(shp) if packed == ".zip" else shp)
    got = q(db, "SELECT source_key, postal_code, zip_left, zip_right, typeof(zip_left), state FROM segments "
                "ORDER BY source_key")
    assert got == [(str(1000 + i), z, z, z, "VARCHAR", st) for i, (z, st, _) in enumerate(ZERO_ZIPS)]


def test_addrfeat_county_file_pads_only_its_own_state(tmp_path):
    """A Census county file (Suffolk County, MA: FIPS 25025) with numeric ZIP fields: 2118 is
    Boston's 02118; 6042 would be Connecticut's 06042, so it is kept as written."""
    shp = _addrfeat(tmp_path / "tl_2021_25025_addrfeat.shp", ("N", 5, 0), ["02118", "06042"])
    db = _load(tmp_path, "tiger", shp)
    got = q(db, "SELECT source_key, postal_code, zip_left, typeof(zip_left) FROM segments ORDER BY source_key")
    assert got == [("1000", "02118", "02118", "VARCHAR"), ("1001", "6042", "6042", "VARCHAR")]


@pytest.mark.parametrize("form", ["text", "int"])
def test_addrfeat_geojson_keeps_the_zeros(tmp_path, form):
    feats = []
    for i, (z, _, _) in enumerate(ZERO_ZIPS):
        lon, lat = _where(z)
        value = z if form == "text" else AS_NUMBER[z]
        props = {"TLID": 1000 + i, "FULLNAME": "Main St", "LFROMHN": "1", "LTOHN": "99", "RFROMHN": "2",
                 "RTOHN": "98", "ZIPL": value, "ZIPR": None}
        feats.append({"type": "Feature", "properties": props,
                      "geometry": {"type": "LineString", "coordinates": [[lon, lat], [lon + 0.001, lat + 0.001]]}})
    path = tmp_path / "addrfeat.geojsonl"
    path.write_text("\n".join(json.dumps(f) for f in feats) + "\n", encoding="utf-8")
    db = _load(tmp_path, "tiger", path)
    got = q(db, "SELECT source_key, postal_code, zip_left, zip_right, state FROM segments ORDER BY source_key")
    assert got == [(str(1000 + i), z, z, None, st) for i, (z, st, _) in enumerate(ZERO_ZIPS)]


def test_nominatim_csv_keeps_the_zeros(tmp_path):
    path = tmp_path / "25025_nominatim.csv"
    lines = ["from;to;interpolation;street;city;state;postcode;geometry"]
    for i, (z, st, _) in enumerate(ZERO_ZIPS):
        lon, lat = _where(z)
        written = z if i % 2 == 0 else z.lstrip("0")          # the odd ones as a spreadsheet left them
        lines.append(f"{1 + i};{99 + i};all;Main St;County;{st};{written};"
                     f"LINESTRING({lon} {lat},{lon + 0.001} {lat + 0.001})")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    db = _load(tmp_path, "tiger", path)
    got = q(db, "SELECT from_left, postal_code, zip_left, typeof(postal_code), state FROM segments ORDER BY 1")
    assert got == [(1 + i, z, z, "VARCHAR", st) for i, (z, st, _) in enumerate(ZERO_ZIPS)]


# ----------------------------------------------------------------------------- postal code tables


def test_geonames_codes_are_text_as_written(tmp_path):
    """GeoNames JSON lines with a code as a JSON number: the digits, never padded, never ``.0``."""
    rows = [{"country_code": "DE", "postal_code": "01067", "city": "Dresden", "state": "SN"},
            {"country_code": "DE", "postal_code": 1069, "city": "Dresden", "state": "SN"},
            {"country_code": "AT", "postal_code": 1010.0, "city": "Wien", "state": "09"},
            {"country_code": "GB", "postal_code": "sw1a  2aa", "city": "London", "state": "ENG"}]
    for d in rows:
        d.update(latitude=51.0, longitude=10.0)
    path = tmp_path / "codes.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in rows), encoding="utf-8")
    db = _load(tmp_path, "geonames", path)
    got = q(db, "SELECT country, postal_code, typeof(postal_code) FROM postal_codes ORDER BY ALL")
    assert got == [("AT", "1010", "VARCHAR"), ("DE", "01067", "VARCHAR"), ("DE", "1069", "VARCHAR"),
                   ("GB", "SW1A 2AA", "VARCHAR")]


def test_zipcodes_table_and_every_stored_postal_code_column_is_text(tmp_path):
    db = tmp_path / "z.duckdb"
    build(db, [], with_zipcodes=True)
    got = q(db, "SELECT postal_code, state FROM postal_codes WHERE postal_code IN (?, ?, ?, ?) ORDER BY 1",
            [z for z, _, _ in ZERO_ZIPS])
    assert got == [(z, st) for z, st, _ in ZERO_ZIPS]
    types = q(db, "SELECT table_name, column_name, data_type FROM information_schema.columns "
                  "WHERE column_name IN ('postal_code', 'zip_left', 'zip_right') ORDER BY 1, 2")
    tables = {t for t, _, _ in types}
    assert {"postal_codes", "address_points", "segments", "alt_names", "streets"} <= tables
    assert all(ty == "VARCHAR" for _, _, ty in types), types


def test_a_source_loaded_by_older_loaders_is_reloaded(tmp_path):
    """A gazetteer built before the loaders read postal codes as text holds ``6042``; building
    again from the same unchanged file must reload it, not skip it as unchanged."""
    rows = [_oa_row(str(10 + i), z, z, st, city) for i, (z, st, city) in enumerate(ZERO_ZIPS)]
    src = _oa_csv(tmp_path / "oa.csv", rows)
    db = _load(tmp_path, "openaddresses", src)
    before = q(db, "SELECT value FROM meta WHERE key = 'version'")
    con = duckdb.connect(str(db))
    try:  # what the older loaders left: numbers' digits, and no revision in the source's options
        con.execute("UPDATE address_points SET postal_code = ltrim(postal_code, '0')")
        con.execute("UPDATE sources SET options = ''")
    finally:
        con.close()
    result = build(db, [SourceSpec("openaddresses", src)], with_zipcodes=False)
    assert result.loaded == ["openaddresses:oa"]
    _expect_zero_zips(_points(db), ["10", "11", "12", "13"])
    assert q(db, "SELECT value FROM meta WHERE key = 'version'") == before
    assert build(db, [SourceSpec("openaddresses", src)], with_zipcodes=False).unchanged == ["openaddresses:oa"]
