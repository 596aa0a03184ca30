"""Paired, clustered bootstrap of an RMSE difference: is model A really better than B?

Both models are scored on the same rows. A pair row shares its two users and its movie
with other rows, so rows are not independent: every entity (each user, each movie) gets
an independent Poisson(1) weight per draw, and a row's weight is the product of the
weights of the entities it holds (its user, or both members, and its movie): the
multiway "pigeonhole" bootstrap (Owen 2007; Owen & Eckles 2012), which keeps the
dependence along every factor at once. The RMSE difference A - B is recomputed with the
weights of each draw; the percentile interval says how far sample-to-sample noise can
move it. Pure numpy, so it is cheap to test.

`clusters` is either one array of cluster ids per row (one factor), or a mapping from an
entity space to the arrays of that space a row holds, e.g. {"user": (user_a, user_b),
"movie": (movie,)}: both members draw from one user space, and a user who is both members
(a single-person row) counts once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

DRAWS_AT_ONCE = 20        # bounds the memory: DRAWS_AT_ONCE x rows weights at a time


@dataclasses.dataclass(frozen=True)
class Difference:
    rmse_a: float
    rmse_b: float
    diff: float           # rmse_a - rmse_b
    low: float            # percentile interval of diff
    high: float
    confidence: float
    users: int            # entities of the first space (users)
    rows: int
    clusters: dict = dataclasses.field(default_factory=dict)   # entity space -> how many


def _spaces(clusters) -> dict[str, list[np.ndarray]]:
    if isinstance(clusters, Mapping):
        return {name: [np.asarray(a) for a in arrays] for name, arrays in clusters.items()}
    return {"user": [np.asarray(clusters)]}


def rmse_difference(clusters, labels: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray,
                    resamples: int = 1000, confidence: float = 0.95, seed: int = 0) -> Difference:
    labels = np.asarray(labels, dtype=float)
    if len(labels) == 0:
        raise ValueError("no rows to compare the models on")
    se_a, se_b = (np.asarray(pred_a, float) - labels) ** 2, (np.asarray(pred_b, float) - labels) ** 2
    spaces = []
    for name, arrays in _spaces(clusters).items():
        _, inverse = np.unique(np.concatenate(arrays), return_inverse=True)
        index = inverse.reshape(len(arrays), -1)
        repeated = [np.zeros(len(labels), bool)] + [
            (index[k][None, :] == index[:k]).any(axis=0) for k in range(1, len(arrays))]
        spaces.append((name, int(inverse.max()) + 1, index, repeated))
    rng = np.random.default_rng(seed)
    diffs = np.empty(resamples)
    for start in range(0, resamples, DRAWS_AT_ONCE):
        count = min(DRAWS_AT_ONCE, resamples - start)
        weights = np.ones((count, len(labels)))
        for _, n, index, repeated in spaces:
            draw = rng.poisson(1.0, size=(count, n)).astype(float)
            for k in range(len(index)):
                weights *= np.where(repeated[k], 1.0, draw[:, index[k]])
        total = weights.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            diffs[start:start + count] = np.sqrt(weights @ se_a / total) - np.sqrt(weights @ se_b / total)
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.nanpercentile(diffs, [tail, 100.0 - tail])
    rmse_a, rmse_b = float(np.sqrt(se_a.mean())), float(np.sqrt(se_b.mean()))
    return Difference(rmse_a=rmse_a, rmse_b=rmse_b, diff=rmse_a - rmse_b, low=float(low), high=float(high),
                      confidence=confidence, users=spaces[0][1], rows=len(labels),
                      clusters={name: n for name, n, _, _ in spaces})


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
    """Non-inferiority: A is worse than B by at most `tolerance`, beyond the noise: the whole
    interval, its upper end included, must lie at or below +tolerance. (Not being
    significantly worse is not enough: a noisy comparison would pass anything.)"""
    return Check(name=name, metric="RMSE difference (upper end of interval)", bound=tolerance, value=d.high,
                 passed=d.high <= tolerance, relation="<=", interval=(d.low, d.high))


def below(name: str, value: float, bound: float) -> Check:
    return Check(name=name, metric="RMSE", bound=bound, value=value, passed=value < bound)
