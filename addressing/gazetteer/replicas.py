"""A copy of the gazetteer per host, for workers that do not share a file system with it.

Cleaning only reads the gazetteer, so a Dask worker on another machine can read its own copy.
A host says where its copies live with ``$ADDRESSING_GAZETTEER_REPLICAS`` (a folder on that
host); a copy is the file under its own name there (``/shared/gazetteer.duckdb`` ->
``$ADDRESSING_GAZETTEER_REPLICAS/gazetteer.duckdb``). ``open_gazetteer`` opens this host's copy
when it has one, and the batch checks that every chunk was cleaned with the version the batch
was planned with (``addressing.batch.chunks``), so hosts with copies of different versions fail
the chunk with a message instead of mixing versions in one batch.

``install`` makes or renews a copy: the new file is written beside the old one and renamed over
it, so a reader never sees a half-copied file, a killed copy leaves the previous one, and a
reader that has the previous copy open keeps reading it until it opens again. The
``refresh-gazetteer`` flow installs the new version on every worker of a Dask cluster after a
refresh; ``addressing gazetteer replicate`` does it by hand (from cron, or after an rsync).
"""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

import duckdb

from addressing.errors import GazetteerError
from addressing.gazetteer.access import connect_reader
from addressing.io import fsync_dir

REPLICAS_ENV = "ADDRESSING_GAZETTEER_REPLICAS"
#: what a copy on its way is called beside the copy it will replace
PART_SUFFIX = ".copying"


def replicas_folder() -> Path | None:
    """This host's folder of copies, or ``None`` when it reads the gazetteer where it is."""
    folder = os.environ.get(REPLICAS_ENV, "").strip()
    return Path(folder) if folder else None


def replica_of(db: str | Path, folder: Path | None = None) -> Path | None:
    """Where this host keeps its copy of ``db`` (it may not exist yet); ``None`` without a folder."""
    folder = folder if folder is not None else replicas_folder()
    return folder / Path(db).name if folder is not None else None


def local_path(db: str | Path) -> Path:
    """The file this host should open for ``db``: its copy when it has one, else ``db`` itself."""
    copy = replica_of(db)
    if copy is not None and copy.exists() and copy.resolve() != Path(db).resolve():
        return copy
    return Path(db)


def version_of(db: Path) -> str | None:
    """The version stamped in a gazetteer file, or ``None`` when it cannot be read as one."""
    try:
        con = connect_reader(db, wait=0)
    except (duckdb.Error, GazetteerError):
        return None
    try:
        row = con.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
        return row[0] if row else None
    except duckdb.Error:
        return None
    finally:
        con.close()


def install(db: str | Path, folder: str | Path | None = None) -> dict:
    """Copy the gazetteer ``db`` into ``folder`` (default: this host's ``$ADDRESSING_GAZETTEER_REPLICAS``)
    unless the copy there already has its version; returns what was done. Two processes of one
    host installing at once copy once (a lock in the folder)."""
    db = Path(db)
    folder = Path(folder) if folder is not None else replicas_folder()
    if folder is None:
        raise GazetteerError(f"no folder for copies: give one or set {REPLICAS_ENV}", str(db))
    version = version_of(db)
    if version is None:
        raise GazetteerError("not a readable gazetteer to copy", str(db))
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / db.name
    if target.resolve() == db.resolve():
        return {"copy": str(target), "version": version, "copied": False}
    with open(folder / f".{db.name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.exists() and version_of(target) == version:
            return {"copy": str(target), "version": version, "copied": False}
        free = shutil.disk_usage(folder).free
        size = db.stat().st_size
        if free < size:
            raise GazetteerError(f"{folder} has {free / 1e9:.1f} GB free; the copy needs {size / 1e9:.1f} GB",
                                 str(db))
        part = target.with_name(target.name + PART_SUFFIX)
        try:
            shutil.copyfile(db, part)
            with open(part, "rb") as f:
                os.fsync(f.fileno())
            if version_of(part) != version:  # the source was replaced while it was copied
                raise GazetteerError("the gazetteer changed while it was copied; install again", str(db))
            os.replace(part, target)
            fsync_dir(folder)
        finally:
            part.unlink(missing_ok=True)
            part.with_name(part.name + ".wal").unlink(missing_ok=True)
    return {"copy": str(target), "version": version, "copied": True}

