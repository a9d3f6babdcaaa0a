"""A host's copy of the gazetteer: installed whole or not at all, opened in place of the original."""

from __future__ import annotations

import os
import shutil

import pytest

from addressing.errors import GazetteerError
from addressing.gazetteer import open_gazetteer, replicas
from addressing.gazetteer.replicas import REPLICAS_ENV


def _newer_version(db, target):
    """A copy of ``db`` stamped with another version."""
    import duckdb

    shutil.copyfile(db, target)
    con = duckdb.connect(str(target))
    con.execute("UPDATE meta SET value = 'v-newer' WHERE key = 'version'")
    con.close()


def test_a_host_opens_its_copy_once_installed(tmp_path, demo_db, monkeypatch):
    shared = tmp_path / "shared" / "gazetteer.duckdb"
    shared.parent.mkdir()
    shutil.copyfile(demo_db, shared)
    host = tmp_path / "host"
    monkeypatch.setenv(REPLICAS_ENV, str(host))
    assert open_gazetteer(shared).path == shared           # no copy yet: the shared file
    done = replicas.install(shared)
    assert done == {"copy": str(host / shared.name), "version": open_gazetteer(shared).version, "copied": True}
    assert replicas.install(shared)["copied"] is False      # the copy has the version already
    assert open_gazetteer(shared).path == host / shared.name
    assert sorted(p.name for p in host.iterdir()) == [".gazetteer.duckdb.lock", "gazetteer.duckdb"]


def test_a_copy_that_fails_leaves_the_previous_one(tmp_path, demo_db, monkeypatch):
    host = tmp_path / "host"
    replicas.install(demo_db, host)
    before = (host / demo_db.name).read_bytes()

    def broken_copy(src, dst):
        with open(dst, "wb") as f:
            f.write(b"half a file")
        raise OSError(28, "No space left on device")

    other = tmp_path / "other"
    other.mkdir()
    _newer_version(demo_db, other / demo_db.name)
    monkeypatch.setattr(replicas.shutil, "copyfile", broken_copy)
    with pytest.raises(OSError):
        replicas.install(other / demo_db.name, host)
    assert (host / demo_db.name).read_bytes() == before
    assert sorted(p.name for p in host.iterdir()) == [f".{demo_db.name}.lock", demo_db.name]


def test_no_folder_and_no_gazetteer_are_said(tmp_path, monkeypatch):
    monkeypatch.delenv(REPLICAS_ENV, raising=False)
    with pytest.raises(GazetteerError, match="no folder for copies"):
        replicas.install(tmp_path / "g.duckdb")
    with pytest.raises(GazetteerError, match="not a readable gazetteer"):
        replicas.install(tmp_path / "g.duckdb", tmp_path / "host")


def test_a_replaced_file_is_read_anew_by_the_same_process(tmp_path, demo_db):
    """DuckDB serves a file's old content to new connections while one is still open."""
    db = tmp_path / "g.duckdb"
    shutil.copyfile(demo_db, db)
    first = open_gazetteer(db)
    _newer_version(demo_db, tmp_path / "newer.duckdb")
    os.replace(tmp_path / "newer.duckdb", db)
    again = open_gazetteer(db)
    assert first.version != "v-newer" and again.version == "v-newer"


def test_a_host_whose_copy_is_of_another_version_fails_the_chunk(tmp_path, demo_db, monkeypatch):
    """One batch, one version: a chunk is never cleaned with a copy older (or newer) than the
    gazetteer its batch was planned with."""
    from addressing.batch import split_input
    from addressing.batch.chunks import clean_chunk

    orders = tmp_path / "day.csv"
    orders.write_text("order_id,address\n1,\"7 Octavia St, San Francisco, CA 94102\"\n")
    plan = split_input(orders, tmp_path / "work", demo_db, 100)
    planned = open_gazetteer(demo_db).version
    host = tmp_path / "host"
    host.mkdir()
    _newer_version(demo_db, host / demo_db.name)
    monkeypatch.setenv(REPLICAS_ENV, str(host))
    with pytest.raises(GazetteerError, match=f"is version v-newer here, but the batch was planned with {planned}"):
        clean_chunk(plan.chunks[0], plan.outputs()[0], demo_db, None, planned)
    assert not plan.outputs()[0].exists()
    monkeypatch.delenv(REPLICAS_ENV)
    assert clean_chunk(plan.chunks[0], plan.outputs()[0], demo_db, None, planned)["rows"] == 1
