"""``addressing ...``: the command line. Errors become one line on stderr and a non-zero exit."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from addressing.errors import AddressingError

EXIT_ERROR = 2


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- gazetteer


def cmd_gazetteer_build(args: argparse.Namespace) -> int:
    from addressing.gazetteer import store
    from addressing.gazetteer.openaddresses import ColumnMap
    from addressing.gazetteer.sources import read_sources_toml

    specs: list[store.SourceSpec] = []
    columns = (ColumnMap.parse(args.columns, args.set, args.encoding)
               if (args.columns or args.set or args.encoding) else None)
    for f in args.openaddresses or []:
        specs.append(store.SourceSpec("openaddresses", Path(f), columns=columns))
    for f in args.tiger or []:
        specs.append(store.SourceSpec("tiger", Path(f)))
    for f in args.geonames or []:
        specs.append(store.SourceSpec("geonames", Path(f)))
    if args.name:
        if len(specs) != 1:
            raise AddressingError("--name names one source: give exactly one --openaddresses/--tiger/--geonames file")
        specs[0].name = args.name
    for f in args.sources or []:
        specs += read_sources_toml(Path(f))

    from addressing.progress import for_stream

    bar = for_stream("rows", force=args.progress)

    def report(msg: str) -> None:  # what was loaded is the command's output; stderr is for errors and progress
        if bar:
            bar.clear()
        print(msg, flush=True)

    def rows(p: store.BuildProgress) -> None:
        bar.update(p.rows, p.expected, f"source {p.index}/{p.sources} {p.source}")

    try:
        result = store.build(Path(args.db), specs, with_zipcodes=not args.no_zipcodes, progress=report,
                             allow_older=args.allow_older, rows=rows if bar else None)
    finally:
        if bar:
            bar.close()
    report(f"gazetteer {result.path} version {result.version}: loaded {len(result.loaded)}, "
           f"unchanged {len(result.unchanged)} ({result.seconds:.1f} s)")
    for table, n in result.rows.items():
        report(f"  {table:<15} {n:>10,}")
    return 0


def cmd_gazetteer_replicate(args: argparse.Namespace) -> int:
    from addressing.gazetteer import replicas

    done = replicas.install(Path(args.db), Path(args.to) if args.to else None)
    _say(f"{done['copy']}: version {done['version']} " + ("copied" if done["copied"] else "already there"))
    return 0


def cmd_gazetteer_info(args: argparse.Namespace) -> int:
    from addressing.gazetteer import store

    data = store.info(Path(args.db))
    if args.json:
        print(json.dumps(data, indent=2, default=str))
        return 0
    print(f"{data['path']}  version {data['version']}  schema {data['schema']}  built {data['built_at']}  "
          f"{data['file_bytes'] / 1e6:.1f} MB")
    print("tables:")
    for t, n in data["tables"].items():
        print(f"  {t:<15} {n:>10,}")
    print("sources:")
    for s in data["sources"]:
        tables = ", ".join(f"{t} {n:,}" for t, n in s["table_rows"].items()) or f"{s['rows']:,} rows"
        skipped = f"; skipped {sum(s['skipped'].values()):,}" if s["skipped"] else ""
        size = f"{s['bytes'] / 1e6:.1f} MB" if s.get("bytes") is not None else "-"
        print(f"  {s['source_name']:<36} {s['kind']:<13} {tables}{skipped}")
        print(f"  {'':<36} vintage {s['vintage'] or '-'}  sha256 {s['checksum'][:16]}  {size}  "
              f"loaded {s['loaded_at'][:19]}  {s['path']}")
    return 0


def cmd_gazetteer_download(args: argparse.Namespace) -> int:
    from addressing.gazetteer import download

    if args.what == "tiger":
        if not (args.state and args.county):
            raise AddressingError("tiger needs --state (e.g. MT) and --county (e.g. 059)")
        path = download.download_tiger(args.state, args.county, Path(args.dest), year=args.year,
                                       base_url=args.base_url or download.CENSUS_TIGER, sha256=args.sha256,
                                       progress=True)
    else:
        if not args.url:
            raise AddressingError("openaddresses needs --url")
        path = download.download(args.url, Path(args.dest), sha256=args.sha256, progress=True)
    print(path)
    return 0


# ----------------------------------------------------------------------------- cleaning


def output_root(args: argparse.Namespace) -> Path:
    """Where ``clean`` may write: ``--output-root``, else ``$ADDRESSING_OUTPUT_ROOT``, else the
    current folder for a relative ``-o`` (so ``-o ../x`` is refused) and the given folder for
    an absolute one (the operator named it)."""
    given = args.output_root or os.environ.get("ADDRESSING_OUTPUT_ROOT")
    if given:
        return Path(given)
    out = Path(args.output)
    return Path(os.path.abspath(out)).parent if out.is_absolute() else Path.cwd()


def cmd_clean(args: argparse.Namespace) -> int:
    import logging

    from addressing.batch import clean_file

    level = logging.getLevelName(os.environ.get("ADDRESSING_LOG", "WARNING").upper())
    logging.basicConfig(level=level if isinstance(level, int) else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)

    from addressing.progress import for_stream

    bar = for_stream("rows", force=args.progress)
    try:
        manifest = clean_file(args.input, args.output, args.db, fmt=args.format, batch_id=args.batch_id,
                              risk_policy=args.risk_policy, chunk_rows=args.chunk_rows,
                              progress=bar.update if bar else None, workers=args.workers,
                              output_root=output_root(args), redact=args.redact)
    except (AddressingError, KeyboardInterrupt):
        raise
    except OSError as exc:
        raise AddressingError(f"{exc.filename or args.input}: {exc.strerror or exc}") from exc
    except Exception as exc:  # a bug: say so in one line; the traceback goes to the debug log
        logging.getLogger("addressing").debug("clean failed", exc_info=True)
        raise AddressingError(f"internal error while cleaning {args.input}: {type(exc).__name__}: "
                              f"{str(exc).splitlines()[0][:200] if str(exc) else ''} (please report it; "
                              "ADDRESSING_LOG=DEBUG shows the traceback)") from exc
    finally:
        if bar:
            bar.close()
    c = manifest["counts"]
    _say(f"{manifest['input']['rows']:,} rows -> {manifest['outputs']['cleaned']['path']} "
         f"({manifest['wall_s']:.1f} s); status {c['match_status']}; actions {c['action']}")
    return 0


def cmd_recheck(args: argparse.Namespace) -> int:
    import logging

    from addressing.batch.recheck import recheck
    from addressing.report import recheck_text

    level = logging.getLevelName(os.environ.get("ADDRESSING_LOG", "WARNING").upper())
    logging.basicConfig(level=level if isinstance(level, int) else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if args.days < 0:
        raise AddressingError(f"--days must be 0 or more, not {args.days}")
    result = recheck(Path(args.out_dir), Path(args.db), args.days, args.risk_policy)
    print(recheck_text(result), flush=True)
    return 0


def cmd_parse(args: argparse.Namespace) -> int:
    from addressing.parse import parse

    p = parse(args.text, country=args.country)
    d = {k: v for k, v in p.as_dict().items() if v not in (None, [], "")}
    d["line1"], d["line2"] = p.line1(), p.line2()
    print(json.dumps(d, indent=2, ensure_ascii=False))
    return 0 if not p.invalid_reason else 1


def cmd_model(args: argparse.Namespace) -> int:
    from addressing import libpostal

    if args.action == "install":
        libpostal.install_model(Path(args.dest) if args.dest else None, progress=_say)
    else:
        print(libpostal.model_dir())
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from addressing.demo.workdir import paths, prepare

    workdir = Path(args.workdir)
    if args.report:
        from addressing.demo.report import demo_report

        p = paths(workdir)
        print(demo_report(Path(args.outputs) if args.outputs else p["out"] / "demo", p["truth"]))
        return 0
    p = prepare(workdir, progress=_say)
    orders = sorted(f for f in p["orders"].iterdir() if not f.name.startswith("."))
    _say("to clean them by hand with the demo's risk policy, and compare with what was planted:\n"
         + "".join(f"  addressing clean {f} -o {p['out'] / 'demo' / (f.stem + '.parquet')} --db {p['db']} "
                   f"--risk-policy {p['policy']}\n" for f in orders)
         + f"  addressing demo --report --workdir {workdir}")
    return 0


# ----------------------------------------------------------------------------- operator decisions


def _store(args: argparse.Namespace) -> Path:
    from addressing.confirmations.store import store_path

    return store_path(args.db, args.store)


def cmd_decisions_apply(args: argparse.Namespace) -> int:
    from addressing.confirmations.record import apply_review_csv
    from addressing.confirmations.store import STORE_ENV

    if args.store:
        os.environ[STORE_ENV] = args.store  # the one rule then names it, wherever the batch's gazetteer is
    done = apply_review_csv(Path(args.file), args.operator, args.batch, args.db, args.risk_policy,
                            args.customer_column)
    skipped = sum(done["skipped"].values())
    _say(f"batch {done['batch_id']}: kept {sum(done['decisions'].values())} decision(s) {done['decisions']} in "
         f"{done['store']}" + (f"; skipped {skipped} {done['skipped']}" if skipped else ""))
    return 0


def cmd_decisions_revoke(args: argparse.Namespace) -> int:
    from addressing.confirmations import store

    path = _store(args)
    rid = store.revoke(path, args.id, args.operator, args.reason)
    _say(f"decision {args.id} revoked ({rid}); later orders are cleaned without it")
    return 0


def cmd_decisions_list(args: argparse.Namespace) -> int:
    from addressing.confirmations import keys, store

    rows = store.rows(_store(args), args.batch)
    for r in rows:
        when = r["decided_at"].strftime("%Y-%m-%d %H:%M")
        if r["kind"] == "revocation":
            line = f"{r['id']}  {when}  {r['operator']:<12}  revokes {r['revokes']}"
        else:
            status = f"revoked by {r['revoked_by']}" if r["revoked_by"] else "superseded" if r["superseded"] else "live"
            line = (f"{r['id']}  {when}  {r['operator']:<12}  batch {r['batch_id'] or '-'}  order {r['order_id'] or '-'}"
                    f"  {r['decision']} -> {r['action']}  {status}  key {keys.digest(r['input_key'] or '')}")
        if args.show_addresses:
            if r["kind"] == "decision":
                result = ", ".join(x for x in (r["line1"], r["line2"]) if x) or "-"
                line += f"\n    {r['input']!r} -> {result}"
            if r["reason"]:
                line += f"\n    reason: {r['reason']}"
        print(line)
    _say(f"{len(rows)} row(s)" + ("" if args.show_addresses else "; --show-addresses shows the addresses"))
    return 0


def cmd_forget(args: argparse.Namespace) -> int:
    import logging

    from addressing.confirmations import privacy

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    path = _store(args)
    if args.address is not None:
        done = privacy.forget_address(path, args.address)
        _say(f"erased {done['erased']} row(s) held for address {done['address']} from {path}")
    else:
        done = privacy.forget_customer(path, args.customer)
        _say(f"erased {done['erased']} row(s) held for customer {done['customer']} from {path}")
    return 0


# ----------------------------------------------------------------------------- proof of delivery


def cmd_deliveries_import(args: argparse.Namespace) -> int:
    from addressing.deliveries.ingest import ingest
    from addressing.deliveries.reports import read_reports

    done = ingest(read_reports(args.file), args.orders, args.db, args.risk_policy, args.store)
    _say(f"{args.file}: {done.text()}")
    return 0


def cmd_deliveries_accuracy(args: argparse.Namespace) -> int:
    import datetime as dt

    from addressing.confirmations.store import now
    from addressing.deliveries import store

    rows = store.accuracy(_store(args), now() - dt.timedelta(days=args.days))
    print(f"{'precision':<16}{'deliveries':>11}{'median m':>10}{'p90 m':>8}  within {store.WITHIN_M:g} m")
    for r in rows:
        print(f"{r['precision'] or '-':<16}{r['deliveries']:>11,}{r['median_m']:>10.1f}{r['p90_m']:>8.1f}"
              f"  {r['within']:>6.1%}")
    _say(f"geocode to drop, successful deliveries of the last {args.days} days ({sum(r['deliveries'] for r in rows):,})")
    return 0


# ----------------------------------------------------------------------------- wiring


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="addressing", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)

    gz = sub.add_parser("gazetteer", help="build and inspect the gazetteer")
    gzs = gz.add_subparsers(dest="gaz_command", required=True)
    b = gzs.add_parser("build", help="load sources into a gazetteer file (incremental, idempotent, atomic)")
    b.add_argument("--db", required=True)
    b.add_argument("--openaddresses", action="append", metavar="FILE", help="OA CSV or GeoJSON (repeatable)")
    b.add_argument("--tiger", action="append", metavar="FILE", help="ADDRFEAT .zip/.shp/.geojson or Nominatim CSV")
    b.add_argument("--geonames", action="append", metavar="FILE", help="GeoNames postal codes (.txt/.zip)")
    b.add_argument("--sources", action="append", metavar="TOML", help="a sources file listing files and mappings")
    b.add_argument("--columns", help="OA column mapping, e.g. number=ADDR_NUM,street=ST_NAME+ST_TYPE")
    b.add_argument("--set", help="constants for missing OA fields, e.g. city=SAN FRANCISCO,region=CA")
    b.add_argument("--name", help="source name (with one source file)")
    b.add_argument("--encoding", help="text encoding of the OA files, e.g. cp1252 (default UTF-8)")
    b.add_argument("--allow-older", action="store_true", help="replace a source with an older vintage of it")
    b.add_argument("--no-zipcodes", action="store_true", help="do not load the US ZIP table")
    b.add_argument("--progress", action=argparse.BooleanOptionalAction,
                   help="rows loaded, rate and time left on stderr (default: when stderr is a terminal)")
    b.set_defaults(fn=cmd_gazetteer_build)
    i = gzs.add_parser("info", help="counts per table and source, version, file size")
    i.add_argument("--db", required=True)
    i.add_argument("--json", action="store_true")
    i.set_defaults(fn=cmd_gazetteer_info)
    r = gzs.add_parser("replicate", help="copy the gazetteer to this host's folder of copies (for workers without "
                                         "a shared file system); nothing to do when the copy has its version")
    r.add_argument("--db", required=True)
    r.add_argument("--to", metavar="FOLDER", help="default: $ADDRESSING_GAZETTEER_REPLICAS")
    r.set_defaults(fn=cmd_gazetteer_replicate)
    d = gzs.add_parser("download", help="download TIGER ADDRFEAT or an OpenAddresses file (resumable)")
    d.add_argument("what", choices=["tiger", "openaddresses"])
    d.add_argument("--state", help="tiger: USPS code or FIPS (MT or 30)")
    d.add_argument("--county", help="tiger: 3-digit county FIPS (059)")
    d.add_argument("--year", type=int, default=2023)
    d.add_argument("--base-url", help="tiger: a mirror of https://www2.census.gov/geo/tiger")
    d.add_argument("--url", help="openaddresses: the file's URL")
    d.add_argument("--sha256", help="expected SHA-256; the download is refused when it differs")
    d.add_argument("--dest", default="downloads")
    d.set_defaults(fn=cmd_gazetteer_download)

    c = sub.add_parser("clean", help="clean an orders file")
    c.add_argument("input")
    c.add_argument("-o", "--output", required=True)
    c.add_argument("--db", required=True)
    c.add_argument("--format", choices=["parquet", "csv", "jsonl", "geojson"])
    c.add_argument("--risk-policy", help="risk policy TOML (default: built-in defaults)")
    c.add_argument("--batch-id")
    c.add_argument("--chunk-rows", type=int, default=20_000)
    c.add_argument("--progress", action=argparse.BooleanOptionalAction,
                   help="rows cleaned, rate and time left on stderr (default: when stderr is a terminal)")
    c.add_argument("--workers", type=int, default=1, help="processes to clean chunks on (default 1)")
    c.add_argument("--output-root", metavar="DIR",
                   help="refuse to write outside DIR (default: $ADDRESSING_OUTPUT_ROOT, else the current folder "
                        "for a relative -o, the -o folder for an absolute one)")
    c.add_argument("--redact", action="store_true", help="blank the addresses in the review queue CSV")
    c.set_defaults(fn=cmd_clean)

    rc = sub.add_parser("recheck", help="after a gazetteer refresh: clean the review and hold orders of recent "
                                         "batches again; write those whose result changed beside their batch")
    rc.add_argument("--out-dir", required=True, metavar="DIR", help="the output root the batches were written under")
    rc.add_argument("--db", required=True, help="the gazetteer, at its new version")
    rc.add_argument("--days", type=int, default=7, metavar="N",
                    help="batches whose manifest was written in the last N days (default 7; 0: none)")
    rc.add_argument("--risk-policy", help="the risk policy TOML the batches were cleaned with (default: built-in)")
    rc.set_defaults(fn=cmd_recheck)

    p = sub.add_parser("parse", help="print the parsed, standardized components of an address as JSON")
    p.add_argument("text")
    p.add_argument("--country")
    p.set_defaults(fn=cmd_parse)

    m = sub.add_parser("model", help="the libpostal model")
    m.add_argument("action", choices=["install", "path"])
    m.add_argument("--dest")
    m.set_defaults(fn=cmd_model)

    dm = sub.add_parser("demo", help="build the demo gazetteer and a day of orders (idempotent); --report: "
                                     "compare the cleaned day with what the demo planted")
    dm.add_argument("--workdir", default="build/demo")
    dm.add_argument("--report", action="store_true",
                    help="print the cleaned day's actions and which flags are the planted problems")
    dm.add_argument("--outputs", metavar="DIR", help="cleaned Parquet batches of the day (default: WORKDIR/out/demo)")
    dm.set_defaults(fn=cmd_demo)

    store_help = ("the decisions store (default: $ADDRESSING_DECISIONS_DB, else <gazetteer stem>.decisions.duckdb "
                  "beside --db)")
    dc = sub.add_parser("decisions", help="operator decisions kept to answer later orders of the same address")
    dcs = dc.add_subparsers(dest="decisions_command", required=True)
    da = dcs.add_parser("apply", help="keep the decisions of an edited review queue CSV (columns decision: "
                                      "accept/edit/hold, address: for an edit, note: why held)")
    da.add_argument("file", help="a batch's <name>.review.csv, with its manifest and Parquet batch beside it")
    da.add_argument("--batch", help="the batch id (checked against the manifest's)")
    da.add_argument("--operator", default=os.environ.get("USER") or "operator", help="who decided (default $USER)")
    da.add_argument("--db", help="gazetteer to clean edits with (default: the batch's)")
    da.add_argument("--store", help=store_help)
    da.add_argument("--risk-policy", help="risk policy TOML edits are judged with (default: built-in defaults)")
    da.add_argument("--customer-column", default="customer_id", help="the orders' customer id column")
    da.set_defaults(fn=cmd_decisions_apply)
    dr = dcs.add_parser("revoke", help="revoke a decision (appended; later orders are cleaned without it)")
    dr.add_argument("id")
    dr.add_argument("--operator", default=os.environ.get("USER") or "operator")
    dr.add_argument("--reason")
    dr.add_argument("--db")
    dr.add_argument("--store", help=store_help)
    dr.set_defaults(fn=cmd_decisions_revoke)
    dl = dcs.add_parser("list", help="the decisions and revocations, oldest first (no addresses unless asked)")
    dl.add_argument("--batch")
    dl.add_argument("--show-addresses", action="store_true", help="print the addresses and reasons (customer data)")
    dl.add_argument("--db")
    dl.add_argument("--store", help=store_help)
    dl.set_defaults(fn=cmd_decisions_list)

    dv = sub.add_parser("deliveries", help="proof of delivery: drop points and failed attempts learned from routing")
    dvs = dv.add_subparsers(dest="deliveries_command", required=True)
    di = dvs.add_parser("import", help="keep a file of delivery reports (order_id, lat, lon, delivered_at, outcome, "
                                       "reason), joined to the cleaned orders (idempotent)")
    di.add_argument("file", help="CSV, JSON Lines or Parquet")
    di.add_argument("--orders", action="append", required=True, metavar="PATH",
                    help="a cleaned batch, or a folder of them (searched for manifests); repeatable")
    di.add_argument("--db", help="the gazetteer whose decisions store keeps them")
    di.add_argument("--store", help=store_help)
    di.add_argument("--risk-policy", help="risk policy TOML (retention, failed_before window; default built-in)")
    di.set_defaults(fn=cmd_deliveries_import)
    dy = dvs.add_parser("accuracy", help="distance from our geocodes to real drops, per precision")
    dy.add_argument("--days", type=int, default=30, help="deliveries of the last N days (default 30)")
    dy.add_argument("--db")
    dy.add_argument("--store", help=store_help)
    dy.set_defaults(fn=cmd_deliveries_accuracy)

    fg = sub.add_parser("forget", help="erase everything the decisions store holds for an address or a customer")
    who = fg.add_mutually_exclusive_group(required=True)
    who.add_argument("--address", metavar="TEXT", help="the address (any spelling that parses alike)")
    who.add_argument("--customer", metavar="ID", help="the customer id")
    fg.add_argument("--db")
    fg.add_argument("--store", help=store_help)
    fg.set_defaults(fn=cmd_forget)

    return ap


def run(args: argparse.Namespace, prog: str) -> int:
    """Run a parsed command (``args.fn``): the project's errors become one line on stderr and
    exit status ``EXIT_ERROR``; the rule for every command line of the project."""
    try:
        return args.fn(args)
    except AddressingError as exc:
        _say(f"{prog}: error: {exc}")
        return EXIT_ERROR
    except KeyboardInterrupt:
        _say(f"{prog}: interrupted")
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def main(argv: list[str] | None = None) -> int:
    return run(build_parser().parse_args(argv), "addressing")


if __name__ == "__main__":
    sys.exit(main())
