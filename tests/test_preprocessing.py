"""preprocessing_fn on a handful of prepared rows, with tf.Transform's own Beam analysis:
one vocabulary per entity, padding at 0, unknown ids in the OOV bucket."""

import tempfile

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
import tensorflow_data_validation as tfdv
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

from pipeline.config import PipelineConfig
from transform_fn import features as F
from transform_fn.preprocessing import preprocessing_fn


@pytest.fixture(scope="module")
def spec():
    schema = tfdv.load_schema_text(PipelineConfig.schema_file)
    return schema, schema_utils.schema_as_feature_spec(schema).feature_spec


def instances(frame: pd.DataFrame, feature_spec) -> list[dict]:
    out = []
    for row in frame.to_dict("records"):
        instance = {}
        for name, feature in feature_spec.items():
            value = row[name]
            cast = {tf.string: str, tf.int64: int, tf.float32: float}[feature.dtype]
            instance[name] = [cast(value) if value != "" or feature.dtype == tf.string else cast(0)]
        out.append(instance)
    return out


@pytest.fixture(scope="module")
def transformed(tiny_prepared, spec):
    prepared, _ = tiny_prepared
    schema, feature_spec = spec
    train = pd.read_csv(prepared / F.TRAIN_SPLIT / "pairs.csv", dtype=str, keep_default_na=False).head(300)
    # A row to transform with ids the analysis never saw: user 999999 and movie 999999.
    unseen = train.head(1).copy()
    unseen[F.user("a")] = "999999"
    unseen[F.MOVIE] = "999999"
    unseen[F.hist_movies("a")] = "|999999|" + train.iloc[0][F.hist_movies("a")].split("|")[-1]
    rows = pd.concat([train, unseen], ignore_index=True)
    metadata = dataset_metadata.DatasetMetadata(schema)
    with tempfile.TemporaryDirectory() as tmp, tft_beam.Context(temp_dir=tmp):
        transform_fn = (instances(train, feature_spec), metadata) | tft_beam.AnalyzeDataset(preprocessing_fn)
        (out, _) = ((instances(rows, feature_spec), metadata), transform_fn) | tft_beam.TransformDataset()
        (_, transform_output) = transform_fn
        return rows, out, transform_output


def test_users_a_and_b_share_one_vocabulary_and_movies_another(transformed):
    rows, out, _ = transformed
    index = {}
    for row, t in zip(rows.to_dict("records"), out):
        for side in F.SIDES:
            index.setdefault(("user", row[F.user(side)]), set()).add(int(t[F.USER_IDX.format(side=side)]))
            for movie, idx in zip(row[F.hist_movies(side)].split("|"), t[F.HIST_IDX.format(side=side)]):
                if movie:
                    index.setdefault(("movie", movie), set()).add(int(idx))
        index.setdefault(("movie", row[F.MOVIE]), set()).add(int(t[F.MOVIE_IDX]))
    assert all(len(v) == 1 for v in index.values()), "an id got two indices"
    both_sides = {row[F.user("a")] for row in rows.to_dict("records")} & {row[F.user("b")] for row in rows.to_dict("records")}
    assert both_sides, "the sample must hold a user on both sides"
    as_target = set(rows[F.MOVIE])
    in_history = {m for h in rows[F.hist_movies("a")] for m in h.split("|") if m}
    assert as_target & in_history, "the sample must hold a movie as target and in a history"


def test_padding_is_zero_and_masked_and_unknown_ids_go_to_the_oov_bucket(transformed):
    rows, out, _ = transformed
    for row, t in zip(rows.to_dict("records"), out):
        for side in F.SIDES:
            slots = row[F.hist_movies(side)].split("|")
            mask = np.asarray(t[F.HIST_MASK.format(side=side)])
            idx = np.asarray(t[F.HIST_IDX.format(side=side)])
            assert (mask == [s != "" for s in slots]).all()
            assert (idx[mask == 0] == 0).all() and (idx[mask == 1] > 0).all()
    # The last row holds ids the analysis never saw: they map to the OOV bucket, the index
    # after the vocabulary (real entries are 1..size), never to an error or to padding.
    last = out[-1]
    users = [int(t[F.USER_IDX.format(side="a")]) for t in out[:-1]]
    movies = [int(t[F.MOVIE_IDX]) for t in out[:-1]]
    assert int(last[F.USER_IDX.format(side="a")]) > max(users)
    assert int(last[F.MOVIE_IDX]) > max(movies)
    assert int(last[F.HIST_IDX.format(side="a")][1]) == int(last[F.MOVIE_IDX])
    assert int(last[F.HIST_IDX.format(side="a")][0]) == 0


def test_the_label_passes_through_and_ratings_line_up_with_their_slots(transformed):
    rows, out, _ = transformed
    for row, t in zip(rows.to_dict("records")[:-1], out[:-1]):     # the last row's slots were rewritten
        assert float(t[F.LABEL]) == pytest.approx(float(row[F.LABEL]))
        ratings = [float(r) if r else 0.0 for r in row[F.hist_ratings("a")].split("|")]
        assert np.allclose(t[F.HIST_RATING.format(side="a")], ratings)
