"""Paired, user-clustered bootstrap of an RMSE difference: is model A really better than B?

Both models are scored on the same rows. Rows are grouped by user (a pair row by its
first user), users are drawn with replacement, and the RMSE difference A - B is
recomputed on each draw; the percentile interval says how far run-to-run and
sample-to-sample noise can move it. Pure numpy, so it is cheap to test.
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Difference:
    rmse_a: float
    rmse_b: float
    diff: float           # rmse_a - rmse_b
    low: float            # percentile interval of diff
    high: float
    confidence: float
    users: int
    rows: int


def rmse_difference(users: np.ndarray, labels: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray,
                    resamples: int = 1000, confidence: float = 0.95, seed: int = 0) -> Difference:
    if len(labels) == 0:
        raise ValueError("no rows to compare the models on")
    _, group = np.unique(users, return_inverse=True)
    n_users = int(group.max()) + 1
    se_a = np.bincount(group, weights=(pred_a - labels) ** 2, minlength=n_users)
    se_b = np.bincount(group, weights=(pred_b - labels) ** 2, minlength=n_users)
    rows = np.bincount(group, minlength=n_users).astype(float)
    rng = np.random.default_rng(seed)
    diffs = np.empty(resamples)
    for start in range(0, resamples, 100):        # 100 draws at a time bounds the memory
        count = min(100, resamples - start)
        draws = rng.integers(0, n_users, size=(count, n_users))
        weights = np.stack([np.bincount(d, minlength=n_users) for d in draws]).astype(float)
        n = weights @ rows
        diffs[start:start + count] = np.sqrt(weights @ se_a / n) - np.sqrt(weights @ se_b / n)
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(diffs, [tail, 100.0 - tail])
    rmse_a, rmse_b = float(np.sqrt(se_a.sum() / rows.sum())), float(np.sqrt(se_b.sum() / rows.sum()))
    return Difference(rmse_a=rmse_a, rmse_b=rmse_b, diff=rmse_a - rmse_b, low=float(low), high=float(high),
                      confidence=confidence, users=n_users, rows=int(rows.sum()))


@dataclasses.dataclass(frozen=True)
class Check:
    """One blessing threshold as a record: what was compared, the bound, the value, the verdict."""
    name: str             # e.g. "beats the strong baseline"
    metric: str           # what `value` is
    bound: float
    value: float
    passed: bool
    relation: str = "<"   # value must be `relation` bound
    interval: tuple[float, float] | None = None

    def line(self) -> str:
        ci = f", interval [{self.interval[0]:+.4f}, {self.interval[1]:+.4f}]" if self.interval else ""
        return (f"{self.name}: {self.metric} {self.value:+.4f}{ci}, must be {self.relation} {self.bound:+.4f}: "
                f"{'ok' if self.passed else 'FAILED'}")


def beats(name: str, d: Difference, margin: float) -> Check:
    """A's whole interval must lie below -margin (A better than B beyond the noise)."""
    return Check(name=name, metric="RMSE difference (upper end of interval)", bound=-margin, value=d.high,
                 passed=d.high < -margin, interval=(d.low, d.high))


def not_worse(name: str, d: Difference, tolerance: float) -> Check:
    """A may be worse than B only within the noise: the interval's lower end must be <= tolerance."""
    return Check(name=name, metric="RMSE difference (lower end of interval)", bound=tolerance, value=d.low,
                 passed=d.low <= tolerance, relation="<=", interval=(d.low, d.high))


def below(name: str, value: float, bound: float) -> Check:
    return Check(name=name, metric="RMSE", bound=bound, value=value, passed=value < bound)
