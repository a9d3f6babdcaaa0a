"""Reading order files and writing cleaned batches, atomically.

Readers stream any size of input in batches of rows and never drop a row: a row the
format cannot hold together (a ragged CSV line, a broken JSON line) comes out with a
``_problem`` saying why, so it is reported as ``invalid`` in its place. Problems with the
file as a whole (missing, a folder, no ``order_id`` column, not text) raise ``InputError``
with a one-line message naming the file.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import sys
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from addressing.errors import InputError, OutputError
from addressing.parse.postcodes import postal_text

ADDRESS_PARTS = ("address1", "address2", "city", "state", "postal_code", "country")
ROW = "_row"
PROBLEM = "_problem"
#: columns a cleaned chunk carries for the batch-wide rules (the address's key, its customer)
ADDRESS_KEY = "_address_key"
CUSTOMER = "_customer"
INTERNAL_COLUMNS = (ROW, PROBLEM, ADDRESS_KEY, CUSTOMER)
DEFAULT_BATCH_ROWS = 20_000
MAX_FIELD_CHARS = 16 * 1024 * 1024
MAX_RECORD_LINES = 100
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
DELIMITERS = (",", ";", "\t", "|")

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def input_format(path: Path) -> str:
    name = path.name.lower()
    for ext, fmt in ((".csv", "csv"), (".tsv", "csv"), (".parquet", "parquet"), (".pq", "parquet"),
                     (".jsonl", "jsonl"), (".ndjson", "jsonl"), (".json", "jsonl")):
        if name.endswith(ext):
            return fmt
    raise InputError("unknown input format (expected .csv, .parquet or .jsonl)", str(path))


#: bytes read from the head of a text input to estimate its rows (``estimate_rows``)
ESTIMATE_SAMPLE_BYTES = 1 << 20


def estimate_rows(path: Path) -> int:
    """About how many rows ``path`` holds, from its size and the lines in its first MiB (text)
    or exactly (Parquet's footer). Depends only on the file's bytes, so every run of one input
    gets the same estimate."""
    path = Path(path)
    if input_format(path) == "parquet":
        try:
            return pq.ParquetFile(path).metadata.num_rows
        except (OSError, pa.ArrowException) as exc:
            raise InputError(f"not a readable Parquet file ({_first_line(exc)})", str(path)) from None
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(ESTIMATE_SAMPLE_BYTES)
    lines = head.count(b"\n") + (not head.endswith(b"\n") and bool(head))
    if not head or len(head) >= size:
        return max(lines - (input_format(path) == "csv"), 0)
    return max(round(size * lines / len(head)), 1)


def check_readable(path: Path) -> None:
    """A regular file this process can open, or an ``InputError`` saying why not."""
    if not path.exists():
        raise InputError("no such file", str(path))
    if path.is_dir():
        raise InputError("is a folder, not a file", str(path))
    if not path.is_file():
        raise InputError("not a regular file (a pipe, socket or device?)", str(path))
    try:
        with open(path, "rb"):
            pass
    except PermissionError:
        raise InputError("permission denied", str(path)) from None
    except OSError as exc:
        raise InputError(f"cannot open ({exc.strerror or exc})", str(path)) from None


_check_readable = check_readable


def check_columns(names: list[str], path: Path) -> None:
    """The input contract: ``order_id`` and ``address`` or some of the split fields."""
    lower = {n.strip().lower() for n in names}
    if "order_id" not in lower:
        shown = ", ".join(n[:40] for n in names[:10]) or "none"
        raise InputError(f"no order_id column (columns: {shown})", str(path))
    if "address" not in lower and not lower & set(ADDRESS_PARTS):
        raise InputError("no address column, and none of " + ", ".join(ADDRESS_PARTS), str(path))


#: judges a file's column names; raises ``InputError`` naming the file when they will not do
ColumnCheck = Callable[[list[str], Path], None]


def safe_names(names: list[str]) -> list[str]:
    """Input column names as the batch carries them: ``order_id`` spelled canonically, and a
    column whose name the reader uses itself (``_row``, ``_problem``...) kept under
    ``<name>_input``, so no input column is ever overwritten."""
    out: list[str] = []
    for name in names:
        if name.strip().lower() == "order_id" and "order_id" not in out:
            name = "order_id"
        while name in INTERNAL_COLUMNS or name in out:
            name = f"{name}_input"
        out.append(name)
    return out


def _decode(raw: bytes) -> tuple[str, str | None]:
    """One line of bytes as text: UTF-8, else Windows-1252, else Latin-1 (never fails)."""
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252"), "not UTF-8; read as Windows-1252"
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "not UTF-8; read as Latin-1"


class _Runaway(Exception):
    """A CSV record ran over ``MAX_RECORD_LINES`` lines: a quote that never closes."""


class _Lines:
    """The physical lines of a CSV file, decoded one at a time, for ``csv.reader``.

    Remembers the lines of the record being read so that a malformed record can be
    reported on its first line and the lines after it read again: an unbalanced quote
    costs one row, never the rest of the file.
    """

    def __init__(self, raw, newline: bytes = b"\n"):
        self._raw = raw
        self._newline = newline
        self._back: deque[tuple[int, str, str | None]] = deque()
        self._n = 0
        self._chars = 0
        self.taken: list[tuple[int, str, str | None]] = []

    def __iter__(self):
        return self

    def _readline(self) -> bytes:
        if self._newline == b"\n":
            return self._raw.readline()
        buf = bytearray()
        while ch := self._raw.read(1):
            buf += ch
            if ch == self._newline:
                break
        return bytes(buf)

    def __next__(self) -> str:
        if len(self.taken) >= MAX_RECORD_LINES or self._chars > MAX_FIELD_CHARS:
            raise _Runaway(f"a quoted field runs over {len(self.taken)} lines; unbalanced quote?")
        if self._back:
            item = self._back.popleft()
        else:
            raw = self._readline()
            if not raw:
                raise StopIteration
            self._n += 1
            text, note = _decode(raw)
            if self._n == 1:
                text = text.lstrip("\ufeff")
            if "\x00" in text:
                text = text.replace("\x00", "")
                note = note or "NUL bytes removed"
            if self._newline == b"\r":
                text = text[:-1] + "\n" if text.endswith("\r") else text
            item = (self._n, text, note)
        self.taken.append(item)
        self._chars += len(item[1])
        return item[1]

    def start_record(self) -> None:
        self.taken = []
        self._chars = 0

    def push_back(self, items: list[tuple[int, str, str | None]]) -> None:
        self._back.extendleft(reversed(items))


def _sniff(head: bytes, path: Path) -> tuple[str, bytes]:
    """The delimiter (from the header line) and the line terminator of a CSV file."""
    newline = b"\r" if b"\r" in head and b"\n" not in head else b"\n"
    if path.name.lower().endswith(".tsv"):
        return "\t", newline
    first = head.split(newline, 1)[0].decode("utf-8", errors="replace")
    counts = {d: 0 for d in DELIMITERS}
    quoted = False
    for ch in first:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])
    return (best if counts[best] else ","), newline


def _best_effort(text: str, delimiter: str, width: int) -> list[str | None]:
    """The fields one malformed line seems to hold, padded or cut to the header's width."""
    line = text.rstrip("\r\n")
    try:
        rec = next(csv.reader([line], delimiter=delimiter, strict=False), [])
    except csv.Error:  # e.g. a bare carriage return inside the line
        rec = line.split(delimiter)
    rec = [c[:1000] for c in rec[:width]]
    return rec + [None] * (width - len(rec))


def _batch_from_rows(header: list[str], rows: list[list], numbers: list[int], problems: list[str | None]) -> pa.Table:
    cols = {h: pa.array([r[i] if i < len(r) else None for r in rows], pa.string()) for i, h in enumerate(header)}
    cols[ROW] = pa.array(numbers, pa.int64())
    cols[PROBLEM] = pa.array(problems, pa.string())
    return pa.table(cols)


def read_csv(path: Path, batch_rows: int = DEFAULT_BATCH_ROWS, check: ColumnCheck = check_columns) -> Iterator[pa.Table]:
    """Stream a CSV as string columns, one row per record, numbered by the line it starts on.

    Handles a BOM, NUL bytes, lines that are not UTF-8 (read as Windows-1252, each line on
    its own, so UTF-8 lines stay intact), ``;``/tab/``|`` delimiters, CR-only line ends,
    ragged rows and unbalanced quotes (that line becomes an invalid row, the next lines
    are read normally).
    """
    check_readable(path)
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    if not head.strip(b"\xef\xbb\xbf \r\n\t"):
        raise InputError("empty file", str(path))
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise InputError("UTF-16 text; save it as UTF-8 CSV", str(path))
    if head[:4] in (b"PK\x03\x04", b"PAR1") or head.count(b"\x00") > len(head) // 4:
        raise InputError("binary data, not CSV text (wrong extension?)", str(path))
    delimiter, newline = _sniff(head.lstrip(b"\xef\xbb\xbf"), path)
    with open(path, "rb") as raw:
        lines = _Lines(raw, newline)
        reader = csv.reader(lines, delimiter=delimiter, strict=True)
        try:
            header = next(reader)
        except StopIteration:
            raise InputError("empty file", str(path)) from None
        except (csv.Error, _Runaway) as exc:
            raise InputError(f"unreadable header line ({exc})", str(path)) from None
        header = [h.strip() for h in header]
        if not any(header):
            raise InputError("the first line (header) is blank", str(path))
        dupes = {h for h in header if header.count(h) > 1}
        if dupes:
            raise InputError(f"duplicate column names: {', '.join(sorted(dupes))}", str(path))
        check(header, path)
        header = safe_names(header)
        width = len(header)
        rows: list[list] = []
        numbers: list[int] = []
        problems: list[str | None] = []
        while True:
            lines.start_record()
            try:
                rec = next(reader)
            except StopIteration:
                break
            except (csv.Error, _Runaway) as exc:
                taken = lines.taken
                if not taken:
                    break
                line, text, _ = taken[0]
                why = str(exc) if isinstance(exc, _Runaway) else f"{exc}; unbalanced quote?"
                rows.append(_best_effort(text, delimiter, width))
                numbers.append(line)
                problems.append(f"malformed CSV row at line {line} ({why})")
                lines.push_back(taken[1:])
            else:
                if not rec:
                    continue  # a truly empty line is not a row
                line = lines.taken[0][0]
                notes = [n for _, _, n in lines.taken if n]
                problem = notes[0] if notes else None
                if len(rec) != width:
                    problem = f"malformed CSV row at line {line}: {len(rec)} fields, header has {width}"
                    rec = (rec + [None] * width)[:width]
                if any(c is not None and len(c) > MAX_FIELD_CHARS for c in rec):
                    problem = f"field longer than 16 MB at line {line}"
                    rec = [c if c is None or len(c) <= 1000 else c[:1000] for c in rec]
                rows.append(rec)
                numbers.append(line)
                problems.append(problem)
            if len(rows) >= batch_rows:
                yield _batch_from_rows(header, rows, numbers, problems)
                rows, numbers, problems = [], [], []
        if rows:
            yield _batch_from_rows(header, rows, numbers, problems)


_ORDER_ID_GUESS = re.compile(r'"order_id"\s*:\s*"?([^",}]{1,200})')


def read_jsonl(path: Path, batch_rows: int = DEFAULT_BATCH_ROWS, check: ColumnCheck = check_columns) -> Iterator[pa.Table]:
    """Stream JSON Lines; a broken line becomes an invalid row (its ``order_id`` kept when it
    can be seen), not an error for the file. Keys first seen later become new columns."""
    check_readable(path)
    header: list[str] | None = None
    names: dict[str, str] = {}
    rows: list[dict] = []
    numbers: list[int] = []
    problems: list[str | None] = []
    with open(path, "rb") as f:
        for n, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            text, note = _decode(raw)
            text = text.lstrip("\ufeff") if n == 1 else text
            try:
                obj = json.loads(text)
                if not isinstance(obj, dict):
                    raise ValueError(f"line is a JSON {type(obj).__name__}, not an object")
            except (ValueError, RecursionError) as exc:
                m = _ORDER_ID_GUESS.search(text)
                row = {"order_id": m.group(1).strip()} if m else {}
                note = f"broken JSON line {n} ({str(exc).split(':')[0][:100]})"
            else:
                if header is None:
                    check(list(obj), path)
                    header = []
                for k in obj:
                    if k not in names:
                        names[k] = safe_names([*header, k])[-1]
                        header.append(names[k])
                row = {names[k]: v for k, v in obj.items()}
            rows.append(row)
            numbers.append(n)
            problems.append(note)
            if header is None:
                if len(rows) > batch_rows:
                    raise InputError(f"none of the first {len(rows)} lines is a JSON object", str(path))
                continue
            if len(rows) >= batch_rows:
                yield _json_batch(header, rows, numbers, problems)
                rows, numbers, problems = [], [], []
    if header is None:
        if rows:
            raise InputError("no line is a JSON object (JSON Lines needs one object per line)", str(path))
        raise InputError("empty file", str(path))
    if rows:
        yield _json_batch(header, rows, numbers, problems)


def _is_postal(name: str) -> bool:
    return name.strip().lower() == "postal_code"


def _json_cell(v):
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, (dict, list, bool)):
        return json.dumps(v, ensure_ascii=False)
    return str(v)


