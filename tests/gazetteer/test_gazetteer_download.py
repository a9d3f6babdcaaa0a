"""Downloads against a real HTTP server on localhost (http.server in a thread, with Range and
If-Range support), serving the real Meagher County files: resumable, checksummed, atomic."""

from __future__ import annotations

import email.utils
import hashlib
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest

from addressing.errors import GazetteerError
from addressing.gazetteer.download import download, download_tiger, tiger_url
from addressing.gazetteer.store import SourceSpec, build


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Serves ``server.root``; honours ``Range: bytes=N-`` (206) unless ``If-Range`` names an
    older version; can cut the connection after ``server.cut_after`` bytes of a body."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):  # noqa: N802 - http.server's naming
        srv = self.server
        srv.requests.append({"path": self.path, "range": self.headers.get("Range"),
                             "if_range": self.headers.get("If-Range")})
        path = Path(srv.root) / self.path.lstrip("/").split("?")[0]
        if not path.is_file():
            self.send_error(404, "Not Found")
            return
        data = path.read_bytes()
        mtime = email.utils.formatdate(path.stat().st_mtime, usegmt=True)
        start = 0
        rng = self.headers.get("Range")
        if_range = self.headers.get("If-Range")
        m = re.fullmatch(r"bytes=(\d+)-", rng or "")
        if m and (if_range is None or if_range == mtime):
            start = int(m.group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Last-Modified", mtime)
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if srv.cut_after is not None and len(body) > srv.cut_after:
            self.wfile.write(body[: srv.cut_after])
            self.wfile.flush()
            srv.cut_after = None
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.wfile.write(body)


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    srv.root, srv.requests, srv.cut_after = str(root), [], None
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def census_zip(real, server) -> Path:
    """The Meagher ADDRFEAT shapefile set zipped where the Census keeps it."""
    folder = Path(server.root) / "TIGER2021" / "ADDRFEAT"
    folder.mkdir(parents=True)
    z = folder / "tl_2021_30059_addrfeat.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        for part in sorted((real / "tiger/meagher_mt_30059").glob("tl_2021_30059_addrfeat.*")):
            zf.write(part, part.name)
    return z


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_tiger_url():
    assert tiger_url("MT", "059", 2023) == \
        "https://www2.census.gov/geo/tiger/TIGER2023/ADDRFEAT/tl_2023_30059_addrfeat.zip"
    assert tiger_url("1", "1", 2021, base_url="http://mirror/") == \
        "http://mirror/TIGER2021/ADDRFEAT/tl_2021_01001_addrfeat.zip"
    for state, county in (("XX", "059"), ("MT", "12345"), ("MT", "abc")):
        with pytest.raises(GazetteerError):
            tiger_url(state, county)


def test_download_tiger_then_build(tmp_path, server, census_zip):
    dest = tmp_path / "downloads"
    seen = []
    path = download_tiger("MT", "059", dest, year=2021, base_url=server.url, progress=lambda d, t: seen.append((d, t)))
    assert path == dest / "tl_2021_30059_addrfeat.zip" and path.read_bytes() == census_zip.read_bytes()
    assert seen[-1] == (census_zip.stat().st_size, census_zip.stat().st_size)
    assert (dest / "tl_2021_30059_addrfeat.zip.sha256").read_text().split() == [sha(census_zip), path.name]
    assert sorted(p.name for p in dest.iterdir()) == ["tl_2021_30059_addrfeat.zip", "tl_2021_30059_addrfeat.zip.sha256"]
    # a second call finds the file intact and fetches nothing
    n = len(server.requests)
    assert download_tiger("MT", "059", dest, year=2021, base_url=server.url) == path
    assert len(server.requests) == n
    result = build(tmp_path / "g.duckdb", [SourceSpec("tiger", path)], with_zipcodes=False)
    assert result.loaded == ["tiger:30059"] and result.rows["segments"] > 500


def test_interrupted_download_resumes_with_range(tmp_path, server, census_zip):
    dest = tmp_path / "d"
    url = f"{server.url}/TIGER2021/ADDRFEAT/tl_2021_30059_addrfeat.zip"
    server.cut_after = 50_000
    with pytest.raises(GazetteerError, match="run again to resume"):
        download(url, dest)
    part = dest / "tl_2021_30059_addrfeat.zip.part"
    assert part.exists() and 0 < part.stat().st_size <= 50_000
    assert not (dest / "tl_2021_30059_addrfeat.zip").exists()  # nothing half-written under the real name
    have = part.stat().st_size
    path = download(url, dest, sha256=sha(census_zip))
    assert path.read_bytes() == census_zip.read_bytes()
    last = server.requests[-1]
    assert last["range"] == f"bytes={have}-" and last["if_range"]
    assert not part.exists()


def test_changed_file_restarts_instead_of_mixing(tmp_path, server, census_zip):
    """If the file on the server changed since the first attempt, If-Range makes the server
    send it whole: the result is the new file, never old bytes plus new bytes."""
    dest = tmp_path / "d"
    url = f"{server.url}/TIGER2021/ADDRFEAT/tl_2021_30059_addrfeat.zip"
    server.cut_after = 40_000
    with pytest.raises(GazetteerError):
        download(url, dest)
    new = census_zip.read_bytes()[::-1]  # other content, same name
    census_zip.write_bytes(new)
    os.utime(census_zip, (census_zip.stat().st_atime, census_zip.stat().st_mtime + 100))
    path = download(url, dest)
    assert path.read_bytes() == new


def test_checksum_mismatch_is_refused_and_cleaned(tmp_path, server, census_zip, capsys):
    dest = tmp_path / "d"
    url = f"{server.url}/TIGER2021/ADDRFEAT/tl_2021_30059_addrfeat.zip"
    with pytest.raises(GazetteerError, match="SHA-256 mismatch"):
        download(url, dest, sha256="0" * 64)
    assert list(dest.iterdir()) == []
    from addressing.cli import main

    code = main(["gazetteer", "download", "openaddresses", "--url", url, "--dest", str(dest), "--sha256", "1" * 64])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and "SHA-256 mismatch" in err[0] and url in err[0]


def test_http_errors_and_non_zip(tmp_path, server, capsys):
    with pytest.raises(GazetteerError, match="HTTP 404"):
        download(f"{server.url}/nope.zip", tmp_path)
    (Path(server.root) / "TIGER2023" / "ADDRFEAT").mkdir(parents=True)
    (Path(server.root) / "TIGER2023/ADDRFEAT/tl_2023_30059_addrfeat.zip").write_text("<html>maintenance</html>")
    with pytest.raises(GazetteerError, match="not a zip archive"):
        download_tiger("MT", "059", tmp_path, year=2023, base_url=server.url)
    assert not (tmp_path / "tl_2023_30059_addrfeat.zip").exists()
    with pytest.raises(GazetteerError, match="cannot reach the server"):
        download("http://127.0.0.1:9/x.zip", tmp_path, timeout=5)


def test_cli_download_openaddresses_and_tiger(tmp_path, server, census_zip, real):
    oa = Path(server.root) / "us" / "ca" / "sf.csv"
    oa.parent.mkdir(parents=True)
    shutil.copy(real / "openaddresses/sf_eas_addresses_with_units.csv", oa)
    dest = tmp_path / "dl"
    r = subprocess.run([sys.executable, "-m", "addressing.cli", "gazetteer", "download", "openaddresses",
                        "--url", f"{server.url}/us/ca/sf.csv", "--dest", str(dest), "--sha256", sha(oa)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert Path(r.stdout.strip()) == dest / "sf.csv" and sha(dest / "sf.csv") == sha(oa)
    r = subprocess.run([sys.executable, "-m", "addressing.cli", "gazetteer", "download", "tiger", "--state", "MT",
                        "--county", "059", "--year", "2021", "--base-url", server.url, "--dest", str(dest)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert sha(Path(r.stdout.strip())) == sha(census_zip)
    r = subprocess.run([sys.executable, "-m", "addressing.cli", "gazetteer", "download", "tiger", "--state", "MT",
                        "--county", "059", "--year", "2019", "--base-url", server.url, "--dest", str(dest)],
                       capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "HTTP 404" in r.stderr


def test_progress_bar_draws_to_the_end():
    import io

    from addressing.gazetteer.download import bar

    out = io.StringIO()
    show = bar(out)
    show(0, 1000)
    show(1000, 1000)
    lines = out.getvalue().split("\r")
    assert lines[-1].startswith("[" + "#" * 30 + "]") and lines[-1].endswith("\n")
