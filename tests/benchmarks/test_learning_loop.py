"""``benchmarks/learning_loop.py`` runs end to end on a small day and says what it measured:
its table, the checks on revoked and contradicted decisions, and the learned addresses'
distance to real drops (the demo gazetteer of the test session)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_three_nights_learn_from_decisions_and_drops(demo_db, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    env.pop("ADDRESSING_DECISIONS_DB", None)
    r = subprocess.run([sys.executable, str(PROJECT / "benchmarks/learning_loop.py"), "--db", str(demo_db),
                        "--orders", "600", "--work", str(tmp_path)], capture_output=True, text=True, env=env,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [line for line in r.stdout.splitlines() if re.match(r"\| [123] \|", line)]
    assert len(rows) == 3
    night = [[c.strip() for c in row.strip("|").split("|")] for row in rows]
    assert night[0][5] == "0 (0.0%)" and night[0][6] == "0"  # night 1 knows nothing yet
    assert int(night[2][6].replace(",", "")) > 0 and not night[2][5].startswith("0 ")  # night 3 has learned
    assert "revoked after night 1" in r.stdout and re.search(r"contradicted: 0 \(target 0\) -> holds", r.stdout)
    learned = re.search(r"median geocode-to-drop ([\d.]+) m on night 1 \(before\) -> ([\d.]+) m on night 3", r.stdout)
    assert learned and float(learned.group(2)) < float(learned.group(1))
    assert (tmp_path / "loop.decisions.duckdb").exists()  # its own store, never the gazetteer's
