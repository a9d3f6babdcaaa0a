"""Output naming: which files one output is, and what a batch calls the output of an input.

An output such as ``out/c.parquet`` is several files that share its *stem* ``c`` (its name up
to the first dot): the cleaned batch, ``c.review.csv``, ``c.manifest.json`` and, after an
operator's decisions, ``c.decisions.json``. Outputs of one stem (``c.parquet`` and ``c.csv``)
share those files, so they share one lock as well (``lock.output_lock``).

A re-check of an output against a new gazetteer version (``recheck``) writes the orders whose
result changed as an output of their own, in a folder beside it named for that version, so it
has its own review queue and manifest and never shares a stem with the output it re-checked.

    >>> output_paths(Path("out/c.parquet"))["manifest"]
    PosixPath('out/c.manifest.json')
    >>> output_for(Path("orders/webshop.2026-11-25.csv"), Path("out/day"), "parquet")
    PosixPath('out/day/webshop.parquet')
    >>> recheck_output(Path("out/day/webshop.parquet"), "1ad1a151cc4c")
    PosixPath('out/day/rechecks/1ad1a151cc4c/webshop.parquet')
"""

from __future__ import annotations

import re
from pathlib import Path

from addressing.errors import OutputError

FORMATS = ("parquet", "csv", "jsonl", "geojson")
#: the format a file name's suffix asks for, when no format is given
SUFFIX_FORMATS = {"parquet": "parquet", "pq": "parquet", "csv": "csv", "jsonl": "jsonl", "ndjson": "jsonl",
                  "geojson": "geojson", "json": "geojson"}
DEFAULT_FORMAT = "parquet"
#: the folder beside an output that holds its re-checks, one subfolder per gazetteer version
RECHECK_FOLDER = "rechecks"
#: what a gazetteer version looks like (``store.version_of``: hex digits); anything else would
#: not be a safe folder name
VERSION_NAME = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,63}")


def stem(path: str | Path) -> str:
    """A file's name up to its first dot: ``webshop.2026-11-25.csv`` -> ``webshop``."""
    return Path(path).name.split(".")[0]


def stem_path(output: Path) -> Path:
    """``out/c.parquet`` -> ``out/c``: what the files of one output are named after."""
    return output.with_name(stem(output))


def output_paths(output: Path) -> dict[str, Path]:
    """The files an output writes: the cleaned batch, its review queue and its manifest."""
    base = stem_path(output)
    return {"output": output, "review": base.with_name(f"{base.name}.review.csv"),
            "manifest": base.with_name(f"{base.name}.manifest.json")}


def decisions_path(output: Path) -> Path:
    """Where an operator's decisions on an output's orders are kept (the audit trail)."""
    base = stem_path(output)
    return base.with_name(f"{base.name}.decisions.json")


def output_format(output: Path, fmt: str | None) -> str:
    """The format asked for, else the one the output's suffix names, else Parquet."""
    if fmt:
        if fmt not in FORMATS:
            raise OutputError(f"unknown format {fmt!r} ({', '.join(FORMATS)})")
        return fmt
    return SUFFIX_FORMATS.get(output.suffix.lower().lstrip("."), DEFAULT_FORMAT)


def output_for(input_path: Path, folder: Path, fmt: str) -> Path:
    """The output of an order file in a batch folder: ``<folder>/<input stem>.<format>``."""
    if fmt not in FORMATS:
        raise OutputError(f"unknown format {fmt!r} ({', '.join(FORMATS)})")
    return folder / f"{stem(input_path)}.{fmt}"


def recheck_output(output: Path, gazetteer_version: str) -> Path:
    """Where the re-check of ``output`` against ``gazetteer_version`` writes the orders whose
    result changed: ``<output folder>/rechecks/<version>/<output name>``, with its review queue
    and manifest beside it (``output_paths``). One re-check per output and version: running it
    again rewrites the same files."""
    if not VERSION_NAME.fullmatch(gazetteer_version or ""):
        raise OutputError(f"gazetteer version {gazetteer_version!r} cannot name a folder")
    return output.parent / RECHECK_FOLDER / gazetteer_version / output.name


def recheck_outputs(output: Path) -> list[Path]:
    """The re-check outputs of ``output`` that exist, for any gazetteer version (finished or not:
    a finished one has its manifest beside it)."""
    folder = output.parent / RECHECK_FOLDER
    if not folder.is_dir():
        return []
    return sorted(d / output.name for d in folder.iterdir() if (d / output.name).is_file())
