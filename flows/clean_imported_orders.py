"""clean-imported-orders: an ``order.imported`` event -> cleaned orders within seconds, then a
human decides on the orders that need one.

Started by the deployment trigger in prefect.yaml (``event.payload`` -> parameters). An
import is small (1-500 orders typically), so it is cleaned in one task, in one go (no chunk
tasks: a task costs milliseconds, the cleaning tens of milliseconds once the models are
loaded). Loading them costs a fresh process seconds, so the task goes to the warm import
worker (``flows/import_worker.py``) when one is running, and runs in the flow's process when
not. Then:

1. the outputs are written as the nightly run writes them (``<out_dir>/<batch_id>/<name>.parquet``,
   ``.review.csv``, ``.manifest.json``) and published as artifacts (summary, review queue,
   map): the batch is usable now, the orders needing a human are in its review queue;
2. if there are any, the run pauses and the Prefect UI shows a form on ``Resume``: per order
   ``accept``, ``edit`` (type the address; it is cleaned again) or ``hold``, in pages of
   ``REVIEW_PAGE`` (the worst first, at most ``REVIEW_MAX``); when nobody answers within
   ``review_timeout_s`` every open order is held;
3. the decisions are applied, the outputs rewritten (plus ``<name>.decisions.json``, the audit
   trail) and the artifacts published again.

Run it locally:  python -m flows.clean_imported_orders --file build/demo/orders/webshop.csv
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path
from typing import Literal

import pydantic
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.context import get_run_context
from prefect.flow_runs import pause_flow_run, resume_flow_run
from prefect.input import RunInput

from addressing import io as aio
from addressing.batch.outputs import decisions_path, output_for
from addressing.errors import AddressingError, InputError
from flows.common import IO_RETRIES, api_request, failure_markdown, publish_batch
from flows.events import check_batch_id, default_batch_id

ARTIFACT_KEYS = {"summary": "import-summary", "review": "import-review-queue", "map": "import-map"}
REVIEW_PAGE = 25
#: at most this many orders are put to the operator (the worst first); the rest stay held in the
#: review queue file, as after a nightly run
REVIEW_MAX = 500
DEFAULT_REVIEW_TIMEOUT_S = 900
#: how long a warm import worker may take to start a task before the flow runs it itself
WARM_PICKUP_S = 5
WARM_RESULT_S = 600
#: the pause itself outlives the decision deadline by this much, so that the run can resume
#: itself with the default (hold) before Prefect would fail it as "paused and never resumed"
PAUSE_GRACE_S = 120


class Decision(pydantic.BaseModel):
    """One order's decision in the resume form."""

    decision: Literal["accept", "edit", "hold"] = pydantic.Field(
        "hold", description="accept the cleaned address, edit it (type it below), or hold the order")
    address: str = pydantic.Field("", description="for edit: the address as it should be, on one line")
    reason: str = pydantic.Field("", description="for hold: why (kept with the decision; later orders of this "
                                                 "address are held with it)")


#: who decided, when the operator leaves the form's name field as it is
DEFAULT_OPERATOR = "operator"
#: who "decided" the orders nobody answered (held, and not kept as anyone's decision)
NOBODY = "nobody (held after the timeout)"


@task(name="stage-import", **IO_RETRIES)
def stage_import(orders: list[dict], path: Path) -> Path:
    """Inline rows from the event -> a JSON Lines file (the batch's input, with a checksum)."""
    import json

    with aio.atomic_path(path) as tmp:
        tmp.write_text("".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in orders),
                       encoding="utf-8")
    return path


@task(name="clean-import", persist_result=True, **IO_RETRIES)
def clean_import(input_path: str, output: str, db: str, output_format: str, batch_id: str,
                 risk_policy: str | None, redact: bool = False, await_decisions: bool = True) -> dict:
    """Clean the whole import in one go (``addressing.batch``: plan, clean, assemble); retried
    only on what a retry may cure (the cleaning is deterministic)."""
    from addressing import imports  # the library, loaded only where the cleaning runs

    return imports.first_pass(input_path, output, db, output_format, batch_id, risk_policy, redact,
                              await_decisions)


