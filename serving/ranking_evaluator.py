"""RankingEvaluator: the ranking metrics as a pipeline component, so that they exist on every
orchestrator (Kubeflow included) and the BlessingGate can require them.

It runs serving/ranking.measure on the data the run read (the prepared folder ExampleGen
ingested: its ratings, movies and users, and the eval and test rows) for the Trainer's and
the BaselineTrainer's models: the pair ranker's settings chosen on eval, then the table on
test pair and single rows and the ranking check against the best peer. The result is
RANKING_FILE in the output ModelEvaluation artifact, whose `passed` property the
BlessingGate reads. It lives in serving/ because it scores through serving's code; the
pipeline receives it from the runner (create_pipeline's `ranking_evaluator`), so that the
pipeline's modules import nothing from above them.

Its second output, `ranked_model`, is the Trainer's model copied file by file with the same
result as assets.extra/ranking.json (replacing the Trainer's "rating only") and the served
EASE matrix as assets.extra/ease.npz (serving/version_files.py): the Pusher pushes it, so
that a pushed version carries the pair ranker's settings it was evaluated with and the matrix
it ranks with, and serves the same from any copy of it. The BlessingGate still judges the
Trainer's model; the copy differs from it by those two files.
"""


import hashlib
import json
import os
import tempfile
from pathlib import Path

import tensorflow as tf
from tfx import v1 as tfx

from serving.ranking import EASE_MOST_RATED, SUMMARY_PAIRS, SUMMARY_ROWS, SUMMARY_SINGLES
from serving.version_files import EASE_PATH, RANKING_PATH, write_ease
from transform_fn import features as F

# What measure() reads from a prepared folder.
PREPARED_FILES = ("movies.csv", "users.csv", "people.csv", F.RATINGS_FILE, F.MANIFEST_FILE,
                  *(f"{split}/{kind}.csv" for split in (F.EVAL_SPLIT, F.TEST_SPLIT) for kind in ("pairs", "singles")))


# The code the component runs: its hash is a parameter, so that a change to it re-runs the
# component instead of reusing a cached result (TFX's cache key does not cover a function
# component's imports).
RANKING_CODE = ("serving/ease.py", "serving/ranking.py", "serving/recommend.py", "serving/ranking_evaluator.py",
                "serving/version_files.py", "transform_fn/features.py")


def ranking_code_version() -> str:
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for name in RANKING_CODE:
        digest.update(name.encode() + b"\0" + (root / name).read_bytes())
    return digest.hexdigest()[:16]


def local_prepared(data_root: str, scratch: str) -> Path:
    """data_root itself when it is a local folder, else a copy of the files measure() reads
    (a bucket on Kubeflow) under `scratch`."""
    if os.path.isdir(data_root):
        return Path(data_root)
    out = Path(scratch) / "prepared"
    for name in PREPARED_FILES:
        source = f"{data_root.rstrip('/')}/{name}"
        if tf.io.gfile.exists(source):
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            tf.io.gfile.copy(source, str(out / name), overwrite=True)
    return out


def copy_tree(source: str, target: str) -> None:
    """Every file and folder under source, byte for byte, under target (local or a bucket)."""
    source = source.rstrip("/")
    for folder, _, files in tf.io.gfile.walk(source):
        out = target + folder[len(source):]
        tf.io.gfile.makedirs(out)
        for name in files:
            tf.io.gfile.copy(f"{folder}/{name}", f"{out}/{name}", overwrite=True)


def write_ranked_model(model_uri: str, ranked_uri: str, result: dict, ease=None, ratings: str = "") -> str:
    """The model artifact at model_uri copied to ranked_uri, with `result` written into its
    servable SavedModel as version_files.RANKING_PATH and `ease` (serving/ease.py Ease, fitted
    on the ratings whose digest is `ratings`) as EASE_PATH; the path of the ranking file."""
    copy_tree(model_uri, ranked_uri)
    path = f"{ranked_uri.rstrip('/')}/{F.SERVING_FORMAT}/{RANKING_PATH}"
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.gfile.GFile(path, "w") as f:
        json.dump(result, f, indent=2)
    if ease is not None:
        # np.savez needs a seekable file: a local one, then copied where the artifact lives (a bucket)
        with tempfile.TemporaryDirectory() as scratch:
            local = os.path.join(scratch, "ease.npz")
            with open(local, "wb") as f:
                write_ease(f, ease, ratings)
            tf.io.gfile.copy(local, f"{ranked_uri.rstrip('/')}/{F.SERVING_FORMAT}/{EASE_PATH}", overwrite=True)
    return path


@tfx.dsl.components.component
def RankingEvaluator(
    model: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Model],
    baseline_model: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Model],
    evaluation: tfx.dsl.components.OutputArtifact[tfx.types.standard_artifacts.ModelEvaluation],
    ranked_model: tfx.dsl.components.OutputArtifact[tfx.types.standard_artifacts.Model],
    data_root: tfx.dsl.components.Parameter[str],
    rows: tfx.dsl.components.Parameter[int] = SUMMARY_ROWS,
    singles: tfx.dsl.components.Parameter[int] = SUMMARY_SINGLES,
    pairs: tfx.dsl.components.Parameter[int] = SUMMARY_PAIRS,
    seed: tfx.dsl.components.Parameter[int] = 0,
    most_rated: tfx.dsl.components.Parameter[int] = EASE_MOST_RATED,
    code_version: tfx.dsl.components.Parameter[str] = "",
) -> None:
    """most_rated: EASE fitted on at most this many of the most rated movies; 0: every rated one."""
    from serving.ranking import measure_and_fit

    with tempfile.TemporaryDirectory() as scratch:
        result, served = measure_and_fit(Path(model.uri) / F.SERVING_FORMAT,
                                         Path(baseline_model.uri) / F.SERVING_FORMAT,
                                         local_prepared(data_root, scratch), rows, singles, pairs, seed,
                                         most_rated=most_rated or None)
    result["data"] = Path(data_root.rstrip("/")).name
    evaluation.set_int_custom_property("passed", int(result["check"]["passed"]))
    tf.io.gfile.makedirs(evaluation.uri)
    with tf.io.gfile.GFile(os.path.join(evaluation.uri, F.RANKING_FILE), "w") as f:
        json.dump(result, f, indent=2)
    # What the Pusher pushes: the model with the settings it was evaluated with.
    write_ranked_model(model.uri, ranked_model.uri, result, served, result["served_ease"]["ratings"])


def ranking_evaluator(model, baseline_model, data_root: str, rows: int = SUMMARY_ROWS,
                      singles: int = SUMMARY_SINGLES, pairs: int = SUMMARY_PAIRS, most_rated: int = EASE_MOST_RATED):
    """The factory create_pipeline takes: the component on the two Trainers' model channels
    (its `evaluation` for the BlessingGate, its `ranked_model` for the Pusher)."""
    return RankingEvaluator(model=model, baseline_model=baseline_model, data_root=data_root, rows=rows,
                            singles=singles, pairs=pairs, most_rated=most_rated, code_version=ranking_code_version())
