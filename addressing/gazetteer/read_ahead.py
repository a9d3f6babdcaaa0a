"""Sources read by worker processes ahead of the build that stores them.

A build's loads are mostly Python, one core's work: parsing, and a loader's rules over each
distinct street name, number and ZIP. So a large build reads its sources in worker processes,
each source whole into Arrow IPC files in the build's scratch folder, while the build stores the
source before: the build inserts every source's batches in the sources' order, as if it had read
them itself, so the file holds the same rows in the same order either way. At most ``workers``
sources are read ahead, so the scratch folder holds a few sources, whatever the build's size.

A small build reads its sources itself: starting a worker (a Python process importing the
loaders) costs more than it saves below ``READ_AHEAD_BYTES``.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import shutil
import struct
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, TypeVar

import pyarrow as pa

from addressing.errors import ConfigError, GazetteerError
from addressing.gazetteer.model import LoadReport, SqlSelect, forget_street_names

Spec = TypeVar("Spec")
Item = tuple[str, "pa.RecordBatch | SqlSelect"]
Reader = Callable[[Spec, LoadReport], Iterator[Item]]

#: sources' bytes from which a build reads them in worker processes: a worker takes about a
#: second to start, and a build reads some 10-20 MB of OpenAddresses CSV or TIGER GeoJSON a
#: second (one-off timings of ``benchmarks/national.py`` sources), so below this the workers
#: would save less than they cost
READ_AHEAD_BYTES = 64 << 20
#: environment variable setting the number of worker processes (0: the build reads every source
#: itself); by default one per core, at most ``MAX_WORKERS``
WORKERS_ENV = "ADDRESSING_BUILD_WORKERS"
#: the workers a build starts at most: two keep the build's own process (DuckDB storing the
#: batches) busy on this kind of machine; more only multiply their memory (some 200 MB each)
MAX_WORKERS = 2


def workers_for(total_bytes: int, sources: int) -> int:
    """How many worker processes a build of ``sources`` files of ``total_bytes`` reads them with
    (0: it reads them itself)."""
    wanted = _workers_from_env()
    if wanted is None:
        wanted = min(os.cpu_count() or 1, MAX_WORKERS) if total_bytes >= READ_AHEAD_BYTES else 0
    if sources < 2 or multiprocessing.current_process().daemon:
        return 0  # a daemonic process (a pool's worker) may not start processes of its own
    return max(wanted, 0)


def _workers_from_env() -> int | None:
    text = os.environ.get(WORKERS_ENV, "").strip()
    if not text:
        return None
    if not text.isdigit():
        raise ConfigError(f"{WORKERS_ENV}={text!r} is not a number of worker processes (0: none)", key=WORKERS_ENV)
    return int(text)


def read_sources(specs: list[Spec], read: Reader, workers: int, scratch: Path,
                 ) -> Iterator[tuple[Spec, Iterator[Item], LoadReport]]:
    """``(spec, its items, its report)`` per source, in order; ``read(spec, report)`` gives a
    source's ``(table, batch or SELECT)`` items and fills its report. With ``workers`` the items
    were read ahead (``read`` and the specs must then pickle), and the report is whole when the
    source comes; without, items are read as they are taken. A source's error is raised when
    its turn comes, as reading it in turn would."""
    if not workers:
        for spec in specs:
            report = LoadReport()
            yield spec, read(spec, report), report
        return
    scratch.mkdir(parents=True, exist_ok=True)
    pool = [_Worker() for _ in range(min(workers, len(specs)))]
    try:
        for index in range(len(pool)):
            pool[index].send(read, specs[index], str(scratch / str(index)))
        for index, spec in enumerate(specs):
            worker = pool[index % len(pool)]
            report, items = worker.result(spec)
            following = index + len(pool)  # the worker reads on while this source is stored
            if following < len(specs):
                worker.send(read, specs[following], str(scratch / str(following)))
            yield spec, _stored_items(items), report
    finally:
        for worker in pool:
            worker.stop()
        shutil.rmtree(scratch, ignore_errors=True)


class _Worker:
    """A Python process running ``_serve``: it reads a
    source per task sent, in order, and sends back its report and files (or its error). Not a
    ``multiprocessing`` process: those run the caller's main script again in the child, which a
    script calling ``build`` without a ``__main__`` guard does not survive."""

    def __init__(self) -> None:
        # the package this process imported, whatever put it on this process's path
        root = str(Path(__file__).resolve().parents[2])
        path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
        self.proc = subprocess.Popen([sys.executable, "-c", f"from {__name__} import _serve; _serve()"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     env=os.environ | {"PYTHONPATH": path})

    def send(self, read: Reader, spec: Spec, prefix: str) -> None:
        _write(self.proc.stdin, (read, spec, prefix))

    def result(self, spec: Spec) -> tuple[LoadReport, list[tuple[str, str | SqlSelect]]]:
        try:
            ok, value = _read(self.proc.stdout)
        except (EOFError, pickle.UnpicklingError) as exc:
            code = self.proc.poll()
            raise GazetteerError(f"the worker process reading this source stopped (exit {code}); out of memory? "
                                 f"Set {WORKERS_ENV}=0 to read sources in the build's own process",
                                 str(getattr(spec, "path", spec))) from exc
        if not ok:
            raise value
        return value

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=WORKER_EXIT_SECONDS)
        except subprocess.TimeoutExpired:  # still reading a source nobody waits for
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


#: seconds a worker is given to finish when its build no longer needs it, before it is killed
WORKER_EXIT_SECONDS = 1.0


def _write(pipe: BinaryIO, value: object) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    pipe.write(struct.pack("<Q", len(data)) + data)
    pipe.flush()


def _read(pipe: BinaryIO) -> object:
    head = pipe.read(8)
    if len(head) < 8:
        raise EOFError
    size = struct.unpack("<Q", head)[0]
    data = pipe.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)


def _serve() -> None:
    """The worker's loop: tasks from stdin until it closes, results to the stdout it had (the
    loaders' own output goes to stderr)."""
    tasks = sys.stdin.buffer
    results = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    while True:
        try:
            read, spec, prefix = _read(tasks)
        except EOFError:
            return
        try:
            _write(results, (True, _read_to_files(read, spec, prefix)))
        except Exception as exc:  # sent back, raised by the build in the source's turn
            try:
                _write(results, (False, exc))
            except Exception:
                _write(results, (False, GazetteerError(f"{type(exc).__name__}: {exc}")))


