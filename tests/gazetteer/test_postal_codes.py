"""A gazetteer's US ZIPs read a block at a time: the same records as the table, whatever the order asked."""

from __future__ import annotations

import random

import duckdb

from addressing.gazetteer import Gazetteer, PostalCodes


def _table(db) -> dict:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {z: (city, state) for z, city, state in con.execute(
            "SELECT postal_code, city, state FROM postal_codes WHERE country = 'US'").fetchall()}
    finally:
        con.close()


def test_blocks_read_on_demand_give_the_table(demo_db):
    table = _table(demo_db)
    g = Gazetteer(demo_db)
    try:
        codes = random.Random(7).sample(sorted(table), 3 * PostalCodes.READS_BEFORE_ALL)
        postal = g.postal()
        for z in codes:  # one block each at first, then the rest at once
            info = postal.get(("US", z))
            assert (info.city, info.state) == table[z]
        assert postal.get(("US", "00000")) is None and postal.get(("CA", "H2X")) is None and postal.get(("US", "")) is None
        assert postal.get(("US", "01001")).state == "MA" and postal.get(("US", "00601")).state == "PR"
        assert {z for (_, z), _ in postal.items()} == set(table)
    finally:
        g.close()
