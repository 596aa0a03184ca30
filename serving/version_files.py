"""What a pushed version folder carries beside its SavedModel, so that it serves the same
wherever it is copied (another work folder, a bucket), in <version>/assets.extra/:
- ranking.json: how the version ranks. The Trainer writes it saying "rating only" (no
  RankingEvaluator has seen the model); serving/ranking_evaluator.py replaces it in its
  `ranked_model` copy, which the Pusher pushes, with its result: the pair ranker's settings
  chosen on eval and the check the version passed. A run with `--no-ranking` pushes the
  Trainer's model, so its version says "rating only" by its own file, never by a default.
- ease.npz: the pair ranker's EASE matrix, fitted by the RankingEvaluator on every rating of
  the data it evaluated, at the lambda chosen on eval: the service loads it instead of
  refitting (a dense movies x movies inversion) at start-up.

A version without ranking.json (pushed by older code), or with ranker settings but no
ease.npz, is refused with a message saying so: it is never served with defaults.

TF Serving reads nothing in assets.extra but its warm-up file (tf_serving_warmup_requests),
so the SavedModel and TF Serving are unchanged by these files.

TensorFlow-free: the service imports it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
from pathlib import Path

import numpy as np

from transform_fn import features as F

EXTRA_DIR = F.EXTRA_DIR
RANKING_PATH = f"{EXTRA_DIR}/{F.RANKING_FILE}"      # relative to a version folder (a SavedModel folder)
EASE_PATH = f"{EXTRA_DIR}/ease.npz"
PAIR_RANKER = "pair ranker"       # what an answer says it was ranked by
RATING_ONLY = F.RATING_ONLY


class BadVersionFile(ValueError):
    """A version's ranking.json that cannot be read as the RankingEvaluator writes it."""


def read_ranking(model_dir: Path) -> dict:
    """The version's ranking.json: the RankingEvaluator's result, or the Trainer's "rating
    only"; BadVersionFile when it is missing or is not one of those."""
    path = Path(model_dir) / RANKING_PATH
    if not path.exists():
        raise BadVersionFile(f"the version carries no {RANKING_PATH} (how it ranks), so it was pushed by older "
                             f"code; push it again with `make run`")
    try:
        result = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BadVersionFile(f"{RANKING_PATH} cannot be read: {type(error).__name__}: {error}") from None
    if not isinstance(result, dict) or "params" not in result or not (
            isinstance(result["params"], dict) or (result["params"] is None and result.get("ranked_by") == RATING_ONLY)):
        raise BadVersionFile(f"{RANKING_PATH} has no 'params' object (the pair ranker's settings)")
    return result


def ranker_params(result: dict | None):
    """The pair ranker's settings in a result (serving/ease.py RankerParams); None (rank by
    the predicted rating alone) for a rating-only version. Unknown keys are ignored; a setting
    the file lacks (one added to RankerParams after the version was pushed) keeps its default,
    which leaves that part of the ranker off."""
    if result is None or result["params"] is None:
        return None
    from serving.ease import RankerParams

    fields = {f.name for f in dataclasses.fields(RankerParams)}
    values = {k: v for k, v in result["params"].items() if k in fields}
    for name, value in values.items():
        if name == "liked":
            ok = isinstance(value, bool)
        elif name == "most_rated":
            ok = value is None or (isinstance(value, int) and not isinstance(value, bool) and value > 0)
        else:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and (
                value > 0 if name == "lam" else 0 < value <= 1 if name == "decay"
                else 0 <= value <= 1 if name == "sequence_weight" else value >= 0)
        if not ok:
            raise BadVersionFile(f"{RANKING_PATH}: params.{name} is {value!r}, not a setting the ranker takes")
    return RankerParams(**values)