def _json_postal(v):
    """A ``postal_code`` JSON number as its digits (``2118.0`` -> ``2118``); the zeros a number
    cannot hold are the parser's to restore, knowing the state."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return postal_text(v)
    return _json_cell(v)


def _json_batch(header: list[str], rows: list[dict], numbers: list[int], problems: list) -> pa.Table:
    cols = {h: pa.array([(_json_postal if _is_postal(h) else _json_cell)(r.get(h)) for r in rows], pa.string())
            for h in header}
    cols[ROW] = pa.array(numbers, pa.int64())
    cols[PROBLEM] = pa.array(problems, pa.string())
    return pa.table(cols)


def _as_text(col: pa.Array, postal: bool = False) -> pa.Array:
    """Any Arrow column as text: numbers, dates and booleans cast, bytes decoded, nested as JSON;
    numbers in a ``postal`` column as their digits (a decimal ``2118.00`` is ``2118``)."""
    t = col.type
    if pa.types.is_string(t):
        return col
    if postal and (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)):
        return pa.array([postal_text(v) for v in col.to_pylist()], pa.string())
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return pa.array([None if v is None else v.decode("utf-8", errors="replace") for v in col.to_pylist()],
                        pa.string())
    if pa.types.is_nested(t):
        return pa.array([None if v is None else json.dumps(v, ensure_ascii=False, default=str)
                         for v in col.to_pylist()], pa.string())
    try:
        return col.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.array([None if v is None else str(v) for v in col.to_pylist()], pa.string())


def read_parquet(path: Path, batch_rows: int = DEFAULT_BATCH_ROWS, check: ColumnCheck = check_columns) -> Iterator[pa.Table]:
    """Stream Parquet; every column is read as text (numbers in an address column are fine)."""
    check_readable(path)
    try:
        pf = pq.ParquetFile(path)
        names = pf.schema_arrow.names
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InputError(f"not a readable Parquet file ({_first_line(exc)})", str(path)) from None
    check(names, path)
    out_names = safe_names(names)
    n = 0
    batches = pf.iter_batches(batch_size=batch_rows)
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            break
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise InputError(f"unreadable Parquet data after row {n} ({_first_line(exc)})", str(path)) from None
        cols = {name: _as_text(batch.column(i), _is_postal(name)) for i, name in enumerate(out_names)}
        cols[ROW] = pa.array(range(n + 1, n + batch.num_rows + 1), pa.int64())
        cols[PROBLEM] = pa.nulls(batch.num_rows, pa.string())
        n += batch.num_rows
        yield pa.table(cols)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


def read_orders(path: str | Path, batch_rows: int = DEFAULT_BATCH_ROWS,
                check: ColumnCheck = check_columns) -> Iterator[pa.Table]:
    """Stream an orders file (CSV, JSON Lines or Parquet, by extension) as text batches with
    ``_row`` (the line or row each record starts on) and ``_problem`` (why a row is invalid).
    ``check`` judges the header (default: the orders contract, ``check_columns``); other
    tables read the same way (delivery reports) pass their own."""
    path = Path(path)
    fmt = input_format(path)
    reader = {"csv": read_csv, "jsonl": read_jsonl, "parquet": read_parquet}[fmt]
    try:
        yield from reader(path, batch_rows, check)
    except OSError as exc:
        raise InputError(f"read failed ({exc.strerror or _first_line(exc)})", str(path)) from None


def one_line(table: pa.Table) -> list[str | None]:
    """The raw address of each row as one line (``address``, else the split fields joined)."""
    names = {n.lower(): n for n in table.column_names}
    if "address" in names:
        col = table.column(names["address"]).to_pylist()
        extra = [n for n in ("address2",) if n in names]
        if not extra:
            return col
    parts = [table.column(names[p]).to_pylist() for p in (("address",) if "address" in names else ()) + ADDRESS_PARTS
             if p in names]
    out = []
    for vals in zip(*parts):
        bits = [v.strip() for v in vals if isinstance(v, str) and v.strip()]
        out.append(", ".join(bits) if bits else None)
    return out


def country_hints(table: pa.Table) -> list[str | None]:
    names = {n.lower(): n for n in table.column_names}
    if "country" in names:
        return table.column(names["country"]).to_pylist()
    return [None] * table.num_rows


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()  # read once: os.umask is process-wide, so reading it later races with threads


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (a power cut after it cannot undo it)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_path(target: Path):
    """Yield a temporary path beside ``target``; rename it over ``target`` only on success.

    A crash (even SIGKILL) before the rename leaves ``target`` as it was, plus at most a
    hidden ``.<name>.*.part`` file that ``remove_stale_parts`` clears on the next run.
    """
    target = Path(target)
    if target.is_dir():
        raise OutputError(f"{target}: is a folder; give a file name")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    except OSError as exc:
        raise OutputError(f"{target}: cannot write here ({exc.strerror or exc})") from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb") as f:
            os.fsync(f.fileno())
        os.chmod(tmp_path, 0o666 & ~_UMASK)
        os.replace(tmp_path, target)
        fsync_dir(target.parent)
    finally:
        tmp_path.unlink(missing_ok=True)


def remove_stale_parts(target: Path) -> int:
    """Delete temporary files a killed writer of ``target`` left behind; call it under the
    batch lock (then no live writer of ``target`` exists). Returns how many were removed."""
    target = Path(target)
    prefix = f".{target.name}."
    n = 0
    try:
        names = os.listdir(target.parent)
    except OSError:
        return 0
    for name in names:
        if name.startswith(prefix) and name.endswith(".part"):
            (target.parent / name).unlink(missing_ok=True)
            n += 1
    return n


def confine(path: str | Path, root: str | Path) -> Path:
    """``path`` made absolute (a relative path is taken from ``root``), if it stays inside
    ``root``; else ``OutputError``. ``..`` is resolved first, then symlinks: a link, or a linked
    folder on the way, that leads out of ``root`` is refused.

    >>> confine("out/a.parquet", "/srv/batches")
    PosixPath('/srv/batches/out/a.parquet')
    """
    base = Path(os.path.abspath(root))
    full = Path(os.path.abspath(base / Path(path)))
    if not full.is_relative_to(base):
        raise OutputError(f"{path}: outside the output root {base} (set --output-root or ADDRESSING_OUTPUT_ROOT)")
    real = Path(os.path.realpath(full))
    if not real.is_relative_to(Path(os.path.realpath(base))):
        raise OutputError(f"{path}: a symlink leads out of the output root {base} (to {real})")
    return full


def write_json_atomic(obj: dict, target: Path) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, default=str) + "\n", encoding="utf-8")


def neutralize_formula(value: str | None) -> str | None:
    """Cells that a spreadsheet would run as a formula get a leading apostrophe (OWASP):
    those starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return. A plain negative
    number stays as it is.

    >>> neutralize_formula("=1+2"), neutralize_formula("-12.5"), neutralize_formula("")
    ("'=1+2", '-12.5', '')
    """
    if value and value[0] in FORMULA_START:
        if value[0] == "-" and value[1:].replace(".", "", 1).isdigit():
            return value
        return "'" + value
    return value


def geo_metadata(column_lon: str = "lon", column_lat: str = "lat") -> dict:
    """GeoParquet 1.1 metadata for a WKB point column named ``geometry``."""
    return {
        "version": "1.1.0",
        "primary_column": "geometry",
        "columns": {"geometry": {"encoding": "WKB", "geometry_types": ["Point"], "crs": None,
                                 "covering": None}},
    }


class BatchWriter:
    """Writes output batches to a temporary file and renames it into place on ``close``.

    Parquet batches are gathered into row groups of ``ROW_GROUP_ROWS`` and written on a
    background thread (Arrow encodes and compresses without the GIL), one group at a time,
    so the caller prepares the next batches meanwhile."""

    ROW_GROUP_ROWS = 65_536

    def __init__(self, target: Path, fmt: str, schema: pa.Schema):
        self.target = Path(target)
        self.fmt = fmt
        self._ctx = atomic_path(self.target)
        self.tmp = self._ctx.__enter__()
        self.rows = 0
        self._schema = schema
        self._first = True
        if fmt == "parquet":
            meta = dict(schema.metadata or {})
            meta[b"geo"] = json.dumps(geo_metadata()).encode()
            self._pq_schema = schema.append(pa.field("geometry", pa.binary())).with_metadata(meta)
            self._writer = pq.ParquetWriter(self.tmp, self._pq_schema, compression="zstd")
            self._pending: list[pa.Table] = []
            self._pending_rows = 0
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="parquet-writer")
            self._writing: Future | None = None
        else:
            self._fh = open(self.tmp, "w", encoding="utf-8", newline="")  # noqa: SIM115 (closed in close/abort)
            if fmt == "csv":
                self._csv = csv.writer(self._fh)
                self._csv.writerow([csv_cell(n) for n in schema.names])
            elif fmt == "geojson":
                self._fh.write('{"type": "FeatureCollection", "features": [\n')

    def write(self, table: pa.Table) -> None:
        table = table.select(self._schema.names).cast(self._schema)
        self.rows += table.num_rows
        if self.fmt == "parquet":
            import shapely

            if table.num_rows == 0:
                return                      # an empty row group is an error to Parquet writers

            lon = table.column("lon").to_numpy(zero_copy_only=False).astype(float)   # nulls -> NaN
            lat = table.column("lat").to_numpy(zero_copy_only=False).astype(float)
            wkb = pa.array(shapely.to_wkb(shapely.points(lon, lat)), pa.binary(), mask=np.isnan(lon) | np.isnan(lat))
            self._pending.append(table.append_column("geometry", wkb).cast(self._pq_schema))
            self._pending_rows += table.num_rows
            while self._pending_rows >= self.ROW_GROUP_ROWS:
                self._flush(self.ROW_GROUP_ROWS)
        elif self.fmt == "csv":
            self._csv.writerows(zip(*csv_columns(table)))
        elif self.fmt == "jsonl":
            for row in table.to_pylist():
                self._fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        elif self.fmt == "geojson":
            for row in table.to_pylist():
                geom = ({"type": "Point", "coordinates": [row["lon"], row["lat"]]}
                        if row.get("lon") is not None and row.get("lat") is not None else None)
                sep = "" if self._first else ",\n"
                self._first = False
                self._fh.write(sep + json.dumps({"type": "Feature", "geometry": geom, "properties": row},
                                                ensure_ascii=False, default=str))
        else:
            raise OutputError(f"unknown output format {self.fmt!r}")

    def _flush(self, rows: int | None = None) -> None:
        """Hand the first ``rows`` gathered rows (all: ``None``) to the writer thread as one row
        group, once the group before them is written. Groups are cut at fixed row counts, so a
        file's bytes do not depend on how its rows were split into chunks."""
        if self._writing is not None:
            self._writing.result()          # its error, if any, surfaces here
            self._writing = None
        if self._pending:
            gathered = pa.concat_tables(self._pending)
            rows = gathered.num_rows if rows is None else rows
            # one Arrow chunk per group: the writer's pages follow the chunks it is given
            group, rest = gathered.slice(0, rows).combine_chunks(), gathered.slice(rows)
            self._pending, self._pending_rows = ([rest] if rest.num_rows else []), rest.num_rows
            self._writing = self._pool.submit(self._writer.write_table, group, row_group_size=group.num_rows)

    def close(self) -> None:
        if self.fmt == "parquet":
            try:
                self._flush()
                if self._writing is not None:
                    self._writing.result()
            finally:
                self._pool.shutdown()
            self._writer.close()
        else:
            if self.fmt == "geojson":
                self._fh.write("\n]}\n")
            self._fh.close()
        self._ctx.__exit__(None, None, None)

    def abort(self) -> None:
        try:
            if self.fmt == "parquet":
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._writer.close()
            else:
                self._fh.close()
        finally:
            self._ctx.__exit__(RuntimeError, RuntimeError("aborted"), None)


