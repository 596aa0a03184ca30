"""What a pushed version folder carries beside its SavedModel, so that it serves the same
wherever it is copied (another work folder, a bucket): the RankingEvaluator's result, with
the pair ranker's settings chosen on eval, as <version>/assets.extra/ranking.json.

TF Serving reads nothing in assets.extra but its warm-up file (tf_serving_warmup_requests),
so the SavedModel and TF Serving are unchanged by it. Written by serving/ranking_evaluator.py
into its `ranked_model` output (the Trainer's model, copied), which the Pusher pushes; read by
the service (serving/serve.py). A version without the file was pushed by a run without the
RankingEvaluator (`--no-ranking`) or before it wrote one: the service ranks its lists by the
predicted rating alone and says so in every answer.

TensorFlow-free: the service imports it.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from transform_fn import features as F

EXTRA_DIR = "assets.extra"
RANKING_PATH = f"{EXTRA_DIR}/{F.RANKING_FILE}"      # relative to a version folder (a SavedModel folder)
PAIR_RANKER = "pair ranker"       # what an answer says it was ranked by
RATING_ONLY = "rating only"


class BadVersionFile(ValueError):
    """A version's ranking.json that cannot be read as the RankingEvaluator writes it."""


def read_ranking(model_dir: Path) -> dict | None:
    """The version's RankingEvaluator result; None when it has none; BadVersionFile when
    the file is there but not a result with `params`."""
    path = Path(model_dir) / RANKING_PATH
    if not path.exists():
        return None
    try:
        result = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BadVersionFile(f"{RANKING_PATH} cannot be read: {type(error).__name__}: {error}") from None
    if not isinstance(result, dict) or not isinstance(result.get("params"), dict):
        raise BadVersionFile(f"{RANKING_PATH} has no 'params' object (the pair ranker's settings)")
    return result


def ranker_params(result: dict | None):
    """The pair ranker's settings in a result (serving/ease.py RankerParams); None (rank by
    the predicted rating alone) without a result. Unknown keys are ignored; a setting the
    file lacks (one added to RankerParams after the version was pushed) keeps its default,
    which leaves that part of the ranker off."""
    if result is None:
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
    if result is None:
        return None
    check = result.get("check") if isinstance(result.get("check"), dict) else {}
    return {"data": result.get("data"), "passed": check.get("passed"), "peer": check.get("peer"),
            "ndcg_difference_low": check.get("low"), "ndcg_difference_high": check.get("high"),
            "rule": check.get("rule")}
