"""Rejected and repaired raw rows: counted by reason, kept with file, line and text.

In strict mode nothing is kept: stop_if_strict() raises RawDataError naming the first bad
line of the first file in reading order (not the first row of the first rule checked).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from common.errors import UserError

COLUMNS = ["file", "line", "action", "reason", "text"]


class RawDataError(ValueError, UserError):
    """Bad raw input; the message names the file and the line."""


class Rejects:
    def __init__(self, strict: bool = False):
        self.strict = strict
        self._parts: list[pd.DataFrame] = []
        self.files: dict[str, dict] = {}     # file name -> {"lines", "encoding"}, in reading order

    def read(self, file: str, lines: int, encoding: str, header: int = 0) -> None:
        """Notes a file as read: its number of lines (a header line among them, if it has one:
        neither kept nor dropped) and the encoding it was decoded with."""
        self.files[file] = {"lines": int(lines), "encoding": encoding}
        if header:
            self.files[file]["header"] = int(header)

    def add(self, file: str, lines, reason: str, texts, action: str = "dropped") -> None:
        """Records rows (1-based line numbers and their raw text) dropped or repaired for a reason."""
        lines = np.asarray(lines, dtype=np.int64)
        if len(lines) == 0:
            return
        texts = [str(t) for t in texts]
        self._parts.append(pd.DataFrame({"file": file, "line": lines, "action": action,
                                         "reason": reason, "text": texts}))

    def stop_if_strict(self) -> None:
        """In strict mode, raises for the first bad line of the first file read that has one."""
        if not self.strict or not self._parts:
            return
        frame = self.frame()
        order = {f: i for i, f in enumerate(self.files)}
        frame = frame.assign(_order=frame["file"].map(order).fillna(len(order)))
        first = frame.sort_values(["_order", "line"], kind="stable").iloc[0]
        raise RawDataError(f"{first['file']}:{first['line']}: {first['reason']}: {first['text'][:120]!r} "
                           f"(--strict stops at the first bad line; without it the line is "
                           f"{first['action']} and listed in rejects.csv)")

    def frame(self) -> pd.DataFrame:
        if not self._parts:
            return pd.DataFrame(columns=COLUMNS)
        return pd.concat(self._parts, ignore_index=True).sort_values(["file", "line"], kind="stable")

    def counts(self, action: str | None = None) -> dict[str, int]:
        frame = self.frame()
        if action:
            frame = frame[frame["action"] == action]
        return dict(sorted(Counter(f"{f}: {r}" for f, r in zip(frame["file"], frame["reason"])).items()))

    def dropped(self, file: str) -> int:
        frame = self.frame()
        return int(((frame["file"] == file) & (frame["action"] == "dropped")).sum())

    def repaired(self, file: str) -> int:
        frame = self.frame()
        return int(((frame["file"] == file) & (frame["action"] == "repaired")).sum())
