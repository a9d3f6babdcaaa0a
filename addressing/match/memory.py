"""The in-memory backend (``MemoryBackend``): candidates and evidence for a few queries, computed
from gazetteer rows held in memory.

For a batch, the SQL backend is the fast way: a few set-wise queries over thousands of orders.
For one order it is the slow way: DuckDB spends milliseconds parsing, binding and optimizing
each query, and an order runs two to five of them. Here the same relations are computed for a
small batch: street names from a state's whole name table (up to ``STATE_MAX_ROWS``; key by key
above), house-number evidence from the rows of the streets involved, fetched with plain key
lookups; all kept per gazetteer file in bounded LRU caches (``row_cache``): a long-lived import
worker sees the same states and streets again and again.

Owns those caches and the relations computed from them. Every method returns what the SQL
backend returns for the same question (same columns, same rows, same order where the SQL fixes
one: DuckDB's NULLs-last ascending order, and its ``hash`` of a number for ties between
neighbours, which the rows fetched carry); ``tests/match/test_match_backends.py`` runs one contract
suite against both.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa

from addressing.gazetteer import Gazetteer
from addressing.gazetteer.derive import lookup_value
from addressing.match import sql
from addressing.match.row_cache import RowCache

_NAME_COLS = list(sql.CANDIDATE_COLUMNS)


_names = RowCache()       # (gazetteer, column, state, value) -> street name rows
_streets = RowCache()     # (gazetteer, street_id) -> _Street (its len is its row count)


# --------------------------------------------------------------------------- street name rows


#: a state's street name rows (every street's, for queries without a state) are held in memory
#: whole up to this many rows, so that any name, sound key or trigram is looked up without a query
#: (a misspelt name is a new key every time); larger ones (a whole-country TIGER state has hundreds
#: of thousands) are asked key by key, and run the trigram SQL. Loading a table and building its
#: trigram index is paid once per worker and state, and grows with the table.
STATE_MAX_ROWS = 20_000


class _NameTable:
    """The street name rows of a state (or of every street), by name key, sound key and street id."""

    __slots__ = ("by", "rows")

    def __init__(self, rows: list[tuple]):
        self.rows = sorted(rows, key=lambda r: r[0])
        self.by: dict[str, dict[Any, list[tuple]]] = {c: {} for c in ("name_key", "sound_key", "street_id")}
        for row in self.rows:
            for c, index in self.by.items():
                index.setdefault(row[_COL[c]], []).append(row)

    def __len__(self) -> int:
        return len(self.rows)


_tables = RowCache()      # (gazetteer, "sizes", None) -> [{state: rows}]; (gazetteer, state or None) -> _NameTable


def state_sizes(gaz: Gazetteer) -> dict[str | None, int]:
    """How many street name rows each state has (``None``: streets without a state)."""
    tag = gaz.key

    def fetch(_missing: list) -> dict:
        t = sql.run_columns(gaz, sql.state_sizes_sql())
        return {(tag, "sizes", None): [dict(zip(t["state"], t["n"]))]}

    return _tables.get_many([(tag, "sizes", None)], fetch)[(tag, "sizes", None)][0]


def fits(gaz: Gazetteer, states: Iterable[str | None]) -> bool:
    """Whether the name tables of these states (None: every street) are small enough to hold."""
    sizes = state_sizes(gaz)
    return all((sum(sizes.values()) if st is None else sizes.get(st, 0)) <= STATE_MAX_ROWS for st in states)


def _select_names(gaz: Gazetteer, params: list, column: str | None = None, in_state: bool = False) -> list[tuple]:
    cols = sql.run_columns(gaz, sql.name_rows_sql(column, in_state, len(params)), None, params)
    return list(zip(*(cols[c] for c in ["srow", *_NAME_COLS, "sound_key"])))


def _name_tables(gaz: Gazetteer, states: Iterable[str | None]) -> dict[str | None, _NameTable]:
    tag = gaz.key

    def fetch(missing: list[tuple]) -> dict[tuple, _NameTable]:
        return {(tag, st): _NameTable(_select_names(gaz, [] if st is None else [st], in_state=st is not None))
                for _, st in missing}

    got = _tables.get_many([(tag, st) for st in states], fetch)
    return {st: got[(tag, st)] for st in states}


def _name_rows(gaz: Gazetteer, column: str, wanted: list[tuple[str | None, Any]]) -> dict[tuple, list[tuple]]:
    """Street name rows (``srow``, then ``STREET_COLS``, ``sound_key``) with ``column`` = value,
    in the state (any state where it is None), by (state, value); ``column``: ``name_key``,
    ``sound_key``, ``street_id``. From the state's whole table where it ``fits``, else key by key."""
    tag = gaz.key
    at = _COL[column]
    whole = [st for st in dict.fromkeys(st for st, _ in wanted) if fits(gaz, [st])]
    tables = _name_tables(gaz, whole)
    out = {(st, v): tables[st].by[column].get(v, []) if v is not None else [] for st, v in wanted if st in tables}

    def fetch(missing: list[tuple]) -> dict[tuple, list]:
        found: dict[tuple, list] = {}
        by_state: dict[str | None, list] = {}
        for *_, state, value in missing:
            by_state.setdefault(state, []).append(value)
        for state, values in by_state.items():
            if state is None:
                params = [values]
            elif column in sql.SEEK_COLUMNS:
                params = [lookup_value(state, v) for v in values]
            else:
                params = [values, state]
            for row in _select_names(gaz, params, column, in_state=state is not None):
                found.setdefault((tag, column, state, row[at]), []).append(row)
        return found

    rest = [(st, v) for st, v in wanted if st not in tables]
    got = _names.get_many([(tag, column, st, v) for st, v in rest], fetch)
    out.update({(st, v): got[(tag, column, st, v)] for st, v in rest})
    return out


