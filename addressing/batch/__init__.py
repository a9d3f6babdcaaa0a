"""One batch: plan -> clean chunks (any runner) -> assemble -> manifest -> clean up.

Each step's result is a file written atomically, so a step that finished is never redone
after a crash, and any worker (this process, a pool process, a Dask worker on another
machine) can clean any chunk:

    plan        orders file -> <out>/.work/<output>/<tag>/in-00000.parquet ...  (input rows as text)
    chunks      in-00000.parquet -> out-00000.parquet                   (skipped when already cleaned)
    assemble    out-*.parquet -> cleaned batch + review queue           (batch-wide rules here)
    manifest    counts and checksums, checked to add up, written last
    run         the steps in order for the CLI and every flow: lock, output root, clean-up
    recheck     after a gazetteer refresh: a finished output's review and hold orders cleaned
                again; those whose result changed (``changes``) written beside it

Modules: ``outputs`` (naming), ``lock``, ``plan``, ``chunks``, ``runners`` (this process, a
process pool; a flow brings its own), ``assembly``, ``manifest``, ``run``, ``recheck``,
``changes``.
"""

from __future__ import annotations

import importlib

#: public name -> the module that owns it; imported on first use, so that reading a name rule
#: (``addressing.batch.outputs``) does not load the whole pipeline
_OWNERS = {
    "assembly": ("CUSTOMER_COLUMN", "HIDDEN", "KEY_COLUMN", "apply_shared_address", "assemble", "load_chunks",
                 "shared_keys"),
    "changes": ("Change", "MOVE_TOLERANCE_M", "changed_fields"),
    "chunks": ("ChunkJob", "chunk_columns", "chunk_stamp", "clean_chunk", "program_fingerprint"),
    "lock": ("BatchLock", "output_lock"),
    "manifest": ("Assembled", "Counts", "manifest_problems", "order_id_report", "write_manifest"),
    "outputs": ("RECHECK_FOLDER", "decisions_path", "output_for", "output_format", "output_paths", "recheck_output",
                "recheck_outputs", "stem"),
    "plan": ("Plan", "remove_work", "split_input", "work_root"),
    # the function ``recheck`` is not listed: the package's attribute of that name is its module
    # once imported (``from addressing.batch.recheck import recheck``)
    "recheck": ("FileRecheck", "RecheckResult", "Skipped", "finished_outputs", "written_since"),
    "run": ("BatchFile", "FileResult", "Settings", "assemble_file", "clean_file", "discard_work", "revise",
            "run_batch"),
    "runners": ("InProcess", "ProcessPool", "Runner", "local_runner"),
}
_OWNER = {name: module for module, names in _OWNERS.items() for name in names}
__all__ = sorted(_OWNER)


def __getattr__(name: str):
    if name not in _OWNER:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_OWNER[name]}"), name)