@task(name="apply-decisions", persist_result=True, **IO_RETRIES)
def apply_decisions(plan: dict, items: list[dict], answers: list, output: str, db: str, output_format: str,
                    batch_id: str, risk_policy: str | None, redact: bool, by: str) -> dict:
    """Apply the operator's answers and rewrite the outputs (edited addresses are cleaned again)."""
    from addressing import imports

    return imports.decide(plan, items, answers, output, db, output_format, batch_id, risk_policy, redact, by)


def warm_worker_ready(t) -> bool:
    """Is a task worker serving ``t`` connected to the API (flows/import_worker.py)?"""
    try:
        return bool(api_request("/task_workers/filter", {"task_worker_filter": {"task_keys": [t.task_key]}},
                                timeout=3))
    except (OSError, ValueError):
        return False


def run_warm(t, **params):
    """Run task ``t`` on the warm import worker when one serves it, else here (loading the models
    costs this process several seconds). A task the worker does not pick up within
    ``WARM_PICKUP_S`` is cancelled and run here instead."""
    logger = get_run_logger()
    if not warm_worker_ready(t):
        logger.info("no warm import worker: %s runs in this process", t.name)
        return t(**params)
    fut = t.delay(**params)
    deadline = time.monotonic() + WARM_PICKUP_S
    while fut.state.is_scheduled() and time.monotonic() < deadline:
        time.sleep(0.05)
    if fut.state.is_scheduled():
        from prefect import get_client
        from prefect.states import Cancelled

        with get_client(sync_client=True) as client:
            client.set_task_run_state(fut.task_run_id, Cancelled(message="not picked up: ran in the flow"),
                                      force=True)
        logger.warning("the warm import worker did not pick up %s within %s s: running it here", t.name,
                       WARM_PICKUP_S)
        return t(**params)
    return fut.result(timeout=WARM_RESULT_S)


def review_form(items: list[dict], page: int, pages: int, deadline: float, batch_id: str) -> type[RunInput]:
    """A RunInput model with one ``Decision`` per order: the form the UI shows on Resume."""
    fields = {}
    for k, it in enumerate(items):
        flags = ", ".join(it["flags"]) or "-"
        before = f"Previously {it['previously']}. " if it.get("previously") else ""
        fields[f"order_{k + 1}"] = (Decision, pydantic.Field(
            default=Decision(address=it["suggestion"] or it["input"] or ""),
            title=f"{it['order_id']}: {it['input']}",
            description=f"{before}{it['action'].upper()} ({flags}). Suggested: {it['suggestion'] or '-'}. "
                        f"Why: {'; '.join(it['why']) or '-'}"))
    fields["operator"] = (str, pydantic.Field(default=DEFAULT_OPERATOR, title="Your name",
                                              description="kept with these decisions (the audit trail)"))
    model = pydantic.create_model(f"ImportReviewPage{page}", __base__=RunInput, **fields)
    until = time.strftime("%H:%M:%S", time.localtime(deadline))
    lines = [f"### Batch `{batch_id}`: {len(items)} order(s) need a decision (page {page} of {pages})", "",
             "For each order choose **accept** (deliver the cleaned address), **edit** (type the correct "
             "address: it is checked again) or **hold**. "
             f"Unanswered by {until} (server time) means **hold** for every order on this page.", "",
             "| # | order | address as given | suggested | action | flags | earlier decision |",
             "|---|---|---|---|---|---|---|"]
    for k, it in enumerate(items):
        lines.append(f"| {k + 1} | {it['order_id']} | {_cell(it['input'])} | {_cell(it['suggestion'])} | "
                     f"{it['action']} | {', '.join(it['flags']) or '-'} | {_cell(it.get('previously'))} |")
    return model.with_initial_data(description="\n".join(lines))


