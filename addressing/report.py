"""Human-readable views of a batch: the one-screen summary, the markdown report, the map, and
what a re-check after a gazetteer refresh changed.

Pure functions of a manifest (and, for the map, the cleaned batch; for a re-check, its
result); flows publish them as Prefect artifacts, the CLI prints them.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from addressing.batch.outputs import output_paths

if TYPE_CHECKING:  # the re-check's types; importing them loads the pipeline
    from addressing.batch.changes import Change
    from addressing.batch.recheck import RecheckResult

ACTION_COLOURS = {"deliver": "#2e7d32", "review": "#f9a825", "hold": "#c62828"}


def _pct(n: int, total: int) -> str:
    return f"{100 * n / total:.1f}%" if total else "-"


def match_rate(manifest: dict) -> float:
    rows = manifest["input"]["rows"] or 1
    return manifest["counts"]["match_status"].get("matched", 0) / rows


def summary_text(manifests: list[dict]) -> str:
    """The one-screen summary printed after a run."""
    lines = []
    for m in manifests:
        c = m["counts"]
        rows = m["input"]["rows"]
        lines.append(f"{m['input']['path']}: {rows:,} orders -> {m['outputs']['cleaned']['path']}")
        lines.append(f"  review queue: {m['outputs']['review']['rows']:,} rows -> {m['outputs']['review']['path']}")
        lines.append(f"  manifest:     {output_paths(Path(m['outputs']['cleaned']['path']))['manifest']}")
        lines.append("  status:    " + ", ".join(f"{k} {v:,} ({_pct(v, rows)})" for k, v in c["match_status"].items()))
        lines.append("  precision: " + ", ".join(f"{k} {v:,}" for k, v in c["precision"].items()))
        lines.append("  actions:   " + ", ".join(f"{k} {v:,}" for k, v in c["action"].items()))
        flags = list(c["risk_flags"].items())
        lines.append("  flags:     " + ", ".join(f"{k} {v:,}" for k, v in flags[:8]))
        if len(flags) > 8:
            lines.append("             " + ", ".join(f"{k} {v:,}" for k, v in flags[8:]))
        lines.append(f"  gazetteer {m['gazetteer']['version']}; {m['wall_s']:.1f} s")
    return "\n".join(lines)


def _table(rows: list[tuple], header: tuple[str, ...]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(x) for x in r) + " |" for r in rows]
    return "\n".join(out)


def summary_markdown(manifests: list[dict], batch_id: str | None, review_link: str | None = None) -> str:
    """The run summary artifact: rows, match rate, counts, corrections, flags, actions, timings."""
    parts = [f"# Address cleaning: batch `{batch_id}`", ""]
    total = sum(m["input"]["rows"] for m in manifests)
    matched = sum(m["counts"]["match_status"].get("matched", 0) for m in manifests)
    parts.append(f"**{total:,} orders** in {len(manifests)} file(s); **match rate {_pct(matched, total)}**; "
                 f"gazetteer `{manifests[0]['gazetteer']['version'] if manifests else '-'}`")
    for m in manifests:
        c = m["counts"]
        rows = m["input"]["rows"]
        parts += ["", f"## {Path(m['input']['path']).name}: {rows:,} orders", ""]
        parts.append(f"Output `{m['outputs']['cleaned']['path']}`; review queue `{m['outputs']['review']['path']}` "
                     f"({m['outputs']['review']['rows']:,} rows)")
        parts += ["", "| match status | orders | share |", "|---|---|---|"]
        parts += [f"| {k} | {v:,} | {_pct(v, rows)} |" for k, v in c["match_status"].items()]
        parts += ["", _table([(k, f"{v:,}") for k, v in c["precision"].items()], ("precision", "orders"))]
        parts += ["", _table([(k, f"{v:,}") for k, v in c["action"].items()], ("action", "orders"))]
        parts += ["", _table([(k, f"{v:,}") for k, v in c["risk_flags"].items()], ("risk flag", "orders"))]
        parts += ["", _table([(k, f"{v:,}") for k, v in c["corrections"].items()], ("correction", "orders"))]
        t = m.get("timings_s", {})
        parts += ["", "Timings (s, summed over chunks): " + ", ".join(f"{k} {v:.2f}" for k, v in t.items())
                  + f"; wall {m['wall_s']:.1f}"]
        ids = m.get("order_ids", {})
        if ids.get("duplicated") or ids.get("missing"):
            parts.append(f"\n**Order ids**: {ids.get('duplicated', 0)} duplicated, {ids.get('missing', 0)} missing "
                         f"(e.g. {', '.join(ids.get('duplicate_examples', [])[:5])})")
    if review_link:
        parts += ["", f"Full review queue: {review_link}"]
    return "\n".join(parts)


#: what the learning loop did to a batch: (label, counts section, code)
LOOP_COUNTS = (("answered from an operator's confirmation", "corrections", "operator_confirmed"),
               ("held again by an operator's earlier hold", "risk_flags", "operator_hold"),
               ("confirmation contradicted by the gazetteer (back to review)", "risk_flags",
                "confirmation_contradicted"),
               ("placed at real drops (precision delivery_point)", "precision", "delivery_point"),
               ("failed before at this address (failed_before)", "risk_flags", "failed_before"))


def learning_markdown(manifests: list[dict], accuracy: list[dict], days: int, within_m: float,
                      rechecks: list[dict] | None = None) -> str:
    """The learning loop's figures for a run's summary: orders answered from operators'
    decisions and placed from proof of delivery (from the manifests' counts), the live
    accuracy of our geocodes against real drops (``accuracy``: rows of
    ``deliveries.store.accuracy`` over the last ``days``) and the re-checks of waiting orders
    since the last run (``rechecks``: their manifests)."""
    total = sum(m["input"]["rows"] for m in manifests)
    rows = []
    for label, section, code in LOOP_COUNTS:
        n = sum(m["counts"].get(section, {}).get(code, 0) for m in manifests)
        rows.append((label, f"{n:,}", _pct(n, total)))
    parts = ["## Learning loop", "", _table(rows, ("orders", "count", "share"))]
    if accuracy:
        parts += ["", f"Geocode to real drop, successful deliveries of the last {days} days:", "",
                  _table([(r["precision"] or "-", f"{r['deliveries']:,}", f"{r['median_m']:.1f}", f"{r['p90_m']:.1f}",
                           f"{100 * r['within']:.1f}%") for r in accuracy],
                         ("our precision", "deliveries", "median m", "p90 m", f"within {within_m:g} m"))]
    else:
        parts += ["", f"No proof-of-delivery reports in the last {days} days (`addressing deliveries import`)."]
    if rechecks:
        checked = sum(m["recheck"]["checked"] for m in rechecks)
        changed = sum(m["outputs"]["cleaned"]["rows"] for m in rechecks)
        versions = ", ".join(f"`{v}`" for v in sorted({m["gazetteer"]["version"] for m in rechecks}))
        parts += ["", f"Re-checked after a gazetteer refresh ({versions}): {checked:,} waiting orders, "
                      f"{changed:,} changed (written for routing beside their batches, under `rechecks/`)."]
    return "\n".join(parts)


def review_rows(review: pa.Table, cap: int = 200, redact: bool = False) -> list[dict]:
    """The first ``cap`` rows of a review queue, flattened for a table artifact."""
    rows = []
    for r in review.slice(0, cap).to_pylist():
        rows.append({
            "order_id": r.get("order_id"),
            "action": r.get("action"),
            "level": r.get("risk_level"),
            "flags": ", ".join(r.get("risk_flags") or []) if isinstance(r.get("risk_flags"), list) else r.get("risk_flags"),
            "why": "; ".join(r.get("risk_reasons") or []) if isinstance(r.get("risk_reasons"), list) else r.get("risk_reasons"),
            "address": "[redacted]" if redact else r.get("input"),
            "cleaned": "[redacted]" if redact else " / ".join(x for x in (r.get("line1"), r.get("line2")) if x),
            "confidence": r.get("confidence"),
        })
    return rows


def map_png(tables: list[pa.Table], service_areas=None, width_in: float = 11, height_in: float = 5.5) -> bytes:
    """Geocoded points coloured by action over the service areas, one panel per cluster of points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    lon = np.concatenate([t.column("lon").to_numpy(zero_copy_only=False).astype(float) for t in tables]) if tables else np.array([])
    lat = np.concatenate([t.column("lat").to_numpy(zero_copy_only=False).astype(float) for t in tables]) if tables else np.array([])
    action = sum((t.column("action").to_pylist() for t in tables), [])
    ok = ~np.isnan(lon) & ~np.isnan(lat)
    # group points into up to 3 regions so far-apart clusters each get a readable panel
    regions = _regions(lon[ok], lat[ok])
    fig, axes = plt.subplots(1, max(1, len(regions)), figsize=(width_in, height_in), squeeze=False)
    for ax, (x0, x1, y0, y1, label) in zip(axes[0], regions or [(-180, 180, -90, 90, "all")]):
        if service_areas is not None:
            for poly in service_areas.polygons:
                for part in getattr(poly, "geoms", [poly]):
                    xs, ys = part.exterior.xy
                    ax.fill(xs, ys, color="#1565c0", alpha=0.08)
                    ax.plot(xs, ys, color="#1565c0", lw=0.8)
        for act, colour in ACTION_COLOURS.items():
            sel = ok & np.asarray([a == act for a in action])
            ax.scatter(lon[sel], lat[sel], s=6, c=colour, label=f"{act} ({int(sel.sum()):,})", alpha=0.7, lw=0)
        span = max(x1 - x0, y1 - y0, 0.02)
        pad_x, pad_y = (span - (x1 - x0)) / 2 + span * 0.08, (span - (y1 - y0)) / 2 + span * 0.08
        ax.set_xlim(x0 - pad_x, x1 + pad_x)
        ax.set_ylim(y0 - pad_y, y1 + pad_y)
        ax.set_aspect(1 / np.cos(np.radians((y0 + y1) / 2)))
        ax.set_title(label, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.ticklabel_format(useOffset=False, style="plain")
    axes[0][0].legend(loc="lower left", fontsize=8, markerscale=2)
    fig.suptitle("Geocoded orders by action (blue: service areas)", fontsize=11)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


def _regions(lon, lat, max_regions: int = 3) -> list[tuple[float, float, float, float, str]]:
    import numpy as np

    if lon.size == 0:
        return []
    # bin by rounded degree cell; keep the most populated cells as panels
    cells: dict[tuple[int, int], list[int]] = {}
    for i, (x, y) in enumerate(zip(np.floor(lon), np.floor(lat))):
        cells.setdefault((int(x), int(y)), []).append(i)
    top = sorted(cells.items(), key=lambda kv: -len(kv[1]))[:max_regions]
    top = top[:1] + [kv for kv in top[1:] if len(kv[1]) >= 0.05 * lon.size]  # no panel for a handful
    out = []
    for (_cx, _cy), idx in top:
        xs, ys = lon[idx], lat[idx]
        x0, x1 = np.percentile(xs, [1, 99])
        y0, y1 = np.percentile(ys, [1, 99])
        out.append((float(x0), float(x1), float(y0), float(y1), f"{len(idx):,} orders near {ys.mean():.2f}, {xs.mean():.2f}"))
    return out


#: rows of changed orders a re-check artifact lists (the written re-check outputs hold them all)
RECHECK_ROWS_CAP = 200


def recheck_text(result: RecheckResult) -> str:
    """What ``addressing recheck`` prints: totals, then one line per output and per skip."""
    head = (f"re-check against gazetteer {result.gazetteer_version} (outputs of the last {result.days} day(s)): "
            f"{result.checked:,} order(s) in review or hold cleaned again in {len(result.files)} output(s), "
            f"{len(result.changes):,} changed ({result.seconds:.1f} s)")
    lines = [head]
    for f in result.files:
        where = f" -> {f.written}" if f.written else ""
        lines.append(f"  {f.output}: {f.checked:,} re-checked, {len(f.changes):,} changed{where}")
    for s in result.skipped:
        lines.append(f"  skipped {s.path}: {s.reason}")
    if result.current:
        lines.append(f"  {result.current} output(s) already cleaned with this gazetteer version")
    return "\n".join(lines)


def _cell(value: object) -> str:
    """A value as a markdown table cell (pipes and line breaks would break the row)."""
    return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def _was_is(change: Change, name: str) -> str:
    old, new = change.old.get(name), change.new.get(name)
    return _cell(new) if old == new else f"{_cell(old)} → {_cell(new)}"


def recheck_markdown(result: RecheckResult, redact: bool = False, cap: int = RECHECK_ROWS_CAP) -> str:
    """The re-check artifact: what was re-checked and skipped, and a table of the orders whose
    result changed (old → new status, action, precision; metres moved; flags added and
    removed; the new cleaned address, ``[redacted]`` when ``redact`` or its batch's review
    queue was redacted)."""
    changes = result.changes
    parts = [f"# Re-check against gazetteer `{result.gazetteer_version}`", "",
             f"{result.checked:,} order(s) waiting on a human (review, hold) in {len(result.files)} output(s) of the "
             f"last {result.days} day(s) cleaned again: **{len(changes):,} changed**, written for routing; the "
             f"others did not change and were not written. {result.seconds:.1f} s."]
    if result.current:
        parts.append(f"{result.current} output(s) were already cleaned with this version.")
    if result.files:
        parts += ["", "| output | batch | re-checked | changed | written to |", "|---|---|---|---|---|"]
        parts += [f"| `{_cell(f.output)}` | {_cell(f.batch_id)} | {f.checked:,} | {len(f.changes):,} | "
                  f"{f'`{_cell(f.written)}`' if f.written else '-'} |" for f in result.files]
    if changes:
        shown = changes[:cap]
        parts += ["", f"## Orders whose result changed ({len(shown):,} of {len(changes):,})", "",
                  "| order | batch | status | action | precision | moved (m) | flags added | flags removed | "
                  "cleaned address |", "|---|---|---|---|---|---|---|---|---|"]
        for c in shown:
            moved = "-" if c.moved_m is None else f"{c.moved_m:,.0f}"
            if "point" in c.fields and c.moved_m is None:
                moved = "located" if c.new.get("lat") is not None else "no point now"
            address = ("[redacted]" if redact or c.redacted
                       else " / ".join(x for x in (c.new.get("line1"), c.new.get("line2")) if x) or "-")
            parts.append(f"| {_cell(c.order_id)} | {_cell(c.batch_id)} | {_was_is(c, 'match_status')} | "
                         f"{_was_is(c, 'action')} | {_was_is(c, 'precision')} | {moved} | "
                         f"{_cell(', '.join(c.flags_added)) or '-'} | {_cell(', '.join(c.flags_removed)) or '-'} | "
                         f"{_cell(address)} |")
    if result.skipped:
        parts += ["", "## Skipped", ""] + [f"- `{_cell(s.path)}`: {_cell(s.reason)}" for s in result.skipped]
    return "\n".join(parts)


def png_data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()
