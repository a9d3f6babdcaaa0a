"""How many rows a source will load, estimated cheaply before loading it (for progress).

A shapefile says exactly (its ``.dbf`` header); a text file (CSV, TSV, JSON lines, also
gzipped) is estimated from the length of its first lines; the answer is None where neither
works (a GeoJSON file on one line, a damaged file: the loader will say what is wrong).
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

from addressing.errors import GazetteerError
from addressing.gazetteer.shapefiles import record_count

#: bytes read from the start of a text file to measure its lines
SAMPLE_BYTES = 1 << 20
_SHAPEFILE_PARTS = (".shx", ".dbf", ".prj", ".cpg")


def estimate_rows(kind: str, files: list[Path]) -> int | None:
    """Rows expected from a source of ``kind`` made of ``files``; None when it cannot be told."""
    if kind == "zipcodes":
        from addressing.parse import places

        return len(places.zip_table())
    total = 0
    for f in files:
        n = file_rows(f)
        if n is None:
            return None
        total += n
    return total


def file_rows(path: Path) -> int | None:
    """Records of one file: exact for shapefiles, estimated for text; None if unknown.

    >>> file_rows(Path("no-such-file.csv")) is None
    True
    """
    name = path.name.lower()
    try:
        if name.endswith((".zip", ".shp")):
            return record_count(path)
        if name.endswith(_SHAPEFILE_PARTS):
            return 0  # counted with its .shp
        if name.endswith(".gz"):
            with open(path, "rb") as f:
                f.seek(-4, 2)
                size = struct.unpack("<I", f.read(4))[0]  # gzip keeps the unpacked size (mod 4 GiB) at the end
            with gzip.open(path, "rb") as g:
                sample = g.read(SAMPLE_BYTES)
        else:
            size = path.stat().st_size
            with open(path, "rb") as f:
                sample = f.read(SAMPLE_BYTES)
    except (OSError, EOFError, GazetteerError, struct.error):
        return None
    lines = sample.count(b"\n")
    if lines < 2:
        return None
    if len(sample) < SAMPLE_BYTES:
        return lines if sample.endswith(b"\n") else lines + 1
    return round(size * lines / len(sample))
