"""Loaded once by the fork server that batch worker processes fork from (``parallel.py``).

Importing this module loads what every worker needs: the parser's ZIP and city tables and
the libpostal model (8 s and 2 GB each time it is loaded). Workers forked afterwards share
them copy-on-write, so a batch on N processes loads libpostal once, not N times. Nothing
here opens the gazetteer: DuckDB starts threads, and a process with threads must not fork.
A model that is not installed is left to the workers, which raise the usual error the
first time a string needs it.
"""

from __future__ import annotations

import contextlib

from addressing import libpostal
from addressing.errors import ModelError
from addressing.parse import load_tables

load_tables()
with contextlib.suppress(ModelError):
    libpostal.load()
