"""trainer_fn/saving.py on a real Transform output: what `save` writes is what TF Serving,
the Evaluator and the service read (both signatures, the warm-up file, the history)."""

import json
import types

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io

from serving.tf_examples import serialize
from tests.test_preprocessing import instances, spec  # noqa: F401  (spec: the schema fixture)
from trainer_fn import signatures as S
from trainer_fn.hparams import HParams
from trainer_fn.model import build_model, explaining_model
from trainer_fn.run import VOCABULARIES
from trainer_fn.saving import save
from transform_fn import features as F
from transform_fn.preprocessing import preprocessing_fn


@pytest.fixture(scope="module")
def saved(tiny_prepared, spec, tmp_path_factory):  # noqa: F811
    prepared, _ = tiny_prepared
    schema, feature_spec = spec
    rows = pd.read_csv(prepared / F.TRAIN_SPLIT / "pairs.csv", dtype=str, keep_default_na=False).head(200)
    root = tmp_path_factory.mktemp("saving")
    with tft_beam.Context(temp_dir=str(root / "tmp")):
        transform_fn = ((instances(rows, feature_spec), dataset_metadata.DatasetMetadata(schema))
                        | tft_beam.AnalyzeDataset(preprocessing_fn))
        _ = transform_fn | tft_beam.WriteTransformFn(str(root / "transform"))
    # The raw schema beside it, as TFX's Transform writes it (what raw_feature_spec reads).
    metadata_io.write_metadata(dataset_metadata.DatasetMetadata(schema),
                               str(root / "transform" / tft.TFTransformOutput.RAW_METADATA_DIR))
    output = tft.TFTransformOutput(str(root / "transform"))
    sizes = {name: output.vocabulary_size_by_name(name) for name in VOCABULARIES}
    tf.keras.utils.set_random_seed(0)
    model = build_model(sizes, HParams(residual=False, embedding_dim=4), label_mean=3.5)
    deep = model.get_layer("deep_rating")       # not zero, so that every input matters
    kernel, bias = deep.get_weights()
    deep.set_weights([np.random.default_rng(1).normal(0, 0.5, kernel.shape), bias])
    fn_args = types.SimpleNamespace(serving_model_dir=str(root / "serving"), model_run_dir=str(root / "run"))
    tf.io.gfile.makedirs(fn_args.model_run_dir)
    save(model, output, fn_args, {"loss": [np.float32(1.5), np.float32(1.25)]}, {"epochs": 2},
         explain=explaining_model(model))
    return rows, model, output, fn_args


def test_serving_default_on_raw_examples_is_the_model_on_transformed_ones(saved):
    rows, model, output, fn_args = saved
    loaded = tf.saved_model.load(fn_args.serving_model_dir)
    assert set(loaded.signatures) == {S.SERVING_DEFAULT, S.RAW_SIGNATURE, S.PAIR_SIGNATURE}
    head = rows.head(16)
    served = loaded.signatures[S.SERVING_DEFAULT](examples=tf.constant(serialize(head)))[F.PREDICTION_KEY]
    raw = tf.io.parse_example(serialize(head), S.serving_raw_spec(output))
    transformed = output.transform_features_layer()(raw)
    direct = model({name: transformed[name] for name in model.input}, training=False).numpy()
    assert served.shape == (16, 1)
    np.testing.assert_allclose(served.numpy()[:, 0], np.clip(direct, F.RATING_MIN, F.RATING_MAX), atol=1e-5)
    assert np.ptp(served.numpy()) > 0            # the rows differ, and so do their predictions


def test_the_raw_signature_gives_the_pair_and_each_member(saved):
    rows, _, output, fn_args = saved
    loaded = tf.saved_model.load(fn_args.serving_model_dir)
    head = rows.head(4)
    specs = S.serving_raw_spec(output)
    assert F.LABEL not in specs and not set(F.EVAL_ONLY) & set(specs)
    kinds = {tf.string: str, tf.int64: int, tf.float32: float}
    out = loaded.signatures[S.RAW_SIGNATURE](**{
        name: tf.constant([kinds[spec.dtype](v) for v in head[name]], spec.dtype) for name, spec in specs.items()})
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "pair_rating": (4,), "a_rating": (4,), "b_rating": (4,), "a_attention": (4, F.HISTORY_LENGTH),
        "b_attention": (4, F.HISTORY_LENGTH)}
    pair = loaded.signatures[S.SERVING_DEFAULT](examples=tf.constant(serialize(head)))[F.PREDICTION_KEY]
    np.testing.assert_allclose(out["pair_rating"].numpy(), pair.numpy()[:, 0], atol=1e-5)
    only = loaded.signatures[S.PAIR_SIGNATURE](**{
        name: tf.constant([kinds[spec.dtype](v) for v in head[name]], spec.dtype) for name, spec in specs.items()})
    assert set(only) == {"pair_rating"}
    np.testing.assert_allclose(only["pair_rating"].numpy(), out["pair_rating"].numpy(), atol=1e-5)