def ranking_summary(result: dict | None) -> dict | None:
    """What /v1/model shows of a version's ranking evaluation: the check it passed (or
    not), on which data, no file-system paths."""
    if result is None or result["params"] is None:
        return None
    check = result.get("check") if isinstance(result.get("check"), dict) else {}
    return {"data": result.get("data"), "passed": check.get("passed"), "peer": check.get("peer"),
            "ndcg_difference_low": check.get("low"), "ndcg_difference_high": check.get("high"),
            "rule": check.get("rule")}


def ratings_digest(ratings) -> str:
    """Which ratings an EASE matrix was fitted on: a hash of the sorted (user, movie) pairs
    (a frame with user_id and movie_id columns)."""
    pairs = np.unique(np.stack([np.asarray(ratings["user_id"], np.int64),
                                np.asarray(ratings["movie_id"], np.int64)], axis=1), axis=0)
    return hashlib.sha256(np.ascontiguousarray(pairs).tobytes()).hexdigest()[:16]


def fitted_elsewhere(ease_ratings: str | None, ratings, data: str) -> str | None:
    """The warning for a version whose EASE matrix was fitted on other ratings than the
    prepared data `data` it is served with holds (`ratings`: its ratings frame); None when
    they are the same ratings, or the version has no matrix."""
    if ease_ratings is None or ease_ratings == ratings_digest(ratings):
        return None
    return (f"the EASE matrix of the version served was fitted on other ratings than the prepared data {data} "
            f"holds: it ranks as it was evaluated, not by these ratings")


def write_ease(f, ease, digest: str) -> None:
    """ease.npz into the open binary file f: the movie ids, B (float32) and lambda, and the
    ratings' digest, written straight to the file (no copy of B in memory)."""
    np.savez(f, movies=ease.movies, weights=ease.weights, lam=np.float64(ease.lam), ratings=np.array(digest))


def ease_bytes(ease, digest: str) -> bytes:
    """ease.npz's content as bytes (the tests' hand-made versions)."""
    buffer = io.BytesIO()
    write_ease(buffer, ease, digest)
    return buffer.getvalue()


def read_ease(model_dir: Path, params) -> tuple[object, str, str] | tuple[None, None, None]:
    """(the version's EASE matrix, the digest of the ratings it was fitted on, the digest of the
    file) for a version that ranks with these settings; (None, None, None) for a rating-only
    version (params None). BadVersionFile, naming the file, when it is missing,
    cannot be read whatever the damage, or does not fit the settings."""
    if params is None:
        return None, None, None
    from serving.ease import Ease

    path = Path(model_dir) / EASE_PATH
    if not path.exists():
        raise BadVersionFile(f"the version ranks with the pair ranker but carries no {EASE_PATH} (its EASE matrix), "
                             f"so it was pushed by older code; push it again with `make run`")
    try:
        content = path.read_bytes()
        with np.load(io.BytesIO(content), allow_pickle=False) as f:
            movies, weights, lam, ratings = f["movies"], f["weights"], f["lam"], f["ratings"]
            ease = Ease(movies.astype(np.int64, copy=False), np.ascontiguousarray(weights, dtype=np.float32), float(lam))
            digest = str(ratings)
    except Exception as error:          # a truncated or damaged zip, a bad member: every way it can fail
        raise BadVersionFile(f"{EASE_PATH} cannot be read: {type(error).__name__}: {error}") from None
    n = len(ease.movies) if ease.movies.ndim == 1 else -1
    if n < 0 or ease.weights.shape != (n, n) or ease.lam != params.lam:
        raise BadVersionFile(f"{EASE_PATH} is a {ease.weights.shape} matrix at lambda {ease.lam!r} for movie ids "
                             f"of shape {ease.movies.shape}; {RANKING_PATH} says lambda {params.lam!r}")
    if not np.isfinite(ease.weights).all() or (n > 1 and not (np.diff(ease.movies) > 0).all()):
        raise BadVersionFile(f"{EASE_PATH} holds a value that is not finite, or movie ids out of order")
    return ease, digest, hashlib.sha256(content).hexdigest()[:16]
