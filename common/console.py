"""The local runner's console: a line per component, live progress, everything else in a log.

While a Console is open, file descriptors 1 and 2 (and sys.stdout/sys.stderr) point at the
run's log file, so TensorFlow's C++ start-up lines, absl and Python logging, warnings,
Keras's fit log and the pip/setuptools output of the wheels TFX builds from the module
files all land there. The console's own lines go to a duplicate of the original stdout:

    log      /abs/work/logs/2026-11-27T15-02-11.log (warnings and logs; --verbose prints them here)
       6.5s  data stage        done      0.2 s
       7.7s  CsvExampleGen     start
      13.5s  CsvExampleGen     executed  5.8 s

On a terminal a live line under them shows the running component's seconds, or a Trainer's
epoch bar (trainer_fn/progress.py draws through `active().progress`). Without a terminal
(CI, a pipe, a file) there are plain lines only: a "running" line after 1, 2 and 4 minutes
of one component, then every 5 minutes, with the epochs done if it is a Trainer.
A failure prints its exception's message (a few lines) and the log's path; the traceback is
in the log. With verbose=True it changes nothing: all output goes to the console as it comes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
import traceback
from pathlib import Path

from absl import logging as absl_logging
from tqdm import tqdm

_active: Console | None = None

# What TFX's LocalDagRunner and launcher log through absl (at INFO) about each component.
_STARTED, _FINISHED, _SKIPPED = "Component %s is running.", "Component %s is finished.", "Skipping component %s."
_HOW = {"A cached execution %d is used.": "cached", "Going to run a new execution %d": "executed"}
HEARTBEATS_S = (60, 120, 240)       # then every 300 s (plain lines, no terminal)
NAME_WIDTH = 17                     # len("BaselineEvaluator"); a longer name shifts its line
ERROR_LINES = 6                     # of a failure's message on the console


def active() -> Console | None:
    """The open Console of this process, if any."""
    return _active


def _is_fd(stream, fd: int) -> bool:
    try:
        return stream.fileno() == fd
    except (AttributeError, OSError, ValueError):
        return False


class _ComponentEvents(logging.Handler):
    """Turns TFX's absl log records about components into console lines."""

    def __init__(self, console: Console):
        super().__init__(logging.INFO)
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == _STARTED:
            self.console.start(str(record.args[0]))
        elif record.msg in _HOW:
            self.console.how = _HOW[record.msg]
        elif record.msg == _FINISHED:
            self.console.end(self.console.how)
        elif record.msg == _SKIPPED:
            self.console.line(str(record.args[0]), "skipped")


class Progress:
    """A bar for the running component (a Trainer's epochs), drawn by the console."""

    def __init__(self, console: Console, total: int, text: str = ""):
        self.console, self.total, self.n, self.text = console, total, 0.0, text

    def update(self, n: float, text: str | None = None) -> None:
        with self.console.lock:
            self.n = n
            self.text = self.text if text is None else text

    def close(self) -> None:
        with self.console.lock:
            if self.console.bar is self:
                self.console.bar = None


