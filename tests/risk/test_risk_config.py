"""A bad risk policy stops the run at start with one line naming the file and key."""

from __future__ import annotations

import doctest
import json
import subprocess
import sys
from pathlib import Path

import pytest

import addressing.risk.config
import addressing.risk.forwarders
import addressing.risk.zones
from addressing.demo import DATA as DEMO
from addressing.errors import ConfigError
from addressing.risk import load_risk
from addressing.risk.config import RULES, RiskPolicy
from addressing.risk.rules import RULE_FUNCTIONS
from addressing.schema import RiskFlag


def write(tmp_path: Path, text: str, name: str = "risk.toml") -> Path:
    path = tmp_path / name
    path.write_text(text.replace("DEMO", str(DEMO)))
    return path


def swapped(path: Path) -> dict:
    """The demo's real polygons written (lat, lon), the classic mistake."""
    data = json.loads(path.read_text())
    for f in data["features"]:
        f["geometry"]["coordinates"] = [[[y, x] for x, y in ring] for ring in f["geometry"]["coordinates"]]
    return data


def test_demo_and_default_policies_load():
    ctx = load_risk(DEMO / "risk.toml")
    assert ctx.policy.rule("low_confidence").params["threshold"] == 0.8
    assert ctx.policy.rule("po_box").severity == "high"
    assert len(ctx.service_areas.polygons) == 2 and len(ctx.risk_zones.polygons) >= 1
    assert len(ctx.zones.polygons) == len(ctx.service_areas.polygons) + len(ctx.risk_zones.polygons)
    assert len(ctx.forwarders) == 3
    default = load_risk(None)
    assert set(default.policy.rules) == set(RULES) and default.zones is None and default.forwarders is None


def test_docstring_examples():
    for module in (addressing.risk.config, addressing.risk.zones, addressing.risk.forwarders):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__


BAD_POLICIES = [
    ("[rules.po_boxes]\nseverity = 'high'\n", "[rules] unknown rule(s) po_boxes"),
    ("[rules.po_box]\ncouriers = ['UPS']\n", "[rules.po_box] unknown setting(s) couriers"),
    ("[rule.po_box]\n", "unknown section(s) rule"),
    ("[rules]\npo_box = true\n", "[rules.po_box] must be a table"),
    ("[rules.low_confidence]\nthreshold = 'high'\n", "[rules.low_confidence.threshold] must be a number"),
    ("[rules.low_confidence]\nthreshold = true\n", "[rules.low_confidence.threshold] must be a number"),
    ("[rules.low_confidence]\nthreshold = 80\n", "[rules.low_confidence.threshold] must be between 0 and 1"),
    ("[rules.shared_address]\nmin_customers = 1\n", "[rules.shared_address.min_customers] must be at least 2"),
    ("[rules.missing_unit]\nmin_units = 2.5\n", "[rules.missing_unit.min_units] must be a whole number"),
    ("[rules.military]\nseverity = 'critical'\n", "[rules.military.severity] severity 'critical' is not one of"),
    ("[rules.military]\nenabled = 'no'\n", "[rules.military.enabled] must be true or false"),
    ("[rules.pmb]\nseverity = 'urgent'\n", "[rules.pmb.severity] severity 'urgent' is not one of"),
    ("[rules.pmb]\nenabled = 1\n", "[rules.pmb.enabled] must be true or false"),
    ("[rules.pmb]\nmessage = 'box {box}'\n", "[rules.pmb.message] unknown placeholder {box}; this rule fills {pmb}"),
    ("[rules.outside_coverage]\nseverity = 'review'\n", "[rules.outside_coverage.severity] severity 'review' is not"),
    ("[rules.outside_coverage]\nmessage = 'no data for {zip}'\n",
     "[rules.outside_coverage.message] unknown placeholder {zip}; this rule fills {where}"),
    ("[rules.outside_coverage]\nzips = ['06042']\n", "[rules.outside_coverage] unknown setting(s) zips"),
    ("[rules.missing_unit]\nmessage = 'flat {flat}?'\n", "[rules.missing_unit.message] unknown placeholder {flat}"),
    ("[rules.high_risk_zone]\nprecisions = ['rooftop']\n", "[rules.high_risk_zone.precisions] unknown precision"),
    ("[rules.outside_service_area]\nfiles = 'areas.geojson'\n", "[rules.outside_service_area.files] must be a list"),
    ("[rules.forwarder]\nfile = 3\n", "[rules.forwarder.file] must be text"),
    ("[actions]\nmedium = 'ship'\n", "[actions.medium] action 'ship' is not one of"),
    ("[actions]\nsevere = 'hold'\n", "[actions.severe] unknown risk level"),
    ("[delivery_window]\nstart = '25:00'\n", "[delivery_window.start] must be a time HH:MM"),
    ("[delivery_window]\nstart = '09:00'\nend = '09:00'\n", "[delivery_window] start and end are both"),
    ("[delivery_window]\nstart = '09:00'\nzone = 'UTC'\n", "[delivery_window] unknown setting(s) zone"),
    ("rules = [", "not valid TOML"),
]


