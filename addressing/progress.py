"""Progress for people waiting at a terminal: done of total, rate, time left, on one line.

``for_stream`` gives a display only where someone watches: on a terminal the line is redrawn in
place; on a pipe or a log file there is none (unless asked for, then a plain line every few
seconds), so scripts and CI logs carry the command's output alone.

>>> progress_line(500, 2000, "rows", 50.0)
'500 of 2,000 rows (25%), 50 rows/s, 0:30 left'
>>> progress_line(0, None, "rows", None)
'0 rows'
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

#: how often the line is redrawn on a terminal; a log line is written at most this often
REDRAW_S = 0.2
LOG_EVERY_S = 5.0


def _duration(seconds: float) -> str:
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


def progress_line(done: int, total: int | None, unit: str, rate: float | None, label: str = "") -> str:
    """``done of total unit (pct), rate unit/s, m:ss left``; the parts not known yet left out."""
    parts = [f"{done:,} of {total:,} {unit} ({100 * done / total:.0f}%)" if total else f"{done:,} {unit}"]
    if rate:
        parts.append(f"{rate:,.0f} {unit}/s")
        if total and done < total:
            parts.append(f"{_duration((total - done) / rate)} left")
    return (f"{label}  " if label else "") + ", ".join(parts)


class Progress:
    """One progress line on ``stream``: redrawn in place (``redraw``) or written as log lines.

    The rate counts from the first ``update``, so time spent before the work starts (opening
    files, planning) does not make it look slower.
    """

    def __init__(self, unit: str, stream: TextIO, redraw: bool = True, clock: Callable[[], float] = time.monotonic):
        self.unit, self.stream, self.redraw, self.clock = unit, stream, redraw, clock
        self.every_s = REDRAW_S if redraw else LOG_EVERY_S
        self.start: float | None = None
        self.base = 0
        self.last_draw = float("-inf")
        self.shown = ""
        self.state: tuple[int, int | None, str] = (0, None, "")

    def update(self, done: int, total: int | None = None, label: str = "") -> None:
        """Record where the work is; draw it unless the last draw was moments ago."""
        now = self.clock()
        if self.start is None:
            self.start, self.base = now, done
        self.state = (done, total, label)
        finished = total is not None and done >= total
        if now - self.last_draw >= self.every_s or finished:
            self._draw(now)

    def _draw(self, now: float) -> None:
        done, total, label = self.state
        elapsed = now - (self.start if self.start is not None else now)
        # work found done when this run started (chunks a killed run finished) is not this run's rate
        rate = (done - self.base) / elapsed if elapsed > 0 and done > self.base else None
        text = progress_line(done, total, self.unit, rate, label)
        if self.redraw:
            pad = max(0, len(self.shown) - len(text))
            self.stream.write("\r" + text + " " * pad)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
        self.shown, self.last_draw = text, now

    def clear(self) -> None:
        """Erase the line (before other output goes to the same terminal)."""
        if self.redraw and self.shown:
            self.stream.write("\r" + " " * len(self.shown) + "\r")
            self.stream.flush()
            self.shown = ""

    def close(self) -> None:
        """Draw the last state and end the line."""
        if self.start is None:
            return
        self._draw(self.clock())
        if self.redraw:
            self.stream.write("\n")
            self.stream.flush()
        self.shown = ""


def for_stream(unit: str, stream: TextIO | None = None, force: bool | None = None) -> Progress | None:
    """A display on ``stream`` (default stderr) when it is a terminal, or when ``force`` is
    True (log lines then, where it is no terminal); None when ``force`` is False or nobody watches."""
    stream = stream or sys.stderr
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    if force is False or (force is None and not tty):
        return None
    return Progress(unit, stream, redraw=tty)
