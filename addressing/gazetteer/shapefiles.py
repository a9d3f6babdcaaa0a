"""Read ESRI shapefiles (the ``.shp`` set or a ``.zip`` of it) record by record, safely.

pyshp reads a truncated file until it hits a ``struct.error`` deep inside, or silently
stops early. So before reading, the three headers are checked against the files' real
sizes (the ``.shp`` and ``.shx`` headers declare their length, the ``.dbf`` header its record
count and width), and any reader failure becomes a one-line ``GazetteerError`` naming the
file and the record.
"""

from __future__ import annotations

import codecs
import struct
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import shapefile

from addressing.errors import GazetteerError

SHP_CODE = 9994
_PARTS = {".shp": 100, ".shx": 100, ".dbf": 32, ".prj": 4096, ".cpg": 64}  # bytes of each part we look at


@dataclass(frozen=True)
class Part:
    """One file of a shapefile set: the first 100 bytes and the size."""

    name: str
    head: bytes
    size: int


def _parts_on_disk(shp: Path) -> dict[str, Part]:
    out = {}
    for p in shp.parent.glob(shp.stem + ".*"):
        ext = p.suffix.lower()
        if ext in _PARTS:
            with open(p, "rb") as f:
                out[ext] = Part(p.name, f.read(_PARTS[ext]), p.stat().st_size)
    return out


def _parts_in_zip(path: Path) -> tuple[dict[str, Part], str]:
    try:
        with zipfile.ZipFile(path) as z:
            shps = [n for n in z.namelist() if n.lower().endswith(".shp") and not n.startswith("__MACOSX")]
            if not shps:
                raise GazetteerError("zip holds no .shp file", str(path))
            if len(shps) > 1:
                raise GazetteerError(f"zip holds {len(shps)} shapefiles ({', '.join(shps[:3])}); unzip it and "
                                     "load the one you mean", str(path))
            stem = shps[0][:-4]
            out = {}
            for info in z.infolist():
                base, dot, ext = info.filename.rpartition(".")
                ext = "." + ext.lower()
                if dot and base == stem and ext in _PARTS:
                    with z.open(info) as f:
                        out[ext] = Part(info.filename, f.read(_PARTS[ext]), info.file_size)
            return out, shps[0]
    except zipfile.BadZipFile as exc:
        raise GazetteerError("not a readable zip file (corrupt or truncated download?)", str(path)) from exc


def check_parts(parts: dict[str, Part], path: Path) -> int:
    """Validate the headers against the sizes; the number of records."""
    for ext in (".shp", ".shx", ".dbf"):
        if ext not in parts:
            raise GazetteerError(f"the shapefile's {ext} file is missing (a shapefile is a .shp, .shx and .dbf set)",
                                 str(path))
    for ext in (".shp", ".shx"):
        p = parts[ext]
        if len(p.head) < 100 or struct.unpack(">i", p.head[:4])[0] != SHP_CODE:
            raise GazetteerError(f"{p.name} is not a shapefile (bad {ext} header)", str(path))
        declared = struct.unpack(">i", p.head[24:28])[0] * 2
        if p.size < declared:
            raise GazetteerError(f"{p.name} is truncated: its header declares {declared:,} bytes, the file has "
                                 f"{p.size:,}", str(path))
    dbf = parts[".dbf"]
    if len(dbf.head) < 32:
        raise GazetteerError(f"{dbf.name} is truncated or not a dBASE file", str(path))
    n_records, header_len, record_len = struct.unpack("<IHH", dbf.head[4:12])
    declared = header_len + n_records * record_len
    if dbf.size < declared:
        raise GazetteerError(f"{dbf.name} is truncated: its header declares {n_records:,} records "
                             f"({declared:,} bytes), the file has {dbf.size:,}", str(path))
    shx = parts[".shx"]
    n_shapes = (struct.unpack(">i", shx.head[24:28])[0] * 2 - 100) // 8
    if n_shapes != n_records:
        raise GazetteerError(f"the .shx indexes {n_shapes:,} shapes but the .dbf has {n_records:,} records",
                             str(path))
    return n_records


def encoding(parts: dict[str, Part]) -> str:
    """The attribute encoding the ``.cpg`` names (``UTF-8``, ``1252``...); UTF-8 without one."""
    cpg = parts.get(".cpg")
    if cpg is None:
        return "utf-8"
    name = cpg.head.decode("ascii", "replace").strip().upper().replace("ANSI ", "")
    if name.isdigit():
        name = f"cp{name}"
    try:
        return codecs.lookup(name).name
    except LookupError:
        return "utf-8"


def projection(parts: dict[str, Part]) -> str | None:
    """The ``.prj`` WKT when it names a projected coordinate system (not lon/lat degrees)."""
    prj = parts.get(".prj")
    if prj is None:
        return None
    wkt = prj.head.decode("latin-1").strip()
    return wkt if wkt.upper().startswith("PROJCS") else None


def read_shapes(path: Path, fields: tuple[str, ...] | None = None) -> Iterator[tuple[dict, shapefile.Shape]]:
    """``(attributes, shape)`` per record of a ``.shp`` (set) or ``.zip``; only the attributes
    ``fields`` names that the file has, when given (decoding every attribute of every record is
    most of the reading: an ADDRFEAT file has 25, a loader reads 10).

    Raises ``GazetteerError`` for a missing part, a truncated or inconsistent file, a
    projected coordinate system (reproject to WGS84 lon/lat first), or a reader failure.
    """
    parts = _parts_in_zip(path)[0] if path.suffix.lower() == ".zip" else _parts_on_disk(path)
    n = check_parts(parts, path)
    proj = projection(parts)
    if proj:
        name = proj.split('"')[1] if '"' in proj else proj[:60]
        raise GazetteerError(f"coordinates are projected ({name}), not WGS84 longitude/latitude; reproject the "
                             "file first (e.g. ogr2ogr -t_srs EPSG:4326 out.shp in.shp)", str(path))
    count = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            reader = shapefile.Reader(str(path), encoding=encoding(parts))
        except Exception as exc:  # pyshp raises ShapefileException, struct.error, OSError...
            raise GazetteerError(f"not a readable shapefile ({exc})", str(path)) from exc
        try:
            names = {f[0] for f in reader.fields}
            wanted = None if fields is None else [f for f in fields if f in names]
            for rec in reader.iterShapeRecords(fields=wanted):
                count += 1
                yield rec.record.as_dict(), rec.shape
        except GazetteerError:
            raise
        except UnicodeDecodeError as exc:
            raise GazetteerError(f"record {count + 1:,}: attributes are not {encoding(parts)} text ({exc.reason}); "
                                 "add a .cpg file naming the encoding (e.g. 1252)", str(path)) from exc
        except Exception as exc:
            raise GazetteerError(f"record {count + 1:,} of {n:,} unreadable ({exc}); is the file truncated?",
                                 str(path)) from exc
        finally:
            reader.close()
    if count != n:
        raise GazetteerError(f"read {count:,} records of {n:,}; the file is truncated", str(path))


def record_count(path: Path) -> int:
    """The records a shapefile (``.shp`` with its parts beside it, or a ``.zip``) declares."""
    parts = _parts_in_zip(path)[0] if path.suffix.lower() == ".zip" else _parts_on_disk(path)
    return check_parts(parts, path)
