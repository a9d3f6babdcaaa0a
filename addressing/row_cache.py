"""A bounded LRU cache of gazetteer rows, shared by the threads of a worker."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable

#: rows a cache keeps before it forgets the least recently used keys: 25-50 MB a cache (a cached
#: row of street names or addresses is 230-470 bytes in Python, a name table's indexes add ~a
#: third; sizes from tracemalloc, ad hoc); six caches, so at most ~300 MB per worker. 6,000 single
#: orders over the San Francisco and Oakland sample in ../shared/data left 18k rows in them
CACHE_ROWS = 100_000


class RowCache:
    """An LRU map from keys to row collections, bounded by the total number of rows (``len``) held."""

    def __init__(self, max_rows: int = CACHE_ROWS):
        self.max_rows = max_rows
        self._d: OrderedDict[Hashable, list] = OrderedDict()
        self._rows = 0
        self._lock = threading.Lock()

    def get_many(self, keys: Iterable[Hashable], fetch: Callable[[list], dict[Hashable, list]]) -> dict[Hashable, list]:
        """The rows of every key; ``fetch(missing_keys)`` gets the others in one go (a key it
        leaves out has no rows, and that is cached too)."""
        out: dict[Hashable, list] = {}
        missing = []
        with self._lock:
            for k in dict.fromkeys(keys):
                hit = self._d.get(k)
                if hit is None:
                    missing.append(k)
                else:
                    self._d.move_to_end(k)
                    out[k] = hit
        if missing:
            found = fetch(missing)
            with self._lock:
                for k in missing:
                    rows = found.get(k, [])
                    out[k] = rows
                    old = self._d.pop(k, None)
                    self._rows += len(rows) + 1 - (len(old) + 1 if old is not None else 0)
                    self._d[k] = rows
                while self._rows > self.max_rows and len(self._d) > 1:
                    _, rows = self._d.popitem(last=False)
                    self._rows -= len(rows) + 1
        return out

    def clear(self) -> None:
        with self._lock:
            self._d.clear()
            self._rows = 0
