"""Re-check: orders still waiting on a human, cleaned again after the gazetteer changed.

A refresh may make orders of recent batches resolvable (a new source has their address) or
change them otherwise. ``recheck`` finds the finished outputs (their manifests) under an output
root written in the last ``days`` days, takes the orders whose action is ``review`` or
``hold``, cleans them again against the current gazetteer through the same pipeline
(``pipeline.clean_table``: operators' decisions apply as they would tonight) and compares the
results on what routing and operators act on (``changes``). The orders whose result changed
are written as a small output of their own for routing (``outputs.recheck_output``: the same
columns and format, a review queue and a manifest beside it, written atomically through the
batch's own ``assemble`` and ``write_manifest``). Orders whose result did not change are
written nowhere, and the outputs re-checked are never touched.

Each order is judged by its newest result: its row in the output, or its row in the latest
finished re-check of another gazetteer version, so a later re-check reports only what changed
since. A re-check of one output against one version is one set of files: running it again
rewrites the same bytes.

Where the rows come from: the batch's input rows, when the manifest's input file is still
there with the same SHA-256, so the re-check reads what the batch read (split fields, the
country column as a hint, a reader's problem with a line); else the output's own ``input``
line (the same text the batch parsed; a split-field input then loses only its country column as
a separate hint). The passthrough columns are the output's either way: they are the input's,
exactly, by contract.

Only Parquet outputs are re-checked (the default of every flow and of ``addressing clean``): the
old results are read back from them exactly. Only outputs cleaned with this gazetteer file are
(the manifest's gazetteer path names it). Others are listed as skipped, with the reason.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from addressing import io as aio
from addressing.batch.assembly import CUSTOMER_COLUMN, HIDDEN, KEY_COLUMN, apply_shared_address, assemble
from addressing.batch.changes import Change, change
from addressing.batch.lock import output_lock
from addressing.batch.manifest import write_manifest
from addressing.batch.outputs import RECHECK_FOLDER, output_paths, recheck_output, recheck_outputs
from addressing.batch.plan import WORK_FOLDER, Plan, remove_work, work_root
from addressing.errors import ConfigError, InputError, LockHeldError, OutputError
from addressing.gazetteer import Gazetteer, open_gazetteer
from addressing.pipeline import FATAL_PROBLEMS, clean_table_isolating
from addressing.risk import RiskContext, address_key, risk_context
from addressing.schema import OUTPUT_NAMES

#: the actions of the orders a re-check cleans again: those waiting on a human
RECHECKED_ACTIONS = ("review", "hold")
#: the default window: the refresh runs weekly (prefect.yaml), so a week reaches every batch
#: written since the refresh before
DEFAULT_DAYS = 7
SECONDS_PER_DAY = 86_400
MANIFEST_SUFFIX = ".manifest.json"
#: the only output format whose old results are read back exactly
READABLE_FORMAT = "parquet"
#: the column the Parquet writer adds for GeoParquet readers; not part of the record
GEOMETRY = "geometry"
#: the fields ``address_key`` reads, in its order
KEY_FIELDS = ("house_number", "predirectional", "street_name", "street_type", "postdirectional", "unit", "po_box",
              "postal_code")
ZIP5 = 5
log = logging.getLogger(__name__)


@dataclass
class FileRecheck:
    """One output re-checked: how many of its orders were cleaned again, which changed, and
    where those were written (``None``: none changed)."""

    manifest: Path
    output: Path
    batch_id: str | None
    redacted: bool
    checked: int
    #: ``input``: the batch's input rows; ``output``: the output's ``input`` lines
    source: str | None
    changes: list[Change] = field(default_factory=list)
    written: Path | None = None


@dataclass(frozen=True)
class Skipped:
    """An output (or a file that looked like one) the re-check left alone, and why."""

    path: Path
    reason: str


@dataclass
class RecheckResult:
    """What a re-check did: the outputs it re-checked, those it skipped, those already cleaned
    with this version (``current``)."""

    gazetteer_version: str
    days: int
    files: list[FileRecheck] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    current: int = 0
    seconds: float = 0.0

    @property
    def checked(self) -> int:
        return sum(f.checked for f in self.files)

    @property
    def changes(self) -> list[Change]:
        return [c for f in self.files for c in f.changes]

    @property
    def written(self) -> list[Path]:
        return [f.written for f in self.files if f.written is not None]

    def as_dict(self) -> dict:
        """Plain data (a flow's return value, JSON)."""
        return {"gazetteer_version": self.gazetteer_version, "days": self.days, "outputs": len(self.files),
                "checked": self.checked, "changed": len(self.changes), "current": self.current,
                "written": [str(p) for p in self.written], "seconds": round(self.seconds, 3),
                "skipped": [{"path": str(s.path), "reason": s.reason} for s in self.skipped],
                "changes": [c.as_dict() for c in self.changes]}


@dataclass(frozen=True)
class Finished:
    """A finished output found under the output root: its manifest, read, and when it was written."""

    manifest_path: Path
    manifest: dict
    output: Path
    written_at: float


def recheck(output_root: str | Path, db: str | Path, days: int = DEFAULT_DAYS,
            risk_policy: str | Path | None = None, now: float | None = None) -> RecheckResult:
    """Clean the ``review`` and ``hold`` orders of the outputs under ``output_root`` finished in
    the last ``days`` days (by their manifest's time) again against the gazetteer ``db``, and
    write those whose result changed beside each output (``outputs.recheck_output``).

    ``risk_policy`` must be the one the batches were cleaned with (a different one changes
    results by itself). ``days`` 0 re-checks nothing; ``now`` (epoch seconds, default: now) is
    where the window ends. A missing or unreadable output root, a
    broken gazetteer or policy raise; an output that cannot be re-checked (not Parquet, cleaned
    with another gazetteer, being rewritten, changed since its manifest) is skipped and listed
    with the reason.
    """
    started = time.perf_counter()
    if days < 0:
        raise ConfigError(f"must be 0 or more, not {days}", key="days")
    root = Path(output_root)
    if not root.exists():
        raise InputError("no such folder (the output root to re-check)", str(root))
    if not root.is_dir():
        raise InputError("is not a folder (the output root to re-check)", str(root))
    risk = risk_context(None if risk_policy is None else str(risk_policy))
    gaz = open_gazetteer(db)
    result = RecheckResult(gaz.version, days)
    if days == 0:
        return result
    since = (time.time() if now is None else now) - days * SECONDS_PER_DAY
    found, result.skipped = finished_outputs(root, since)
    for f in found:
        done = _recheck_output(f, gaz, risk, root, Path(db), None if risk_policy is None else str(risk_policy))
        if isinstance(done, Skipped):
            result.skipped.append(done)
        elif done is None:
            result.current += 1
        else:
            result.files.append(done)
    result.seconds = time.perf_counter() - started
    log.info("re-check against gazetteer %s: %d output(s), %d order(s) cleaned again, %d changed, %d skipped",
             gaz.version, len(result.files), result.checked, len(result.changes), len(result.skipped))
    return result


def written_since(root: Path, since: float) -> list[dict]:
    """The manifests of the re-checks under ``root`` (one batch folder deep, as the nightly
    flow writes) whose manifest was written at or after ``since`` (a Unix time)."""
    found = []
    for m in sorted(root.glob(f"*/{RECHECK_FOLDER}/*/*.manifest.json")):
        if m.stat().st_mtime >= since:
            data = json.loads(m.read_text(encoding="utf-8"))
            if "recheck" in data:
                found.append(data)
    return found


def finished_outputs(root: Path, since: float) -> tuple[list[Finished], list[Skipped]]:
    """The finished outputs under ``root`` whose manifest was written at ``since`` or later,
    oldest first; and the manifests that cannot be read. Work folders, re-checks and symlinks
    are not looked into."""
    found: list[Finished] = []
    skipped: list[Skipped] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != RECHECK_FOLDER and d != WORK_FOLDER and not d.startswith("."))
        for name in sorted(files):
            path = Path(folder) / name
            if not name.endswith(MANIFEST_SUFFIX) or name.startswith(".") or path.is_symlink():
                continue
            try:
                written_at = path.stat().st_mtime
                if written_at < since:
                    continue
                manifest = json.loads(path.read_text(encoding="utf-8"))
                cleaned = manifest["outputs"]["cleaned"]
                output = path.parent / Path(cleaned["path"]).name
            except (OSError, ValueError, KeyError, TypeError) as exc:
                skipped.append(Skipped(path, f"not a readable manifest ({type(exc).__name__}: {exc})"))
                continue
            found.append(Finished(path, manifest, output, written_at))
    found.sort(key=lambda f: (f.written_at, str(f.manifest_path)))
    return found, skipped


