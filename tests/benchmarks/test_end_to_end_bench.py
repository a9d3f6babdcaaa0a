"""``benchmarks/end_to_end.py --no-libpostal-orders`` leaves out exactly the orders a batch would
ask libpostal for, and keeps every other row as it was."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import end_to_end  # noqa: E402

from addressing import libpostal_server  # noqa: E402

ROWS = [
    ["O1", "C1", "7 Octavia St, San Francisco, CA 94102"],
    ["O2", "C2", "10 Downing St, London SW1A 2AA"],           # another country's: libpostal
    ["O3", "C3", "799 Autauga County 45 Al"],                   # usaddress unsure: libpostal too
    ["O4", "C4", "7 OCTAVIA ST, SAN FRANCISCO, CA 94102"],
    ["O5", "C5", "10 downing st, london sw1a 2aa"],            # the same text in other case
    ["O6", "C6", ""],
]


def test_the_orders_libpostal_reads_are_left_out(tmp_path):
    path = tmp_path / "orders.csv"
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([["order_id", "customer_id", "address"], *ROWS])
    real = libpostal_server.labels
    assert end_to_end.drop_libpostal_orders(path) == 3
    assert libpostal_server.labels is real  # the stand-in is gone again
    with open(path, newline="") as f:
        kept = list(csv.reader(f))
    assert kept == [["order_id", "customer_id", "address"], ROWS[0], ROWS[3], ROWS[5]]