def _table(vix: list[int], rows: list[tuple]) -> pa.Table:
    cols = list(zip(*rows)) if rows else [[] for _ in range(len(_NAME_COLS) + 1)]
    schema = sql.CANDIDATE_SCHEMA
    return pa.table([pa.array(vix, pa.int64()), *(pa.array(c, f.type) for c, f in zip(cols[1:], list(schema)[1:]))],
                    schema=schema)


def _sort_key(v: Any) -> tuple:
    """DuckDB's ascending order: NULLs last."""
    return (v is None, v if v is not None else "")


#: column -> position in a name row: ``srow``, ``STREET_COLS``, ``sound_key``
_COL = {c: i + 1 for i, c in enumerate([*_NAME_COLS, "sound_key"])}


def exact_candidates(gaz: Gazetteer, q: pa.Table, per_query: int) -> pa.Table:
    """``sql.exact_candidates_sql`` for a few spellings."""
    cols = q.select(["vix", "state", "postal_code", "city", "name_key"]).to_pydict()
    wanted = [(st, k) for st, k in zip(cols["state"], cols["name_key"]) if k is not None]
    found = _name_rows(gaz, "name_key", wanted)
    out_v: list[int] = []
    out_rows: list[tuple] = []
    for v, st, z, c, k in sorted(zip(cols["vix"], cols["state"], cols["postal_code"], cols["city"], cols["name_key"]),
                                 key=lambda row: row[0]):
        if k is None:
            continue
        ranked = []
        n_local = 0
        for row in found[(st, k)]:
            sz, sc = row[_COL["postal_code"]], row[_COL["city"]]
            near = sz == z or sc == c        # IS NOT DISTINCT FROM: None equals None
            local = (z is not None and sz == z) or (c is not None and sc == c)
            prefix = 4 if _left_eq(sz, z, 4) else 3 if _left_eq(sz, z, 3) else 0
            size = row[_COL["n_points"]] + row[_COL["n_segments"]]
            ranked.append(((not near, -prefix, -size, row[_COL["street_id"]], row[0]), row))
            n_local += local
        ranked.sort(key=lambda kr: kr[0])
        keep = min(per_query, n_local + 1 if n_local > 0 else 1000)
        for _, row in ranked[:keep]:
            out_v.append(v)
            out_rows.append(row)
    return _table(out_v, out_rows)


def _left_eq(a: str | None, b: str | None, n: int) -> bool:
    return a is not None and b is not None and a[:n] == b[:n]