def _same_gazetteer(recorded: str | None, db: Path) -> bool:
    """Whether a manifest's gazetteer path names the file ``db`` (a relative path is taken from
    the current folder, as the batch took it from the folder it ran in). A path not found from
    here is not guessed at: two gazetteers of one name in different folders are not one."""
    if not recorded:
        return False
    try:
        return os.path.samefile(recorded, db)
    except OSError:
        return False


def _recheck_output(f: Finished, gaz: Gazetteer, risk: RiskContext, root: Path, db: Path,
                    risk_policy: str | None) -> FileRecheck | Skipped | None:
    """One output re-checked; ``None`` when it was cleaned with this gazetteer version."""
    m = f.manifest
    if (m.get("gazetteer") or {}).get("version") == gaz.version:
        return None
    if m["outputs"]["cleaned"].get("format") != READABLE_FORMAT:
        return Skipped(f.output, f"a {m['outputs']['cleaned'].get('format')} output: the re-check reads its "
                                 f"old results back from {READABLE_FORMAT} outputs only")
    recorded = (m.get("gazetteer") or {}).get("path")
    if not _same_gazetteer(recorded, db):
        return Skipped(f.output, f"cleaned with the gazetteer {recorded}, which is not {db} (a relative path is "
                                 "taken from the current folder: run the re-check where the batches ran)")
    if not f.output.is_file():
        return Skipped(f.output, "its manifest is there but the output is not")
    try:
        with output_lock(f.output):
            return _recheck_locked(f, gaz, risk, root, db, risk_policy)
    except LockHeldError:
        return Skipped(f.output, "a run is writing this batch; re-check it once that run is done (addressing recheck)")


