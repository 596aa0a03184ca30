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
    try:
        return RankerParams(**{k: v for k, v in result["params"].items() if k in fields})
    except TypeError as error:
        raise BadVersionFile(f"{RANKING_PATH}: {error}") from None


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


def ease_bytes(ease, digest: str) -> bytes:
    """ease.npz's content: the movie ids, B (float32) and lambda, and the ratings' digest."""
    buffer = io.BytesIO()
    np.savez(buffer, movies=ease.movies, weights=ease.weights, lam=np.float64(ease.lam), ratings=np.array(digest))
    return buffer.getvalue()


def read_ease(model_dir: Path, params) -> tuple[object, str] | tuple[None, None]:
    """(the version's EASE matrix, the digest of the ratings it was fitted on) for a version
    that ranks with these settings; (None, None) for a rating-only version (params None).
    BadVersionFile when it is missing, unreadable or fitted at another lambda."""
    if params is None:
        return None, None
    from serving.ease import Ease

    path = Path(model_dir) / EASE_PATH
    if not path.exists():
        raise BadVersionFile(f"the version ranks with the pair ranker but carries no {EASE_PATH} (its EASE matrix), "
                             f"so it was pushed by older code; push it again with `make run`")
    try:
        with np.load(path, allow_pickle=False) as f:
            ease = Ease(f["movies"].astype(np.int64), f["weights"].astype(np.float32), float(f["lam"]))
            digest = str(f["ratings"])
    except (OSError, KeyError, ValueError) as error:
        raise BadVersionFile(f"{EASE_PATH} cannot be read: {type(error).__name__}: {error}") from None
    n = len(ease.movies)
    if ease.weights.shape != (n, n) or ease.lam != params.lam:
        raise BadVersionFile(f"{EASE_PATH} is a {ease.weights.shape} matrix at lambda {ease.lam:g} for {n} movies; "
                             f"{RANKING_PATH} says lambda {params.lam:g}")
    if not np.isfinite(ease.weights).all() or (n > 1 and not (np.diff(ease.movies) > 0).all()):
        raise BadVersionFile(f"{EASE_PATH} holds a value that is not finite, or movie ids out of order")
    return ease, digest