def _cell(text: str | None) -> str:
    return (text or "-").replace("|", "/").replace("\n", " ")[:120]


def _ask(form: type[RunInput], n: int, timeout_s: float, poll_s: int, key: str) -> tuple[list[dict], bool]:
    """Pause for the form; at the deadline the run resumes itself with every order on ``hold``.
    Answers as ``decisions.Answer`` fields (plain data: they travel to the warm worker).

    Why a timer and not ``pause_flow_run``'s own timeout: when that expires, Prefect fails the run
    ("paused and never resumed"), but here no answer is an answer (hold)."""
    run_id = get_run_context().flow_run.id
    timed_out = threading.Event()

    def default_hold() -> None:
        try:
            resume_flow_run(run_id, run_input={**{f"order_{k + 1}": {"decision": "hold", "address": ""}
                                                  for k in range(n)}, "operator": NOBODY})
            timed_out.set()
        except Exception:  # the operator answered at the same moment: their answer wins
            pass

    timer = threading.Timer(max(0.0, timeout_s), default_hold)
    timer.daemon = True
    timer.start()
    try:
        answer = pause_flow_run(wait_for_input=form, timeout=int(timeout_s) + PAUSE_GRACE_S,
                                poll_interval=poll_s, key=key)
    finally:
        timer.cancel()
        timer.join(timeout=30)
    decisions = [getattr(answer, f"order_{k + 1}") for k in range(n)]
    human = not timed_out.is_set()
    by = (answer.operator or "").strip() or DEFAULT_OPERATOR if human else NOBODY
    return [{"decision": d.decision, "address": d.address, "reason": d.reason.strip() or None, "by": by,
             "human": human} for d in decisions], not human


@flow(name="clean-imported-orders", log_prints=True)
def clean_imported_orders(
    batch_id: str | None = None,
    file: str | None = None,
    orders: list[dict] | None = None,
    db: str = "build/demo/gazetteer.duckdb",
    out_dir: str = "build/demo/out",
    risk_policy: str | None = "addressing/demo/data/risk.toml",
    output_format: str = "parquet",
    review_timeout_s: int | None = None,
    review_poll_s: int = 2,
    redact: bool = False,
) -> dict:
    """Clean one import (a file, or the rows themselves) into ``out_dir/<batch_id>/``; pause for
    an operator's decisions on the orders that need one (``review_timeout_s``, default 900 s;
    0 = do not wait: they stay held)."""
    try:
        return _import(batch_id, file or None, orders or None, db, out_dir, risk_policy, output_format,
                       DEFAULT_REVIEW_TIMEOUT_S if review_timeout_s is None else review_timeout_s, review_poll_s,
                       redact)
    except AddressingError as exc:
        create_markdown_artifact(key="import-failure", markdown=failure_markdown(
            "clean-imported-orders", exc, "Fix the file or configuration named above and import it again."))
        raise


