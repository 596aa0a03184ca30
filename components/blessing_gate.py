"""BlessingGate: the one blessing decision, from paired bootstrap intervals on the test split.

It scores the test split's raw examples with the candidate, the strong baseline and (when
there is one) the last blessed model, through each model's `serving_default` signature,
and blesses the candidate only when
  - its RMSE is below the strong baseline's by more than `baseline_margin`, with the
    whole bootstrap interval of the difference (users and movies resampled,
    common/comparison.py) below -margin;
  - it is not worse than the last blessed model of the same data by more than
    `change_tolerance` (non-inferiority: the whole interval at or below it); a last
    blessed model that learnt from other data (its DATA_IDENTITY_FILE says which) is not
    compared with, and the records say so;
  - its RMSE is below `rmse_upper_bound` when one is given (the mean predictor's);
  - it is not the last blessed model itself (a re-run with nothing changed pushes nothing);
  - with a RankingEvaluator's result (`ranking`), the pair ranker it ranks with is not
    below the best ranking peer (popularity, EASE) in NDCG@10 on test pair rows: the upper
    end of the 95% interval of the difference at or above 0.
Each check is written as a record (name, metric, bound, value, interval, passed) to
`comparison.json` in the blessing artifact; the summary and the report read those records.
With `force_push` (run_local --force-push, for demos) it blesses whatever the checks say,
except a candidate that is the last blessed model itself (already pushed); the checks are
still written, and `forced` says why it blessed.
"""

import dataclasses
import json
import os

import numpy as np
import tensorflow as tf
from tfx import v1 as tfx
from tfx.types import artifact_utils

from common import comparison
from transform_fn import features as F

BLESSED, NOT_BLESSED = "BLESSED", "NOT_BLESSED"
FORCED = "forced by --force-push"      # the record's reason when force_push blessed
COMPARISON_FILE = "comparison.json"
SCORE_BATCH = 4096


def is_blessed(artifact) -> bool:
    return artifact.get_int_custom_property("blessed") == 1


def data_identity_of(model_uri: str) -> str | None:
    """What data a Trainer's model learnt from (trainer_fn/run.py writes it), None if unknown."""
    path = os.path.join(model_uri, F.DATA_IDENTITY_FILE)
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return f.read().strip() or None


def read_split(examples, split: str) -> tuple[list[bytes], dict, np.ndarray, np.ndarray]:
    """Serialized examples of `split`, their clusters ({"user": (a, b), "movie": (movie,)}),
    label and kind ('pair'/'single')."""
    uri = artifact_utils.get_split_uri([examples], split)
    files = tf.io.gfile.glob(os.path.join(uri, "*"))
    records = [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]
    ids = (F.user("a"), F.user("b"), F.MOVIE)
    spec = {**{name: tf.io.FixedLenFeature([], tf.int64) for name in ids},
            F.LABEL: tf.io.FixedLenFeature([], tf.float32), F.EXAMPLE_KIND: tf.io.FixedLenFeature([], tf.string)}
    columns = {name: [] for name in (*ids, F.LABEL, F.EXAMPLE_KIND)}
    for start in range(0, len(records), SCORE_BATCH):
        parsed = tf.io.parse_example(records[start:start + SCORE_BATCH], spec)
        for name in columns:
            columns[name].append(parsed[name].numpy())
    a, b, movie, labels, kinds = (np.concatenate(columns[name]) for name in (*ids, F.LABEL, F.EXAMPLE_KIND))
    return records, {"user": (a, b), "movie": (movie,)}, labels.astype(np.float64), kinds.astype(str)


def score(model_uri: str, records: list[bytes]) -> np.ndarray:
    """Predictions of a pushed-format model (its serving_default) for serialized examples."""
    from tfx.utils import path_utils

    model = tf.saved_model.load(path_utils.serving_model_path(model_uri))
    serve = model.signatures[F.SERVING_DEFAULT]
    out = []
    for start in range(0, len(records), SCORE_BATCH):
        batch = tf.constant(records[start:start + SCORE_BATCH])
        out.append(serve(examples=batch)["predictions"].numpy().reshape(-1))
    return np.concatenate(out).astype(np.float64)


def _subset(clusters: dict, rows: np.ndarray) -> dict:
    return {name: tuple(a[rows] for a in arrays) for name, arrays in clusters.items()}


def ranking_check(ranking: dict) -> comparison.Check:
    """The RankingEvaluator's check (serving/ranking.py) as one of the gate's records."""
    c = ranking["check"]
    return comparison.Check(name=f"ranks at least as well as {c['peer']}",
                            metric="NDCG@10 difference on test pair rows (upper end of interval)", bound=0.0,
                            value=c["high"], passed=bool(c["passed"]), relation=">=", interval=(c["low"], c["high"]))


def read_ranking(uri: str) -> dict | None:
    path = os.path.join(uri, F.RANKING_FILE)
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)


