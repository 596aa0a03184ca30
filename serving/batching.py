"""Concurrent requests' model calls joined into one call, with a bounded wait: the service's
counterpart of TF Serving's request batching (its `--enable_batching` with
`batch_timeout_micros`).

A call of a MicroBatcher gives a batch of rows (a dict of equally long numpy arrays) and gets
its own rows' outputs back. The first caller of a round leads it: it waits up to `wait_s` for
other callers (or until `max_rows` rows are pending), then runs the function once on every
pending call's rows joined, and hands each caller its slice. The others sleep on an event
meanwhile. One round's leader never waits for the next round's rows, so no call waits more
than `wait_s` plus the function's own time; with one caller at a time it costs one wait. An
error of the function reaches every caller of its round.

No TensorFlow here: the function is whatever the caller scores with.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np

Rows = dict[str, np.ndarray]


class _Call:
    __slots__ = ("inputs", "rows", "done", "result", "error")

    def __init__(self, inputs: Rows):
        self.inputs = inputs
        self.rows = len(next(iter(inputs.values()))) if inputs else 0
        self.done = threading.Event()
        self.result: Rows | None = None
        self.error: BaseException | None = None


class MicroBatcher:
    """fn: rows -> outputs, each output's first axis aligned with the rows; wait_s: how long a
    round's leader waits for more callers (0: every call runs on its own, unbatched)."""

    def __init__(self, fn: Callable[[Rows], Rows], wait_s: float = 0.002, max_rows: int = 8192):
        if wait_s < 0 or max_rows < 1:
            raise ValueError(f"need wait_s >= 0 and max_rows >= 1, got {wait_s} and {max_rows}")
        self.fn, self.wait_s, self.max_rows = fn, wait_s, max_rows
        self._lock = threading.Lock()
        self._pending: list[_Call] = []
        self._leading = False
        self.rounds = 0           # function calls made (for the tests and the benchmark)
        self.calls = 0            # calls served

    def __call__(self, inputs: Rows) -> Rows:
        if self.wait_s == 0:
            self.rounds += 1
            self.calls += 1
            return self.fn(inputs)
        call = _Call(inputs)
        with self._lock:
            self._pending.append(call)
            lead = not self._leading
            self._leading = True
        if lead:
            self._lead()
        call.done.wait()
        if call.error is not None:
            raise call.error
        return call.result

    def _lead(self) -> None:
        deadline = time.monotonic() + self.wait_s
        while True:
            with self._lock:
                pending = sum(c.rows for c in self._pending)
            left = deadline - time.monotonic()
            if pending >= self.max_rows or left <= 0:
                break
            time.sleep(min(left, 0.0005))
        with self._lock:
            batch, self._pending, self._leading = self._pending, [], False
        self.rounds += 1
        self.calls += len(batch)
        try:
            keys = batch[0].inputs.keys()
            joined = batch[0].inputs if len(batch) == 1 else {
                k: np.concatenate([c.inputs[k] for c in batch]) for k in keys}
            out = self.fn(joined)
            start = 0
            for c in batch:
                c.result = {k: v[start:start + c.rows] for k, v in out.items()}
                start += c.rows
        except BaseException as error:      # every caller of the round gets it
            for c in batch:
                c.error = error
        finally:
            for c in batch:
                c.done.set()
