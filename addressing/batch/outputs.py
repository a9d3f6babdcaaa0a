"""Output naming: which files one output is, and what a batch calls the output of an input.

An output such as ``out/c.parquet`` is several files that share its *stem* ``c`` (its name up
to the first dot): the cleaned batch, ``c.review.csv``, ``c.manifest.json`` and, after an
operator's decisions, ``c.decisions.json``. Outputs of one stem (``c.parquet`` and ``c.csv``)
share those files, so they share one lock as well (``lock.output_lock``).

    >>> output_paths(Path("out/c.parquet"))["manifest"]
    PosixPath('out/c.manifest.json')
    >>> output_for(Path("orders/webshop.2026-11-25.csv"), Path("out/day"), "parquet")
    PosixPath('out/day/webshop.parquet')
"""

from __future__ import annotations

from pathlib import Path

from addressing.errors import OutputError

FORMATS = ("parquet", "csv", "jsonl", "geojson")
#: the format a file name's suffix asks for, when no format is given
SUFFIX_FORMATS = {"parquet": "parquet", "pq": "parquet", "csv": "csv", "jsonl": "jsonl", "ndjson": "jsonl",
                  "geojson": "geojson", "json": "geojson"}
DEFAULT_FORMAT = "parquet"


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
