"""Plan a batch: cut an input file into chunk files in the output's work folder.

The work folder of an output is ``<output folder>/.work/<output name>/<tag>``, the tag made of
the input's name and checksum, the chunk size, the gazetteer version and the package version,
so a changed input, gazetteer or program never reuses stale chunks, and any run that writes the
same output (the CLI, a flow) finds the chunks another run left. The split is written last
(``split.json``): a complete earlier split is reused as it is.

The input is read a window of ``CHUNKS_PER_WINDOW`` chunks at a time, and each window's rows
are spread over its chunks in locality order (``locality``), so that a chunk's orders come from
a few neighbouring states and ZIPs and its queries read only their part of the gazetteer.
Assembly puts each window's rows back in input order.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from addressing import __version__
from addressing import io as aio
from addressing.batch.locality import locality_order
from addressing.errors import InputError
from addressing.gazetteer import open_gazetteer

WORK_FOLDER = ".work"
#: chunks come in multiples of this many, so a pool of 1, 2 or 4 workers finishes together
#: instead of running the last chunk alone
CHUNK_SPREAD = 4
#: chunks are not cut smaller than this to spread them: below it a chunk's fixed costs (its
#: files, the matcher's SQL set-up per query) outgrow what balance wins (``clean_table`` over
#: the end-to-end benchmark's orders in chunks of 1,000 to 20,000 rows levels off from 5,000)
MIN_CHUNK_ROWS = 5_000
#: an input is ordered by locality (``locality``) a window of this many chunks at a time: the
#: more chunks a window holds, the fewer streets each chunk touches, and assembling a window
#: holds its cleaned rows in memory at once (16 chunks of 20,000 rows: about 300,000 rows)
CHUNKS_PER_WINDOW = 16
SPLIT_MARKER = "split.json"
#: the longest part of an input's name kept in its work folder's name
NAME_CHARS = 80


@dataclass
class Plan:
    """Where one input file's chunks live."""

    input: Path
    work: Path
    chunks: list[Path]
    input_sha256: str
    rows: int
    #: how many consecutive chunks share a window of input rows ordered by locality; the rows
    #: of a window are spread over its chunks, those of different windows never mix (``None``:
    #: every chunk its own window, in input order)
    windows: list[int] | None = None

    def window_outputs(self) -> list[list[Path]]:
        """The cleaned chunks of each window, in input order of the windows."""
        outs = self.outputs()
        sizes = self.windows or [1] * len(outs)
        starts = [sum(sizes[:i]) for i in range(len(sizes))]
        return [outs[a:a + n] for a, n in zip(starts, sizes)]

    def outputs(self) -> list[Path]:
        """The cleaned chunk beside each input chunk (``in-00003`` -> ``out-00003``)."""
        return [c.with_name(c.name.replace("in-", "out-")) for c in self.chunks]

    def as_data(self) -> dict:
        """Plain data (for a task result read by a process without this library)."""
        return {"input": str(self.input), "work": str(self.work), "chunks": [str(c) for c in self.chunks],
                "input_sha256": self.input_sha256, "rows": self.rows, "windows": self.windows}

    @classmethod
    def from_data(cls, data: dict) -> Plan:
        return cls(Path(data["input"]), Path(data["work"]), [Path(c) for c in data["chunks"]],
                   data["input_sha256"], data["rows"], data.get("windows"))


def work_root(output: Path) -> Path:
    """Where the chunks of ``output`` are kept while it is being cleaned."""
    return output.parent / WORK_FOLDER / output.name


def work_dir(root: Path, input_path: Path, input_sha: str, chunk_rows: int, gazetteer_version: str) -> Path:
    name = re.sub(r"[^\w.-]", "_", input_path.name[:NAME_CHARS])  # no glob or shell characters in work paths
    tag = f"{name}-{input_sha[:12]}-{chunk_rows}-{gazetteer_version}-{__version__}"
    return root / tag