def _recheck_locked(f: Finished, gaz: Gazetteer, risk: RiskContext, root: Path, db: Path,
                    risk_policy: str | None) -> FileRecheck | Skipped:
    m = f.manifest
    sha = aio.sha256_file(f.output)
    if sha != m["outputs"]["cleaned"].get("sha256"):
        return Skipped(f.output, "changed since its manifest was written; rerun its batch")
    batch_id = m.get("batch_id")
    redacted = bool((m["outputs"].get("review") or {}).get("redacted"))
    done = FileRecheck(f.manifest_path, f.output, batch_id, redacted, 0, None)
    output = pq.ParquetFile(f.output)
    names = [n for n in output.schema_arrow.names if n != GEOMETRY]
    newest = _newest_results(f.output, sha, gaz.version)
    actions = output.read(columns=["action"]).column("action").to_numpy(zero_copy_only=False)
    waiting = set(np.flatnonzero(np.isin(actions, RECHECKED_ACTIONS)).tolist())
    for row, r in newest.items():  # an order a re-check changed waits (or not) by its newest result
        if r["action"] in RECHECKED_ACTIONS:
            waiting.add(row)
        else:
            waiting.discard(row)
    rows = sorted(waiting)
    if not rows:
        return done
    old = _take(output, rows, names)
    old_rows = old.to_pylist()
    for i, row in enumerate(rows):  # the newest result of each order is the one it is judged by
        if row in newest:
            old_rows[i] = newest[row]
    raw, done.source = _rows_to_clean(m, old, rows)
    new = clean_table_isolating(raw, gaz, risk, with_keys=True)
    if risk.policy.enabled("shared_address"):
        new = _with_shared_address(new, output, rows, newest, risk)
    new = _conform(new, old)
    new_rows = new.to_pylist()
    changed: list[int] = []
    for i, row in enumerate(rows):
        c = change(old_rows[i], new_rows[i], row, str(f.output), batch_id, redacted)
        if c is not None:
            done.changes.append(c)
            changed.append(i)
    done.checked = len(rows)
    if changed:
        done.written = _write(f, new.take(pa.array(changed, pa.int64())), [rows[i] for i in changed], sha, gaz,
                              root, db, risk_policy, redacted, done.source, len(rows))
    return done


