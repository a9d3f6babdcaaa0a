"""Clean chunks: one input chunk file -> its cleaned chunk file, and reading cleaned chunks back.

A cleaned chunk is stamped with what it depends on besides its input (program, gazetteer, risk
policy); a chunk already cleaned under the same stamp is reused, so a killed run's finished
chunks are never redone. Any worker (this process, a pool process, a Dask worker on another
machine) can clean any chunk: the arguments are paths, the result is a file and a small dict.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from addressing import __version__
from addressing import io as aio
from addressing.errors import GazetteerError, OutputError
from addressing.gazetteer import open_gazetteer
from addressing.pipeline import Timings, clean_table_isolating
from addressing.risk import risk_context

STAMP_KEY = b"addressing.chunk_stamp"
#: the code and data files whose content a cleaned chunk depends on
PROGRAM_FILES = (".py", ".json", ".tsv", ".csv", ".txt", ".toml")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChunkJob:
    """One chunk to clean: where it is, where its cleaned rows go, and with what."""

    chunk_in: Path
    chunk_out: Path
    db: str
    risk_policy: str | None
    #: the gazetteer version the batch was planned with (``None``: whichever the worker has)
    gazetteer_version: str | None = None


def clean_chunk(chunk_in: str | Path, chunk_out: str | Path, db: str | Path,
                risk_policy: str | Path | None = None, gazetteer_version: str | None = None) -> dict:
    """Clean one chunk file; a chunk already cleaned with the same gazetteer, risk policy and
    program is not redone (one cleaned under another policy, or unreadable, is).

    A fault of the set-up (a broken gazetteer, a missing model, a gazetteer of another version
    than ``gazetteer_version``, the batch's) raises and fails the chunk whole; only a bug that
    single rows trip marks those rows ``invalid``."""
    chunk_in, chunk_out = Path(chunk_in), Path(chunk_out)
    gaz = open_gazetteer(db)
    if gazetteer_version is not None and gaz.version != gazetteer_version:
        # a refresh landed during the batch, or this host's copy is older: one batch, one version
        raise GazetteerError(f"is version {gaz.version} here, but the batch was planned with {gazetteer_version}; "
                                 "rerun the batch (a refresh landed meanwhile), or install the batch's version on this "
                                 "host (`addressing gazetteer replicate`)", str(gaz.path))
    stamp = chunk_stamp(gaz.version, risk_policy)
    if chunk_out.exists():
        rows = _reusable(chunk_out, stamp)
        if rows is not None:
            return {"chunk": chunk_out.name, "rows": rows, "reused": True, "timings_s": {}}
    risk = risk_context(risk_policy)
    raw = pq.read_table(chunk_in)
    timings = Timings()
    cleaned = clean_table_isolating(raw, gaz, risk, timings, with_keys=True)
    cleaned = cleaned.replace_schema_metadata({**(cleaned.schema.metadata or {}), STAMP_KEY: stamp.encode()})
    with aio.atomic_path(chunk_out) as tmp:
        pq.write_table(cleaned, tmp, compression="zstd")
    _log_chunk(chunk_out, cleaned)
    return {"chunk": chunk_out.name, "rows": cleaned.num_rows, "reused": False,
            "timings_s": {k: round(v, 4) for k, v in timings.seconds.items()}}


def _reusable(chunk_out: Path, stamp: str) -> int | None:
    try:
        meta = pq.read_metadata(chunk_out)
        found = (meta.schema.to_arrow_schema().metadata or {}).get(STAMP_KEY)
    except (OSError, pa.ArrowException):
        return None
    return meta.num_rows if found == stamp.encode() else None


def _log_chunk(chunk_out: Path, cleaned: pa.Table) -> None:
    """Counts at INFO; the addresses themselves only at DEBUG (they are customer data)."""
    status = Counter(cleaned.column("match_status").to_pylist())
    log.info("chunk %s: %d rows, %s", chunk_out.name, cleaned.num_rows, dict(status))
    if log.isEnabledFor(logging.DEBUG):
        for oid, text, st, reason in zip(cleaned.column("order_id").to_pylist(), cleaned.column("input").to_pylist(),
                                         cleaned.column("match_status").to_pylist(),
                                         cleaned.column("reason").to_pylist()):
            if st in ("invalid", "unmatched"):
                log.debug("order %s %s: %r (%s)", oid, st, text, reason)


_stamp_cache: dict[str, str] = {}
_program: list[str] = []


def program_fingerprint() -> str:
    """The package version and a digest of its code and data files (calibration, tables): a
    chunk cleaned before an upgrade that kept the version number is not reused after it."""
    if not _program:
        pkg = Path(__file__).resolve().parent.parent
        digest = hashlib.sha256(__version__.encode())
        for f in sorted(pkg.rglob("*")):
            if f.is_file() and f.suffix in PROGRAM_FILES:
                digest.update(str(f.relative_to(pkg)).encode() + b"\0" + f.read_bytes())
        _program.append(f"{__version__}+{digest.hexdigest()[:12]}")
    return _program[0]


def chunk_stamp(gazetteer_version: str, risk_policy: str | Path | None) -> str:
    """What a cleaned chunk depends on besides its input: program, gazetteer, risk policy
    (the policy file and every zone or forwarder file it names, by content)."""
    key = str(risk_policy)
    if key not in _stamp_cache:
        digest = hashlib.sha256(program_fingerprint().encode())
        if risk_policy:  # None or "": the built-in default policy, part of the program
            policy = risk_context(risk_policy).policy
            digest.update(Path(risk_policy).read_bytes())
            for rule in policy.rules.values():
                for name in ("file", "files"):
                    value = rule.params.get(name)
                    for f in ([value] if isinstance(value, str) else value or []):
                        p = Path(f) if Path(f).is_absolute() else policy.base_dir / f
                        digest.update(p.read_bytes() if p.is_file() else f.encode())
        _stamp_cache[key] = digest.hexdigest()[:16]
    return f"{gazetteer_version}:{_stamp_cache[key]}"


def chunk_columns(chunk_outs: list[Path], columns: list[str]) -> pa.Table:
    """Some columns of all cleaned chunks, read with Arrow: never hand these paths to DuckDB's
    ``read_parquet``, which expands ``*``, ``?`` and ``[...]`` in them (a folder named ``out*``
    would pull in other batches' chunks)."""
    tables = []
    for p in chunk_outs:
        have = set(pq.read_schema(p).names)
        t = pq.read_table(p, columns=[c for c in columns if c in have])
        for c in columns:
            if c not in have:
                t = t.append_column(c, pa.nulls(t.num_rows, pa.string()))
        tables.append(t.select(columns))
    return pa.concat_tables(tables, promote_options="permissive") if tables else pa.table({c: [] for c in columns})


def query_chunks(chunk_outs: list[Path], columns: list[str], sql: str, params: list | None = None) -> list[tuple]:
    """Rows of one DuckDB query (in memory) over some columns of all cleaned chunks, as table
    ``chunks``: the batch-wide counts that no single chunk can give."""
    con = duckdb.connect()
    try:
        con.register("chunks", chunk_columns(chunk_outs, columns))
        return con.execute(sql, params or None).fetchall()
    except duckdb.Error as exc:
        where = chunk_outs[0].parent if chunk_outs else "batch"
        raise OutputError(f"{where}: a batch-wide query failed ({str(exc).strip().splitlines()[0]})") from exc
    finally:
        con.close()
