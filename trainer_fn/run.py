"""TFX Trainer module: run_fn trains the two-user model and saves it with its signatures.

The saved model carries the Transform graph (`model.tft_layer`) and the signatures of
trainer_fn/signatures.py: `serving_default` on serialized raw tf.Examples without the
label, and `predict_raw` on the raw features as named tensors (pair rating, each member's
own rating, attention weights), so TF Serving, TFMA and the recommender all call the
same preprocessing the model was trained on.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
import zlib

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras
from tfx import v1 as tfx

from trainer_fn.hparams import HParams
from trainer_fn.known_ratings import known_ratings_path, read_known_ratings, read_sequences
from trainer_fn.als import fit_als
from trainer_fn.baseline.svdpp import EARLY_TABLES_FILE, TRAIN_TABLES_FILE, FactorTables, Ratings, load_tables, read_tables
from trainer_fn.model import (DEEP_LAYER, RECENCY_LAYER, SECOND_PREFIX, build_model, compile_model, explaining_model,
                              recency_term_names, served_model)
from trainer_fn.neighbours import NEIGHBOUR_LAYER, PAD_KEY, Neighbourhood, neighbourhood, padded, weights_of
from trainer_fn import sequence as seq
from trainer_fn.progress import EpochProgress
from trainer_fn.saving import dataset, save
from transform_fn import features as F

VOCABULARIES = (F.USER_VOCAB, F.MOVIE_VOCAB, F.SEX_VOCAB, F.AGE_VOCAB, F.OCCUPATION_VOCAB,
                F.GENRE_VOCAB, F.DIRECTOR_VOCAB, F.ACTOR_VOCAB)


def read_split(files, data_accessor, tf_transform_output, keep=None
               ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """(features, labels) of a split's rows in memory, in a canonical order, and the labels of
    every row read. keep: a batch's features -> which of its rows to hold (every row when
    None); the others are dropped as they are read, so the split is never whole in memory.

    Beam writes the transformed records in no fixed order; reading them into a fixed order
    first makes the batches, and so the trained model and the blessing decision, the same
    for the same data and seed.
    """
    columns: dict[str, list] = {}
    labels, every_label = [], []
    for features, label in dataset(files, data_accessor, tf_transform_output, 8192):
        batch = {name: value.numpy() for name, value in features.items()}
        label = label.numpy()
        every_label.append(label)
        if keep is not None:
            held = keep(batch)
            batch, label = {name: value[held] for name, value in batch.items()}, label[held]
        for name, value in batch.items():
            columns.setdefault(name, []).append(value)
        labels.append(label)
    if not labels:
        raise ValueError("the split is empty")
    data = {name: np.concatenate(columns.pop(name)) for name in list(columns)}
    label = np.concatenate(labels)
    del labels
    keys = [data[F.USER_IDX.format(side=side)] for side in F.SIDES] + [data[F.MOVIE_IDX]]
    keys += [data[F.HIST_IDX.format(side=side)][:, k] for side in F.SIDES for k in range(F.HISTORY_LENGTH)]
    keys += [data[F.HIST_RATING.format(side=side)][:, k] for side in F.SIDES for k in range(F.HISTORY_LENGTH)]
    order = np.lexsort(keys[::-1])
    del keys
    return {name: data.pop(name)[order] for name in list(data)}, label[order], np.concatenate(every_label)


def shuffled_batches(data: dict[str, np.ndarray], label: np.ndarray, batch_size: int, seed: int):
    """The rows as one copy of tensors; each epoch shuffles row indices with `seed` and gathers
    whole batches (no per-row pipeline and no shuffle buffer holding a second copy)."""
    tensors = {name: tf.constant(value) for name, value in data.items()}
    labels_t = tf.constant(label)
    n = len(label)

    def gather(index):
        return {name: tf.gather(value, index) for name, value in tensors.items()}, tf.gather(labels_t, index)

    return (tf.data.Dataset.range(n).shuffle(n, seed=seed, reshuffle_each_iteration=True)
            .batch(batch_size).map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .prefetch(tf.data.AUTOTUNE))


def later_period_halves(data: dict[str, np.ndarray], label: np.ndarray, movie_names, hold: float = 0.25):
    """The eval split cut by target movie: (tune rows, held rows), each as (features, labels). A
    rating is the label of its single row and of the pair rows of its movie, so a cut by user
    would put the same rating on both sides; by movie, every row of a movie is on one side.

    movie_names: each movie index's raw id (movie_names_of): the hash is of the id, so that a
    movie falls on the same side whatever the vocabulary's order (which moves with the train
    rows: another --origin gives other indices)."""
    by_index = np.array([zlib.crc32(str(name).encode()) for name in movie_names], dtype=np.uint64)
    keys = by_index[np.clip(data[F.MOVIE_IDX].astype(np.int64), 0, len(by_index) - 1)]
    held = keys % np.uint64(1000) < np.uint64(int(hold * 1000))
    part = lambda keep: ({name: value[keep] for name, value in data.items()}, label[keep])  # noqa: E731
    return part(~held), part(held)


def movie_names_of(tf_transform_output) -> list[str]:
    """The raw movie id of each movie index: padding, the vocabulary, the out-of-vocabulary bucket."""
    vocabulary = [v.decode() if isinstance(v, bytes) else str(v)
                  for v in tf_transform_output.vocabulary_by_name(F.MOVIE_VOCAB)]
    return ["<padding>", *vocabulary, "<out of vocabulary>"]


def swap_baseline(model: keras.Model, trained_over: FactorTables, refit: FactorTables,
                  prefix: str = "baseline") -> None:
    """Puts the baseline's refit on train + eval into the frozen tables the model was trained
    over, so that the pushed model has learnt from every rating before the test period (with
    prefix SECOND_PREFIX: the second factor model's). The global mean is a constant of the
    graph: its change is folded into the movie biases."""
    shift = np.float32(refit.mu - trained_over.mu)
    for name, values in (("user_bias", refit.user_bias), ("movie_bias", refit.movie_bias + shift),
                         ("user_vectors", refit.user_vectors), ("movie_vectors", refit.movie_vectors)):
        layer = model.get_layer(f"{prefix}_{name}")
        layer.set_weights([np.asarray(values, np.float32).reshape(layer.get_weights()[0].shape)])


@dataclasses.dataclass
class FrozenParts:
    """What the rating model holds frozen for one fit set: the baseline's tables, the second
    factor model's (trainer_fn/als.py) and the neighbourhood term's (trainer_fn/neighbours.py)."""
    tables: FactorTables
    second: FactorTables | None = None
    hood: Neighbourhood | None = None


# The fit sets by the name the Trainer uses, each the ratings a baseline was fitted on: the
# train ratings before the rolling origin (the deep part learns on the rows after it), every
# train rating (the model is chosen and its terms fitted on eval over it), every train and
# eval rating (the pushed model's).
FIT_SETS = {"early": [F.EARLY_PERIOD], "train": [F.TRAIN_SPLIT], "before_test": [F.TRAIN_SPLIT, F.EVAL_SPLIT]}


def read_fit_sets(fn_args, tf_transform_output, names) -> dict[str, Ratings]:
    """The named fit sets' ratings (FIT_SETS), and "late": the train ratings after the origin."""
    names = [*names, "late"]
    sets = [FIT_SETS[name] if name != "late" else [F.LATE_PERIOD] for name in names]
    return dict(zip(names, read_known_ratings(known_ratings_path(fn_args.custom_config), tf_transform_output, *sets)))


def frozen_parts(sets: dict[str, Ratings], tables: dict[str, FactorTables], sizes: dict[str, int],
                 hp: HParams) -> dict[str, FrozenParts]:
    """For each fit set, the frozen parts the model holds when it is scored over that set: the
    baseline's tables, and (with hp.recent) the second factor model and the neighbourhood fitted
    on the same ratings, the neighbourhoods padded to one length so that one replaces another.
    A fit set whose tables are another's (no refit) shares its parts."""
    n_users = F.embedding_rows(sizes[F.USER_VOCAB])
    n_movies = F.embedding_rows(sizes[F.MOVIE_VOCAB])
    parts: dict[str, FrozenParts] = {}
    for name, table in tables.items():
        same = next((parts[other] for other in parts if tables[other] is table), None)
        if same is not None:
            parts[name] = same
            continue
        hood = second = None
        if hp.recent and hp.neighbours > 0:
            hood = neighbourhood(table, sets[name], n_movies, hp.neighbours, hp.neighbour_shrink)
        if hp.recent and hp.als_factors > 0:
            second = fit_als(sets[name], n_users, n_movies, hp.als_factors, hp.als_l2, hp.als_iterations, hp.seed,
                             table.rating_min)
        parts[name] = FrozenParts(table, second, hood)
    size = max((len(part.hood.keys) for part in parts.values() if part.hood is not None), default=0)
    return {name: dataclasses.replace(part, hood=padded(part.hood, size) if part.hood is not None else None)
            for name, part in parts.items()}


def install(model: keras.Model, built: FrozenParts, parts: FrozenParts) -> None:
    """Puts a fit set's frozen parts into a model built with `built`'s."""
    swap_baseline(model, built.tables, parts.tables)
    if parts.hood is not None:
        model.get_layer(NEIGHBOUR_LAYER).set_weights(weights_of(parts.hood))
    if parts.second is not None:
        swap_baseline(model, built.second, parts.second, SECOND_PREFIX)


class ScoredOver(keras.callbacks.Callback):
    """Validation over other frozen parts than training: the deep part learns on the rows after
    the rolling origin over the fit on the ratings before it, and early stopping judges it on
    eval rows over the fit on every train rating, as it is judged and served afterwards."""

    def __init__(self, built: FrozenParts, training: FrozenParts, validation: FrozenParts):
        super().__init__()
        self.built, self.training, self.validation = built, training, validation

    def on_test_begin(self, logs=None):
        install(self.model, self.built, self.validation)

    def on_test_end(self, logs=None):
        install(self.model, self.built, self.training)


def is_late(data: dict[str, np.ndarray], late: Ratings) -> np.ndarray:
    """Which rows' target rating is after the rolling origin (a pair's two members are on the
    same side of it: data/windows.py pair_windows): the row's first member rated its movie
    among the `late` ratings."""
    keys = (late.users.astype(np.int64) << 32) + late.movies.astype(np.int64)
    rows = (data[F.USER_IDX.format(side="a")].astype(np.int64) << 32) + data[F.MOVIE_IDX].astype(np.int64)
    return np.isin(rows, keys)


def run_fn(fn_args: tfx.components.FnArgs) -> None:
    hp = HParams.from_dict((fn_args.custom_config or {}).get("hparams"))
    tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(hp.seed)
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)

    started = time.perf_counter()
    sizes = {name: tf_transform_output.vocabulary_size_by_name(name) for name in VOCABULARIES}
    parts, late = None, None
    origin = {"rows": "every train row", "why": "no baseline (--no-residual)"}
    if hp.residual:
        if not fn_args.base_model:
            raise ValueError("hparams.residual needs the baseline model (the Trainer's base_model input)")
        # The terms are fitted over the baseline's fit on train only (out of sample on eval, as
        # on test); the refit on train + eval replaces it at export. The deep part learns over the
        # fit on the train ratings before the rolling origin, on the train rows after it, whose
        # residuals are out of sample and whose recent slots are filled, as eval's and test's are.
        folder = os.path.dirname(fn_args.base_model)
        serving_tables = load_tables(fn_args.base_model)
        tables = {"train": read_tables(os.path.join(folder, TRAIN_TABLES_FILE)) or serving_tables,
                  "before_test": serving_tables}
        early_tables = read_tables(os.path.join(folder, EARLY_TABLES_FILE))
        sets = read_fit_sets(fn_args, tf_transform_output, ["early", "train", "before_test"] if early_tables
                             else ["train", "before_test"])
        if early_tables is not None and len(sets["late"]) and hp.epochs > 0:
            tables = {"early": early_tables, **tables}
            late = sets["late"]
            origin = {"rows": "the train rows after the rolling origin, over the fit before it",
                      "early_ratings": len(sets["early"]), "late_ratings": len(sets["late"])}
        else:
            origin = {"rows": "every train row, in sample",
                      "why": ("not trained (--epochs 0)" if hp.epochs == 0 else
                              "no ratings after the rolling origin (data stage --origin 1)" if early_tables is not None
                              else "the baseline wrote no tables before the origin")}
        parts = frozen_parts(sets, tables, sizes, hp)
    # The train rows the deep part learns from (only those after the origin are held, as read),
    # and the label mean over every train row.
    train_x, train_y, every_label = read_split(fn_args.train_files, fn_args.data_accessor, tf_transform_output,
                                               keep=None if late is None else lambda batch: is_late(batch, late))
    mean = math.fsum(every_label.tolist()) / len(every_label)      # exact: whatever order Beam wrote
    del every_label
    # The eval split, read once, cut by target movie (later_period_halves): early stopping and
    # the recency weights read the tune slice; the keep decision is made on the held slice,
    # which neither has read.
    eval_x, eval_y, _ = read_split(fn_args.eval_files, fn_args.data_accessor, tf_transform_output)
    evaluate = tf.data.Dataset.from_tensor_slices((eval_x, eval_y)).batch(4096)
    names = movie_names_of(tf_transform_output)
    (tune_x, tune_y), (held_x, held_y) = later_period_halves(eval_x, eval_y, names)
    tune = tf.data.Dataset.from_tensor_slices((tune_x, tune_y)).batch(4096)
    train = shuffled_batches(train_x, train_y, hp.batch_size, hp.seed)
    train_rows = origin["train_rows"] = len(train_y)
    del train_x, train_y
    built = parts["train"] if parts else FrozenParts(None)
    model = build_model(sizes, hp, mean, built.tables, built.hood, built.second)
    # Compared on eval RMSE, not the loss: the loss includes the L2 penalties.
    start_rmse = model.evaluate(evaluate, verbose=0, return_dict=True)["rmse"]
    callbacks = []
    if parts and "early" in parts:
        install(model, built, parts["early"])
        callbacks.append(ScoredOver(built, parts["early"], built))
    if hp.early_stopping_patience > 0:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor="val_rmse", mode="min", patience=hp.early_stopping_patience, restore_best_weights=True))
    read_seconds = time.perf_counter() - started
    fit_started = time.perf_counter()
    # epochs 0: no training at all (the ablation "deep part off": the baseline + recency term).
    history = (model.fit(train, validation_data=tune, epochs=hp.epochs,
                         callbacks=[*callbacks, EpochProgress()], verbose=2).history if hp.epochs > 0 else {})
    fit_seconds = time.perf_counter() - fit_started
    if parts:
        install(model, built, built)
    keep = {"kept": False, "why": "not trained (--epochs 0): the start, the baseline and its eval-fitted terms"}
    if hp.epochs > 0 and not hp.residual:
        keep = {"kept": True, "why": "no baseline to fall back to (--no-residual)"}
    elif hp.epochs > 0:
        keep = keep_decision(model, tune, held_x, held_y, hp)
    terms = {}
    if hp.residual and hp.recency_on_eval:
        names = recency_term_names(hp, built.hood is not None, built.second is not None)
        terms = term_ablation(model, tune, held_x, held_y, names, hp.seed)
    # The pushed model's recency weights: fitted on the whole eval split for the arm kept.
    recency = fit_recency_weight(model, evaluate) if hp.residual and hp.recency_on_eval else 0.0
    final_rmse = model.evaluate(evaluate, verbose=0, return_dict=True)["rmse"]
    tuned = {}
    if hp.residual and hp.tune_epochs > 0:
        tuned = tune_on_later_period(model, eval_x, eval_y, hp, names)
    sequence, sequence_history = train_sequence_model(fn_args, tf_transform_output, hp) \
        if hp.sequence_length > 0 else (None, {})
    if parts:
        install(model, built, parts["before_test"])
    with tf.io.gfile.GFile(os.path.join(os.path.dirname(fn_args.serving_model_dir), F.DATA_IDENTITY_FILE), "w") as f:
        f.write((fn_args.custom_config or {}).get("data_identity", ""))
    hood, hood_refit = built.hood, parts["before_test"].hood if parts else None
    # The scale's floor the served ratings are clipped to: the baseline's (1, or 0.5 where the
    # ratings read have half stars), or without it the readable ratings' own.
    rating_min = (parts["before_test"].tables.rating_min if parts else
                  F.rating_floor(read_fit_sets(fn_args, tf_transform_output, ["before_test"])["before_test"].ratings))
    save(model, tf_transform_output, fn_args, history,
         {"hparams": dataclasses.asdict(hp), "vocabulary_sizes": sizes,
          "eval_rmse_at_start": start_rmse, "eval_rmse_at_end": final_rmse,
          "deep_part": {**keep, "trained_on": origin},
          "rating_scale": [rating_min, F.RATING_MAX],
          "recency_weight_fitted_on_eval": recency,
          "recency_terms": terms,
          "tuned_on_later_period": tuned,
          "sequence_model": sequence_history,
          "neighbourhood": {"fit_set_ratings": int((hood.keys != PAD_KEY).sum()),
                            "refit_set_ratings": int((hood_refit.keys != PAD_KEY).sum())} if hood is not None else {},
          # for make bench's comparison with a plain tf.data loop (bench/scale.py)
          "timing": {"train_rows": train_rows, "epochs_run": len(history.get("loss", [])),
                     "read_seconds": read_seconds, "fit_seconds": fit_seconds}},
         explain=explaining_model(model) if keep["kept"] else None, sequence=sequence,
         served=served_model(model, keep["kept"]), rating_min=rating_min)


