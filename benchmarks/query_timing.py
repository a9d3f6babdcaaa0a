"""The matcher's SQL time by the builder that wrote each query (``addressing.match.sql``), for
the benchmarks that say where a batch's or an order's time goes (``batch_queries.py``,
``single_queries.py``). ``QueryClock.install`` wraps ``sql.run`` and ``sql.run_columns`` of the
``addressing`` already on ``sys.path``; nothing else changes."""

from __future__ import annotations

import collections
import time

#: the matcher's query builders whose text is fixed, by name; the other queries are told by
#: their text (``QueryClock.kind``)
BUILDERS = ("exact_candidates_sql", "fuzzy_candidates_sql", "trigram_candidates_sql", "block_members_sql",
            "one_block_sql", "locality_sql", "coverage_sql", "state_sizes_sql")


class QueryClock:
    """Seconds and calls per kind of query, since the last ``reset``."""

    def __init__(self) -> None:
        self.spent: collections.Counter = collections.Counter()
        self.calls: collections.Counter = collections.Counter()
        self._names: dict[str, str] = {}
        self._sql = None

    def install(self) -> QueryClock:
        from addressing.match import sql

        self._sql = sql
        self._names = {getattr(sql, b)(): b.removesuffix("_sql") for b in BUILDERS}
        sql.run, sql.run_columns = self._timed(sql.run), self._timed(sql.run_columns)
        return self

    def kind(self, text: str) -> str:
        """What a query is: its builder's name, or ``street rows`` (the in-memory backend's
        fetch of a street's addresses and ranges), ``name rows`` (its seek of name rows),
        ``evidence``, ``other``."""
        sql = self._sql
        return self._names.get(text) or (
            "street rows" if text in sql.STREET_ROWS_SQL.values()
            else "name rows" if text.startswith("SELECT s.rowid AS srow")
            else "evidence" if " AS ev, " in text else "other")

    def reset(self) -> None:
        self.spent.clear()
        self.calls.clear()

    def _timed(self, run):
        def call(gaz, text, *a, **k):
            t = time.perf_counter()
            try:
                return run(gaz, text, *a, **k)
            finally:
                name = self.kind(text)
                self.spent[name] += time.perf_counter() - t
                self.calls[name] += 1
        return call
