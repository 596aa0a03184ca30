"""The serving signatures of every saved model, and TF Serving's warm-up requests.

One function builds them for both Trainers (run.py's save() calls it):

- `serving_default` (SERVING_DEFAULT): serialized raw `tf.Example`s without the label ->
  {"predictions": [batch, 1]}, the pair rating. TFMA, the blessing gate and TF Serving's
  classify/regress-style clients use it; it is unchanged from the first pushed models.
- `predict_raw` (RAW_SIGNATURE): the same raw features as named tensors, one value per
  row (what a JSON client sends to TF Serving's REST predict as `instances` or `inputs`) ->
  pair_rating [batch], a_rating and b_rating [batch] (each member alone: the rows with
  both sides set to A, then to B), a_attention and b_attention [batch, HISTORY_LENGTH]
  (the target's attention over each member's history slots, 0 on padded slots; zeros for
  the SVD++ baseline, which has no attention).

- `predict_pair_raw` (PAIR_SIGNATURE): the same inputs as `predict_raw` -> pair_rating
  [batch] only: a third of its rows through the model (the service ranks its candidates
  with it, then asks `predict_raw` for the top of the list only).
- `watch_next` (SEQUENCE_SIGNATURE), where the model has the sequence model
  (trainer_fn/sequence.py): `history` [batch], one person's rated movie ids '|'-joined, oldest
  first (only the last sequence_length are read) -> log_probability [batch, movies]: log p(the
  next movie they watch | their history) for every movie of the Transform's movie vocabulary,
  in the order of its asset file (assets/movie_vocab).

All run the Transform graph the model was trained with (`model.tft_layer`); ratings are
clipped to the star scale.
"""

from __future__ import annotations

import os

import tensorflow as tf

from transform_fn import features as F

SERVING_DEFAULT, RAW_SIGNATURE, PAIR_SIGNATURE = F.SERVING_DEFAULT, F.RAW_SIGNATURE, F.PAIR_SIGNATURE
SEQUENCE_SIGNATURE = F.SEQUENCE_SIGNATURE
RAW_OUTPUTS = ("pair_rating", "a_rating", "b_rating", "a_attention", "b_attention")
WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
WARMUP_MODEL_NAME = "pairs"       # the MODEL_NAME of the README's docker command
WARMUP_BATCH_SIZES = (1, 16)


def serving_raw_spec(tf_transform_output) -> dict:
    """The raw feature spec a serving client sends: no label, no evaluation-only columns."""
    raw_spec = tf_transform_output.raw_feature_spec()
    for name in (F.LABEL, *F.EVAL_ONLY):
        raw_spec.pop(name, None)
    return raw_spec


def _clip(rating: tf.Tensor, floor: float) -> tf.Tensor:
    return tf.clip_by_value(rating, floor, F.RATING_MAX)   # no 5.3 stars, no 0.2


def _both_sides_from(raw: dict, side: str) -> dict:
    """The rows with both members set to `side`'s member: (A, A) or (B, B)."""
    out = dict(raw)
    for column in F.USER_COLUMNS:
        for other in F.SIDES:
            out[column(other)] = raw[column(side)]
    return out


def movie_rows(tf_transform_output):
    """A table from raw movie id to the Transform's row for it (vocabulary index + 1, -1 for
    an id outside the vocabulary), initialised from the vocabulary file (a SavedModel asset)."""
    initializer = tf.lookup.TextFileInitializer(
        tf_transform_output.vocabulary_file_by_name(F.MOVIE_VOCAB), key_dtype=tf.string,
        key_index=tf.lookup.TextFileIndex.WHOLE_LINE, value_dtype=tf.int64,
        value_index=tf.lookup.TextFileIndex.LINE_NUMBER)
    return tf.lookup.StaticHashTable(initializer, default_value=-1)