def train_sequence_model(fn_args, tf_transform_output, hp: HParams):
    """The sequence model of what each member watches next (trainer_fn/sequence.py), trained on
    every user's train-period sequence, early stopped on eval cases. Returns (model, history)."""
    started = time.perf_counter()
    sequences, cases = read_sequences(known_ratings_path(fn_args.custom_config), tf_transform_output, seed=hp.seed)
    rows = F.embedding_rows(tf_transform_output.vocabulary_size_by_name(F.MOVIE_VOCAB))
    model, history = seq.fit(sequences, cases, rows, hp, log=lambda line: print(line, flush=True))
    history["seconds"] = round(time.perf_counter() - started, 1)
    return model, history


def keep_decision(model: keras.Model, tune, held_x: dict[str, np.ndarray], held_y: np.ndarray, hp: HParams) -> dict:
    """The trained deep part against the start (its output and the recency weights at zero, the
    recency weights then fitted again), each arm's recency weights fitted on the tune slice,
    judged on the held slice of eval by the gate's paired bootstrap (common/comparison.py,
    users and movies resampled): kept only when the upper end of the 95% interval of the RMSE
    difference, trained minus start, is below -hp.keep_margin. The model is left as the arm
    chosen."""
    from common.comparison import rmse_difference

    if not len(held_y):
        reset_to_start(model)
        if hp.recency_on_eval:
            fit_recency_weight(model, tune)
        return {"kept": False, "margin": hp.keep_margin,
                "why": "no held eval rows to judge the deep part on (too little eval data): the start is served"}
    held = tf.data.Dataset.from_tensor_slices(held_x).batch(4096)
    if hp.recency_on_eval:
        fit_recency_weight(model, tune)
    trained_pred = model.predict(held, verbose=0).reshape(-1)
    trained = model.get_weights()
    reset_to_start(model)
    if hp.recency_on_eval:
        fit_recency_weight(model, tune)
    start_pred = model.predict(held, verbose=0).reshape(-1)
    clusters = {"user": tuple(held_x[F.USER_IDX.format(side=side)] for side in F.SIDES), "movie": (held_x[F.MOVIE_IDX],)}
    d = rmse_difference(clusters, held_y, trained_pred, start_pred, seed=hp.seed)
    kept = d.high < -hp.keep_margin
    if kept:
        model.set_weights(trained)
    return {"kept": bool(kept), "held_eval_rmse_trained": d.rmse_a, "held_eval_rmse_start": d.rmse_b,
            "difference": d.diff, "interval": [d.low, d.high], "held_rows": d.rows, "margin": hp.keep_margin,
            "why": (f"held eval RMSE {d.rmse_a:.4f} trained against {d.rmse_b:.4f} for the start, difference "
                    f"{d.diff:+.4f}, 95% interval [{d.low:+.4f}, {d.high:+.4f}] ({d.rows:,} rows): "
                    f"{'kept' if kept else 'not kept'} (the interval must end below {-hp.keep_margin:+.4f})")}