def pair_and_sound_candidates(gaz: Gazetteer, pairs: pa.Table, sub: pa.Table) -> pa.Table:
    """``sql.fuzzy_candidates_sql`` for a few spellings."""
    p = pairs.to_pydict()
    s = sub.select(["vix", "state", "postal_code", "city", "sound_key"]).to_pydict()
    asked = [(v, st, z, c, k) for v, st, z, c, k in zip(s["vix"], s["state"], s["postal_code"], s["city"],
                                                          s["sound_key"]) if k is not None and placed(st, z, c)]
    by_id = _name_rows(gaz, "street_id", [(None, sid) for sid in dict.fromkeys(p["street_id"])])
    by_sound = _name_rows(gaz, "sound_key", [(st, k) for _, st, _, _, k in asked])
    out: list[tuple[int, tuple]] = []
    for v, sid in zip(p["vix"], p["street_id"]):
        out += [(v, row) for row in by_id[(None, sid)]]
    for v, st, z, c, k in asked:
        out += [(v, row) for row in by_sound[(st, k)] if st is not None or in_place(row, z, c)]
    return _ordered(out)


def placed(state: str | None, postal_code: str | None, city: str | None) -> bool:
    """Whether a spelling has a locality to look for look-alikes in: its state, else a postcode or
    city (``sql.PLACELESS_LOCALITY``)."""
    return state is not None or postal_code is not None or city is not None


def in_place(row: tuple, postal_code: str | None, city: str | None) -> bool:
    """``sql.PLACELESS_LOCALITY`` for a spelling without a state: the name row is in its postcode or city."""
    return ((postal_code is not None and row[_COL["postal_code"]] == postal_code)
            or (city is not None and row[_COL["city"]] == city))


_ORDER = [_COL[c] for c in ("street_id", "name_key", "predir", "type", "postdir")]


def _ordered(out: list[tuple[int, tuple]]) -> pa.Table:
    """(spelling, name row) pairs as a candidate table in ``CANDIDATE_ORDER``."""
    out.sort(key=lambda vr: (vr[0], *(_sort_key(vr[1][i]) for i in _ORDER)))
    return _table([v for v, _ in out], [r for _, r in out])


# --------------------------------------------------------------------------- trigram blocking

def grams(key: str) -> set[str]:
    """The name key's trigrams as ``trigram_candidates_sql`` cuts them: ``^KEY$``, one per letter."""
    padded = f"^{key}$"
    return {padded[i:i + 3] for i in range(len(key))}


class _GramIndex:
    """The street name rows of a state (or, for spellings without one, of a postcode and city) by
    trigram: gram -> street ids, one per name row that has it."""

    __slots__ = ("ids", "n_rows")

    def __init__(self, street_ids: list[int], keys: list[str | None]):
        lists: dict[str, list[int]] = {}
        for sid, key in zip(street_ids, keys):
            if key is not None:
                for g in grams(key):
                    lists.setdefault(g, []).append(sid)
        self.ids = {g: np.asarray(v, np.int64) for g, v in lists.items()}
        self.n_rows = len(street_ids)

    def __len__(self) -> int:
        return self.n_rows


_grams = RowCache()       # (gazetteer, "grams", state, None) or (gazetteer, "grams", None, (postcode, city)) -> _GramIndex


def _gram_index(st: str | None, z: str | None, c: str | None) -> tuple[str | None, tuple | None]:
    """Which trigram index a spelling is looked up in: its state's, or without a state that of
    its postcode's and city's streets (``sql.PLACELESS_LOCALITY``)."""
    return (st, None) if st is not None else (None, (z, c))


def trigram_candidates(gaz: Gazetteer, sub: pa.Table, per_query: int) -> pa.Table:
    """``sql.trigram_candidates_sql`` for a few spellings (whose states ``fits``, each with a place:
    ``MemoryBackend.trigram_candidates`` leaves out the others)."""
    q = sub.select(["vix", "state", "postal_code", "city", "name_key"]).to_pydict()
    tag = gaz.key
    at_key, at_id = _COL["name_key"], _COL["street_id"]

    def fetch(missing: list[tuple]) -> dict[tuple, _GramIndex]:
        tables = _name_tables(gaz, list(dict.fromkeys(st for *_, st, _ in missing)))
        out = {}
        for *_, st, place in missing:
            rows = tables[st].rows if place is None else [r for r in tables[st].rows if in_place(r, *place)]
            out[(tag, "grams", st, place)] = _GramIndex([r[at_id] for r in rows], [r[at_key] for r in rows])
        return out

    asked = [(v, _gram_index(st, z, c), key) for v, st, z, c, key in zip(
        q["vix"], q["state"], q["postal_code"], q["city"], q["name_key"])
        if key is not None and len(key) >= 3]
    wanted = list(dict.fromkeys(index for _, index, _ in asked))
    got = _grams.get_many([(tag, "grams", *w) for w in wanted], fetch)
    picked: list[tuple[int, int]] = []
    for v, at, key in asked:
        index = got[(tag, "grams", *at)].ids
        hits = [index[g] for g in grams(key) if g in index]
        if not hits:
            continue
        sids, counts = np.unique(np.concatenate(hits), return_counts=True)
        ok = counts >= 2
        sids, counts = sids[ok], counts[ok]
        top = np.lexsort((sids, -counts))[:per_query]
        picked += [(v, int(sid)) for sid in sids[top]]
    rows = _name_rows(gaz, "street_id", [(None, sid) for _, sid in dict.fromkeys(picked)])
    return _ordered([(v, row) for v, sid in picked for row in rows[(None, sid)]])