def _import(batch_id: str | None, file: str | None, orders: list[dict] | None, db: str, out_dir: str,
            risk_policy: str | None, output_format: str, review_timeout_s: int, review_poll_s: int,
            redact: bool) -> dict:
    started = time.time()
    logger = get_run_logger()
    if (file is None) == (orders is None):
        raise InputError("the event must carry either a file or the order rows (payload `file` or `orders`)")
    if file is not None:
        input_path = Path(file).resolve()
        aio.check_readable(input_path)
    batch_id = check_batch_id(batch_id or default_batch_id(file, orders))  # it names a folder: no paths
    out = Path(out_dir).resolve() / batch_id
    if orders is not None:
        input_path = stage_import(orders, Path(out_dir).resolve() / ".imports" / f"{batch_id}.jsonl")
    output = output_for(input_path, out, output_format)
    paths = {"output": str(output), "db": str(Path(db).resolve()), "output_format": output_format,
             "batch_id": batch_id, "risk_policy": str(Path(risk_policy).resolve()) if risk_policy else None,
             "redact": redact}
    first = run_warm(clean_import, input_path=str(input_path), await_decisions=review_timeout_s > 0, **paths)
    manifest, items = first["manifest"], first["items"]
    ready_s = time.time() - started
    waiting = bool(items) and review_timeout_s > 0
    publish_batch([manifest], batch_id, ARTIFACT_KEYS, map_png=first["map_png"], extra_markdown=(
        f"## This import\n\nCleaned on `{first['where']}` in {first['clean_s']:.2f} s; outputs ready "
        f"{ready_s:.1f} s after the run started. "
        + (f"**{len(items)} order(s) wait for an operator's decision** (Resume this run in the UI; "
           f"unanswered after {review_timeout_s} s they stay on hold)." if waiting else
           f"{len(items)} order(s) need a human; they stay on hold in the review queue." if items else
           "No order needs a human.")))
    print(f"batch {batch_id}: {manifest['input']['rows']:,} orders cleaned on {first['where']} "
          f"({first['clean_s']:.2f} s), outputs ready {ready_s:.1f} s after start; {len(items)} need a human")
    if not waiting:
        return manifest

    asked, unasked = items[:REVIEW_MAX], items[REVIEW_MAX:]
    answers: list[dict] = []
    unanswered = {"decision": "hold", "address": "", "by": NOBODY, "human": False}
    pages = [asked[i:i + REVIEW_PAGE] for i in range(0, len(asked), REVIEW_PAGE)]
    deadline = time.time() + review_timeout_s
    timed_out_pages = 0
    for p, page in enumerate(pages, 1):
        remaining = deadline - time.time()
        if remaining <= 0:
            answers += [unanswered] * len(page)
            timed_out_pages += 1
            continue
        got, timed_out = _ask(review_form(page, p, len(pages), deadline, batch_id), len(page), remaining,
                              review_poll_s, key=f"review-{p}")
        answers += got
        timed_out_pages += timed_out
    answers += [unanswered] * len(unasked)
    by = "operator" if not timed_out_pages else "operator (default hold after timeout)"
    done = run_warm(apply_decisions, plan=first["plan"], items=items, answers=answers, by=by, **paths)
    counts = done["counts"]
    logger.info("decisions for %s: %s%s", batch_id, counts,
                f" ({timed_out_pages} page(s) timed out: held)" if timed_out_pages else "")
    decided = "\n".join(f"| {k} | {v} |" for k, v in counts.items())
    publish_batch([done["manifest"]], batch_id, ARTIFACT_KEYS, map_png=done["map_png"], extra_markdown=(
        f"## Operator decisions\n\n| decision | orders |\n|---|---|\n{decided}\n\n"
        + (f"{timed_out_pages} of {len(pages)} page(s) got no answer in time: their orders are held. "
           if timed_out_pages else "")
        + (f"{len(unasked)} more order(s) were not asked (at most {REVIEW_MAX} are): held. " if unasked else "")
        + f"Audit trail: `{decisions_path(output)}`"))
    return done["manifest"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Run the clean-imported-orders flow locally (no event needed).")
    ap.add_argument("--file", required=True)
    ap.add_argument("--batch-id")
    ap.add_argument("--db", default="build/demo/gazetteer.duckdb")
    ap.add_argument("--out-dir", default="build/demo/out")
    ap.add_argument("--risk-policy", default="addressing/demo/data/risk.toml")
    ap.add_argument("--review-timeout", type=int, default=0, help="seconds to wait for decisions (0: hold them)")
    args = ap.parse_args(argv)
    try:
        clean_imported_orders(batch_id=args.batch_id, file=args.file, db=args.db, out_dir=args.out_dir,
                              risk_policy=args.risk_policy, review_timeout_s=args.review_timeout)
    except AddressingError as exc:
        print(f"clean-imported-orders: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