def reset_to_start(model: keras.Model) -> None:
    """The residual model's rating back to the baseline's (as built): the deep output layer and
    the recency weights at zero, every other layer as it is."""
    for name in (DEEP_LAYER, RECENCY_LAYER):
        layer = model.get_layer(name)
        layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])


def tune_on_later_period(model, data: dict[str, np.ndarray], label: np.ndarray, hp: HParams,
                         movie_names) -> dict:
    """Tunes the deep part on ratings the baseline has not learnt from.

    The residual features of a train row are in sample (the baseline was fitted on those very
    ratings), those of an eval row out of sample, as a test row's are for the refit on train +
    eval. So the deep part, after its training on train, is tuned on the eval rows of 3 movies
    in 4 (later_period_halves) with a fresh optimizer and its id embeddings frozen, early
    stopped on the other movies' eval rows, and kept only if it beats the untuned model there. The recency weights stay as
    fitted. The test split is never read. Returns what was decided, for the history file.
    """
    (tune_x, tune_y), (held_x, held_y) = later_period_halves(data, label, movie_names)
    if not len(tune_y) or not len(held_y):
        return {"kept": False, "why": "too few eval users to hold some out"}
    held = tf.data.Dataset.from_tensor_slices((held_x, held_y)).batch(4096)
    before = model.evaluate(held, verbose=0, return_dict=True)["rmse"]
    untuned = model.get_weights()
    # The id embeddings stay as trained on train: what an id's eval ratings say about it, the
    # baseline's refit on train + eval learns, and the deep part must not count it twice.
    frozen = [layer for layer in model.layers if isinstance(layer, keras.layers.Embedding) and layer.trainable]
    for layer in frozen:
        layer.trainable = False
    compile_model(model, hp)
    stop = keras.callbacks.EarlyStopping(monitor="val_rmse", mode="min", patience=max(1, hp.early_stopping_patience),
                                         restore_best_weights=True)
    history = model.fit(shuffled_batches(tune_x, tune_y, hp.batch_size, hp.seed), validation_data=held,
                        epochs=hp.tune_epochs, callbacks=[stop, EpochProgress()], verbose=2).history
    after = model.evaluate(held, verbose=0, return_dict=True)["rmse"]
    for layer in frozen:
        layer.trainable = True
    kept = after < before
    if not kept:
        model.set_weights(untuned)
    return {"kept": kept, "held_rmse_before": before, "held_rmse_after": after, "tune_rows": len(tune_y),
            "held_rows": len(held_y), "epochs_run": len(history.get("loss", [])),
            "val_rmse": [float(v) for v in history.get("val_rmse", [])]}