def chunk_size(rows: int, limit: int) -> int:
    """The rows per chunk for an input of about ``rows`` rows: at most ``limit``, cut so that
    the chunks come in multiples of ``CHUNK_SPREAD`` of equal size, never below ``MIN_CHUNK_ROWS``
    (nor above ``limit``, which wins when it is smaller).

    >>> chunk_size(60_000, 20_000), chunk_size(1_000_000, 20_000), chunk_size(6_000, 20_000)
    (15000, 19231, 5000)
    >>> chunk_size(600, 100)
    100
    """
    groups = max(1, -(-rows // (CHUNK_SPREAD * limit)))
    spread = -(-rows // (CHUNK_SPREAD * groups))
    return min(limit, max(MIN_CHUNK_ROWS, spread))


def split_input(input_path: str | Path, work_root: str | Path, db: str | Path, chunk_rows: int,
                several: Callable[[], None] | None = None) -> Plan:
    """Cut the input into chunk files of at most ``chunk_rows`` rows, as even as ``chunk_size``
    makes them (idempotent: reuses a complete earlier split). ``several`` is called once, as
    soon as the input turns out to make more than one chunk."""
    input_path = Path(input_path)
    aio.input_format(input_path)
    aio.check_readable(input_path)
    try:
        sha = aio.sha256_file(input_path)
    except OSError as exc:
        raise InputError(f"read failed ({exc.strerror or exc})", str(input_path)) from None
    estimate = aio.estimate_rows(input_path)
    size = chunk_size(estimate, chunk_rows)
    gaz = open_gazetteer(db)
    work = work_dir(Path(work_root), input_path, sha, size, gaz.version)
    marker = work / SPLIT_MARKER
    if marker.exists():
        info = json.loads(marker.read_text())
        chunks = [work / c for c in info["chunks"]]
        if all(c.exists() for c in chunks):
            if several and len(chunks) > 1:
                several()
            return Plan(input_path, work, chunks, sha, info["rows"], info.get("windows"))
    chunks: list[Path] = []
    windows: list[int] = []
    rows = 0
    if several and estimate > size:
        several()  # the workers start (and load their models) while the input is cut
    try:
        pending: list[pa.Table] = []
        for i, raw in enumerate(aio.read_orders(input_path, size)):
            if i == 1 and several and estimate <= size:
                several()
            pending.append(raw)
            rows += raw.num_rows
            if len(pending) == CHUNKS_PER_WINDOW:
                windows.append(_write_window(pending, size, work, chunks))
                pending = []
        if pending:
            windows.append(_write_window(pending, size, work, chunks))
        if not chunks:
            raise InputError("no rows", str(input_path))
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)  # an input that cannot be read leaves nothing behind
        with contextlib.suppress(OSError):
            Path(work_root).rmdir()
        raise
    aio.write_json_atomic({"input": str(input_path), "sha256": sha, "rows": rows,
                           "chunks": [c.name for c in chunks], "windows": windows}, marker)
    return Plan(input_path, work, chunks, sha, rows, windows)


def _write_window(pieces: list[pa.Table], size: int, work: Path, chunks: list[Path]) -> int:
    """Write one window's rows as chunks of ``size`` rows in locality order (one piece: as it
    is), appending their paths to ``chunks``; the number of chunks written."""
    if len(pieces) == 1:
        parts = pieces
    else:
        window = pa.concat_tables(pieces, promote_options="default")
        ordered = window.take(pa.array(locality_order(window)))
        parts = [ordered.slice(start, size) for start in range(0, ordered.num_rows, size)]
    for part in parts:
        path = work / f"in-{len(chunks):05d}.parquet"
        with aio.atomic_path(path) as tmp:
            pq.write_table(part, tmp, compression="zstd")
        chunks.append(path)
    return len(parts)


def remove_work(plan: Plan) -> None:
    """Remove a plan's work folder, then the folders above it that are left empty (the
    output's, then ``.work``); another output's work is never touched."""
    shutil.rmtree(plan.work, ignore_errors=True)
    for folder in (plan.work.parent, plan.work.parent.parent):
        with contextlib.suppress(OSError):  # not empty: another output's work is there
            folder.rmdir()
