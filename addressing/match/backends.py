"""Where the matcher's candidates and evidence come from: one interface, two backends, chosen
once per batch.

``Backend`` is the four questions the matcher asks a gazetteer about a batch of street queries.
``SqlBackend`` answers them with a few set-wise DuckDB queries: the fast way for a batch of
thousands, the slow way for one order (DuckDB plans every query anew, milliseconds each).
``MemoryBackend`` (``memory``) answers the same from street rows held in memory: the fast way for
a few orders. Both give the same rows in the same order (``tests/match/test_match_backends.py`` holds
them to that); ``backend_for`` picks one by the batch's size.

Tables crossing the interface (strings may be null unless said otherwise):

- spellings ``q`` (``queries.Queries.table``): ``vix`` int64 (the spelling's row), ``state``,
  ``postal_code``, ``city``, ``name_key``, ``sound_key``;
- pairs (``blocking.block_pairs``): ``vix`` int64, ``street_id`` int64;
- candidates (what every candidate question returns, one row per (spelling, street name row)):
  ``vix``, then ``CANDIDATE_COLUMNS``: the name row that matched (``postal_code`` .. ``name_key``,
  the street's centroid ``lat``/``lon``, its ``n_points``/``n_segments``) and the street's own
  name (``out_*``);
- evidence questions ``c`` (``evidence.gather``): ``cid`` int64, ``street_id`` int64, ``number``
  as written, ``number_int`` int64 (set on every row), ``units_try`` list of ``queries.unit_norm``
  forms or null; beside it, aligned with its rows, the ``n_points`` and ``n_segments`` of each
  question's street (numpy int64 arrays);
- evidence answers: one table per part of ``EVIDENCE_PARTS``, with at least the columns of
  ``EVIDENCE_COLUMNS[part]`` (``evidence.gather`` reads them).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from addressing.gazetteer import Gazetteer
from addressing.match import sql
from addressing.match.memory import MemoryBackend

#: batches of at most this many street queries are matched in memory (``MemoryBackend``)
MEMORY_MAX_QUERIES = 64

CANDIDATE_COLUMNS = sql.CANDIDATE_COLUMNS
EVIDENCE_PARTS = sql.EVIDENCE_PARTS
#: what each evidence part says about a question ``cid`` (several rows per ``cid`` where said):
#: ``point``: the address of the number (``exact``) or of its integer part, its units and position;
#: ``base``: where the number's points without a unit are; ``unit``: the points of a unit tried
#: (``hit``, as the source ``spelled`` it), at the number (``exact``) or its integer part;
#: ``range``: a TIGER range side holding the number (ends ``a``/``b``, ``parity_ok``, ``geom`` WKB),
#: asked only where the number as written has no address on the street;
#: ``neighbour``: the nearest numbered points below (``lo_*``) and above (``hi_*``) on its parity
EVIDENCE_COLUMNS = {part: tuple(schema.names) for part, schema in sql.EVIDENCE_SCHEMAS.items()}


class Backend(Protocol):
    """The gazetteer questions of street matching, over batches (schemas in the module docstring)."""

    name: str
    gaz: Gazetteer

    def exact_candidates(self, q: pa.Table, per_query: int) -> pa.Table:
        """Round one: streets with a spelling's exact name key in its state (anywhere without a
        state), its own ZIP and city first, then ZIPs sharing the longest prefix; at most
        ``per_query`` per spelling, and when some are in its own ZIP or city, those and the
        nearest other one only. Ordered by spelling, then that rank."""
        ...

    def fuzzy_candidates(self, pairs: pa.Table, q: pa.Table) -> pa.Table:
        """Round two: every name row of the streets in ``pairs``, and of the streets with a
        spelling's sound key in its locality (its state; without one its postcode or city,
        ``sql.PLACELESS_LOCALITY``, nowhere when it has neither); ordered by ``sql.CANDIDATE_ORDER``
        (nulls last)."""
        ...

    def trigram_candidates(self, q: pa.Table, per_query: int) -> pa.Table:
        """Round two, for spellings nothing else found: every name row of the ``per_query``
        streets of the spelling's locality (its state, else ``sql.PLACELESS_LOCALITY``) sharing the most name-key
        trigrams (at least two) with it, more first, then by street id; ordered by
        ``sql.CANDIDATE_ORDER``."""
        ...

    def evidence(self, c: pa.Table, n_points: np.ndarray, n_segments: np.ndarray) -> dict[str, pa.Table]:
        """House-number and unit evidence for the questions ``c`` (on streets with ``n_points``
        address points and ``n_segments`` ranges), one table per part."""
        ...


class SqlBackend:
    """The backend for large batches: each question is one DuckDB query over the whole batch."""

    name = "sql"

    def __init__(self, gaz: Gazetteer):
        self.gaz = gaz

    def exact_candidates(self, q: pa.Table, per_query: int) -> pa.Table:
        return sql.run(self.gaz, sql.exact_candidates_sql(), {"_q": q}, [per_query])

    def fuzzy_candidates(self, pairs: pa.Table, q: pa.Table) -> pa.Table:
        return sql.run(self.gaz, sql.fuzzy_candidates_sql(), {"_p": pairs, "_r": q})

    def trigram_candidates(self, q: pa.Table, per_query: int) -> pa.Table:
        return sql.run(self.gaz, sql.trigram_candidates_sql(), {"_r": q}, [per_query])

    def evidence(self, c: pa.Table, n_points: np.ndarray, n_segments: np.ndarray) -> dict[str, pa.Table]:
        """One query for every part (one round trip), leaving out the parts these streets cannot
        have (no address points, no unit asked, no ranges): each costs planning even when it
        finds nothing."""
        if not c.num_rows:
            return {name: schema.empty_table() for name, schema in sql.EVIDENCE_SCHEMAS.items()}
        units = c["units_try"].null_count < c.num_rows
        runs = id_runs(c["street_id"].to_numpy())
        found = []
        for run in np.unique(runs):
            at = np.flatnonzero(runs == run)
            found.append(sql.run(self.gaz, sql.evidence_sql(bool(np.any(n_points[at] > 0)), units,
                                                            bool(np.any(n_segments[at] > 0))),
                                 {"_c": c.take(pa.array(at))}))
        return {name: pa.concat_tables([_part(f, name) for f in found], promote_options="default")
                for name in EVIDENCE_PARTS}


#: street ids further apart than this are asked in separate evidence queries: the tables lie in
#: street order, 122,880 rows to a row group, and a query reads the row groups between its lowest
#: and highest id (DuckDB's join filter), so one far candidate would make a chunk of nearby orders
#: read the whole file. About the streets of one row group of ``address_points`` at 20 M points
#: (1.35 M streets in 163 row groups: ``benchmarks/national.py``'s 20M gazetteer).
RUN_GAP_IDS = 10_000
#: at most this many evidence queries per batch: each is planned anew (milliseconds)
MAX_RUNS = 8


def id_runs(ids: np.ndarray) -> np.ndarray:
    """A run number per row: the rows' street ids cut where consecutive distinct ids lie more
    than ``RUN_GAP_IDS`` apart, at the ``MAX_RUNS - 1`` widest such gaps at most.

    >>> id_runs(np.array([5, 900_000, 7, 6, 20_000])).tolist()
    [0, 2, 0, 0, 1]
    """
    distinct = np.unique(ids)
    gaps = np.diff(distinct)
    wide = np.flatnonzero(gaps > RUN_GAP_IDS)
    if len(wide) >= MAX_RUNS:
        wide = np.sort(wide[np.argsort(-gaps[wide], kind="stable")[:MAX_RUNS - 1]])
    return np.searchsorted(distinct[wide + 1], ids, side="right") if len(wide) else np.zeros(len(ids), np.int64)


def _part(found: pa.Table, name: str) -> pa.Table:
    """The rows of one evidence part (``ev`` = ``name``)."""
    if not found.num_rows:
        return found.slice(0, 0)
    return found.filter(pc.equal(found.column("ev"), name))


def backend_for(gaz: Gazetteer, n_queries: int) -> Backend:
    """The backend a batch of ``n_queries`` street queries is matched with: in memory up to
    ``MEMORY_MAX_QUERIES``, else SQL."""
    return MemoryBackend(gaz) if n_queries <= MEMORY_MAX_QUERIES else SqlBackend(gaz)

