"""Progress of long steps, one helper for every stage.

On a terminal: a live tqdm bar. Otherwise (output redirected to a file, a pipeline log, CI):
a plain line every ~10 s with done/total, percent, rate and ETA, and a last line once any was
written, so a log shows that work is moving (a step shorter than one interval writes nothing). A background thread writes the periodic lines, so a
single long step (one generation batch) still reports on time (``ticker=False``: lines come
from ``update`` only, for callers that update often and fork worker processes).

    with Progress(total=len(jobs), desc="eval", unit="sample") as bar:
        for job in jobs:
            ...
            bar.update()

``THOUGHTDISTILL_PROGRESS`` forces a mode (``bar``, ``lines`` or ``off``);
``THOUGHTDISTILL_PROGRESS_INTERVAL`` sets the seconds between lines (default 10). A stage's
``progress: false`` turns it off.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import IO, Any, Literal

Mode = Literal["bar", "lines", "off"]
MODE_ENV = "THOUGHTDISTILL_PROGRESS"
INTERVAL_ENV = "THOUGHTDISTILL_PROGRESS_INTERVAL"
DEFAULT_INTERVAL = 10.0


def line_interval() -> float:
    """Seconds between progress lines (``THOUGHTDISTILL_PROGRESS_INTERVAL``, default 10)."""
    try:
        value = float(os.environ.get(INTERVAL_ENV, DEFAULT_INTERVAL))
    except ValueError:
        return DEFAULT_INTERVAL
    return value if value > 0 else DEFAULT_INTERVAL


def choose_mode(enabled: bool, stream: IO[str]) -> Mode:
    if not enabled:
        return "off"
    forced = os.environ.get(MODE_ENV, "").strip().lower()
    if forced in ("bar", "lines", "off"):
        return forced  # type: ignore[return-value]
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    return "bar" if tty else "lines"


def fmt_duration(seconds: float) -> str:
    if seconds < 10:
        return f"{max(0.0, seconds):.1f}s"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def _fmt_count(x: float) -> str:
    return f"{x:,.0f}" if abs(x - round(x)) < 1e-9 or x >= 100 else f"{x:,.1f}"


class Progress:
    """A progress report for ``total`` units (``None``: unknown). Thread-safe enough for
    counters updated from one thread and read by the line writer."""

    def __init__(self, total: float | None = None, desc: str = "", unit: str = "it", *,
                 enabled: bool = True, stream: IO[str] | None = None, interval: float | None = None,
                 mode: Mode | None = None, ticker: bool = True):
        self.stream = stream if stream is not None else sys.stderr
        self.mode: Mode = mode or choose_mode(enabled, self.stream)
        self.total = total
        self.desc = desc
        self.unit = unit
        self.done = 0.0
        self.postfix = ""
        self.interval = interval or line_interval()
        self._t0 = time.monotonic()
        self._bar: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._last_line = self._t0
        self._wrote = False
        if self.mode == "bar":
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True, mininterval=0.5,
                             file=self.stream, smoothing=0.1)
        elif self.mode == "lines":
            if ticker:  # lines on time even when updates are rare; without it, lines come from update()
                self._thread = threading.Thread(target=self._tick, name=f"progress-{desc}", daemon=True)
                self._thread.start()

    # ------------------------------------------------------------------ updates
    def update(self, n: float = 1) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        elif self.mode == "lines" and self._thread is None:
            now = time.monotonic()
            if now - self._last_line >= self.interval:
                self._last_line = now
                self._write(self.status())

    def set_done(self, done: float) -> None:
        """Set the count (e.g. a fraction of a batch); never goes backwards."""
        if done > self.done:
            self.update(done - self.done)

    def set_total(self, total: float | None) -> None:
        self.total = total
        if self._bar is not None:
            self._bar.total = total
            self._bar.refresh()

    def set_postfix(self, text: str) -> None:
        self.postfix = text
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=False)

    # ------------------------------------------------------------------ text
    def status(self, start: bool = False, final: bool = False) -> str:
        elapsed = time.monotonic() - self._t0
        name = f"[{self.desc}] " if self.desc else ""
        done = _fmt_count(self.done)
        if self.total:
            head = f"{name}{done}/{_fmt_count(self.total)} {self.unit} ({100 * self.done / self.total:.0f}%)"
        else:
            head = f"{name}{done} {self.unit}"
        if start:
            return f"{name}starting: {_fmt_count(self.total) if self.total else 'unknown number of'} {self.unit}"
        rate = self.done / elapsed if elapsed > 0 else 0.0
        if rate >= 0.1 or not self.done:
            parts = [head, f"{rate:.3g} {self.unit}/s"]
        else:
            parts = [head, f"{fmt_duration(elapsed / self.done)}/{self.unit}"]
        if final:
            parts.append(f"done in {fmt_duration(elapsed)}")
        else:
            parts.append(f"elapsed {fmt_duration(elapsed)}")
            if self.total and self.done > 0:
                parts.append(f"ETA {fmt_duration(max(0.0, self.total - self.done) / rate)}")
            elif self.total:
                parts.append("ETA unknown")
        if self.postfix:
            parts.append(self.postfix)
        return " · ".join(parts)

    def _write(self, text: str) -> None:
        self._wrote = True
        try:
            self.stream.write(text + "\n")
            self.stream.flush()
        except (ValueError, OSError):  # the stream was closed under us
            pass

    def _tick(self) -> None:
        while not self._stop.wait(self.interval):
            self._write(self.status())

    # ------------------------------------------------------------------ end
    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._bar is not None:
            self._bar.close()
        if self._thread is not None:
            self._stop.set()
            self._thread.join(timeout=5)
        if self.mode == "lines" and self._wrote:
            self._write(self.status(final=True))

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()




def train_callback(enabled: bool = True, desc: str = "train") -> Any:
    """A transformers ``TrainerCallback`` showing optimiser steps as :class:`Progress` (bar or
    periodic lines, with the last logged loss), on the main process only."""
    from transformers import TrainerCallback

    class _TrainProgress(TrainerCallback):
        def __init__(self) -> None:
            self.bar: Progress | None = None

        def on_train_begin(self, args, state, control, **kwargs):  # noqa: ANN001
            if state.is_world_process_zero and self.bar is None:
                self.bar = Progress(state.max_steps or None, desc, "step", enabled=enabled)
                self.bar.set_done(state.global_step)

        def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001
            if self.bar is not None:
                self.bar.set_done(state.global_step)

        def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001
            if self.bar is not None and logs and isinstance(logs.get("loss"), (int, float)):
                self.bar.set_postfix(f"loss={logs['loss']:.4g}")

        def on_train_end(self, args, state, control, **kwargs):  # noqa: ANN001
            if self.bar is not None:
                self.bar.close()
                self.bar = None

    return _TrainProgress()


__all__ = ["DEFAULT_INTERVAL", "INTERVAL_ENV", "MODE_ENV", "Progress", "choose_mode", "fmt_duration",
           "line_interval", "train_callback"]