def _read_to_files(read: Reader, spec: Spec, prefix: str) -> tuple[LoadReport, list[tuple[str, str | SqlSelect]]]:
    """In a worker: one source read whole, its batches into Arrow IPC files named from
    ``prefix`` (a file per run of one table's batches), its SELECTs as they are."""
    report = LoadReport()
    items: list[tuple[str, str | SqlSelect]] = []
    writer, schema = None, None
    try:
        for table, item in read(spec, report):
            if not isinstance(item, pa.RecordBatch):
                if writer is not None:
                    writer.close()
                    writer = None
                items.append((table, item))
                continue
            if writer is None or items[-1][0] != table or not schema.equals(item.schema):
                if writer is not None:
                    writer.close()
                path = f"{prefix}-{len(items)}.arrow"
                writer, schema = pa.ipc.new_file(path, item.schema), item.schema
                items.append((table, path))
            writer.write_batch(item)
    finally:
        if writer is not None:
            writer.close()
        forget_street_names()
    return report, items


def _stored_items(items: list[tuple[str, str | SqlSelect]]) -> Iterator[Item]:
    """A source's items back from its files, in the order read; each file removed once stored."""
    for table, item in items:
        if isinstance(item, SqlSelect):
            yield table, item
            continue
        with pa.memory_map(item) as source:
            reader = pa.ipc.open_file(source)
            for i in range(reader.num_record_batches):
                yield table, reader.get_batch(i)
        Path(item).unlink(missing_ok=True)
