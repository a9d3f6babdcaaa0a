"""Which streets a query is compared with (blocking), in two rounds; no query is compared with
every street.

Round one (``round_one``): the exact name key within the state, nearest ZIP and city first, a
few per spelling. Round two (``round_two``), only for queries round one did not settle: every
street of the query's ZIP or city whose name is close (``block_pairs``: one
``rapidfuzz.process.cdist`` per block), or with its sound key in the state; and, for queries
none of those found, the streets of the state sharing the most name trigrams. Without a state,
sound keys and trigrams are looked for in the query's postcode or city, and nowhere when it
has neither (``sql.IN_LOCALITY``). So a misspelt street, a wrong ZIP or a missing city still
finds candidates.

Owns the rounds, their bounds (``EXACT_PER_QUERY``, ``TRIGRAM_PER_QUERY``) and the cache of
ZIP and city blocks; the candidate rows themselves come from the batch's backend.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
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


_block_cache = RowCache()      # (gazetteer, "zip" or "city", block) -> {name key: street ids}


def blocks(gaz: Gazetteer, wanted: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, list[int]]]:
    """The streets of ZIP and city blocks (``("zip", ZIP)``, ``("city", "STATE|CITY")``) by name
    key, cached per gazetteer version: deliveries come from a few hundred ZIPs, so a warm process
    rarely asks the file again."""
    tag = gaz.key

    def fetch(missing: list[tuple]) -> dict[tuple, dict[str, list[int]]]:
        zips = [z for _, k, z in missing if k == "zip"]
        cities = [c.split("|", 1) for _, k, c in missing if k == "city"]
        if len(zips) <= 1 and len(cities) <= 1:
            state, city = cities[0] if cities else (None, None)
            members = sql.run_columns(gaz, sql.one_block_sql(), None, [zips[0] if zips else None, state, city])
        else:
            ask = pa.table({"postal_code": pa.array(zips + [None] * len(cities), pa.string()),
                            "state": pa.array([None] * len(zips) + [c[0] for c in cities], pa.string()),
                            "city": pa.array([None] * len(zips) + [c[1] for c in cities], pa.string())})
            members = sql.run_columns(gaz, sql.block_members_sql(), {"_r": ask})
        found: dict[tuple, dict[str, list[int]]] = {k: {} for k in missing}
        for kind, block, sid, key in zip(members["kind"], members["block"], members["street_id"], members["name_key"]):
            if (tag, kind, block) in found:
                found[(tag, kind, block)].setdefault(key or "", []).append(sid)
        return found

    got = _block_cache.get_many([(tag, *b) for b in wanted], fetch)
    return {b: got[(tag, *b)] for b in wanted}


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
    out_v: list[int] = []
    out_s: list[int] = []
    for block, vixes in queries.items():
        names = found.get(block)
        if not names:
            continue
        keys = list(names)
        sims = process.cdist([key_of[v] or "" for v in vixes], keys, scorer=fuzz.ratio,
                             score_cutoff=FUZZY_NAME_MIN, dtype=np.uint8, workers=1)
        for q, k in zip(*np.nonzero(sims)):
            ids = names[keys[k]]
            out_v += [vixes[q]] * len(ids)
            out_s += ids
    return pa.table({"vix": pa.array(out_v, pa.int64()), "street_id": pa.array(out_s, pa.int64())})
