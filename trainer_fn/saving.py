"""What both Trainer modules share: reading transformed examples, and saving a model with
its signatures, TF Serving's warm-up requests and its training history.

The BaselineTrainer's cache key covers these files (pipeline/config.py), not the attention
model's code, so a change to the model re-runs the Trainer onward only.
"""

from __future__ import annotations

import json
import os

import tensorflow as tf
from tfx_bsl.public import tfxio

from trainer_fn.signatures import build_signatures, serving_raw_spec, write_warmup
from transform_fn import features as F


def dataset(files, data_accessor, tf_transform_output, batch_size: int):
    """One pass over the transformed examples as written, unshuffled (for evaluation and
    for reading a split; training batches come from run.shuffled_batches)."""
    return data_accessor.tf_dataset_factory(
        files,
        tfxio.TensorFlowDatasetOptions(batch_size=batch_size, label_key=F.LABEL, num_epochs=1, shuffle=False),
        tf_transform_output.transformed_metadata.schema,
    ).prefetch(tf.data.AUTOTUNE)


def write_rating_only(export_dir: str) -> str:
    """assets.extra/ranking.json saying the model ranks by its predicted rating alone: no
    RankingEvaluator has seen it. The RankingEvaluator's copy replaces it with its result
    (serving/version_files.py); a run with --no-ranking pushes this model as it is."""
    path = os.path.join(export_dir, F.EXTRA_DIR, F.RANKING_FILE)
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.gfile.GFile(path, "w") as f:
        json.dump({"params": None, "ranked_by": F.RATING_ONLY,
                   "why": "no RankingEvaluator evaluated this model (a run with --no-ranking pushes the "
                          "Trainer's model as it is)"}, f, indent=2)
    return path


def save(model, tf_transform_output, fn_args, history: dict, info: dict, explain=None, sequence=None,
         served=None, rating_min: float = F.RATING_MIN) -> None:
    """The SavedModel with its serving signatures and TF Serving's warm-up requests
    (trainer_fn/signatures.py), and the per-epoch history beside it. explain: the model
    that also returns attention weights (None for a model without attention); sequence: the
    sequence model of what each member watches next (None for a model without it); served:
    the graph the signatures compute the rating with (model.served_model; the model itself
    when None); rating_min: the scale's floor the served ratings are clipped to."""
    served = model if served is None else served
    tf.saved_model.save(served, fn_args.serving_model_dir,
                        signatures=build_signatures(served, tf_transform_output, explain, sequence, rating_min))
    write_warmup(fn_args.serving_model_dir, serving_raw_spec(tf_transform_output), sequence=sequence is not None)
    write_rating_only(fn_args.serving_model_dir)
    with tf.io.gfile.GFile(os.path.join(fn_args.model_run_dir, F.HISTORY_FILE), "w") as f:
        json.dump({**info, "history": {k: [float(v) for v in vals] for k, vals in history.items()}},
                  f, indent=2, default=list)
