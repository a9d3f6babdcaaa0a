"""Match parsed addresses against the gazetteer and geocode them, a whole batch at a time.

The stage is ``match_batch(parsed, gazetteer) -> [MatchResult]``:

1. Spell each query's street a few ways (``queries``): as parsed; with a street type that
   belongs to the name (``LAKE SHR`` -> ``LAKE SHORE``); cut before words that cannot be street
   (``HAYES ST ON ARRIVAL`` -> ``HAYES ST``).
2. Block candidate streets in two rounds (``blocking``): the exact name key first; then, for
   queries that round did not settle, close names in the query's ZIP and city, sound keys and
   trigrams. No query is compared with every street.
3. Gather house-number and unit evidence (``evidence``): the address point (and the unit's), the
   TIGER range holding the number on its side, the nearest numbered points either side.
4. Score every candidate pair at once (``scoring``: rapidfuzz for names, numpy for the rest;
   every score part and threshold named there, with where it comes from) and place it
   (``addressing.geocode.precision_ladder``).
5. Decide matched / ambiguous / unmatched, with a correction code for every component changed
   or inferred and a calibrated confidence (``decision``, ``calibration``). Boxes, addresses
   abroad and what is left unmatched are answered by their place (``places``).

Candidates and evidence come from one backend per batch (``backends``): DuckDB SQL for large
batches (``sql``), rows held in memory for a few orders (``memory``); both answer alike.

The package's public face is ``match_batch``, its result type ``MatchResult`` and
``clear_caches`` (forget the gazetteer rows a process keeps); the modules above hold the rest.
"""

from __future__ import annotations

from addressing.match.result import MatchResult
from addressing.match.stage import clear_caches, match_batch

__all__ = ["MatchResult", "clear_caches", "match_batch"]