def decide(clusters, labels, kinds, predictions: dict[str, np.ndarray], baseline_margin: float,
           change_tolerance: float, rmse_upper_bound: float | None, resamples: int, seed: int,
           same_as_last_blessed: bool = False, ranking: dict | None = None, force: bool = False) -> dict:
    """The checks and the per-kind intervals, as plain records. force: blessed whatever the
    checks say (but not the last blessed model again), with `forced` giving the reason."""
    candidate = predictions["candidate"]
    checks, intervals = [], {}
    vs_baseline = comparison.rmse_difference(clusters, labels, candidate, predictions["baseline"], resamples,
                                             seed=seed)
    intervals["candidate - baseline (all)"] = dataclasses.asdict(vs_baseline)
    for kind in ("pair", "single"):
        rows = kinds == kind
        if rows.any():
            d = comparison.rmse_difference(_subset(clusters, rows), labels[rows], candidate[rows],
                                           predictions["baseline"][rows], resamples, seed=seed)
            intervals[f"candidate - baseline ({kind})"] = dataclasses.asdict(d)
    checks.append(comparison.beats("beats the strong baseline", vs_baseline, baseline_margin))
    if "last_blessed" in predictions:
        vs_last = comparison.rmse_difference(clusters, labels, candidate, predictions["last_blessed"], resamples,
                                             seed=seed)
        intervals["candidate - last blessed (all)"] = dataclasses.asdict(vs_last)
        checks.append(comparison.not_worse("not worse than the last blessed model", vs_last, change_tolerance))
    if rmse_upper_bound is not None:
        checks.append(comparison.below("below the mean predictor", vs_baseline.rmse_a, rmse_upper_bound))
    if ranking is not None:
        checks.append(ranking_check(ranking))
    if same_as_last_blessed:
        # A re-run that changed nothing upstream reuses the cached model: it is already pushed.
        checks.append(comparison.Check(name="is a new model", metric="same model artifact as the last blessed one",
                                       bound=1.0, value=1.0, passed=False))
    result = {"blessed": all(c.passed for c in checks), "checks": [dataclasses.asdict(c) for c in checks],
              "intervals": intervals, "last_blessed_model": "last_blessed" in predictions}
    if force and not same_as_last_blessed:
        result.update(blessed=True, forced=FORCED)
    return result


@tfx.dsl.components.component
def BlessingGate(
    examples: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Examples],
    model: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Model],
    baseline_model: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Model],
    blessing: tfx.dsl.components.OutputArtifact[tfx.types.standard_artifacts.ModelBlessing],
    last_blessed_model: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Model] = None,
    ranking: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.ModelEvaluation] = None,
    split: tfx.dsl.components.Parameter[str] = F.TEST_SPLIT,
    baseline_margin: tfx.dsl.components.Parameter[float] = 0.0,
    change_tolerance: tfx.dsl.components.Parameter[float] = 0.0,
    rmse_upper_bound: tfx.dsl.components.Parameter[float] = None,
    resamples: tfx.dsl.components.Parameter[int] = 1000,
    seed: tfx.dsl.components.Parameter[int] = 0,
    data_identity: tfx.dsl.components.Parameter[str] = "",
    force_push: tfx.dsl.components.Parameter[bool] = False,
) -> None:
    records, clusters, labels, kinds = read_split(examples, split)
    models = {"candidate": model, "baseline": baseline_model}
    other_data = None
    if last_blessed_model is not None:
        theirs = data_identity_of(last_blessed_model.uri)
        if theirs is not None and theirs == data_identity:
            models["last_blessed"] = last_blessed_model
        else:
            other_data = theirs or "unknown"
    predictions = {name: score(artifact.uri, records) for name, artifact in models.items()}
    result = decide(clusters, labels, kinds, predictions, baseline_margin, change_tolerance, rmse_upper_bound,
                    resamples, seed,
                    same_as_last_blessed=last_blessed_model is not None and last_blessed_model.uri == model.uri,
                    ranking=read_ranking(ranking.uri) if ranking is not None else None, force=bool(force_push))
    result.update(split=split, resamples=resamples, models={k: v.uri for k, v in models.items()},
                  data_identity=data_identity, last_blessed_other_data=other_data)
    blessing.set_string_custom_property("current_model", model.uri)
    blessing.set_int_custom_property("current_model_id", model.id)
    blessing.set_int_custom_property("blessed", int(result["blessed"]))
    tf.io.gfile.makedirs(blessing.uri)
    with tf.io.gfile.GFile(os.path.join(blessing.uri, COMPARISON_FILE), "w") as f:
        json.dump(result, f, indent=2)
    with tf.io.gfile.GFile(os.path.join(blessing.uri, BLESSED if result["blessed"] else NOT_BLESSED), "w") as f:
        f.write("")


def read_comparison(blessing_uri: str) -> dict | None:
    path = os.path.join(blessing_uri, COMPARISON_FILE)
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)
