"""Which streets a query is compared with (blocking), in two rounds; no query is compared with
every street.

Round one (``round_one``): the exact name key within the state, nearest ZIP and city first, a
few per spelling. Round two (``round_two``), only for queries round one did not settle: every
street of the query's ZIP or city whose name is close (``block_pairs``: one
``rapidfuzz.process.cdist`` per block), or with its sound key in the state; and, for queries
none of those found, the streets of the state sharing the most name trigrams. Without a state,
sound keys and trigrams are looked for in the query's postcode or city, and nowhere when it
has neither (``sql.PLACELESS_LOCALITY``). So a misspelt street, a wrong ZIP or a missing city still
finds candidates.

Owns the rounds, their bounds (``EXACT_PER_QUERY``, ``TRIGRAM_PER_QUERY``) and the cache of
ZIP and city blocks; the candidate rows themselves come from the batch's backend.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz import fuzz, process

from addressing.gazetteer import Gazetteer
from addressing.match import sql
from addressing.match.backends import Backend
from addressing.match.queries import Queries
from addressing.match.row_cache import RowCache
from addressing.match.scoring import FUZZY_NAME_MIN

#: round one keeps this many same-name streets per query spelling: a name that recurs in every
#: town of a state must not bring them all
EXACT_PER_QUERY = 10
#: round two keeps this many trigram neighbours per query spelling
TRIGRAM_PER_QUERY = 20


def round_one(backend: Backend, qs: Queries) -> pa.Table:
    """Candidate (spelling, street) rows for every spelling, by exact name key."""
    return backend.exact_candidates(qs.table, EXACT_PER_QUERY)


def round_two(backend: Backend, qs: Queries, vix: np.ndarray) -> pa.Table:
    """Candidate rows for the spellings ``vix`` by fuzzy name: close names in the ZIP and city
    blocks, sound keys, and trigrams (the costliest) only for queries none of whose spellings
    found a close name in its ZIP or city."""
    sub = qs.table.take(pa.array(vix))
    pairs = block_pairs(backend.gaz, sub)
    parts = [backend.fuzzy_candidates(pairs, sub)]
    found_q = np.unique(qs.qid[pairs["vix"].to_numpy()]) if pairs.num_rows else np.empty(0, np.int64)
    lost = sub.filter(pa.array(~np.isin(qs.qid[sub["vix"].to_numpy()], found_q)))
    if lost.num_rows:
        parts.append(backend.trigram_candidates(lost, TRIGRAM_PER_QUERY))
    return pa.concat_tables([t for t in parts if t.num_rows] or parts[:1])


class Block:
    """The streets of one ZIP or city block by name key: ``keys``, its distinct name keys (what
    ``block_pairs`` compares), and ``ids_of``, the street ids of some of them. Held as arrays, not
    a dict of lists: a batch's blocks are hundreds of thousands of name rows at national size,
    and building them row by row in Python cost more than the query that read them
    (``benchmarks/batch_queries.py`` on ``benchmarks/national.py``'s 60 M file)."""

    __slots__ = ("keys", "_ids", "_starts")

    def __init__(self, keys: list[str], ids: np.ndarray, starts: np.ndarray):
        self.keys = keys
        self._ids = ids
        self._starts = starts

    def ids_of(self, ks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The street ids of the keys ``ks`` one after another, and how many each key has."""
        first, counts = self._starts[ks], self._starts[ks + 1] - self._starts[ks]
        before = np.cumsum(counts) - counts
        at = np.repeat(first - before, counts) + np.arange(counts.sum())
        return self._ids[at], counts

    def items(self) -> Iterator[tuple[str, list[int]]]:
        """(name key, street ids) of every name key."""
        return ((key, self._ids[self._starts[k]:self._starts[k + 1]].tolist()) for k, key in enumerate(self.keys))

    def __len__(self) -> int:
        return len(self.keys)


def _changes(column: pa.Array) -> np.ndarray:
    """Where ``column`` differs from the row before (the first row included)."""
    n = len(column)
    out = np.ones(n, bool)
    if n > 1:
        out[1:] = pc.not_equal(column.slice(1), column.slice(0, n - 1)).to_numpy(zero_copy_only=False)
    return out


def as_blocks(members: pa.Table) -> dict[tuple[str, str], Block]:
    """``sql.block_members_sql`` rows (``kind``, ``block``, ``street_id``, ``name_key``, ordered
    by kind, block and name key) as a ``Block`` per (kind, block); a missing name key is ``""``."""
    n = members.num_rows
    if n == 0:
        return {}
    members = members.combine_chunks()
    kind, block = members["kind"].chunk(0), members["block"].chunk(0)
    key = pc.fill_null(members["name_key"].chunk(0), "")
    ids = members["street_id"].chunk(0).to_numpy()
    new_block = _changes(kind) | _changes(block)
    key_at = np.flatnonzero(new_block | _changes(key))
    block_at = np.flatnonzero(new_block)
    block_end = np.append(block_at[1:], n)
    keys = key.take(pa.array(key_at)).to_pylist()
    first_key = np.searchsorted(key_at, block_at)
    last_key = np.append(first_key[1:], len(key_at))
    heads = zip(kind.take(pa.array(block_at)).to_pylist(), block.take(pa.array(block_at)).to_pylist())
    return {head: Block(keys[f:z], ids[a:e], np.append(key_at[f:z], e) - a)
            for head, a, e, f, z in zip(heads, block_at, block_end, first_key, last_key)}


_block_cache = RowCache()      # (gazetteer, "zip" or "city", block) -> Block


def blocks(gaz: Gazetteer, wanted: list[tuple[str, str]]) -> dict[tuple[str, str], Block]:
    """The streets of ZIP and city blocks (``("zip", ZIP)``, ``("city", "STATE|CITY")``) by name
    key, cached per gazetteer version: deliveries come from a few hundred ZIPs, so a warm process
    rarely asks the file again. A block without streets is empty."""
    tag = gaz.key

    def fetch(missing: list[tuple]) -> dict[tuple, Block]:
        zips = [z for _, k, z in missing if k == "zip"]
        cities = [c.split("|", 1) for _, k, c in missing if k == "city"]
        if len(zips) <= 1 and len(cities) <= 1:
            state, city = cities[0] if cities else (None, None)
            members = sql.run(gaz, sql.one_block_sql(), None, [zips[0] if zips else None, state, city])
        else:
            ask = pa.table({"postal_code": pa.array(zips + [None] * len(cities), pa.string()),
                            "state": pa.array([None] * len(zips) + [c[0] for c in cities], pa.string()),
                            "city": pa.array([None] * len(zips) + [c[1] for c in cities], pa.string())})
            members = sql.run(gaz, sql.block_members_sql(), {"_r": ask})
        return {(tag, *head): b for head, b in as_blocks(members).items()}

    got = _block_cache.get_many([(tag, *b) for b in wanted], fetch)
    return {b: got[(tag, *b)] or _EMPTY for b in wanted}


_EMPTY = Block([], np.empty(0, np.int64), np.zeros(1, np.int64))


def block_pairs(gaz: Gazetteer, sub: pa.Table) -> pa.Table:
    """(spelling, street) pairs (``vix``, ``street_id``) whose names are at least
    ``FUZZY_NAME_MIN`` alike, within the spellings' ZIP and city blocks: one
    ``rapidfuzz.process.cdist`` per block over its distinct names."""
    queries: dict[tuple[str, str], list[int]] = {}
    cols = sub.select(["vix", "postal_code", "state", "city", "name_key"]).to_pydict()
    key_of = dict(zip(cols["vix"], cols["name_key"]))
    for v, z, st, c in zip(cols["vix"], cols["postal_code"], cols["state"], cols["city"]):
        if z:
            queries.setdefault(("zip", z), []).append(v)
        if st and c:
            queries.setdefault(("city", f"{st}|{c}"), []).append(v)
    found = blocks(gaz, list(queries))
    out_v: list[np.ndarray] = [np.empty(0, np.int64)]
    out_s: list[np.ndarray] = [np.empty(0, np.int64)]
    for block, vixes in queries.items():
        members = found[block]
        if not members:
            continue
        sims = process.cdist([key_of[v] or "" for v in vixes], members.keys, scorer=fuzz.ratio,
                             score_cutoff=FUZZY_NAME_MIN, dtype=np.uint8, workers=1)
        qs, ks = np.nonzero(sims)
        ids, counts = members.ids_of(ks)
        out_v.append(np.repeat(np.asarray(vixes, np.int64)[qs], counts))
        out_s.append(ids)
    return pa.table({"vix": np.concatenate(out_v), "street_id": np.concatenate(out_s)})