def history_rows(history: tf.Tensor, table, length: int, oov_row: int) -> tf.Tensor:
    """[batch] '|'-joined movie ids, oldest first -> [batch, length] rows, the last `length`
    right-aligned and 0 before them (trainer_fn/sequence.py left_padded)."""
    tokens = tf.strings.split(tf.reshape(history, [-1]), sep=F.LIST_SEPARATOR)
    tokens = tf.ragged.boolean_mask(tokens, tf.strings.length(tokens) > 0)
    found = tf.ragged.map_flat_values(table.lookup, tokens)
    rows = tf.ragged.map_flat_values(lambda v: tf.where(v >= 0, v + 1, oov_row), found)
    # the i-th of the last `length` slots holds item n - length + i (1-based after a padding column)
    dense = tf.concat([tf.zeros([tf.shape(history)[0], 1], tf.int64), rows.to_tensor(0)], axis=1)
    at = rows.row_lengths()[:, None] - length + tf.range(length, dtype=tf.int64)[None] + 1
    return tf.gather(dense, tf.maximum(at, 0), batch_dims=1)


def build_signatures(model, tf_transform_output, explain=None, sequence=None, rating_min: float = F.RATING_MIN) -> dict:
    """{signature name: concrete function} for tf.saved_model.save. explain: a model with the
    same inputs returning (rating, attention A, attention B), or None (no attention);
    sequence: the sequence model (trainer_fn/sequence.py), or None; rating_min: the scale's
    floor (1, or 0.5 for the releases with half stars) the ratings are clipped to."""
    raw_spec = serving_raw_spec(tf_transform_output)
    model.tft_layer = tf_transform_output.transform_features_layer()
    input_names = list(model.input.keys()) if isinstance(model.input, dict) else model.input_names

    def model_inputs(transformed):
        return {name: transformed[name] for name in input_names}

    def rating(x):
        return model(x, training=False)

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
    def serve_examples(serialized):
        raw = tf.io.parse_example(serialized, raw_spec)
        x = model_inputs(model.tft_layer(raw))
        prediction = rating(x)
        return {F.PREDICTION_KEY: tf.reshape(_clip(prediction, rating_min), [-1, 1])}

    @tf.function
    def serve_raw(**features):
        # The parsed shape of each column ([batch, 1] for the schema's single values).
        raw = {name: tf.reshape(features[name], [-1, *spec.shape]) for name, spec in raw_spec.items()}
        n = tf.shape(raw[F.MOVIE])[0]
        variants = (raw, _both_sides_from(raw, "a"), _both_sides_from(raw, "b"))
        batch = {name: tf.concat([v[name] for v in variants], axis=0) for name in raw}   # one model call
        x = model_inputs(model.tft_layer(batch))
        if explain is not None:
            explained = explain(x, training=False)
            out = explained["rating"]
            attention = {side: explained[f"{side}_attention"][:n] for side in F.SIDES}
        else:
            out = rating(x)
            attention = {side: tf.zeros([n, F.HISTORY_LENGTH]) for side in F.SIDES}
        out = _clip(tf.reshape(out, [-1]), rating_min)
        return {"pair_rating": out[:n], "a_rating": out[n:2 * n], "b_rating": out[2 * n:],
                "a_attention": attention["a"], "b_attention": attention["b"]}

    @tf.function
    def serve_pair(**features):
        raw = {name: tf.reshape(features[name], [-1, *spec.shape]) for name, spec in raw_spec.items()}
        x = model_inputs(model.tft_layer(raw))
        return {"pair_rating": _clip(tf.reshape(rating(x), [-1]), rating_min)}

    raw_inputs = {name: tf.TensorSpec(shape=[None], dtype=spec.dtype, name=name) for name, spec in raw_spec.items()}
    out = {SERVING_DEFAULT: serve_examples.get_concrete_function(),
           RAW_SIGNATURE: serve_raw.get_concrete_function(**raw_inputs),
           PAIR_SIGNATURE: serve_pair.get_concrete_function(**raw_inputs)}
    if sequence is not None:
        model.sequence_model = sequence
        model.movie_rows = movie_rows(tf_transform_output)
        model.sequence_length = tf.Variable(sequence.length, trainable=False, dtype=tf.int64, name="sequence_length")

        @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name=F.SEQUENCE_INPUT)])
        def watch_next(history):
            seq = history_rows(history, model.movie_rows, model.sequence_model.length, model.sequence_model.rows - 1)
            return {F.SEQUENCE_OUTPUT: model.sequence_model.last_log_probabilities(seq)[:, 1:-1]}

        out[SEQUENCE_SIGNATURE] = watch_next.get_concrete_function()
    return out


