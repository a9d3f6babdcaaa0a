"""Assemble: a file's cleaned chunks -> the cleaned batch and its review queue.

The batch-wide rule runs here, where every chunk is seen: ``shared_address`` counts the
customers of each address over the whole file. Rows are checked on the way (every input row
once, in input order) and counted for the manifest, which is written after this (``manifest``).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from addressing import io as aio
from addressing.batch.chunks import query_chunks
from addressing.batch.manifest import Assembled, Counts
from addressing.batch.outputs import output_format, output_paths
from addressing.batch.plan import Plan
from addressing.errors import OutputError
from addressing.pipeline import review_table
from addressing.risk import RiskContext, risk_context, sort_by_severity
from addressing.risk.config import SEVERITIES, RuleConfig
from addressing.schema import output_schema

KEY_COLUMN = aio.ADDRESS_KEY
CUSTOMER_COLUMN = aio.CUSTOMER
#: columns of the cleaned chunks that the outputs never show
HIDDEN = (KEY_COLUMN, CUSTOMER_COLUMN, aio.ROW)


def shared_keys(chunk_outs: list[Path], min_customers: int) -> dict[str, int]:
    """Address keys that appear on orders of at least ``min_customers`` customers, batch-wide."""
    sql = (f"SELECT {KEY_COLUMN}, count(DISTINCT {CUSTOMER_COLUMN}) AS n FROM chunks "
           f"WHERE {KEY_COLUMN} IS NOT NULL AND {CUSTOMER_COLUMN} IS NOT NULL GROUP BY 1 HAVING n >= ?")
    return dict(query_chunks(chunk_outs, [KEY_COLUMN, CUSTOMER_COLUMN], sql, [min_customers]))


def batch_shared(chunk_outs: list[Path], risk: RiskContext) -> dict[str, int]:
    """The shared addresses of a file's chunks, as its risk policy counts them (none when the
    rule is off)."""
    if not risk.policy.enabled("shared_address"):
        return {}
    return shared_keys(chunk_outs, int(risk.policy.rule("shared_address").params["min_customers"]))


def apply_shared_address(table: pa.Table, shared: dict[str, int], rule: RuleConfig,
                         action_for: dict[str, str]) -> pa.Table:
    """Flag rows whose address is shared batch-wide; raise their level and action to match.

    The flag joins the row's others in severity order (worst first), as ``assess`` left them.
    """
    if not shared:
        return table
    hit = pc.is_in(table.column(KEY_COLUMN), value_set=pa.array(list(shared), pa.string()))
    rows = np.flatnonzero(pc.fill_null(hit, False).to_numpy(zero_copy_only=False))
    if not rows.size:
        return table
    take = pa.array(rows)
    keys = table.column(KEY_COLUMN).take(take).to_pylist()
    flags = table.column("risk_flags").take(take).to_pylist()
    reasons = table.column("risk_reasons").take(take).to_pylist()
    levels = table.column("risk_level").take(take).to_pylist()
    severity_of = {**rule.peer_severity, rule.code: rule.severity}
    changed = np.zeros(len(rows), bool)
    for i, k in enumerate(keys):
        if "shared_address" not in (flags[i] or []):
            flags[i], reasons[i] = sort_by_severity((flags[i] or []) + [rule.code],
                                                    (reasons[i] or []) + [rule.message.format(n_customers=shared[k])],
                                                    severity_of)
            if SEVERITIES.index(rule.severity) > SEVERITIES.index(levels[i]):
                levels[i] = rule.severity
            changed[i] = True
    if not changed.any():
        return table
    actions = [action_for[lv] for lv in levels]
    # the changed rows get their new values, every other row keeps its own
    where = np.full(table.num_rows, -1, np.int64)
    where[rows[changed]] = np.flatnonzero(changed)
    pick = pa.array(np.where(where >= 0, where, 0))
    is_new = pa.array(where >= 0)
    for name, values in (("risk_flags", flags), ("risk_reasons", reasons), ("risk_level", levels),
                         ("action", actions)):
        i = table.schema.get_field_index(name)
        new = pa.array(values, table.schema.field(name).type).take(pick)
        table = table.set_column(i, name, pc.if_else(is_new, new, table.column(name).combine_chunks()))
    return table


def load_chunks(plan: Plan, risk: RiskContext, shared: dict[str, int]) -> list[pa.Table]:
    """The cleaned chunk tables with the batch-wide rule applied, as ``assemble`` writes them."""
    rule = risk.policy.rule("shared_address")
    return [apply_shared_address(pq.read_table(p), shared, rule, risk.policy.action_for) for p in plan.outputs()]


def assemble(plan: Plan, output: str | Path, fmt: str | None = None, risk_policy: str | Path | None = None,
             redact: bool = False) -> Assembled:
    """Join the cleaned chunks into the cleaned batch and its review queue.

    The old manifest is removed before any output is replaced, so a manifest on disk always
    describes the files beside it (its checksums match them); outputs without a manifest are
    an unfinished run. ``redact`` blanks the addresses in the review queue (the cleaned batch
    keeps them).
    """
    t0 = time.perf_counter()
    output = Path(output)
    fmt = output_format(output, fmt)
    paths = output_paths(output)
    outs = plan.outputs()
    missing = [p.name for p in outs if not p.exists()]
    if missing:
        raise OutputError(f"chunks not cleaned yet: {', '.join(missing[:5])}")
    paths["manifest"].unlink(missing_ok=True)
    risk = risk_context(risk_policy)
    shared = batch_shared(outs, risk)
    rule = risk.policy.rule("shared_address")
    counts = Counts()
    reviews: list[pa.Table] = []
    schema = output_schema(_union_schema(outs))
    writer = aio.BatchWriter(paths["output"], fmt, schema)
    last_row = 0
    try:
        for window in plan.window_outputs():
            table = _in_input_order([pq.read_table(p) for p in window])
            last_row = _check_order(table, last_row, window[-1] if len(window) == 1 else window[0].parent)
            table = apply_shared_address(table, shared, rule, risk.policy.action_for)
            table = _conform(table.drop_columns([c for c in HIDDEN if c in table.column_names]), schema)
            writer.write(table)
            counts.add(table)
            rv = review_table(table)
            if rv.num_rows:
                reviews.append(rv)
        if writer.rows != plan.rows:
            raise OutputError(f"{plan.input}: {plan.rows} rows read but {writer.rows} cleaned; rerun the batch")
        writer.close()
    except BaseException:
        writer.abort()
        raise
    review = review_table(pa.concat_tables(reviews)) if reviews else pa.table(
        {c: pa.array([], pa.string()) for c in ("order_id", "action")})
    if redact:
        review = aio.redact(review)
    with aio.atomic_path(paths["review"]) as tmp:
        aio.write_csv(review, tmp)
    return Assembled(paths, fmt, writer.rows, review.num_rows, redact, counts, shared, time.perf_counter() - t0)


def _union_schema(outs: list[Path]) -> pa.Schema:
    """The columns of all chunks in order of first appearance (a JSON Lines key first seen in
    a later chunk is a column of the whole batch, empty before it)."""
    fields: dict[str, pa.Field] = {}
    for path in outs:
        for f in pq.read_schema(path):
            if f.name not in fields and f.name not in HIDDEN:
                fields[f.name] = f
    return pa.schema(list(fields.values()))


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    for f in schema:
        if f.name not in table.column_names:
            table = table.append_column(f, pa.nulls(table.num_rows, f.type))
    return table.select(schema.names)


def _in_input_order(tables: list[pa.Table]) -> pa.Table:
    """The cleaned chunks of one window as one table in input row order (a window's rows are
    spread over its chunks by locality, ``plan.split_input``)."""
    if len(tables) == 1:
        return tables[0]
    table = pa.concat_tables(tables, promote_options="default")
    if aio.ROW not in table.column_names:
        return table
    return table.take(pc.sort_indices(table.column(aio.ROW)))


def _check_order(table: pa.Table, last_row: int, path: Path) -> int:
    """Input row numbers must rise strictly across the whole batch: no row repeated or reordered."""
    if aio.ROW not in table.column_names or table.num_rows == 0:
        return last_row
    rows = table.column(aio.ROW).to_numpy()
    if rows[0] <= last_row or (len(rows) > 1 and not (rows[1:] > rows[:-1]).all()):
        raise OutputError(f"{path.name}: input rows repeated or out of order; rerun the batch")
    return int(rows[-1])
