"""Confirmed addresses: operator decisions kept and honoured on later orders (issue 17).

An operator's ``accept`` / ``edit`` / ``hold`` on an order (the review form of an import, or a
review queue CSV applied in bulk) is kept in a small DuckDB file beside the gazetteer, with who
decided, when, on which batch, the input as written and its normalized key, and the cleaned
result. Later orders whose input has the same key take the decision (``honour``), on both match
paths: the hook sits in ``pipeline.clean_table`` between parse and match. Rows are kept only as
long as the risk policy's ``retention_days`` and can be erased for an address or a customer.

Modules: ``keys`` (the input's normalized key), ``store`` (the file: append, revoke, list,
purge, erase), ``honour`` (the pipeline hook), ``record`` (decisions -> store rows, from the
review form and from an edited review CSV).
"""