class Console:
    """A context manager around the run; `active()` while it is open."""

    def __init__(self, log_path: str | os.PathLike, verbose: bool = False, tick_s: float = 0.5):
        self.log_path, self.verbose, self.tick_s = Path(log_path).resolve(), verbose, tick_s
        self.lock = threading.RLock()
        self.started = time.monotonic()
        self.task: tuple[str, float] | None = None   # the running component: name, start time
        self.how = "done"                            # executed or cached, once TFX says which
        self.bar: Progress | None = None
        self._beats, self._next_beat = iter(()), 0.0   # when the next plain "running" line is due
        self._live = False                           # a live line is on the terminal

    # --- opening and closing ------------------------------------------------------------
    def __enter__(self) -> Console:
        global _active
        if self.verbose:
            self.out = self.err = sys.stdout
            self.tty = False
        else:
            # TFX's component records are INFO. absl's verbosity, not the logger's level:
            # TensorFlow saves and restores that verbosity around each SavedModel export.
            self._verbosity = absl_logging.get_verbosity()
            absl_logging.set_verbosity(absl_logging.INFO)
            self._events = _ComponentEvents(self)
            logging.getLogger("absl").addHandler(self._events)
            self._redirect()
            self.line_raw(f"log      {self.log_path} (warnings and logs; --verbose prints them here)")
            self._stop = threading.Event()
            self._ticker = threading.Thread(target=self._tick, name="console-ticker", daemon=True)
            self._ticker.start()
        _active = self
        return self

    def _redirect(self) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        self._saved = os.dup(1), os.dup(2)
        encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
        self.out = open(os.dup(self._saved[0]), "w", buffering=1, encoding=encoding, errors="replace")
        self.err = open(os.dup(self._saved[1]), "w", buffering=1, encoding=encoding, errors="replace")
        self.tty = self.out.isatty()
        self._ascii = not encoding.lower().replace("-", "").startswith("utf")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        # Python-level streams not backed by fds 1 and 2 (pytest's capture) are replaced too,
        # by streams on the fds, never closed: a handler that keeps one writes where fd 1/2 go.
        self._streams = sys.stdout, sys.stderr
        if not _is_fd(sys.stdout, 1):
            sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)
        if not _is_fd(sys.stderr, 2):
            sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)

    def __exit__(self, kind, error, tb) -> bool:
        global _active
        _active = None
        if self.verbose:
            return False
        logging.getLogger("absl").removeHandler(self._events)
        absl_logging.set_verbosity(self._verbosity)
        if error is not None:
            traceback.print_exception(kind, error, tb)   # into the log
        self._stop.set()
        self._ticker.join()
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdout, sys.stderr = self._streams
        os.dup2(self._saved[0], 1)
        os.dup2(self._saved[1], 2)
        for fd in self._saved:
            os.close(fd)
        if error is not None:
            self._report_failure(error)
        self.out.close()
        self.err.close()
        return False

    def _report_failure(self, error: BaseException) -> None:
        name, seconds = (self.task[0], time.monotonic() - self.task[1]) if self.task else ("run", None)
        self.line(name, "interrupted" if isinstance(error, KeyboardInterrupt) else "FAILED", seconds)
        message = f"{type(error).__name__}: {error}".strip().splitlines() or [type(error).__name__]
        shown = [m if len(m) <= 300 else m[:297] + "..." for m in message[:ERROR_LINES]]
        if len(message) > ERROR_LINES:
            shown.append(f"... ({len(message) - ERROR_LINES} more lines in the log)")
        self.err.write("".join(f"error    {m}\n" for m in shown) + f"log      {self.log_path}\n")
        self.err.flush()

    # --- lines ------------------------------------------------------------------------------
    def line_raw(self, text: str) -> None:
        if self.verbose:   # the console is the log
            return
        with self.lock:
            if self._live:
                self.out.write("\r\x1b[K")
                self._live = False
            self.out.write(text + "\n")
            self.out.flush()

    def line(self, name: str, event: str, seconds: float | None = None) -> None:
        now = time.monotonic() - self.started
        took = f"{seconds:.1f} s" if seconds is not None else ""
        self.line_raw(f"{now:7.1f}s  {name:<{NAME_WIDTH}s} {event:<9s} {took}".rstrip())

    def _begin(self, name: str) -> None:
        with self.lock:
            self.task, self.how, self.bar = (name, time.monotonic()), "done", None
            self._beats = iter(HEARTBEATS_S)
            self._next_beat = next(self._beats)

    def start(self, name: str) -> None:
        with self.lock:
            self._begin(name)
            self.line(name, "start")

    def end(self, how: str = "done") -> None:
        with self.lock:
            if self.task is None:
                return
            name, since = self.task
            self.task, self.bar = None, None
            self.line(name, how, time.monotonic() - since)

    @contextlib.contextmanager
    def step(self, name: str):
        """A stage of the runner outside the pipeline (data stage, report): one line at its end."""
        self._begin(name)
        yield
        self.end()

    def progress(self, total: int, text: str = "") -> Progress | None:
        """A bar for the running component; None when verbose (Keras's own log is on the console)."""
        if self.verbose:
            return None
        with self.lock:
            self.bar = Progress(self, total, text)
            return self.bar

    @contextlib.contextmanager
    def printing(self):
        """print() writes on the console (the run summary), the rest still goes to the log."""
        with self.lock:
            if self._live:
                self.out.write("\r\x1b[K")
                self._live = False
            self.out.flush()
        with contextlib.redirect_stdout(self.out):
            yield
        self.out.flush()

    # --- signs of life ----------------------------------------------------------------------
    def _status(self, width: int | None = None) -> str:
        name, since = self.task
        seconds = time.monotonic() - since
        status = f"{time.monotonic() - self.started:7.1f}s  {name:<{NAME_WIDTH}s} running   {seconds:.0f} s"
        if self.bar is None:
            pass
        elif width is None:   # a plain line
            status += f", {self.bar.text}" if self.bar.text else ""
        else:
            status += "  " + tqdm.format_meter(min(self.bar.n, self.bar.total), self.bar.total, seconds,
                                               ncols=14, bar_format="|{bar}|", ascii=self._ascii)
            status += f" {self.bar.text}"
        return status if width is None else status[: width - 1]

    def _tick(self) -> None:
        while not self._stop.wait(self.tick_s):
            with self.lock:
                if self.task is None:
                    continue
                if self.tty:
                    try:
                        width = os.get_terminal_size(self.out.fileno()).columns or 100
                    except OSError:
                        width = 100
                    self.out.write("\r" + self._status(width) + "\x1b[K")
                    self.out.flush()
                    self._live = True
                elif time.monotonic() - self.task[1] >= self._next_beat:
                    self.line_raw(self._status())
                    self._next_beat = next(self._beats, self._next_beat + 300)
