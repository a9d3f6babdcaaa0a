"""Reading a built gazetteer file in tests, on a connection of its own."""

from __future__ import annotations

from pathlib import Path

import duckdb


def q(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    """Rows of ``sql`` against the gazetteer at ``db``, read-only; the connection is closed after."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()