def warmup_rows(raw_spec: dict, n: int) -> list[dict]:
    """n rows of the right names and types (ids out of vocabulary, histories empty)."""
    def value(name, spec, i):
        if spec.dtype == tf.string:
            return ""
        return float(i % 5 + 1) if spec.dtype == tf.float32 else i + 1
    return [{name: value(name, spec, i) for name, spec in raw_spec.items()} for i in range(n)]


def _serialize(rows: list[dict], raw_spec: dict) -> list[bytes]:
    out = []
    for row in rows:
        example = tf.train.Example()
        for name, spec in raw_spec.items():
            feature = example.features.feature[name]
            if spec.dtype == tf.string:
                feature.bytes_list.value.append(str(row[name]).encode("utf-8"))
            elif spec.dtype == tf.float32:
                feature.float_list.value.append(float(row[name]))
            else:
                feature.int64_list.value.append(int(row[name]))
        out.append(example.SerializeToString())
    return out


def warmup_requests(raw_spec: dict, batch_sizes=WARMUP_BATCH_SIZES, sequence: bool = False) -> list:
    """PredictionLog records: for each batch size, one request per signature (with `sequence`,
    watch_next's too: histories of 0 to 3 unknown movie ids)."""
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    logs = []
    for size in batch_sizes:
        rows = warmup_rows(raw_spec, size)
        for signature in (SERVING_DEFAULT, RAW_SIGNATURE, PAIR_SIGNATURE):
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(name=WARMUP_MODEL_NAME, signature_name=signature))
            if signature == SERVING_DEFAULT:
                request.inputs["examples"].CopyFrom(tf.make_tensor_proto(_serialize(rows, raw_spec), dtype=tf.string))
            else:
                for name, spec in raw_spec.items():
                    request.inputs[name].CopyFrom(
                        tf.make_tensor_proto([row[name] for row in rows], dtype=spec.dtype))
            logs.append(prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request)))
        if sequence:
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(name=WARMUP_MODEL_NAME, signature_name=SEQUENCE_SIGNATURE))
            histories = [F.LIST_SEPARATOR.join(str(i + k + 1) for k in range(i % 4)) for i in range(size)]
            request.inputs[F.SEQUENCE_INPUT].CopyFrom(tf.make_tensor_proto(histories, dtype=tf.string))
            logs.append(prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request)))
    return logs


def write_warmup(export_dir: str, raw_spec: dict, sequence: bool = False) -> str:
    """assets.extra/tf_serving_warmup_requests in the SavedModel folder, as TF Serving reads it
    (a TFRecord file of PredictionLog protos, run once on each load before serving)."""
    path = os.path.join(export_dir, WARMUP_FILE)
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.TFRecordWriter(path) as writer:
        for log in warmup_requests(raw_spec, sequence=sequence):
            writer.write(log.SerializeToString())
    return path


def read_warmup(export_dir: str) -> list:
    from tensorflow_serving.apis import prediction_log_pb2

    path = os.path.join(export_dir, WARMUP_FILE)
    return [prediction_log_pb2.PredictionLog.FromString(r.numpy()) for r in tf.data.TFRecordDataset(path)]


def run_predict_request(loaded, request) -> dict:
    """A PredictRequest through the named signature of a loaded SavedModel, in-process: what
    TF Serving does with it (used to check the warm-up file and the README's requests)."""
    signature = loaded.signatures[request.model_spec.signature_name or SERVING_DEFAULT]
    inputs = {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}
    return {name: value.numpy() for name, value in signature(**{k: tf.constant(v) for k, v in inputs.items()}).items()}