def recency_design(model, data) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(terms [rows, terms], the rating without them [rows], labels [rows]) over a dataset of
    (features, label) batches: the recency layer's input, and the model's output with the
    layer's weights at 0 (set back as they were)."""
    layer = model.get_layer(RECENCY_LAYER)
    weights = layer.get_weights()
    layer.set_weights([np.zeros_like(w) for w in weights])
    probe = keras.Model(model.inputs, [layer.input, model.output])       # one pass gives both
    xs, rests, labels = [], [], []
    for features, label in data:
        x, rest = probe(features, training=False)
        xs.append(x.numpy().reshape(len(x), -1))
        rests.append(rest.numpy().reshape(-1))
        labels.append(label.numpy().reshape(-1))
    layer.set_weights(weights)
    if not xs:
        return np.zeros((0, layer.get_weights()[0].shape[0])), np.zeros(0, np.float32), np.zeros(0, np.float32)
    # rest and labels stay float32: the error label - rest is taken in float32, as the model's
    return np.concatenate(xs).astype(np.float64), np.concatenate(rests), np.concatenate(labels)


def recency_weights(x: np.ndarray, error: np.ndarray, limit: float = 2.0) -> np.ndarray:
    """Non-negative least squares of error on the terms x, each weight in [0, limit]. No rows
    or no terms (the only term left out by term_ablation, as with --no-recent): zeros, never
    nnls, which aborts the process on a matrix with no columns (scipy 1.17: "double free or
    corruption")."""
    from scipy.optimize import nnls

    return np.clip(nnls(x, error)[0], 0.0, limit) if x.size else np.zeros(x.shape[1])