def write_csv(table: pa.Table, path: Path) -> None:
    """A small table as CSV (formulas neutralized, lists as JSON)."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow([csv_cell(n) for n in table.column_names])
        w.writerows(zip(*csv_columns(table)))


def csv_columns(table: pa.Table) -> list[list[str]]:
    """Every column as CSV cells (``csv_cell``), converted a column at a time."""
    out = []
    for col in table.columns:
        values = col.to_pylist()
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            out.append(["" if v is None else neutralize_formula(v) if v[:1] in FORMULA_START else v
                        for v in values])
        elif pa.types.is_floating(col.type):
            out.append(["" if v is None else repr(v) for v in values])
        else:
            out.append([csv_cell(v) for v in values])
    return out


_JSON = json.JSONEncoder(ensure_ascii=False, default=str)


def csv_cell(v) -> str:
    """The text one value becomes in a CSV file we write: empty for null, JSON for lists and
    records, ``repr`` for floats (round-trips exactly), and text with formula starts neutralized."""
    if v is None:
        return ""
    if isinstance(v, (list, dict)):
        return _JSON.encode(v)
    if isinstance(v, float):
        return repr(v)
    return neutralize_formula(str(v)) or ""


#: the columns of a review queue or cleaned batch that hold the address itself
ADDRESS_COLUMNS = ("input", "line1", "line2", "house_number", "predirectional", "street_name", "street_type",
                   "postdirectional", "unit_type", "unit", "po_box", "address", "address1", "address2", "lat",
                   "lon", "candidates")
REDACTED = "[redacted]"


def redact(table: pa.Table) -> pa.Table:
    """The table with its address columns blanked (text -> ``[redacted]``, numbers and lists ->
    null), for artifacts that people other than the dispatchers see."""
    for name in ADDRESS_COLUMNS:
        if name not in table.column_names:
            continue
        i = table.schema.get_field_index(name)
        col = table.column(i)
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            new = pa.array([None if v is None else REDACTED for v in col.to_pylist()], col.type)
        else:
            new = pa.nulls(table.num_rows, col.type)
        table = table.set_column(i, name, new)
    return table

