"""Download gazetteer sources: resumable, checksummed, atomic.

``download(url, dest)`` fetches into ``<name>.part`` and renames it to ``<name>`` only when
complete (and, when a SHA-256 is given, only when it matches). An interrupted download
resumes where it stopped with an HTTP ``Range`` request; ``If-Range`` (the validator of the
first response, kept in ``<name>.part.json``) makes the server send the whole file again if
it changed meanwhile, so a resumed file is never a mix of two versions. The SHA-256 of what
was downloaded is recorded beside it in ``<name>.sha256`` (``sha256sum -c`` format), and a
file already there with a matching record is not fetched again.

``download_tiger(state, county, dest)`` is the Census TIGER/Line ADDRFEAT file of a county:
https://www2.census.gov/geo/tiger/TIGER2023/ADDRFEAT/tl_2023_30059_addrfeat.zip
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from addressing.errors import GazetteerError
from addressing.gazetteer.tiger import STATE_FIPS

CENSUS_TIGER = "https://www2.census.gov/geo/tiger"
BLOCK = 1 << 16
TIMEOUT_S = 60.0
USER_AGENT = "addressing-gazetteer/1 (+https://github.com/)"

Progress = Callable[[int, int | None], None]


def tiger_url(state: str, county: str, year: int = 2023, base_url: str = CENSUS_TIGER) -> str:
    """The ADDRFEAT URL of a county. ``state``: USPS code (``MT``) or FIPS (``30``);
    ``county``: the 3-digit county FIPS (``059``).

    >>> tiger_url("MT", "59", 2021)
    'https://www2.census.gov/geo/tiger/TIGER2021/ADDRFEAT/tl_2021_30059_addrfeat.zip'
    """
    by_code = {v: k for k, v in STATE_FIPS.items()}
    s = str(state).strip().upper()
    fips = by_code.get(s) or (s.zfill(2) if s.isdigit() and s.zfill(2) in STATE_FIPS else None)
    if fips is None:
        raise GazetteerError(f"unknown state {state!r} (give a USPS code such as MT, or a FIPS code such as 30)")
    c = str(county).strip()
    if not c.isdigit() or len(c) > 3:
        raise GazetteerError(f"county {county!r} is not a 3-digit county FIPS code (e.g. 059)")
    if not 2008 <= int(year) <= 2100:
        raise GazetteerError(f"no TIGER/Line ADDRFEAT files for year {year}")
    return f"{base_url.rstrip('/')}/TIGER{year}/ADDRFEAT/tl_{year}_{fips}{c.zfill(3)}_addrfeat.zip"


def download_tiger(state: str, county: str, dest: Path, year: int = 2023, base_url: str = CENSUS_TIGER,
                   sha256: str | None = None, progress: Progress | bool | None = None) -> Path:
    """Download a county's ADDRFEAT zip into ``dest`` and check it is a zip archive."""
    path = download(tiger_url(state, county, year, base_url), dest, sha256=sha256, progress=progress)
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != b"PK\x03\x04":
        path.unlink(missing_ok=True)
        path.with_name(path.name + ".sha256").unlink(missing_ok=True)
        raise GazetteerError("the server sent something that is not a zip archive (an error page?)", str(path))
    return path


def file_name(url: str) -> str:
    name = Path(urllib.parse.unquote(urllib.parse.urlparse(url).path)).name
    if not name or name in (".", "..") or not re.fullmatch(r"[\w.+-]+", name):
        raise GazetteerError("the URL does not end in a file name; cannot tell what to call the download", url)
    return name


