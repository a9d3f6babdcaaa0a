"""Loaded once by the fork server that batch worker processes fork from (``parallel.py``).

Importing this module loads what every worker needs: the parser's ZIP and city tables and
the libpostal model (8 s and 2 GB each time it is loaded). Workers forked afterwards share
them copy-on-write, so a batch on N processes loads libpostal once, not N times. Nothing
here opens the gazetteer: DuckDB starts threads, and a process with threads must not fork.
Nothing may fail here (Python's fork server dies on any error but ImportError from its
preload, and the pool then fails with a bare connection error): what cannot be loaded now,
a model not installed for one, is left to the workers, which load it themselves or raise
the usual error the first time a string needs it.
"""

from __future__ import annotations

import contextlib

from addressing import libpostal
from addressing.parse import load_tables

with contextlib.suppress(Exception):
    load_tables()
with contextlib.suppress(Exception):
    libpostal.load()
