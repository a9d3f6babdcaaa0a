"""Loaded once by the fork server that batch worker processes fork from (``parallel.py``).

Importing this module loads what every worker needs: the parser's ZIP and city tables.
Workers forked afterwards share them copy-on-write. libpostal's model is not loaded here: a
worker would wait for it before its first chunk, though the rules parser and usaddress read
nearly every string; the batch's libpostal server holds it (``libpostal_server``). Nothing
here opens the gazetteer: DuckDB starts threads, and a process with threads must not fork.
Nothing may fail here (Python's fork server dies on any error but ImportError from its
preload, and the pool then fails with a bare connection error): what cannot be loaded now is
left to the workers, which load it themselves or raise the usual error when they need it.
"""

from __future__ import annotations

import contextlib

from addressing.parse import load_tables

with contextlib.suppress(Exception):
    load_tables()
