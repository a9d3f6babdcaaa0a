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


def rounded(value: object) -> object:
    """Floats (in rows, lists and structs too) to 9 places: DuckDB sums a group's floats in any
    order, so an average's last digit varies between two builds of the same rows."""
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, (list, tuple)):
        return type(value)(rounded(v) for v in value)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    return value


def table_rows(db: Path, tables: tuple[str, ...]) -> dict[str, list]:
    """Every row of each table, ``rounded``, in a fixed order (whatever order the file holds)."""
    return {t: sorted((rounded(r) for r in q(db, f"SELECT * FROM {t}")), key=repr) for t in tables}
