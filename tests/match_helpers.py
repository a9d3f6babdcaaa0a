"""Comparing match results in tests: every field, floats to the last few ulps, NaN equal to NaN."""

from __future__ import annotations

import math
from dataclasses import asdict


def same(a, b) -> bool:
    """Equal values, recursively through lists, tuples and dicts; floats within 1e-9 relative.

    >>> same([1.0, {"a": float("nan")}], [1.0, {"a": float("nan")}]), same((1, 2), (1, 3))
    (True, False)
    """
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= 1e-9 * max(1.0, abs(a))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


def differences(one: list, other: list, texts: list[str]) -> list[str]:
    """``text: {field: (one's, other's)}`` for every pair of results that differ in a field."""
    out = []
    for text, x, y in zip(texts, one, other):
        dx, dy = asdict(x), asdict(y)
        bad = {k: (dx[k], dy[k]) for k in dx if not same(dx[k], dy[k])}
        if bad:
            out.append(f"{text!r}: {bad}")
    return out


def spy_sql(monkeypatch) -> list[str]:
    """The text of every query the matcher sends from now on (``sql.run`` and
    ``sql.run_columns``), in order."""
    from addressing.match import sql

    asked: list[str] = []
    for name in ("run", "run_columns"):
        real = getattr(sql, name)
        monkeypatch.setattr(sql, name, lambda *a, real=real, **k: asked.append(a[1]) or real(*a, **k))
    return asked
