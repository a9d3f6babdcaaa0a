"""The parser's ZIP table, prepared once and kept in the user's cache: the same table either way."""

from __future__ import annotations

import pytest

from addressing.parse import places


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    places.zip_table.cache_clear()
    yield tmp_path
    places.zip_table.cache_clear()


def test_the_cached_table_is_the_prepared_one(fresh_cache):
    first = places.zip_table()                      # prepared from zipcodes, then written
    [cached] = list((fresh_cache / "addressing" / "tables").iterdir())
    assert cached.name.startswith("zip-table-")
    places.zip_table.cache_clear()
    again = places.zip_table()                      # read back
    assert again == first == places.prepare_zip_table()
    assert again["01001"].state == "MA" and again["00601"].state == "PR"


def test_a_damaged_cache_is_prepared_again(fresh_cache):
    places.zip_table()
    [cached] = list((fresh_cache / "addressing" / "tables").iterdir())
    cached.write_bytes(b"not an arrow file")
    places.zip_table.cache_clear()
    assert places.zip_table() == places.prepare_zip_table()
    places.zip_table.cache_clear()
    assert places.zip_table()["02118"].city == "BOSTON"  # and written anew