def _newest_results(output: Path, sha: str, current_version: str) -> dict[int, dict]:
    """Row -> the newest re-checked result of that order of ``output``, from the finished
    re-checks of other gazetteer versions made of these exact bytes (``sha``), oldest applied
    first. The current version's own re-check is left out: running it again must find what it
    found the first time."""
    finished: list[tuple[float, str, Path, dict]] = []
    for path in recheck_outputs(output):
        if path.parent.name == current_version:
            continue
        manifest_path = output_paths(path)["manifest"]
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            of = manifest["recheck"]
            if of["of"]["sha256"] != sha:
                continue  # made of an earlier run of this output: its rows are other rows
            finished.append((manifest_path.stat().st_mtime, str(path), path, of))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # unfinished or not a re-check: nothing was handed to routing from it
    newest: dict[int, dict] = {}
    for _, _, path, of in sorted(finished, key=lambda x: (x[0], x[1])):
        table = pq.read_table(path)
        table = table.drop_columns([GEOMETRY]) if GEOMETRY in table.column_names else table
        if table.num_rows != len(of["rows"]):
            log.warning("%s: %d rows but its manifest names %d; left out", path, table.num_rows, len(of["rows"]))
            continue
        for row, r in zip(of["rows"], table.to_pylist()):
            newest[int(row)] = r
    return newest


def _take(pf: pq.ParquetFile, rows: list[int], columns: list[str]) -> pa.Table:
    """``rows`` (sorted positions) of a Parquet file, reading only the row groups that hold them."""
    parts = []
    start = 0
    wanted = np.asarray(rows, np.int64)
    for g in range(pf.metadata.num_row_groups):
        n = pf.metadata.row_group(g).num_rows
        here = wanted[(wanted >= start) & (wanted < start + n)] - start
        if here.size:
            parts.append(pf.read_row_group(g, columns=columns).take(pa.array(here)))
        start += n
    return pa.concat_tables(parts).replace_schema_metadata(None)


def _rows_to_clean(m: dict, old: pa.Table, rows: list[int]) -> tuple[pa.Table, str]:
    """The rows to clean again, as the readers give them: from the batch's input file when it is
    there unchanged, else from the output (see the module's docstring)."""
    from_input = _input_rows(m, rows, old)
    if from_input is not None:
        return from_input, "input"
    return _output_rows(old), "output"


def _input_rows(m: dict, rows: list[int], old: pa.Table) -> pa.Table | None:
    """``rows`` of the batch's input file, or ``None`` when it is gone, changed, or does not
    give the same orders in those rows."""
    given = (m.get("input") or {}).get("path")
    if not given:
        return None
    path = Path(given)
    try:
        if not path.is_file() or aio.sha256_file(path) != m["input"].get("sha256"):
            return None
        wanted = np.asarray(rows, np.int64)
        parts, start = [], 0
        for part in aio.read_orders(path):
            here = wanted[(wanted >= start) & (wanted < start + part.num_rows)] - start
            if here.size:
                parts.append(part.take(pa.array(here)))
            start += part.num_rows
    except (OSError, InputError) as exc:
        log.info("%s: input not read again (%s); re-checking from the output", path, exc)
        return None
    if start != m["input"].get("rows") or not parts:
        return None
    raw = pa.concat_tables(parts, promote_options="permissive")
    if raw.num_rows != old.num_rows or raw.column("order_id").to_pylist() != old.column("order_id").to_pylist():
        return None
    return raw


def _output_rows(old: pa.Table) -> pa.Table:
    """Rows to clean again made of an output's rows: its ``input`` line as the address (the text
    the batch parsed), its passthrough columns (a customer column among them: the batch-wide
    rule counts customers) and, where the reader had found a line broken, that problem again."""
    problems = [r if isinstance(r, str) and r.startswith(FATAL_PROBLEMS) else None
                for r in old.column("reason").to_pylist()]
    columns = {"order_id": old.column("order_id").cast(pa.string()),
               "address": old.column("input").cast(pa.string())}
    for name in old.column_names:
        if name not in OUTPUT_NAMES and name.lower() not in ("address", *aio.ADDRESS_PARTS):
            columns[name] = old.column(name)
    columns[aio.PROBLEM] = pa.array(problems, pa.string())
    return pa.table(columns)


def _with_shared_address(new: pa.Table, output: pq.ParquetFile, rows: list[int], newest: dict[int, dict],
                         risk: RiskContext) -> pa.Table:
    """``new`` with the batch-wide ``shared_address`` rule applied as the batch would count it
    now: the orders cleaned again under their new address, every other order of the output
    under its newest one. An order the batch left out of its count (its address is flagged
    shared on other orders but not on it: an operator accepted it) stays out."""
    rule = risk.policy.rule("shared_address")
    new_keys = new.column(KEY_COLUMN).to_pylist()
    new_customers = new.column(CUSTOMER_COLUMN).to_pylist()
    keys = {k for k in new_keys if k is not None}
    if not keys:
        return new
    customers: dict[str, set[str]] = {k: set() for k in keys}
    for k, c in zip(new_keys, new_customers):
        if k is not None and c is not None:
            customers[k].add(c)
    for k, c in _other_orders(output, rows, newest, keys, rule.params.get("customer_column")):
        customers[k].add(c)
    shared = {k: len(cs) for k, cs in customers.items() if len(cs) >= int(rule.params["min_customers"])}
    return apply_shared_address(new, shared, rule, risk.policy.action_for)


