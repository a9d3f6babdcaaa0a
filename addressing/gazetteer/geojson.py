"""Stream GeoJSON features in bounded memory, whatever the file's layout.

Real files come as a ``FeatureCollection`` with one feature per line (GDAL, OpenAddresses,
the Meagher County ``*.geojsonl`` files), as one minified line, as newline-delimited features
(``.geojsonl`` / ``.ndjson``), or as RFC 8142 text sequences. All are read with
``json.JSONDecoder.raw_decode`` over a sliding buffer, so memory holds one feature and one
read block, never the whole file; a feature alone on its line of a newline-delimited file is
read by ``orjson`` where it is installed (twice as fast; the same value, but for a coordinate
written as an integer beyond 64 bits, which comes as the float every loader makes of it).

>>> import io
>>> [f["properties"]["n"] for f in iter_features(io.StringIO('{"type":"FeatureCollection","features":['
...     '{"type":"Feature","properties":{"n":1}},{"type":"Feature","properties":{"n":2}}]}'), "x")]
[1, 2]
>>> list(iter_features(io.StringIO(""), "x"))
[]
"""

from __future__ import annotations

import gzip
import io
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, TextIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from addressing.errors import GazetteerError

try:  # optional: newline-delimited files read several times faster with it
    import orjson
except ImportError:
    orjson = None

BLOCK = 1 << 20
_FEATURES = re.compile(r'"features"\s*:\s*\[')
_decoder = json.JSONDecoder()


class _Buffer:
    """A text window over a file: ``text[pos:]`` is unread; counts lines for error messages."""

    def __init__(self, f: TextIO, path: str):
        self.f, self.path = f, path
        self.text, self.pos, self.eof, self.line = "", 0, False, 1

    def more(self) -> bool:
        if self.eof:
            return False
        if self.pos > BLOCK:
            self.line += self.text.count("\n", 0, self.pos)
            self.text, self.pos = self.text[self.pos :], 0
        try:
            block = self.f.read(BLOCK)
        except UnicodeDecodeError as exc:
            raise GazetteerError(f"not UTF-8 text near line {self.line_at(len(self.text))} ({exc.reason})",
                                 self.path) from exc
        if not block:
            self.eof = True
            return False
        self.text += block
        return True

    def line_at(self, pos: int) -> int:
        return self.line + self.text.count("\n", 0, pos)

    def skip(self, chars: str) -> str | None:
        """Skip ``chars``; the next character, or None at the end of the file."""
        while True:
            while self.pos < len(self.text) and self.text[self.pos] in chars:
                self.pos += 1
            if self.pos < len(self.text):
                return self.text[self.pos]
            if not self.more():
                return None

    def line_value(self) -> object:
        """The JSON value at ``pos`` when it is all that is left of its line, read by orjson
        (several times faster); else, and for whatever orjson refuses (``NaN``, big integers,
        broken text), ``value``: the same value or the same error as ever."""
        if orjson is None:
            return self.value()
        end = self.text.find("\n", self.pos)
        while end < 0 and self.more():
            end = self.text.find("\n", self.pos)
        end = len(self.text) if end < 0 else end
        try:
            obj = orjson.loads(self.text[self.pos : end])
        except orjson.JSONDecodeError:
            return self.value()
        if _big_number(obj.get("properties") if type(obj) is dict and obj.get("type") == "Feature" else obj):
            return self.value()
        self.pos = end
        return obj

    def value(self) -> object:
        """Decode the JSON value at ``pos``, reading more of the file as long as it is incomplete."""
        while True:
            try:
                obj, end = _decoder.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as exc:
                if self.more():
                    continue
                raise GazetteerError(f"line {self.line_at(exc.pos)}: broken JSON ({exc.msg})", self.path) from exc
            self.pos = end
            return obj


#: orjson reads an integer outside [-2**63, 2**64) as a float, where json keeps the integer
_INT_RANGE = float(2**63)


def _big_number(value: object) -> bool:
    """Whether ``value`` holds a float orjson may have read from such an integer (a TLID or ZIP
    would then be written ``1e+20``). Only a feature's properties are looked at: its coordinates
    are read as floats anyway, so a float there is the number json's integer becomes."""
    stack = [value]
    while stack:
        v = stack.pop()
        kind = type(v)
        if kind is float:
            if not -_INT_RANGE < v < _INT_RANGE:
                return True
        elif kind is dict:
            stack.extend(v.values())
        elif kind is list:
            stack.extend(v)
    return False


