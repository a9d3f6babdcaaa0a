"""The refresh flow re-checks waiting orders after a new gazetteer version, and only then: the
``refresh-gazetteer`` flow, run in this process against a real temporary Prefect server, over a
day cleaned against a gazetteer that lacked two streets. (What the re-check does is tested on
the library: tests/batch/test_recheck.py.)
"""

from __future__ import annotations

import pytest
from recheck_data import POLICY, SHARED, sources_toml, write_orders, write_sources

from addressing.batch import recheck_output
from addressing.batch.run import clean_file

pytestmark = pytest.mark.server      # a real temporary Prefect server for the flow

RECHECK_KEY = "gazetteer-recheck"


@pytest.fixture(scope="module")
def prefect_harness():
    """A real, temporary Prefect server (SQLite) for the flows run in this process; per module,
    as its settings must be undone before other modules point this process at their own server."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def recheck_artifacts() -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        return client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[RECHECK_KEY])))


def test_the_refresh_rechecks_only_after_a_new_version(tmp_path, prefect_harness):
    from flows.refresh_gazetteer import refresh_gazetteer

    files = write_sources(tmp_path / "sources")
    db, out = tmp_path / "gaz" / "sf.duckdb", tmp_path / "out"
    out.mkdir()

    def refresh(version: str) -> dict:
        return refresh_gazetteer(sources=str(sources_toml(tmp_path / f"{version}.toml", files, version)), db=str(db),
                                 out_dir=str(out), recheck_days=7, risk_policy=str(POLICY))

    first = refresh("v1")
    assert first["version_before"] is None and first["recheck"] is None  # a new gazetteer: nothing cleaned with it
    output = out / "day1" / "shop.parquet"
    clean_file(write_orders(tmp_path / "orders" / "shop.csv"), output, db, risk_policy=POLICY, batch_id="day1",
               redact=True)

    done = refresh("v2")
    assert done["version_before"] == first["version"] != done["version"]
    rechecked = done["recheck"]
    changed = {"R1", "R2", "R3", *SHARED}
    assert {c["order_id"] for c in rechecked["changes"]} == changed and rechecked["changed"] == len(changed)
    assert rechecked["written"] == [str(recheck_output(output, done["version"]))]
    [artifact] = recheck_artifacts()
    md = artifact.data
    for oid in changed:
        assert f"| {oid} | day1 |" in md
    assert "| R1 | day1 | unmatched → matched | hold → deliver | postal_code → address_point |" in md
    assert "W1" not in md and "D1" not in md  # unchanged and delivered orders are not listed
    # the day was cleaned with redact: its addresses stay out of the artifact
    assert "[redacted]" in md and "DORE" not in md.upper() and "LINDEN" not in md.upper()

    again = refresh("v2")  # the same sources: no new version, no re-check
    assert again["version_before"] == again["version"] and again["recheck"] is None
    assert len(recheck_artifacts()) == 1

    off = refresh_gazetteer(sources=str(sources_toml(tmp_path / "v3.toml", files, "v3")), db=str(db),
                            out_dir=str(out), recheck_days=0, risk_policy=str(POLICY))
    assert off["version"] != again["version"] and off["recheck"] is None
    assert not recheck_output(output, off["version"]).parent.exists()