# --------------------------------------------------------------------------- house-number evidence


class _Street:
    """One street's addresses, point averages, unit points and ranges, as the evidence SQL reads them."""

    __slots__ = ("addresses", "base", "units", "segments", "by_parity", "n_rows")

    def __init__(self) -> None:
        self.addresses: dict[str, tuple] = {}        # number -> (n_units, has_base, lat, lon)
        self.base: dict[str, tuple] = {}             # number -> (lat, lon) of its points without a unit
        self.units: dict[str, list[tuple]] = {}      # number -> [(hit, spelled, lat, lon)]
        self.segments: list[tuple] = []              # (seg, fl, tl, fr, tr, pl, pr, sided, geom)
        self.by_parity: dict[int, tuple] = {}        # parity -> (number_int, hash of number, lat, lon) arrays
        self.n_rows = 0

    def __len__(self) -> int:
        return self.n_rows


def _fetch_streets(gaz: Gazetteer, sizes: dict[int, tuple[int, int]]) -> dict[int, _Street]:
    """The rows of streets (id -> (n_points, n_segments)): points and ranges only where they have some."""
    streets = {sid: _Street() for sid in sizes}
    pointed = [sid for sid, (n_points, _) in sizes.items() if n_points > 0]
    ranged = [sid for sid, (_, n_segments) in sizes.items() if n_segments > 0]
    for part, text in sql.STREET_ROWS_SQL.items():
        ids = ranged if part == "segments" else pointed
        if not ids:
            continue
        t = sql.run_columns(gaz, text, None, sql.street_rows_params(ids))
        sids = t.pop("street_id")
        for i, sid in enumerate(sids):
            st = streets[sid]
            st.n_rows += 1
            if part == "addresses":
                number = t["number"][i]
                st.addresses[number] = (t["n_units"][i], t["has_base"][i], t["lat"][i], t["lon"][i])
                if t["has_base"][i]:
                    st.base[number] = (t["base_lat"][i], t["base_lon"][i])
                if t["unit_points"][i]:
                    st.units[number] = [(u["hit"], u["spelled"], u["lat"], u["lon"]) for u in t["unit_points"][i]]
            else:
                st.segments.append(tuple(t[k][i] for k in ("seg", "from_left", "to_left", "from_right", "to_right",
                                                            "parity_left", "parity_right", "sided", "geom")))
        if part == "addresses":
            _index_numbers(streets, sids, t)
    return streets


def _index_numbers(streets: dict[int, _Street], sids: list[int], t: dict) -> None:
    """Each street's numbered addresses with a position, by parity, sorted as the neighbour
    query's ``arg_max`` / ``arg_min`` order them (``sql.NUMBER_ORDER``: integer, then hash)."""
    rows: dict[tuple[int, int], list] = {}
    for i, sid in enumerate(sids):
        n = t["number_int"][i]
        if n is not None and t["lat"][i] is not None and t["lon"][i] is not None:
            rows.setdefault((sid, n % 2), []).append((n, t["nhash"][i], t["lat"][i], t["lon"][i]))
    for (sid, parity), rs in rows.items():
        rs.sort(key=lambda r: (r[0], r[1]))
        streets[sid].by_parity[parity] = (np.asarray([r[0] for r in rs], np.int64), [r[1] for r in rs],
                                          [r[2] for r in rs], [r[3] for r in rs])


def _streets_of(gaz: Gazetteer, sizes: dict[int, tuple[int, int]]) -> dict[int, _Street]:
    tag = gaz.key
    got = _streets.get_many([(tag, sid) for sid in sizes],
                            lambda miss: {(tag, sid): st for sid, st in
                                          _fetch_streets(gaz, {m[1]: sizes[m[1]] for m in miss}).items()})
    return {sid: got[(tag, sid)] for sid in sizes}




