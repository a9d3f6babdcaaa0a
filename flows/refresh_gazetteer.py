"""refresh-gazetteer: reload the configured sources into the gazetteer, weekly.

Atomic by construction: ``addressing.gazetteer.store.build`` loads the changed sources in one
transaction (on the file itself, or on a copy while other processes keep it open), so readers
see the old version or the new one, and a failed or killed refresh leaves the old gazetteer in
place. Sources that did not change are not reloaded (the file's version then stays the same and
outputs keep reusing their cleaned chunks); a new vintage replaces its source's rows. With
``copies_on`` (a Dask scheduler), every worker then installs the new version on its host
(``addressing.gazetteer.replicas``), for clusters without a shared file system.

When the version changed, the orders of the last ``recheck_days`` days of batches under
``out_dir`` that still wait on a human (``review``, ``hold``) are cleaned again against it
(``addressing.batch.recheck``); those whose result changed are written beside their batch for
routing, and the ``gazetteer-recheck`` artifact lists them. ``recheck_days=0`` turns it off.

Run it locally:  python -m flows.refresh_gazetteer --sources addressing/demo/data/sources.toml
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from addressing import report
from addressing.batch.recheck import DEFAULT_DAYS, RecheckResult, recheck
from addressing.errors import AddressingError
from addressing.gazetteer import replicas, store
from addressing.gazetteer.sources import read_sources_toml
from flows.common import IO_RETRIES, failure_markdown

RECHECK_KEY = "gazetteer-recheck"


@task(name="read-sources", **IO_RETRIES)
def read_sources(sources: str, kinds: list[str] | None) -> list[store.SourceSpec]:
    specs = read_sources_toml(Path(sources))
    return [s for s in specs if kinds is None or s.kind in kinds]


@task(name="build-gazetteer", **IO_RETRIES)
def build_gazetteer(db: str, specs: list[store.SourceSpec], with_zipcodes: bool) -> store.BuildResult:
    logger = get_run_logger()
    return store.build(Path(db), specs, with_zipcodes=with_zipcodes, progress=logger.info)


#: seconds to reach the Dask scheduler that installs copies (dask's own default is 30)
SCHEDULER_TIMEOUT_S = 30


@task(name="install-copies", **IO_RETRIES)
def install_copies(db: str, scheduler: str) -> dict[str, dict]:
    """Install the gazetteer on every worker of the Dask cluster at ``scheduler``: each worker
    copies it into its host's ``$ADDRESSING_GAZETTEER_REPLICAS`` (two workers of one host copy
    once). Every worker must be able to read ``db`` at this path while it copies."""
    from distributed import Client

    with Client(scheduler, timeout=SCHEDULER_TIMEOUT_S) as client:
        return client.run(replicas.install, str(Path(db).resolve()))


@task(name="recheck-orders", **IO_RETRIES)
def recheck_orders(out_dir: str, db: str, days: int, risk_policy: str | None) -> RecheckResult:
    """The review and hold orders of the batches under ``out_dir`` of the last ``days`` days,
    cleaned again against the new gazetteer; those that changed written beside their batch."""
    return recheck(Path(out_dir), Path(db), days, risk_policy)


def copies_markdown(copies: dict[str, dict]) -> str:
    rows = [f"| `{w}` | `{c['copy']}` | `{c['version']}` | {'copied' if c['copied'] else 'already there'} |"
            for w, c in sorted(copies.items())]
    return "\n".join(["## Copies on the workers", "", "| worker | copy | version | |", "|---|---|---|---|", *rows])


def _version(db: str) -> str | None:
    try:
        return store.info(Path(db))["version"]
    except AddressingError:
        return None


def refresh_markdown(db: str, before: str | None, result: store.BuildResult, sources: str) -> str:
    changed = "unchanged" if before == result.version else f"`{before or '-'}` -> `{result.version}`"
    parts = [f"# Gazetteer refresh: `{db}`", "",
             f"Version {changed}; {len(result.loaded)} source(s) loaded, {len(result.unchanged)} unchanged; "
             f"{result.seconds:.1f} s. Sources: `{sources}`.", ""]
    if result.loaded:
        parts += ["Loaded: " + ", ".join(f"`{s}`" for s in result.loaded), ""]
    if result.unchanged:
        parts += ["Unchanged: " + ", ".join(f"`{s}`" for s in result.unchanged), ""]
    parts += ["| table | rows |", "|---|---|"] + [f"| {t} | {n:,} |" for t, n in result.rows.items()]
    return "\n".join(parts)


@flow(name="refresh-gazetteer", log_prints=True)
def refresh_gazetteer(sources: str = "addressing/demo/data/sources.toml", db: str = "build/demo/gazetteer.duckdb",
                      with_zipcodes: bool = True, kinds: list[str] | None = None,
                      copies_on: str | None = None, out_dir: str | None = "build/demo/out",
                      recheck_days: int = DEFAULT_DAYS, risk_policy: str | None = "addressing/demo/data/risk.toml",
                      redact: bool = False) -> dict:
    """Load the sources listed in ``sources`` (a sources TOML) into ``db``; ``kinds`` limits them
    (e.g. ``["openaddresses", "tiger"]``). ``copies_on``: the address of a Dask scheduler whose
    workers each keep a copy of the gazetteer on their host (``addressing.gazetteer.replicas``);
    they get the new version once it is built.

    When the version changed (from an earlier one): the ``review`` and ``hold`` orders of the batches under ``out_dir``
    finished in the last ``recheck_days`` days are cleaned again with ``risk_policy`` (the
    nightly run's); ``recheck_days=0`` or no ``out_dir``: no re-check. ``redact`` keeps addresses
    out of the re-check artifact (they are left out anyway for batches cleaned with ``redact``)."""
    started = time.time()
    try:
        before = _version(db)
        specs = read_sources(sources, kinds)
        result = build_gazetteer(db, specs, with_zipcodes)
        copies = install_copies(db, copies_on) if copies_on else {}
    except AddressingError as exc:
        create_markdown_artifact(key="gazetteer-refresh-failure", markdown=failure_markdown(
            "refresh-gazetteer", exc, "The previous gazetteer is unchanged and still in use."))
        raise
    markdown = refresh_markdown(db, before, result, sources)
    if copies:
        markdown += "\n\n" + copies_markdown(copies)
    create_markdown_artifact(key="gazetteer-refresh", markdown=markdown, description=f"gazetteer {result.version}")
    print(f"gazetteer {db}: version {before or '-'} -> {result.version}, loaded {len(result.loaded)}, "
          f"unchanged {len(result.unchanged)} ({time.time() - started:.1f} s)")
    rechecked = None
    # a first build (no version before) has no batches cleaned with an earlier version of it
    if before is not None and before != result.version and out_dir and recheck_days > 0:
        rechecked = _recheck(out_dir, db, recheck_days, risk_policy, redact)
    return {"db": db, "version_before": before, "version": result.version, "loaded": result.loaded,
            "unchanged": result.unchanged, "rows": result.rows, "copies": copies, "recheck": rechecked}


def _recheck(out_dir: str, db: str, days: int, risk_policy: str | None, redact: bool) -> dict | None:
    """The re-check after a new version, and its artifact; ``None`` when ``out_dir`` holds no
    batches yet (a first refresh before any nightly run)."""
    if not Path(out_dir).is_dir():
        print(f"re-check: no output folder {out_dir} yet; nothing to re-check")
        return None
    try:
        done = recheck_orders(out_dir, db, days, risk_policy)
    except AddressingError as exc:
        create_markdown_artifact(key=f"{RECHECK_KEY}-failure", markdown=failure_markdown(
            "refresh-gazetteer (re-check)", exc,
            f"The new gazetteer is installed. Re-check the waiting orders by hand once the cause is fixed: "
            f"`addressing recheck --out-dir {out_dir} --db {db} --days {days}"
            + (f" --risk-policy {risk_policy}`" if risk_policy else "`")))
        raise
    create_markdown_artifact(key=RECHECK_KEY, markdown=report.recheck_markdown(done, redact=redact),
                             description=f"gazetteer {done.gazetteer_version}: {done.checked:,} waiting order(s) "
                                         f"re-checked, {len(done.changes):,} changed")
    print(report.recheck_text(done))
    return done.as_dict()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Run the refresh-gazetteer flow locally.")
    ap.add_argument("--sources", default="addressing/demo/data/sources.toml")
    ap.add_argument("--db", default="build/demo/gazetteer.duckdb")
    ap.add_argument("--no-zipcodes", action="store_true")
    ap.add_argument("--kind", action="append", dest="kinds", help="only sources of this kind (repeatable)")
    ap.add_argument("--copies-on", metavar="tcp://scheduler:8786",
                    help="install the new version on every worker of this Dask cluster (their host's copies)")
    ap.add_argument("--out-dir", default="build/demo/out", help="the batches re-checked after a new version")
    ap.add_argument("--recheck-days", type=int, default=DEFAULT_DAYS,
                    help=f"re-check batches of the last N days (default {DEFAULT_DAYS}; 0: no re-check)")
    ap.add_argument("--risk-policy", default="addressing/demo/data/risk.toml",
                    help="the risk policy the batches were cleaned with")
    ap.add_argument("--redact", action="store_true", help="no addresses in the re-check artifact")
    args = ap.parse_args(argv)
    try:
        refresh_gazetteer(sources=args.sources, db=args.db, with_zipcodes=not args.no_zipcodes, kinds=args.kinds,
                          copies_on=args.copies_on, out_dir=args.out_dir, recheck_days=args.recheck_days,
                          risk_policy=args.risk_policy, redact=args.redact)
    except AddressingError as exc:
        print(f"refresh-gazetteer: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
