"""Fuzz the parse and clean entry points for a fixed time; count inputs and crashes.

    nice -n 19 .venv/bin/python benchmarks/fuzz_parse.py --minutes 10 --db build/demo/gazetteer.duckdb

A seeded mutation fuzzer (no coverage feedback, no extra dependency): seeds are the labeled
addresses in tests/data, the bad-input corpus in tests/data/bad_inputs and the demo layers;
mutations flip bytes, insert hostile characters (quotes, delimiters, CR/LF, NUL, BOM, RTL and
combining marks, emoji, lone digits), splice, repeat and truncate. Targets and what counts as a
crash:

- ``parse``       ``addressing.parse.parse_batch`` on mutated strings: any exception
- ``read``        ``addressing.io.read_orders`` on mutated CSV / JSONL / Parquet bytes: any
                  exception but ``AddressingError``, or row numbers that are not strictly rising
- ``clean``       ``addressing.pipeline.clean_table_isolating`` on tables of mutated text with
                  random column mixes: any exception, rows out != rows in, passthrough changed
- ``clean_file``  ``addressing.batch.clean_file`` on mutated files (every 50th input): any
                  exception but ``AddressingError``, rows out != rows read, a manifest that does
                  not add up

The fuzzing runs in a worker process watched by this one, so a crash in C code (libpostal,
DuckDB, Arrow) is caught too: the worker writes each input to ``<out>/current`` before running
it; if the worker dies of a signal that input is saved as a crash and a new worker carries on.
Crashing inputs are saved under ``<out>/crashes/``; the summary is printed as JSON and written
to ``<out>/summary.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = ("parse", "read", "clean", "clean_file")
HOSTILE = ['"', "'", ",", ";", "\t", "\r", "\n", "\r\n", "\x00", "\ufeff", "\u202e", "\u200b", "\u0301", "\u00a0",
           "#", "&", "/", "\\", "{", "}", "[", "]", "=", "+", "-", "@", "😀", "東京", "ß", "İ", "Ω", "0", "9",
           "00000", "-1", "1/2", "½", "APT", "PO BOX", "UNIT", "#0", "STE", "N", "NE", "RR 1 BOX", "APO AE",
           " ", "  ", "\x1b[31m", "%s", "{0}", "'; DROP TABLE streets; --", "null", "NaN", "9" * 30]


# ----------------------------------------------------------------------------- seeds and mutations


def seed_strings() -> list[str]:
    out = []
    for name in ("parse_labeled.jsonl", "parse_labeled_holdout.jsonl"):
        path = ROOT / "tests" / "data" / name
        if path.exists():
            with open(path, encoding="utf-8") as f:
                out += [json.loads(line)["input"] for line in f if line.strip()]
    from addressing.demo import DATA

    with open(DATA / "sf_eas_addresses_with_units.csv", encoding="utf-8") as f:
        next(f)
        for _, line in zip(range(300), f):
            parts = line.split(",")
            out.append(f"{parts[2]}, San Francisco, CA {parts[-1].strip()}")
    return out or ["7 Octavia St, San Francisco, CA 94102"]


def seed_files() -> list[tuple[str, bytes]]:
    corpus = ROOT / "tests" / "data" / "bad_inputs"
    files = [(p.suffix.lstrip(".") or "csv", p.read_bytes()) for p in sorted(corpus.iterdir()) if p.is_file()
             and p.stat().st_size < 200_000]
    files.append(("csv", b'order_id,address,memo\n1,"7 Octavia St, San Francisco, CA 94102",x\n'
                         b'2,"1047 Spring St, Prattville, AL 36067",y\n'))
    files.append(("jsonl", b'{"order_id": "1", "address": "7 Octavia St, San Francisco, CA 94102"}\n'))
    return [(ext if ext in ("csv", "jsonl", "parquet", "json", "tsv") else "csv", data) for ext, data in files]


def mutate_text(rng: random.Random, s: str, pool: list[str]) -> str:
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(9)
        i = rng.randint(0, len(s))
        if op == 0:
            s = s[:i] + rng.choice(HOSTILE) + s[i:]
        elif op == 1 and s:
            j = rng.randint(i, min(len(s), i + 8))
            s = s[:i] + s[j:]
        elif op == 2:
            s = s[:i] + chr(rng.choice([rng.randint(0, 0x7F), rng.randint(0x80, 0x2FFF), rng.randint(0x3000, 0xD7FF),
                                        rng.randint(0xE000, 0x10FFFF)])) + s[i:]
        elif op == 3:
            other = rng.choice(pool)
            s = s[:i] + other[rng.randint(0, len(other)):]
        elif op == 4 and s:
            j = rng.randint(i, min(len(s), i + 12))
            s = s[:i] + s[i:j] * rng.randint(2, 40) + s[j:]
        elif op == 5:
            s = s.upper() if rng.random() < 0.5 else s.lower()
        elif op == 6:
            s = s[: rng.randint(0, len(s))]
        elif op == 7:
            s = " ".join(reversed(s.split(" ")))
        else:
            s = s.replace(" ", rng.choice([",", ", ", "  ", "\n", "\t", ""]), rng.randint(1, 3))
    return s


def mutate_bytes(rng: random.Random, data: bytes, pool: list[bytes]) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        op = rng.randrange(6)
        i = rng.randint(0, len(b))
        if op == 0 and b:
            b[min(i, len(b) - 1)] = rng.randrange(256)
        elif op == 1:
            b[i:i] = rng.choice(HOSTILE).encode("utf-8")
        elif op == 2 and b:
            del b[i:rng.randint(i, min(len(b), i + 16))]
        elif op == 3:
            other = rng.choice(pool)
            b[i:] = other[rng.randint(0, len(other)):]
        elif op == 4 and b:
            j = rng.randint(i, min(len(b), i + 40))
            b[i:i] = bytes(b[i:j]) * rng.randint(2, 20)
        else:
            b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    return bytes(b)


# ----------------------------------------------------------------------------- the worker


class Invariant(Exception):
    """A target returned, but broke its contract."""


def worker(args: argparse.Namespace) -> int:
    import pyarrow as pa

    from addressing.batch import clean_file, manifest_problems
    from addressing.demo import DATA
    from addressing.errors import AddressingError
    from addressing.gazetteer import open_gazetteer
    from addressing.io import read_orders
    from addressing.parse import parse_batch
    from addressing.pipeline import INTERNAL_ERROR, clean_table_isolating, passthrough_columns
    from addressing.risk import load_risk

    out = Path(args.out)
    rng = random.Random(args.seed)
    strings = seed_strings()
    files = seed_files()
    gaz = open_gazetteer(args.db)
    risk = load_risk(DATA / "risk.toml")
    counts = {t: 0 for t in TARGETS}
    crashes = {t: 0 for t in TARGETS}
    isolated: dict[str, int] = {}  # rows a bug failed, caught by the batch's isolation (not crashes)
    logging.getLogger("addressing").setLevel(logging.ERROR)  # those rows are counted here instead
    deadline = time.monotonic() + args.seconds
    last_stats = 0.0
    current = out / "current"
    tmp = Path(tempfile.mkdtemp(prefix="fuzz-", dir=out))

    def record(target: str, payload: bytes, exc: BaseException) -> None:
        crashes[target] += 1
        n = sum(crashes.values())
        if n <= 200:
            (out / "crashes" / f"{target}-{args.seed}-{n}.bin").write_bytes(payload)
            (out / "crashes" / f"{target}-{args.seed}-{n}.txt").write_text(
                "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))

    def stats() -> None:
        (out / f"stats-{args.seed}.json").write_text(json.dumps({"inputs": counts, "crashes": crashes, "isolated": isolated}))

    i = 0
    while time.monotonic() < deadline:
        i += 1
        target = "clean_file" if i % 50 == 0 else rng.choice(("parse", "parse", "read", "clean"))
        if target == "parse":
            texts = [mutate_text(rng, rng.choice(strings), strings) for _ in range(rng.randint(1, 8))]
            payload = json.dumps(texts).encode()
        elif target == "clean":
            n = rng.randint(1, 6)
            cols = rng.sample(["address", "address1", "address2", "city", "state", "postal_code", "country"],
                              rng.randint(1, 3)) + rng.sample(["notes", "lat", "memo", "_row_", "=x", "input"], 2)
            table = {"order_id": [mutate_text(rng, str(k), strings) if rng.random() < 0.2 else str(k)
                                  for k in range(n)]}
            for c in cols:
                table[c] = [None if rng.random() < 0.1 else mutate_text(rng, rng.choice(strings), strings)
                            for _ in range(n)]
            payload = json.dumps(table).encode()
        else:
            ext, data = rng.choice(files)
            data = mutate_bytes(rng, data, [d for _, d in files])
            payload = ext.encode() + b"\n" + data
        current.write_bytes(target.encode() + b"\n" + payload)
        counts[target] += 1
        try:
            if target == "parse":
                got = parse_batch(texts)
                if len(got) != len(texts):
                    raise Invariant(f"{len(texts)} texts, {len(got)} parses")
            elif target == "clean":
                raw = pa.table({k: pa.array(v, pa.string()) for k, v in table.items()})
                res = clean_table_isolating(raw, gaz, risk)
                if res.num_rows != raw.num_rows:
                    raise Invariant(f"{raw.num_rows} rows in, {res.num_rows} out")
                for a, b in passthrough_columns(raw.column_names).items():
                    if res.column(b).to_pylist() != raw.column(a).to_pylist():
                        raise Invariant(f"passthrough {a!r} changed")
                for text, reason in zip(res.column("input").to_pylist(), res.column("reason").to_pylist()):
                    if reason and reason.startswith(INTERNAL_ERROR):
                        kind = reason.split("(", 1)[1].split(")", 1)[0]
                        isolated[kind] = isolated.get(kind, 0) + 1
                        if sum(isolated.values()) <= 100:
                            with open(out / "isolated.jsonl", "a", encoding="utf-8") as f:
                                f.write(json.dumps({"error": kind, "input": text}, ensure_ascii=False) + "\n")
            else:
                src = tmp / f"in.{ext}"
                src.write_bytes(data)
                try:
                    rows = [r for t in read_orders(src, 7) for r in t.column("_row").to_pylist()]
                except AddressingError:
                    rows = None
                if rows is not None and any(b <= a for a, b in zip(rows, rows[1:])):
                    raise Invariant("row numbers not strictly rising")
                if target == "clean_file":
                    dest = tmp / "out" / "o.parquet"
                    try:
                        m = clean_file(src, dest, args.db, chunk_rows=5, output_root=tmp)
                    except AddressingError as exc:
                        if rows:
                            raise Invariant(f"read {len(rows)} rows, but clean_file refused: {exc}") from exc
                    else:
                        if rows is None or m["outputs"]["cleaned"]["rows"] != len(rows) or manifest_problems(m):
                            raise Invariant(f"read {rows and len(rows)} rows, manifest {m['outputs']['cleaned']}")
        except AddressingError as exc:
            if target in ("parse", "clean"):
                record(target, payload, exc)
        except Exception as exc:  # noqa: BLE001 - the point is to count them
            record(target, payload, exc)
        if time.monotonic() - last_stats > 5:
            stats()
            last_stats = time.monotonic()
    stats()
    current.unlink(missing_ok=True)
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


# ----------------------------------------------------------------------------- the supervisor


def supervise(args: argparse.Namespace) -> int:
    out = Path(args.out)
    (out / "crashes").mkdir(parents=True, exist_ok=True)
    for old in [*out.glob("stats-*.json"), out / "isolated.jsonl"]:
        old.unlink(missing_ok=True)
    end = time.monotonic() + args.minutes * 60
    seed = args.seed
    signals = []
    started = time.time()
    while (left := end - time.monotonic()) > 1:
        cmd = [sys.executable, __file__, "--worker", "--seed", str(seed), "--seconds", str(left), "--db", args.db,
               "--out", str(out)]
        rc = subprocess.run(cmd).returncode
        if rc == 0:
            break
        current = out / "current"
        if current.exists():
            signals.append({"returncode": rc, "input": f"signal-{seed}.bin"})
            current.rename(out / "crashes" / f"signal-{seed}.bin")
        seed += 1000
    inputs = {t: 0 for t in TARGETS}
    crashes = {t: 0 for t in TARGETS}
    isolated: dict[str, int] = {}
    for f in out.glob("stats-*.json"):
        s = json.loads(f.read_text())
        for t in TARGETS:
            inputs[t] += s["inputs"][t]
            crashes[t] += s["crashes"][t]
        for k, v in s["isolated"].items():
            isolated[k] = isolated.get(k, 0) + v
    summary = {"minutes": round((time.time() - started) / 60, 2), "seed": args.seed, "inputs": inputs,
               "inputs_total": sum(inputs.values()), "crashes": crashes,
               "crashes_total": sum(crashes.values()) + len(signals), "worker_deaths": signals,
               "rows_isolated_by_error": isolated, "isolated_examples": str(out / "isolated.jsonl"),
               "crash_dir": str(out / "crashes")}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    return 1 if summary["crashes_total"] else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--db", default=str(ROOT / "build" / "demo" / "gazetteer.duckdb"))
    ap.add_argument("--out", default=str(ROOT / "build" / "fuzz"))
    ap.add_argument("--seed", type=int, default=20261125)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--seconds", type=float, default=0.0, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    return worker(args) if args.worker else supervise(args)


if __name__ == "__main__":
    sys.exit(main())