def _parity_ok(parity: str | None, n: int) -> bool:
    return parity is None or parity == "B" or (parity == "O" and n % 2 == 1) or (parity == "E" and n % 2 == 0)


def evidence(gaz: Gazetteer, c: pa.Table, n_points: list[int], n_segments: list[int]) -> dict[str, pa.Table]:
    """``sql.evidence_sql`` for a few questions ``c`` (cid, street_id, number, number_int,
    units_try; every number_int set) on streets of ``n_points`` and ``n_segments``, one table
    per part."""
    t = c.to_pydict()
    streets = _streets_of(gaz, {sid: (npt, nsg) for sid, npt, nsg in zip(t["street_id"], n_points, n_segments)})
    rows: dict[str, list[tuple]] = {name: [] for name in sql.EVIDENCE_SCHEMAS}
    for cid, sid, number, n, tries in zip(t["cid"], t["street_id"], t["number"], t["number_int"], t["units_try"]):
        st = streets[sid]
        spellings = [(number, True)] + ([(str(n), False)] if str(n) != number else [])
        for num, exact in spellings:
            a = st.addresses.get(num)
            if a is not None:
                rows["point"].append((cid, exact, *a))
        if number in st.base:
            rows["base"].append((cid, *st.base[number]))
        if tries:
            for num, exact in spellings:
                rows["unit"] += [(cid, exact, *u) for u in st.units.get(num, ()) if u[0] in tries]
        same = st.by_parity.get(n % 2)
        if same is not None:
            rows["neighbour"].append((cid, *_neighbours(same, n)))
        segments = st.segments if number not in st.addresses else ()   # no range where the address is known
        for seg, fl, tl, fr, tr, pl, pr, sided, geom in segments:
            for side, a, b, parity in (("L", fl, tl, pl), ("R", fr, tr, pr)):
                ends = [x for x in (a, b) if x is not None]       # least / greatest skip a NULL end
                if ends and min(ends) <= n <= max(ends):
                    rows["range"].append((cid, seg, side, a, b, _parity_ok(parity, n), sided, geom))
    return {name: pa.table([pa.array(col, f.type) for col, f in zip(list(zip(*rs)) or [[] for _ in schema], schema)],
                           schema=schema)
            for (name, rs), schema in ((kv, sql.EVIDENCE_SCHEMAS[kv[0]]) for kv in rows.items())}


def _neighbours(same: tuple, n: int) -> tuple:
    """(lo_n, lo_lon, lo_lat, hi_n, hi_lon, hi_lat): the last address below ``n`` and the first
    above it in ``NUMBER_ORDER``."""
    ints, _, lats, lons = same
    lo = int(np.searchsorted(ints, n, side="left")) - 1
    hi = int(np.searchsorted(ints, n, side="right"))
    low = (int(ints[lo]), lons[lo], lats[lo]) if lo >= 0 else (None, None, None)
    high = (int(ints[hi]), lons[hi], lats[hi]) if hi < len(ints) else (None, None, None)
    return (*low, *high)


class MemoryBackend:
    """The backend for a few queries: ``backends.Backend`` answered from cached rows."""

    name = "memory"

    def __init__(self, gaz: Gazetteer):
        self.gaz = gaz

    def exact_candidates(self, q: pa.Table, per_query: int) -> pa.Table:
        return exact_candidates(self.gaz, q, per_query)

    def fuzzy_candidates(self, pairs: pa.Table, q: pa.Table) -> pa.Table:
        return pair_and_sound_candidates(self.gaz, pairs, q)

    def trigram_candidates(self, q: pa.Table, per_query: int) -> pa.Table:
        """From the states' trigram indexes where their name tables ``fits``, else the SQL.
        Spellings with no place at all find nothing either way, and are not asked."""
        cols = q.select(["state", "postal_code", "city"]).to_pydict()
        q = q.filter(pa.array([placed(*row) for row in zip(cols["state"], cols["postal_code"], cols["city"])],
                              pa.bool_()))
        if fits(self.gaz, set(q["state"].to_pylist())):
            return trigram_candidates(self.gaz, q, per_query)
        return sql.run(self.gaz, sql.trigram_candidates_sql(), {"_r": q}, [per_query])

    def evidence(self, c: pa.Table, n_points: np.ndarray, n_segments: np.ndarray) -> dict[str, pa.Table]:
        return evidence(self.gaz, c, n_points.tolist(), n_segments.tolist())