@pytest.mark.parametrize("text,expected", BAD_POLICIES)
def test_bad_policy_names_the_key(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_risk(path)
    assert expected in str(err.value) and str(path) in str(err.value)
    assert "\n" not in str(err.value)


def test_every_flag_has_one_rule():
    """The flag codes of the output record, the policy's rules and the rules that run per row agree."""
    assert list(RULES) == [f.value for f in RiskFlag]
    # shared_address is batch-wide (counted across chunks); the decision rules are applied by the
    # hook of operator decisions (addressing.confirmations.honour), where an input has one
    assert set(RULE_FUNCTIONS) == set(RULES) - {"shared_address", "confirmation_contradicted", "operator_hold"}
    policy = RiskPolicy.default()
    assert (policy.rule("outside_coverage").severity, policy.rule("pmb").severity) == ("medium", "low")
    assert (policy.action_for["medium"], policy.action_for["low"]) == ("review", "deliver")


def test_retention_days():
    assert RiskPolicy.default().retention_days == 365
    assert RiskPolicy.from_dict({"retention_days": 30}).retention_days == 30
    for bad in (0, -1, 1.5, "30", True):
        with pytest.raises(ConfigError, match=r"\[retention_days\] must be a whole number of days"):
            RiskPolicy.from_dict({"retention_days": bad})


def test_missing_policy_file(tmp_path):
    with pytest.raises(ConfigError, match="no such risk policy file"):
        load_risk(tmp_path / "nope.toml")


def test_good_values_pass():
    p = RiskPolicy.from_dict({"rules": {"low_confidence": {"threshold": 1}, "shared_address": {"min_customers": 5},
                                        "po_box": {"carriers": ["UPS"]}}, "actions": {"low": "review"}})
    assert p.rule("low_confidence").params["threshold"] == 1 and p.action_for["low"] == "review"
    assert p.rule("shared_address").peer_severity["forwarder"] == "high"


# --------------------------------------------------------------------------- polygon and list files


def polygon_policy(tmp_path, geojson: str | dict | None, rule: str = "outside_service_area") -> Path:
    if geojson is not None:
        (tmp_path / "zones.geojson").write_text(geojson if isinstance(geojson, str) else json.dumps(geojson))
    return write(tmp_path, f'[rules.{rule}]\nfiles = ["zones.geojson"]\n')


def square(coords) -> dict:
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [coords]}}]}


BAD_ZONES = [
    (None, "zones.geojson: polygon file not found"),
    ("{not json", "zones.geojson: invalid GeoJSON: not JSON"),
    ("[1, 2]", "zones.geojson: invalid GeoJSON: expected a FeatureCollection"),
    ({"type": "FeatureCollection", "features": []}, "GeoJSON holds no features"),
    ({"type": "FeatureCollection", "features": {"a": 1}}, "'features' is not a list"),
    ({"type": "Point", "coordinates": [0, 0]}, "expected a FeatureCollection, Feature, Polygon or MultiPolygon"),
    ({"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {"type": "Point",
                                                                              "coordinates": [0, 0]}}]},
     "feature 0 is not a Polygon or MultiPolygon (got Point)"),
    ({"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": None}]},
     "feature 0 is not a Polygon or MultiPolygon (got nothing)"),
    (square([[-86.5, 32.4], [-86.4, 32.4]]), "feature 0: invalid polygon"),
    (square([["a", "b"], [1, 2], [3, 4], ["a", "b"]]), "feature 0: invalid polygon"),
    (square([[-86.5, 32.4], [-186.4, 32.4], [-86.4, 32.5], [-86.5, 32.4]]), "longitude -186.4 outside"),
]


