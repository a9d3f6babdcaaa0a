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
import io
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from addressing.errors import InputError, OutputError

ADDRESS_PARTS = ("address1", "address2", "city", "state", "postal_code", "country")
ROW = "_row"
PROBLEM = "_problem"
DEFAULT_BATCH_ROWS = 20_000
MAX_FIELD_CHARS = 16 * 1024 * 1024
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def input_format(path: Path) -> str:
    name = path.name.lower()
    for ext, fmt in ((".csv", "csv"), (".tsv", "csv"), (".parquet", "parquet"), (".pq", "parquet"),
                     (".jsonl", "jsonl"), (".ndjson", "jsonl"), (".json", "jsonl")):
        if name.endswith(ext):
            return fmt
    raise InputError("unknown input format (expected .csv, .parquet or .jsonl)", str(path))


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise InputError("no such file", str(path))
    if path.is_dir():
        raise InputError("is a folder, not a file", str(path))
    if not os.access(path, os.R_OK):
        raise InputError("permission denied", str(path))


def check_columns(names: list[str], path: Path) -> None:
    """The input contract: ``order_id`` and ``address`` or some of the split fields."""
    lower = {n.strip().lower() for n in names}
    if "order_id" not in lower:
        raise InputError(f"no order_id column (columns: {', '.join(names[:10]) or 'none'})", str(path))
    if "address" not in lower and not lower & set(ADDRESS_PARTS):
        raise InputError("no address column, and none of " + ", ".join(ADDRESS_PARTS), str(path))


def _decode(raw: bytes) -> tuple[str, str | None]:
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace"), "not UTF-8; read as Windows-1252 / Latin-1"


def _batch_from_rows(header: list[str], rows: list[list], numbers: list[int], problems: list[str | None]) -> pa.Table:
    cols = {h: pa.array([r[i] if i < len(r) else None for r in rows], pa.string()) for i, h in enumerate(header)}
    cols[ROW] = pa.array(numbers, pa.int64())
    cols[PROBLEM] = pa.array(problems, pa.string())
    return pa.table(cols)


def read_csv(path: Path, batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator[pa.Table]:
    """Stream a CSV as string columns. Handles a BOM, NUL bytes, Latin-1 files and ragged rows."""
    _check_readable(path)
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    if not head.strip(b"\xef\xbb\xbf \r\n\t"):
        raise InputError("empty file", str(path))
    if head[:4] in (b"PK\x03\x04", b"PAR1") or head.count(b"\x00") > len(head) // 4:
        raise InputError("binary data, not CSV text (wrong extension?)", str(path))
    text, note = _decode_file_sample(path)
    delimiter = "\t" if path.name.lower().endswith(".tsv") else ","
    with open(path, "rb") as raw:
        lines = _text_lines(raw, encoding=text)
        reader = csv.reader(lines, delimiter=delimiter, strict=False)
        try:
            header = next(reader)
        except StopIteration:
            raise InputError("empty file", str(path)) from None
        except csv.Error as exc:
            raise InputError(f"unreadable header ({exc})", str(path)) from None
        header = [h.strip().lstrip("\ufeff") for h in header]
        if not any(header):
            raise InputError("the first line (header) is blank", str(path))
        dupes = {h for h in header if header.count(h) > 1}
        if dupes:
            raise InputError(f"duplicate column names: {', '.join(sorted(dupes))}", str(path))
        check_columns(header, path)
        rows: list[list] = []
        numbers: list[int] = []
        problems: list[str | None] = []
        n = 1
        while True:
            try:
                rec = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                n += 1
                rows.append([])
                numbers.append(n)
                problems.append(f"malformed CSV row ({exc})")
                continue
            n += 1
            if not rec or all(not c.strip() for c in rec):
                if not rec:
                    continue  # a truly empty line is not a row
            problem = note
            if len(rec) != len(header):
                problem = f"malformed CSV row: {len(rec)} fields, header has {len(header)}"
                if len(rec) < len(header) and rec:
                    rec = rec + [None] * (len(header) - len(rec))
            if any(c is not None and len(c) > MAX_FIELD_CHARS for c in rec):
                problem = "field longer than 16 MB"
                rec = [c if c is None or len(c) <= 1000 else c[:1000] for c in rec]
            if "\x00" in "".join(c for c in rec if c):
                rec = [c.replace("\x00", "") if c else c for c in rec]
                problem = problem or "NUL bytes removed"
            rows.append(rec)
            numbers.append(n)
            problems.append(problem)
            if len(rows) >= batch_rows:
                yield _batch_from_rows(header, rows, numbers, problems)
                rows, numbers, problems = [], [], []
        if rows:
            yield _batch_from_rows(header, rows, numbers, problems)


def _decode_file_sample(path: Path) -> tuple[str, str | None]:
    """Choose the file's encoding: UTF-8 when every byte decodes, else Windows-1252."""
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            try:
                block.decode("utf-8")
            except UnicodeDecodeError as exc:
                if exc.start >= len(block) - 3:
                    continue  # a character cut by the block boundary
                return "cp1252", "file is not UTF-8; read as Windows-1252"
    return "utf-8-sig", None


def _text_lines(raw, encoding: str) -> Iterator[str]:
    wrapper = io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="")
    for line in wrapper:
        yield line.replace("\x00", "") if "\x00" in line else line


