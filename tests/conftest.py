"""Shared fixtures: a small real gazetteer (the shipped demo layers), real-data folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from addressing.demo import DATA as DEMO

PROJECT = Path(__file__).resolve().parent.parent


def realdata() -> Path | None:
    value = os.environ.get("ADDRESSING_REALDATA")
    return Path(value).resolve() if value else None     # tests write it into files in other folders


@pytest.fixture(scope="session")
def real() -> Path:
    """The shared real-data folder; tests using it skip where ADDRESSING_REALDATA is unset."""
    path = realdata()
    if path is None:
        pytest.skip("ADDRESSING_REALDATA is not set (point it at ../shared/data to run the real-data tests)")
    if not path.is_dir():
        pytest.skip(f"ADDRESSING_REALDATA={path} is not a folder")
    return path


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory) -> Path:
    """A gazetteer of the shipped demo layers (SF points, Autauga ranges, US ZIPs)."""
    from addressing.gazetteer.sources import read_sources_toml
    from addressing.gazetteer.store import build

    specs = [s for s in read_sources_toml(DEMO / "sources.toml") if s.kind != "geonames"]
    db = tmp_path_factory.mktemp("gaz") / "demo.duckdb"
    build(db, specs)
    return db


@pytest.fixture(scope="session")
def gaz(demo_db):
    from addressing.gazetteer import open_gazetteer

    return open_gazetteer(demo_db)


@pytest.fixture(scope="session")
def risk_ctx():
    from addressing.risk import load_risk

    return load_risk(DEMO / "risk.toml")