def term_ablation(model, tune, held_x: dict[str, np.ndarray], held_y: np.ndarray, names: list[str],
                  seed: int) -> dict:
    """What each hand-made term of the recency layer adds, judged where nothing was chosen: the
    weights fitted on the tune slice of eval with every term and with each term left out, the
    held slice's RMSE of each, and the paired bootstrap interval of the difference (without the
    term minus with all; users and movies resampled, as the keep decision does). A term whose
    interval lies above 0 earns its place on this data; one at 0 adds nothing here. The model
    (the arm kept) is left as it was."""
    from common.comparison import rmse_difference

    if not len(held_y):
        return {}
    x_tune, rest_tune, y_tune = recency_design(model, tune)
    if x_tune.shape[1] != len(names):
        raise ValueError(f"the recency layer has {x_tune.shape[1]} terms, named {names}")
    held = tf.data.Dataset.from_tensor_slices((held_x, held_y)).batch(4096)
    x_held, rest_held, y_held = recency_design(model, held)
    error = (y_tune - rest_tune).astype(np.float64)
    every = recency_weights(x_tune, error)
    with_all = rest_held + x_held @ every
    clusters = {"user": tuple(held_x[F.USER_IDX.format(side=side)] for side in F.SIDES),
                "movie": (held_x[F.MOVIE_IDX],)}
    out = {"held_rows": int(len(y_held)),
           "held_rmse_with_all": float(np.sqrt(np.mean((y_held.astype(np.float64) - with_all) ** 2))),
           "terms": {}}
    for k, name in enumerate(names):
        keep = [j for j in range(len(names)) if j != k]
        w = recency_weights(x_tune[:, keep], error)
        d = rmse_difference(clusters, y_held, rest_held + x_held[:, keep] @ w, with_all, seed=seed)
        out["terms"][name] = {"weight_on_tune": float(every[k]), "held_rmse_without": d.rmse_a,
                              "difference": d.diff, "interval": [d.low, d.high]}
    return out


def fit_recency_weight(model, evaluate, limit: float = 2.0) -> list[float]:
    """The recency layer's weights, by non-negative least squares on the eval split.

    A user's drift away from the baseline shows only on ratings after the baseline's training
    period: on training rows the history residuals are small and say little about the
    target's (measured: slope 0.12-0.17 on train rows against 0.39-0.42 on eval rows), so
    the deep part cannot learn it there. Eval ratings come after train, like test ones after
    eval, so the weights of the pair's mean history residual (and, with hparams.recent, of the
    recent-ratings terms) are fitted there: one parameter a term, each in [0, limit]. The test
    split is never used.
    """
    layer = model.get_layer(RECENCY_LAYER)
    x, rest, label = recency_design(model, evaluate)      # fitted afresh, not on top of the last fit
    weights = recency_weights(x, (label - rest).astype(np.float64), limit)
    layer.set_weights([weights.reshape(-1, 1).astype(np.float32)])
    return [float(w) for w in weights]