def _other_orders(output: pq.ParquetFile, rows: list[int], newest: dict[int, dict], keys: set[str],
                  customer_column: str | None) -> Iterable[tuple[str, str]]:
    """(address key, customer) of the output's orders not cleaned again whose newest result is
    at one of ``keys``, and that the batch counted."""
    names = {n.lower(): n for n in output.schema_arrow.names}
    customer = names.get((customer_column or "").lower())
    if customer is None:
        return []
    zips = pa.array(sorted({k.rsplit("|", 1)[-1] for k in keys}), pa.string())
    table = output.read(columns=[*KEY_FIELDS, "match_status", "risk_flags", customer])
    # only the orders in the ZIPs of the new keys can share one of them: the rest is not read as rows
    near = pc.is_in(pc.utf8_slice_codeunits(table.column("postal_code"), 0, ZIP5), value_set=zips)
    candidates = set(np.flatnonzero(pc.fill_null(near, False).to_numpy(zero_copy_only=False)).tolist())
    candidates |= set(newest)
    candidates -= set(rows)
    picked = sorted(candidates)
    view = table.take(pa.array(picked, pa.int64())).to_pylist()
    orders = [newest.get(row, r) for row, r in zip(picked, view)]
    at: list[tuple[str | None, str | None, bool]] = []
    for r in orders:
        k = None if r["match_status"] == "invalid" else address_key(*(r.get(f) for f in KEY_FIELDS))
        c = r.get(customer)
        at.append((k, None if c is None else str(c), "shared_address" in (r.get("risk_flags") or [])))
    flagged = {k for k, _, is_flagged in at if is_flagged and k is not None}
    return [(k, c) for k, c, is_flagged in at
            if k in keys and c is not None and (is_flagged or k not in flagged)]


def _conform(new: pa.Table, old: pa.Table) -> pa.Table:
    """The cleaned-again rows in the output's columns and types, with its passthrough columns
    (the input's, exactly, by contract: the same whether the rows came from the input or not)."""
    new = new.drop_columns([c for c in HIDDEN if c in new.column_names])
    columns = []
    for f in old.schema:
        if f.name not in OUTPUT_NAMES or f.name not in new.column_names:
            columns.append(old.column(f.name))
        else:
            columns.append(new.column(f.name).cast(f.type))
    return pa.Table.from_arrays(columns, schema=old.schema)


def _write(f: Finished, changed: pa.Table, rows: list[int], sha: str, gaz: Gazetteer, root: Path, db: Path,
           risk_policy: str | None, redacted: bool, source: str | None, checked: int) -> Path:
    """The changed orders as an output of their own, through the batch's assembly (review
    queue, atomic writes, a manifest written last that says which rows of which output they
    are); under the output's lock, taken by the caller, and the re-check's own."""
    started = time.time()
    target = recheck_output(f.output, gaz.version)
    for path in (target, *output_paths(target).values(), work_root(target)):
        aio.confine(path, root)
    work = work_root(target) / f"recheck-{gaz.version}"
    plan = Plan(f.output, work, [work / "in-00000.parquet"], sha, changed.num_rows)
    with output_lock(target):
        for path in output_paths(target).values():
            aio.remove_stale_parts(path)
        try:
            with aio.atomic_path(plan.outputs()[0]) as tmp:
                pq.write_table(changed, tmp, compression="zstd")
            done = assemble(plan, target, READABLE_FORMAT, risk_policy, redact=redacted)
            write_manifest(plan, done, db, gaz.version, f.manifest.get("batch_id"), started=started, extra={
                "recheck": {"of": {"output": str(f.output), "sha256": sha, "manifest": str(f.manifest_path),
                                   "gazetteer_version": f.manifest["gazetteer"].get("version")},
                            "rows": rows, "checked": checked, "source": source}})
        except OSError as exc:
            raise OutputError(f"{exc.filename or target}: {exc.strerror or exc}") from exc
        finally:
            remove_work(plan)
    return target