def read_jsonl(path: Path, batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator[pa.Table]:
    """Stream JSON Lines; a broken line becomes an invalid row, not an error for the file."""
    _check_readable(path)
    header: list[str] | None = None
    rows: list[dict] = []
    numbers: list[int] = []
    problems: list[str | None] = []
    with open(path, "rb") as f:
        for n, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            text, note = _decode(raw)
            try:
                obj = json.loads(text)
                if not isinstance(obj, dict):
                    raise ValueError("line is not a JSON object")
            except (ValueError, RecursionError) as exc:
                obj = {}
                m = None
                import re

                m = re.search(r'"order_id"\s*:\s*"?([^",}]+)', text)
                if m:
                    obj["order_id"] = m.group(1)
                note = f"broken JSON line ({str(exc).split(':')[0]})"
            if header is None:
                if not obj:
                    raise InputError(f"line {n} is not a JSON object; cannot tell the columns", str(path))
                header = list(obj)
                check_columns(header, path)
            else:
                for k in obj:
                    if k not in header:
                        header.append(k)
            rows.append(obj)
            numbers.append(n)
            problems.append(note)
            if len(rows) >= batch_rows:
                yield _json_batch(header, rows, numbers, problems)
                rows, numbers, problems = [], [], []
    if header is None:
        raise InputError("empty file", str(path))
    if rows:
        yield _json_batch(header, rows, numbers, problems)


def _json_batch(header: list[str], rows: list[dict], numbers: list[int], problems: list) -> pa.Table:
    def cell(v):
        if v is None or isinstance(v, str):
            return v
        if isinstance(v, (dict, list)):
            return json.dumps(v)
        return str(v)

    cols = {h: pa.array([cell(r.get(h)) for r in rows], pa.string()) for h in header}
    cols[ROW] = pa.array(numbers, pa.int64())
    cols[PROBLEM] = pa.array(problems, pa.string())
    return pa.table(cols)


def read_parquet(path: Path, batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator[pa.Table]:
    """Stream Parquet; every column is read as text (numbers in an address column are fine)."""
    _check_readable(path)
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"not a readable Parquet file ({str(exc).splitlines()[0]})", str(path)) from exc
    names = pf.schema_arrow.names
    check_columns(names, path)
    n = 0
    for batch in pf.iter_batches(batch_size=batch_rows):
        cols = {}
        for name in batch.schema.names:
            col = batch.column(name)
            if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
                cols[name] = col.cast(pa.string())
            elif pa.types.is_nested(col.type) or pa.types.is_binary(col.type):
                cols[name] = pa.array([None if v is None else json.dumps(v, default=str) for v in col.to_pylist()],
                                      pa.string())
            else:
                cols[name] = col.cast(pa.string()) if _castable(col) else pa.array(
                    [None if v is None else str(v) for v in col.to_pylist()], pa.string())
        cols[ROW] = pa.array(range(n + 1, n + batch.num_rows + 1), pa.int64())
        cols[PROBLEM] = pa.nulls(batch.num_rows, pa.string())
        n += batch.num_rows
        yield pa.table(cols)


def _castable(col: pa.Array) -> bool:
    try:
        col.cast(pa.string())
        return True
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False


def read_orders(path: str | Path, batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator[pa.Table]:
    path = Path(path)
    fmt = input_format(path)
    reader = {"csv": read_csv, "jsonl": read_jsonl, "parquet": read_parquet}[fmt]
    yield from reader(path, batch_rows)


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


@contextmanager
def atomic_path(target: Path):
    """Yield a temporary path beside ``target``; rename it over ``target`` only on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb") as f:
            os.fsync(f.fileno())
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_json_atomic(obj: dict, target: Path) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, default=str) + "\n", encoding="utf-8")


def neutralize_formula(value: str | None) -> str | None:
    """Cells that a spreadsheet would run as a formula get a leading apostrophe (OWASP)."""
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
    """Writes output batches to a temporary file and renames it into place on ``close``."""

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
        else:
            self._fh = open(self.tmp, "w", encoding="utf-8", newline="")
            if fmt == "csv":
                self._csv = csv.writer(self._fh)
                self._csv.writerow(schema.names)
            elif fmt == "geojson":
                self._fh.write('{"type": "FeatureCollection", "features": [\n')

    def write(self, table: pa.Table) -> None:
        table = table.select(self._schema.names).cast(self._schema)
        self.rows += table.num_rows
        if self.fmt == "parquet":
            import shapely

            lon = table.column("lon").to_numpy(zero_copy_only=False)
            lat = table.column("lat").to_numpy(zero_copy_only=False)
            pts = shapely.points(lon, lat)
            wkb = shapely.to_wkb(pts)
            wkb = [None if (x is None or y is None or x != x) else w for w, x, y in zip(wkb, lon, lat)]
            self._writer.write_table(table.append_column("geometry", pa.array(wkb, pa.binary())).cast(self._pq_schema))
        elif self.fmt == "csv":
            cols = [table.column(n).to_pylist() for n in table.column_names]
            for row in zip(*cols):
                self._csv.writerow([_csv_cell(v) for v in row])
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

    def close(self) -> None:
        if self.fmt == "parquet":
            self._writer.close()
        else:
            if self.fmt == "geojson":
                self._fh.write("\n]}\n")
            self._fh.close()
        self._ctx.__exit__(None, None, None)

    def abort(self) -> None:
        try:
            if self.fmt == "parquet":
                self._writer.close()
            else:
                self._fh.close()
        finally:
            self._ctx.__exit__(RuntimeError, RuntimeError("aborted"), None)


def write_csv(table: pa.Table, path: Path) -> None:
    """A small table as CSV (formulas neutralized, lists as JSON)."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(table.column_names)
        cols = [table.column(c).to_pylist() for c in table.column_names]
        for row in zip(*cols):
            w.writerow([_csv_cell(v) for v in row])


def _csv_cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, (list, dict)):
        return json.dumps(v, ensure_ascii=False, default=str)
    if isinstance(v, float):
        return repr(v)
    return neutralize_formula(str(v)) or ""