def iter_features(f: TextIO, path: str) -> Iterator[dict]:
    """Features of an open GeoJSON text stream (see the module docstring for layouts)."""
    buf = _Buffer(f, path)
    first = buf.skip(" \t\r\n\ufeff\x1e")
    if first is None:
        return
    if first != "{":
        raise GazetteerError(f"not GeoJSON: the file starts with {buf.text[buf.pos:buf.pos + 20]!r}", path)
    # a FeatureCollection announces itself before its features; look ahead in the first block
    while len(buf.text) - buf.pos < 4096 and buf.more():
        pass
    head = buf.text[buf.pos : buf.pos + 4096]
    m = _FEATURES.search(head)
    if m and '"FeatureCollection"' in head[: m.start()] or (m and _first_key(head) == "features"):
        buf.pos += m.end()
        while True:
            ch = buf.skip(" \t\r\n,")
            if ch is None:
                raise GazetteerError("file ends inside the features list (truncated?)", path)
            if ch == "]":
                return
            feat = buf.value()
            if not isinstance(feat, dict):
                raise GazetteerError(f"line {buf.line_at(buf.pos)}: a feature is not a JSON object", path)
            yield feat
    # newline-delimited features (or text sequences)
    while True:
        ch = buf.skip(" \t\r\n\x1e")
        if ch is None:
            return
        obj = buf.line_value()
        if not isinstance(obj, dict):
            raise GazetteerError(f"line {buf.line_at(buf.pos)}: not a GeoJSON feature", path)
        if obj.get("type") == "FeatureCollection":
            yield from obj.get("features") or []
        elif obj.get("type") == "Feature":
            yield obj
        else:
            raise GazetteerError(f"line {buf.line_at(buf.pos)}: not a GeoJSON feature (type {obj.get('type')!r})",
                                 path)


def _first_key(head: str) -> str | None:
    m = re.match(r'\s*\{\s*"([^"]*)"', head)
    return m.group(1) if m else None


def _opener(path: Path) -> Callable:
    """``open``, or ``gzip.open`` for a ``.gz`` file."""
    return gzip.open if path.name.lower().endswith(".gz") else open


def read_features(path: Path) -> Iterator[dict]:
    """Features of a GeoJSON file on disk (``.gz`` compressed or not)."""
    try:
        with _opener(path)(path, "rt", encoding="utf-8", newline="") as f:
            yield from iter_features(f, str(path))
    except (gzip.BadGzipFile, EOFError) as exc:
        raise GazetteerError(f"corrupt or truncated gzip file ({exc})", str(path)) from exc
    except OSError as exc:
        raise GazetteerError(f"cannot read ({exc.strerror or exc})", str(path)) from exc


class NotColumnar(Exception):
    """What is left of a file cannot be read as columns: read its features one by one."""


#: bytes of features parsed into one batch of columns (some 5,000 TIGER edges; a long rural edge
#: of 10,000 vertices is 300 kB); a feature longer than this sends the rest of its file to the
#: per-feature reader. Larger blocks read no faster and cost a build's reading workers memory
#: (the build's memory with its workers: ``benchmarks/national.py``)
LINE_BLOCK_BYTES = 2 << 20
#: bytes looked at for the first feature: a collection's header, and its first feature's line
HEAD_BYTES = 1 << 20
_FEATURES_LINE = re.compile(rb'^\s*"features"\s*:\s*\[\s*$')
_LINE_END_COMMA = re.compile(rb",[ \t]*(\r?\n)")
_CLOSE = re.compile(rb"(?m)^[ \t]*\]")


def _open_binary(path: Path) -> BinaryIO:
    return _opener(path)(path, "rb")


def _is_feature(line: bytes, required: set[str]) -> bool:
    try:
        obj = orjson.loads(line) if orjson is not None else json.loads(line)
    except ValueError:
        return False
    props = obj.get("properties") if isinstance(obj, dict) and obj.get("type") == "Feature" else None
    return isinstance(props, dict) and props.keys() >= required