@pytest.mark.parametrize("geojson,expected", BAD_ZONES)
def test_bad_polygon_file(tmp_path, geojson, expected):
    with pytest.raises(ConfigError) as err:
        load_risk(polygon_policy(tmp_path, geojson, rule="high_risk_zone"))
    assert expected in str(err.value), str(err.value)


@pytest.mark.parametrize("name", ["service_areas.geojson", "high_risk_zones.geojson"])
def test_polygons_in_lat_lon_order_are_refused(tmp_path, name):
    """San Francisco swapped puts latitude at -122 (impossible); Prattville swapped at -86 (Antarctica)."""
    data = swapped(DEMO / name)
    for feature in data["features"]:
        with pytest.raises(ConfigError, match=r"look like \(lat, lon\) but GeoJSON wants \(lon, lat\)"):
            load_risk(polygon_policy(tmp_path, {"type": "FeatureCollection", "features": [feature]}))


def test_self_touching_polygon_is_repaired_not_refused(tmp_path):
    bowtie = square([[-86.5, 32.4], [-86.4, 32.5], [-86.4, 32.4], [-86.5, 32.5], [-86.5, 32.4]])
    ctx = load_risk(polygon_policy(tmp_path, bowtie))
    assert ctx.service_areas.polygons[0].is_valid and ctx.service_areas.polygons[0].area > 0


BAD_FORWARDERS = [
    (None, "forwarder list not found"),
    ("company,street\nA,1 Main St\n", "forwarder list needs columns name,address"),
    ('name,address\n,"1390 Market St, San Francisco, CA 94102"\n', "line 2: forwarder without a name"),
    ('name,address\nA,"1390 Market St, San Francisco, CA 94102"\nB,"Market St, San Francisco"\n',
     "line 3: forwarder 'B'"),
    ('name,address\nA,"1390 Market St, San Francisco, CA"\n', "needs a house number, street and ZIP code"),
    ("name,address\nA,\n", "line 2: forwarder 'A': address unreadable"),
]


@pytest.mark.parametrize("csv_text,expected", BAD_FORWARDERS)
def test_bad_forwarder_list(tmp_path, csv_text, expected):
    if csv_text is not None:
        (tmp_path / "fw.csv").write_text(csv_text)
    with pytest.raises(ConfigError) as err:
        load_risk(write(tmp_path, '[rules.forwarder]\nfile = "fw.csv"\n'))
    assert expected in str(err.value) and "fw.csv" in str(err.value), str(err.value)


def test_files_of_a_disabled_rule_are_not_needed(tmp_path):
    ctx = load_risk(write(tmp_path, '[rules.forwarder]\nenabled = false\nfile = "nope.csv"\n'))
    assert ctx.forwarders is None


# --------------------------------------------------------------------------- through the CLI


CLI_CASES = [
    ("[rules.po_boxes]\n", "unknown rule(s) po_boxes"),
    ("[rules.po_box]\nsevrity = 'high'\n", "[rules.po_box] unknown setting(s) sevrity"),
    ('[rules.outside_service_area]\nfiles = ["missing.geojson"]\n', "missing.geojson: polygon file not found"),
    ('[rules.high_risk_zone]\nfiles = ["broken.geojson"]\n', "broken.geojson: invalid GeoJSON"),
    ('[rules.outside_service_area]\nfiles = ["swapped.geojson"]\n', "look like (lat, lon)"),
]


@pytest.mark.parametrize("text,expected", CLI_CASES)
def test_cli_bad_policy_is_one_line_and_writes_nothing(tmp_path, demo_db, text, expected):
    (tmp_path / "broken.geojson").write_text('{"type": "FeatureCollection", "features": [')
    (tmp_path / "swapped.geojson").write_text(json.dumps(swapped(DEMO / "service_areas.geojson")))
    policy = write(tmp_path, text)
    src = tmp_path / "orders.csv"
    src.write_text("order_id,address\n1,\"7 Octavia St, San Francisco, CA 94102\"\n")
    out = tmp_path / "out" / "cleaned.parquet"
    before = sorted(p.name for p in tmp_path.iterdir())
    r = subprocess.run([sys.executable, "-m", "addressing.cli", "clean", str(src), "-o", str(out), "--db",
                        str(demo_db), "--risk-policy", str(policy)], capture_output=True, text=True)
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no output folder, no work files