def test_the_warmup_requests_run_and_the_history_is_kept(saved):
    _, _, _, fn_args = saved
    loaded = tf.saved_model.load(fn_args.serving_model_dir)
    logs = S.read_warmup(fn_args.serving_model_dir)
    assert len(logs) == 3 * len(S.WARMUP_BATCH_SIZES)
    for log in logs:
        out = S.run_predict_request(loaded, log.predict_log.request)
        assert all(np.isfinite(v).all() for v in out.values())
    history = json.loads((tf.io.gfile.GFile(f"{fn_args.model_run_dir}/{F.HISTORY_FILE}").read()))
    assert history == {"epochs": 2, "history": {"loss": [1.5, 1.25]}}


def test_the_sequence_model_serves_what_it_computes_in_process(saved, tmp_path):
    """watch_next on raw '|'-joined ids is the in-process model on the Transform's rows: the last
    sequence_length ids read, unknown ids in the out-of-vocabulary row, an empty history valid;
    the service's Scorer maps its columns back to movie ids."""
    from serving.recommend import Scorer
    from trainer_fn import sequence as seq

    rows, _, output, _ = saved
    sizes = {name: output.vocabulary_size_by_name(name) for name in VOCABULARIES}
    model = build_model(sizes, HParams(residual=False, embedding_dim=4), label_mean=3.5)
    hp = HParams(sequence_length=4, sequence_dim=8, sequence_blocks=1, attention_heads=2)
    sequence = seq.build(F.embedding_rows(sizes[F.MOVIE_VOCAB]), hp)
    for w in sequence.trainable_weights:           # not the initial zeros of the bias: every input matters
        w.assign(tf.random.stateless_normal(w.shape, seed=[1, 2], stddev=0.5))
    fn_args = types.SimpleNamespace(serving_model_dir=str(tmp_path / "serving"), model_run_dir=str(tmp_path))
    save(model, output, fn_args, {}, {}, explain=explaining_model(model), sequence=sequence)
    vocabulary = [v.decode() if isinstance(v, bytes) else str(v) for v in output.vocabulary_by_name(F.MOVIE_VOCAB)]
    row = {movie: i + 1 for i, movie in enumerate(vocabulary)}
    oov = sequence.rows - 1
    histories = [vocabulary[:6], [vocabulary[2], "999999", vocabulary[0]], [], vocabulary[3:4]]
    expected_rows = seq.left_padded([[row.get(m, oov) for m in h] for h in histories], 4)
    assert list(expected_rows[0]) == [row[m] for m in vocabulary[2:6]]
    direct = sequence.last_log_probabilities(tf.constant(expected_rows)).numpy()[:, 1:-1]
    loaded = tf.saved_model.load(fn_args.serving_model_dir)
    served = loaded.signatures[S.SEQUENCE_SIGNATURE](
        history=tf.constant([F.LIST_SEPARATOR.join(h) for h in histories]))[F.SEQUENCE_OUTPUT].numpy()
    assert served.shape == (4, len(vocabulary))
    np.testing.assert_allclose(served, direct, atol=1e-5)
    np.testing.assert_allclose(np.exp(served).sum(axis=1), 1.0, atol=1e-4)     # a distribution over the movies
    assert np.ptp(served[0] - served[1]) > 0.01
    logs = S.read_warmup(fn_args.serving_model_dir)        # TF Serving's warm-up calls watch_next too
    assert sum(log.predict_log.request.model_spec.signature_name == S.SEQUENCE_SIGNATURE for log in logs) == 2
    for log in logs:
        assert all(np.isfinite(v).all() for v in S.run_predict_request(loaded, log.predict_log.request).values())
    scorer = Scorer(fn_args.serving_model_dir)
    assert scorer.has_sequence and scorer.sequence_length == 4
    ids = [int(vocabulary[5]), int(vocabulary[0]), 999999]
    got = scorer.next_log_probabilities([[int(m) for m in h] for h in histories], ids)
    np.testing.assert_allclose(got[:, :2], served[:, [5, 0]], atol=1e-5)
    np.testing.assert_allclose(got[:, 2], served.min(axis=1), atol=1e-5)      # outside the vocabulary: the lowest
