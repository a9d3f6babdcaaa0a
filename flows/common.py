"""What the flows share: the retry policy of I/O tasks and the artifacts operations staff read.

Retries are for what a retry may cure, told by the error's type: I/O trouble (reading and
writing files, reading the gazetteer) and a batch or gazetteer lock another run holds. A bad
input, a bad policy or a broken gazetteer fails at once with its one-line reason, since
retrying cannot fix it, and the cleaning itself is deterministic.
"""

from __future__ import annotations

import contextlib
import contextvars
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from prefect.artifacts import create_image_artifact, create_markdown_artifact, create_table_artifact
from prefect.tasks import exponential_backoff

from addressing import report
from addressing.errors import GazetteerReadError, LockHeldError

REVIEW_CAP = 200
#: errors a retry may cure (OSError covers timeouts and lost connections)
TRANSIENT = (LockHeldError, GazetteerReadError, OSError)


def is_transient(exc: BaseException | None) -> bool:
    """An error that a retry may cure: I/O trouble or a lock another run holds."""
    return isinstance(exc, TRANSIENT)


def retry_if_transient(task, task_run, state) -> bool:
    """``retry_condition_fn`` for I/O tasks."""
    exc = state.data if isinstance(state.data, BaseException) else None
    return is_transient(exc)


#: task options for I/O steps: 3 retries after 2, 4, 8 s (+-30 % jitter), transient errors only
IO_RETRIES = {
    "retries": 3,
    "retry_delay_seconds": exponential_backoff(backoff_factor=2),
    "retry_jitter_factor": 0.3,
    "retry_condition_fn": retry_if_transient,
}


def api_request(path: str, body: dict | None = None, api_url: str | None = None, timeout: float = 5):
    """A call to the Prefect REST API (``PREFECT_API_URL``, with its basic auth when set)."""
    import base64
    import json
    import urllib.request

    from prefect.settings import get_current_settings

    settings = get_current_settings()
    url = (api_url or settings.api.url or "").rstrip("/")
    if not url:
        raise OSError("PREFECT_API_URL is not set")
    headers = {"Content-Type": "application/json"}
    auth = settings.api.auth_string
    if auth is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(auth.get_secret_value().encode()).decode()
    req = urllib.request.Request(f"{url}{path}", data=json.dumps(body).encode() if body is not None else None,
                                 headers=headers, method="POST" if body is not None else "GET")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        raw = r.read()
    return json.loads(raw) if raw else None


class ProgressReporter:
    """Updates a progress artifact from a background thread, so that the flow never waits on the
    API for it: every chunk reports, the thread sends the latest value (coalescing reports that
    arrive while a send is under way), and ``close`` sends the last one."""

    def __init__(self, artifact_id):
        import threading

        self.artifact_id = artifact_id
        self._latest: tuple[float, str] | None = None
        self._cond = threading.Condition()
        self._closed = False
        ctx = contextvars.copy_context()  # Prefect settings and run context live in context variables
        self._thread = threading.Thread(target=ctx.run, args=(self._loop,), daemon=True, name="progress")
        if artifact_id is not None:
            self._thread.start()

    def report(self, progress: float, description: str) -> None:
        with self._cond:
            self._latest = (progress, description)
            self._cond.notify()

    def _loop(self) -> None:
        from prefect.artifacts import update_progress_artifact

        while True:
            with self._cond:
                while self._latest is None and not self._closed:
                    self._cond.wait()
                if self._latest is None:
                    return
                progress, description = self._latest
                self._latest = None
            with contextlib.suppress(Exception):  # progress is for people: never fail a run over it
                update_progress_artifact(self.artifact_id, progress=progress, description=description)

    def close(self) -> None:
        if self.artifact_id is None:
            return
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout=30)

    def __enter__(self) -> ProgressReporter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def failure_markdown(flow_name: str, exc: BaseException | str, hint: str | None = None) -> str:
    """The artifact a failed run leaves: what failed and what to do, in words."""
    text = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
    parts = [f"# {flow_name} failed", "", f"**Reason:** {text}"]
    if hint:
        parts += ["", hint]
    return "\n".join(parts)


def publish_batch(manifests: list[dict], batch_id: str, keys: dict[str, str], risk=None, redact: bool = False,
                  extra_markdown: str | None = None, map_png: bytes | None = None) -> dict[str, object]:
    """Summary (markdown), review queue (table, capped, with the path of the full file) and map
    (``map_png`` when given, else drawn here over ``risk``'s service areas).

    ``keys`` names the artifacts: ``summary``, ``review``, ``map`` (lowercase, dashes)."""
    review_files = [m["outputs"]["review"]["path"] for m in manifests]
    link = ", ".join(f"`{Path(p).resolve()}`" for p in review_files)
    md = report.summary_markdown(manifests, batch_id, link)
    if extra_markdown:
        md += "\n\n" + extra_markdown
    ids: dict[str, object] = {}
    ids["summary"] = create_markdown_artifact(key=keys["summary"], markdown=md,
                                              description=summary_line(manifests, batch_id))
    rows: list[dict] = []
    for path in review_files:
        if len(rows) >= REVIEW_CAP:
            break
        review = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(strings_can_be_null=True))
        rows += report.review_rows(review, REVIEW_CAP - len(rows), redact=redact)
    total = sum(m["outputs"]["review"]["rows"] for m in manifests)
    ids["review"] = create_table_artifact(
        key=keys["review"], table=rows or [{"order_id": None, "action": "nothing to review"}],
        description=f"first {len(rows)} of {total:,} rows needing a human; full queue: {link}")
    png = map_png if map_png is not None else _draw_map(manifests, risk)
    if png:
        ids["map"] = create_image_artifact(image_url=report.png_data_url(png), key=keys["map"],
                                           description="geocoded orders coloured by action over the service areas")
    return ids


def summary_line(manifests: list[dict], batch_id: str) -> str:
    """The summary in one line (the artifact's description, shown in the run's artifact list)."""
    rows = sum(m["input"]["rows"] for m in manifests)
    matched = sum(m["counts"]["match_status"].get("matched", 0) for m in manifests)
    actions: dict[str, int] = {}
    for m in manifests:
        for k, v in m["counts"]["action"].items():
            actions[k] = actions.get(k, 0) + v
    acts = ", ".join(f"{k} {actions[k]:,}" for k in ("deliver", "review", "hold") if k in actions)
    version = manifests[0]["gazetteer"]["version"] if manifests else "-"
    wall = max((m.get("wall_s") or 0) for m in manifests) if manifests else 0
    return (f"batch {batch_id}: {rows:,} orders in {len(manifests)} file(s); match rate "
            f"{100 * matched / rows if rows else 0:.1f}%; {acts}; gazetteer {version}; {wall:.1f} s")


def _draw_map(manifests: list[dict], risk) -> bytes | None:
    tables = [pq.read_table(m["outputs"]["cleaned"]["path"], columns=["lon", "lat", "action"]) for m in manifests
              if m["outputs"]["cleaned"]["format"] == "parquet"]
    if not tables:
        tables = [t for t in (_points_from_any(m["outputs"]["cleaned"]) for m in manifests) if t is not None]
    return report.map_png(tables, getattr(risk, "service_areas", None)) if tables else None


def _points_from_any(cleaned: dict) -> pa.Table | None:
    """lon/lat/action of a CSV output, for the map (JSON outputs get no map)."""
    if cleaned["format"] != "csv":
        return None
    t = pacsv.read_csv(cleaned["path"], convert_options=pacsv.ConvertOptions(
        include_columns=["lon", "lat", "action"], column_types={"lon": pa.float64(), "lat": pa.float64()}))
    return t
