"""The batch lock: one run per output at a time, for the CLI, the flows and an operator's decisions."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from addressing.batch.outputs import stem_path
from addressing.errors import LockHeldError, OutputError


class BatchLock:
    """One run per output at a time: a second run on the same batch fails with a clear message.

    An ``flock`` on ``.<output>.lock``: the kernel drops it when the holder dies, even by
    SIGKILL, so a crashed run never blocks the next one. The lock file is opened without
    following symlinks (a planted link cannot make us truncate another file), and after
    locking we check that the path still names the file we locked: a run that opened the
    file just before the previous holder removed it must not go ahead on a stale lock.
    """

    def __init__(self, output: Path):
        output = Path(output)
        self.path = output.with_name(f".{output.name}.lock")
        self.output = output

    def __enter__(self) -> BatchLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"{self.path.parent}: cannot create the output folder ({exc.strerror or exc})") from None
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
            except OSError as exc:
                raise OutputError(f"{self.path}: cannot open the batch lock ({exc.strerror or exc}; "
                                  "a symlink in its place?)") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise LockHeldError(f"another run is writing this batch (lock {self.path.name} held); "
                                    "wait for it to finish", str(self.output)) from None
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path, follow_symlinks=False))
            except FileNotFoundError:
                same = False
            if same:
                self.fd = fd
                return self
            os.close(fd)  # the previous holder removed the file as we opened it: lock the new one

    def __exit__(self, *exc) -> None:
        self.path.unlink(missing_ok=True)  # while still holding the lock (see __enter__)
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def output_lock(output: Path) -> BatchLock:
    """The lock of an output: one per stem, since ``c.parquet`` and ``c.csv`` share
    ``c.review.csv`` and ``c.manifest.json``."""
    return BatchLock(stem_path(Path(output)))