class _CollectionLines(io.RawIOBase):
    """The rest of a FeatureCollection written one feature per line (GDAL's layout) as
    newline-delimited features: the commas between them dropped, the list's end cut off.
    ``closed_list`` says whether the list's ``]`` was found (else the file is truncated)."""

    def __init__(self, f: BinaryIO):
        self.f, self.out, self.at, self.rest = f, b"", 0, b""
        self.end = self.closed_list = False

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        while self.at >= len(self.out) and not self.end:
            block = self.f.read(LINE_BLOCK_BYTES)
            text = self.rest + block
            cut = text.rfind(b"\n") + 1 if block else len(text)
            lines, self.rest, self.end = text[:cut], text[cut:], not block
            close = _CLOSE.search(lines)
            if close:
                lines, self.end, self.closed_list = lines[:close.start()], True, True
            self.out, self.at = _LINE_END_COMMA.sub(rb"\1", lines), 0
        n = min(len(buf), len(self.out) - self.at)
        buf[:n] = self.out[self.at : self.at + n]
        self.at += n
        return n


def _feature_lines(path: Path, required: set[str]) -> str | _CollectionLines:
    """What pyarrow reads a file of features one per line from: the path of a newline-delimited
    file, or the lines of a FeatureCollection after its header. ``NotColumnar`` for any other
    layout, or a first feature without the ``required`` properties."""
    try:
        with _open_binary(path) as f:
            head = f.readline(HEAD_BYTES)
    except (OSError, EOFError) as exc:  # a broken gzip: the per-feature reader says so
        raise NotColumnar(str(path)) from exc
    if _is_feature(head, required):
        return str(path)
    f = _open_binary(path)
    try:
        seen = 0
        while seen < HEAD_BYTES:
            line = f.readline(HEAD_BYTES)
            seen += len(line)
            if not line:
                break
            if _FEATURES_LINE.match(line):
                start = f.tell()
                first = f.readline(HEAD_BYTES).rstrip().rstrip(b",")
                if not _is_feature(first, required):
                    break
                f.seek(start)
                return _CollectionLines(f)
    except (OSError, EOFError):
        pass
    f.close()
    raise NotColumnar(str(path))


def line_feature_columns(path: Path, properties: list[tuple[str, pa.DataType]], required: set[str],
                         ) -> Iterator[pa.RecordBatch]:
    """Line features written one per line as Arrow batches, parsed in C++: the named
    ``properties`` (null where a feature lacks one, other properties ignored) and
    ``coordinates``, the LineString's vertices (``list<list<double>>``, null without a
    geometry). Files so written: newline-delimited features (``.geojsonl``, GeoJSONSeq) and
    FeatureCollections with one feature per line (GDAL's GeoJSON).

    Raises ``NotColumnar`` before the first batch when the file is not so laid out, and before
    a later batch that cannot be read so: a property of another type than asked (``TLID`` as
    text where ``int64`` was asked), another geometry, a feature without properties, a
    feature over several lines, broken JSON or gzip, a collection without its end. The
    per-feature reader then reads the rest of the file (skipping the features already given)
    and says what is wrong, by line. Only the first feature must have the ``required``
    properties: a later one without them reads as having them null (the per-feature reader
    refuses such a file).
    """
    source = _feature_lines(path, required)
    schema = pa.schema([
        ("type", pa.string()),
        ("properties", pa.struct(properties)),
        ("geometry", pa.struct([("type", pa.string()), ("coordinates", pa.list_(pa.list_(pa.float64())))])),
    ])
    names = [name for name, _ in properties]
    try:
        reader = pa_json.open_json(
            # a Python stream is read on this thread: it is closed below, with no read pending
            source, read_options=pa_json.ReadOptions(block_size=LINE_BLOCK_BYTES,
                                                     use_threads=isinstance(source, str)),
            parse_options=pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"))
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            kind, props, geom = batch.columns
            if kind.null_count or not pc.all(pc.equal(kind, "Feature")).as_py() or props.null_count:
                raise NotColumnar(str(path))
            if pc.any(pc.not_equal(geom.flatten()[0], "LineString")).as_py():
                raise NotColumnar(str(path))
            yield pa.RecordBatch.from_arrays([*props.flatten(), geom.flatten()[1]], names=[*names, "coordinates"])
    except (pa.ArrowException, OSError, EOFError) as exc:
        raise NotColumnar(str(path)) from exc
    finally:
        if isinstance(source, _CollectionLines):
            source.f.close()
    if isinstance(source, _CollectionLines) and not source.closed_list:
        raise NotColumnar(str(path))
