"""Sources read by worker processes ahead of the build that stores them.

A build's loads are mostly Python, one core's work: parsing, and a loader's rules over each
distinct street name, number and ZIP. So a large build reads its sources in worker processes,
each source whole into Arrow IPC files in the build's scratch folder, while the build stores the
source before: the build inserts every source's batches in the sources' order, as if it had read
them itself, so the file holds the same rows in the same order either way. At most
``AHEAD_PER_WORKER`` sources per worker are read ahead, so the scratch folder holds a few
sources, whatever the build's size.

A small build reads its sources itself: starting a worker (a Python process importing the
loaders) costs more than it saves below ``READ_AHEAD_BYTES``.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, TypeVar

import pyarrow as pa

from addressing.errors import ConfigError, GazetteerError
from addressing.gazetteer.model import LoadReport, SqlSelect, forget_street_names

Spec = TypeVar("Spec")
Item = tuple[str, "pa.RecordBatch | SqlSelect"]
Reader = Callable[[Spec, LoadReport], Iterator[Item]]

#: sources' bytes from which a build reads them in worker processes: starting a worker (a Python
#: process importing the loaders) costs more than it saves on the few MB of the tests' and the
#: demo's builds, and less on ``benchmarks/national.py``'s smallest (some 100 MB)
READ_AHEAD_BYTES = 64 << 20
#: environment variable setting the number of worker processes (0: the build reads every source
#: itself); by default one per core, at most ``MAX_WORKERS``
WORKERS_ENV = "ADDRESSING_BUILD_WORKERS"
#: sources each worker is given at a time: with one, a worker that finished a small source
#: before the build had stored the one before it waited idle. Chosen on alternating builds of
#: ``benchmarks/national.py``'s 1 M sources (254 of a few MB, ``benchmarks/build_steps.py``): two
#: were faster than one, three no faster than two. The ones read ahead wait as files in the
#: scratch folder, not in memory.
AHEAD_PER_WORKER = 2
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
    return min(max(wanted, 0), sources)


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
    # a folder of this reading's own: the workers of a build that failed before may still write
    scratch.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f"{scratch.name}-", dir=scratch.parent))
    pool: list[_Worker] = []
    try:
        pool += [_Worker() for _ in range(min(workers, len(specs)))]
        ahead = len(pool) * AHEAD_PER_WORKER  # a multiple of the workers: source i stays with worker i % len(pool)
        for index in range(min(ahead, len(specs))):
            pool[index % len(pool)].send(read, specs[index], str(scratch / str(index)))
        for index, spec in enumerate(specs):
            worker = pool[index % len(pool)]
            report, items = worker.result(spec)
            following = index + ahead  # the worker reads on while this source is stored
            if following < len(specs):
                worker.send(read, specs[following], str(scratch / str(following)))
            yield spec, _stored_items(items), report
    finally:
        for worker in pool:
            worker.stop()
        shutil.rmtree(scratch, ignore_errors=True)


#: seconds a worker is given to finish when its build no longer needs it, before it is killed
WORKER_EXIT_SECONDS = 1.0


class _Worker:
    """A Python process running ``_serve``: it reads a
    source per task sent, in order, and sends back its report and files (or its error). Not a
    ``multiprocessing`` process: those run the caller's main script again in the child, which a
    script calling ``build`` without a ``__main__`` guard does not survive. It imports from this
    process's own ``sys.path``, so it reads with the same code."""

    def __init__(self) -> None:
        start = f"import sys; sys.path[:] = {sys.path!r}; from {__name__} import _serve; _serve()"
        self.proc = subprocess.Popen([sys.executable, "-c", start], stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def send(self, read: Reader, spec: Spec, prefix: str) -> None:
        # a worker that has stopped was reading a source given it before this one: ``result``
        # says so in that source's turn, naming it
        with contextlib.suppress(OSError):
            _write(self.proc.stdin, (read, spec, prefix))

    def result(self, spec: Spec) -> tuple[LoadReport, list[tuple[str, str | SqlSelect]]]:
        try:
            ok, value = _read(self.proc.stdout)
        except (EOFError, pickle.UnpicklingError) as exc:
            raise self._stopped(spec) from exc
        if not ok:
            raise value
        return value

    def _stopped(self, spec: Spec) -> GazetteerError:
        code = self.proc.poll()
        return GazetteerError(f"the worker process reading this source stopped (exit {code}: out of memory, or "
                              f"killed? its error, if any, is above); set {WORKERS_ENV}=0 to read sources in the "
                              "build's own process", str(getattr(spec, "path", spec)))

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=WORKER_EXIT_SECONDS)
        except subprocess.TimeoutExpired:  # still reading a source nobody waits for
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


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
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the build's to handle: it stops the workers
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
            exc.add_note(f"in the worker reading {getattr(spec, 'path', spec)}:\n{traceback.format_exc()}")
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