def _sha256_of(path: Path) -> str:
    """SHA-256 of a file, read in blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _recorded(path: Path) -> str | None:
    rec = path.with_name(path.name + ".sha256")
    if not rec.exists():
        return None
    text = rec.read_text(encoding="utf-8").split()
    return text[0].lower() if text else None


def _record(path: Path, digest: str) -> None:
    rec = path.with_name(path.name + ".sha256")
    tmp = rec.with_name(rec.name + ".tmp")
    tmp.write_text(f"{digest}  {path.name}\n", encoding="utf-8")
    os.replace(tmp, rec)


def bar(out=None) -> Progress:
    """A one-line progress display (for terminals: redrawn in place)."""
    out = out or sys.stderr
    state = {"last": 0.0, "start": time.monotonic()}

    def show(done: int, total: int | None) -> None:
        now = time.monotonic()
        final = total is not None and done >= total
        if now - state["last"] < 0.2 and not final:
            return
        state["last"] = now
        rate = done / max(now - state["start"], 1e-6)
        if total:
            width = 30
            fill = int(width * done / total)
            line = f"[{'#' * fill}{'.' * (width - fill)}] {done / 1e6:7.1f} / {total / 1e6:.1f} MB {rate / 1e6:5.1f} MB/s"
        else:
            line = f"{done / 1e6:7.1f} MB {rate / 1e6:5.1f} MB/s"
        out.write("\r" + line + ("\n" if final else ""))
        out.flush()

    return show


def download(url: str, dest: Path, sha256: str | None = None, progress: Progress | bool | None = None,
             timeout: float = TIMEOUT_S) -> Path:
    """Fetch ``url`` into the folder ``dest``; the path of the complete file.

    ``progress``: a callable ``(bytes done, total or None)``, ``True`` for a bar on stderr
    when it is a terminal, or None. Raises ``GazetteerError`` (naming the URL) on HTTP and
    network errors, on a short read (run again to resume), and on a checksum mismatch (the
    partial file is then removed: resuming it could never give the right bytes).
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    final = dest / file_name(url)
    want = sha256.lower().strip() if sha256 else None
    if want is not None and not re.fullmatch(r"[0-9a-f]{64}", want):
        raise GazetteerError(f"{sha256!r} is not a SHA-256 (64 hex digits)")
    show: Progress | None
    if progress is True:
        show = bar() if sys.stderr.isatty() else None
    else:
        show = progress or None
    if final.exists():
        recorded = _recorded(final)
        if recorded and (want is None or recorded == want) and _sha256_of(final) == recorded:
            return final  # already here and intact
    part = final.with_name(final.name + ".part")
    meta_path = final.with_name(final.name + ".part.json")
    digest = _fetch(url, part, meta_path, show, timeout)
    if want is not None and digest != want:
        part.unlink(missing_ok=True)
        meta_path.unlink(missing_ok=True)
        raise GazetteerError(f"SHA-256 mismatch: expected {want}, got {digest}; the download was removed", url)
    os.replace(part, final)
    meta_path.unlink(missing_ok=True)
    _record(final, digest)
    return final


def _fetch(url: str, part: Path, meta_path: Path, show: Progress | None, timeout: float) -> str:
    """Bring ``part`` up to the whole resource; its SHA-256."""
    have = part.stat().st_size if part.exists() else 0
    meta = {}
    if have and meta_path.exists():
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (ValueError, OSError):
            meta = {}
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    validator = meta.get("etag") or meta.get("last_modified")
    if have and validator and meta.get("url") == url:
        headers["Range"] = f"bytes={have}-"
        headers["If-Range"] = validator
    else:
        have = 0
    req = urllib.request.Request(url, headers=headers)
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)  # noqa: S310 - http(s) URLs given by the user
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:
            m = re.match(r"bytes \*/(\d+)", exc.headers.get("Content-Range", "") if exc.headers else "")
            if m and int(m.group(1)) == have:
                return _sha256_of(part)  # the part was already complete
            part.unlink(missing_ok=True)  # the file shrank: start over
            meta_path.unlink(missing_ok=True)
            return _fetch(url, part, meta_path, show, timeout)
        raise GazetteerError(f"HTTP {exc.code} {exc.reason}", url) from exc
    except urllib.error.URLError as exc:
        raise GazetteerError(f"cannot reach the server ({exc.reason})", url) from exc
    except (TimeoutError, OSError) as exc:
        raise GazetteerError(f"network error ({exc})", url) from exc
    with resp:
        if resp.status == 206 and have:
            m = re.match(r"bytes (\d+)-(\d+)/(\d+|\*)", resp.headers.get("Content-Range", ""))
            if not m or int(m.group(1)) != have:
                raise GazetteerError(f"the server answered the resume with an unexpected range "
                                     f"({resp.headers.get('Content-Range')!r})", url)
            total = int(m.group(3)) if m.group(3) != "*" else None
            mode = "ab"
        else:
            have, mode = 0, "wb"
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            meta = {"url": url, "etag": resp.headers.get("ETag"), "last_modified": resp.headers.get("Last-Modified")}
            meta_path.write_text(json.dumps(meta), encoding="utf-8")
        h = hashlib.sha256()
        if have:
            with open(part, "rb") as f:
                while block := f.read(1 << 20):
                    h.update(block)
        done = have
        if show:
            show(done, total)
        try:
            with open(part, mode) as out:
                while block := resp.read(BLOCK):
                    out.write(block)
                    h.update(block)
                    done += len(block)
                    if show:
                        show(done, total)
                out.flush()
                os.fsync(out.fileno())
        except (TimeoutError, OSError, http.client.HTTPException) as exc:
            raise GazetteerError(f"the download stopped at {done:,} bytes ({exc}); run again to resume", url) from exc
    if total is not None and done != total:
        raise GazetteerError(f"the connection closed after {done:,} of {total:,} bytes; run again to resume", url)
    if show and total is None:
        show(done, done)
    return h.hexdigest()
