"""Rejected and repaired raw rows: counted by reason, kept with file, line and text.

In strict mode the first bad row raises RawDataError naming the file and line instead.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

COLUMNS = ["file", "line", "action", "reason", "text"]


class RawDataError(ValueError):
    """Bad raw input; the message names the file and the line."""


class Rejects:
    def __init__(self, strict: bool = False):
        self.strict = strict
        self._parts: list[pd.DataFrame] = []

    def add(self, file: str, lines, reason: str, texts, action: str = "dropped") -> None:
        """Records rows (1-based line numbers and their raw text) dropped or repaired for a reason."""
        lines = np.asarray(lines, dtype=np.int64)
        if len(lines) == 0:
            return
        texts = [str(t) for t in texts]
        if self.strict:
            raise RawDataError(f"{file}:{lines[0]}: {reason}: {texts[0][:120]!r}")
        self._parts.append(pd.DataFrame({"file": file, "line": lines, "action": action,
                                         "reason": reason, "text": texts}))

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
