"""A bounded LRU cache of gazetteer rows, shared by the threads of a worker (the in-memory
backend's street rows, the ZIP and city blocks, the localities); ``every_cache`` lists them all
(``clear_all`` empties them: for cold-start measurements and tests)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable

#: rows a cache keeps before it forgets the least recently used keys: a cached row of street names
#: or addresses is a few hundred bytes in Python, so a full cache is tens of MB, and the matcher's
#: six caches stay within a few hundred MB per worker, far more than a day's deliveries touch
CACHE_ROWS = 100_000


_caches: list[RowCache] = []


def every_cache() -> list[RowCache]:
    """Every row cache of this process."""
    return list(_caches)


def clear_all() -> None:
    """Forget every cached row of this process."""
    for cache in _caches:
        cache.clear()


class RowCache:
    """An LRU map from keys to row collections, bounded by the total number of rows held
    (``rows``: each key's ``len`` + 1); ``len`` is the number of keys."""

    def __init__(self, max_rows: int = CACHE_ROWS):
        self.max_rows = max_rows
        self._d: OrderedDict[Hashable, list] = OrderedDict()
        self._rows = 0
        self._lock = threading.Lock()
        _caches.append(self)

    @property
    def rows(self) -> int:
        return self._rows

    def __len__(self) -> int:
        return len(self._d)

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
