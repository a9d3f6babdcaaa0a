"""Order a window of input rows by locality, so that each chunk holds nearby orders.

The gazetteer keeps its streets in (country, state, ZIP) order (``gazetteer.derive``), and a
chunk's evidence queries read only the row groups between its candidates' lowest and highest
street ids. Chunks of orders drawn from the whole country read the whole file; chunks of
orders from a few neighbouring ZIPs read a few row groups, so a batch costs what its orders
need whatever the size of the gazetteer.

The key is read from the raw text without parsing: the last five-digit group of the address
(or the ``postal_code`` column) and the state that ZIP belongs to, else the ``state`` column or
the last state name or abbreviation on the line (notes, phone numbers and units often follow
it). It only decides which chunk an order is cleaned in, never its answer; rows without either
sort last, in input order.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from addressing.parse import places
from addressing.parse.standardize import state_code

#: the last ZIP-like group of a line: five digits, optionally ``-`` and four more
_LAST_ZIP = r".*\b(?P<zip>\d{5})(?:-\d{4})?\b"
_WORDS = re.compile(r"[A-Za-z]+")
#: the longest state name in words (``District of Columbia``)
_STATE_WORDS = 3
#: sorts after every ``STATE|ZIP`` key
UNKNOWN = "~"


def _column(raw: pa.Table, name: str) -> list[str | None] | None:
    return raw.column(name).cast(pa.string()).to_pylist() if name in raw.column_names else None


def _captured(values: pa.Array, pattern: str, group: str) -> list[str | None]:
    found = pc.extract_regex(pc.fill_null(values.cast(pa.string()), ""), pattern)
    return [None if v is None else v[group] for v in found.to_pylist()]


def locality_keys(raw: pa.Table) -> list[str]:
    """``STATE|ZIP`` (or ``STATE|``, or ``UNKNOWN``) per row of a raw orders table."""
    n = raw.num_rows
    lines = raw.column("address") if "address" in raw.column_names else None
    zips = _column(raw, "postal_code")
    if zips is None:
        zips = _captured(lines, _LAST_ZIP, "zip") if lines is not None else [None] * n
    states = _column(raw, "state")
    texts = lines.cast(pa.string()).to_pylist() if states is None and lines is not None else [None] * n
    keys = []
    for i, z in enumerate(zips):
        z = z.strip()[:5] if z else None
        info = places.zip_info(z) if z and z.isdigit() else None
        state = info.state if info else state_code(states[i]) if states is not None else _last_state(texts[i])
        keys.append(f"{state}|{z if info else ''}" if state else UNKNOWN)
    return keys


def _last_state(line: str | None) -> str | None:
    """The state named last on a line: the last run of one to three words that is a state's
    name or abbreviation (``TX``, ``Texas``, ``North Carolina``)."""
    if not line:
        return None
    words = _WORDS.findall(line)
    for end in range(len(words), 0, -1):
        for size in range(min(_STATE_WORDS, end), 0, -1):
            state = state_code(" ".join(words[end - size:end]))
            if state:
                return state
    return None


def locality_order(raw: pa.Table) -> np.ndarray:
    """Row positions of ``raw`` sorted by ``locality_keys`` (input order among equal keys)."""
    keys = locality_keys(raw)
    return np.asarray(sorted(range(len(keys)), key=keys.__getitem__), dtype=np.int64)
