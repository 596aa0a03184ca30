"""The Trainers' fit sets: every train (and eval) rating of the prepared ratings file, in the
Transform's vocabularies, never a test rating."""

import numpy as np
import pytest

from trainer_fn.known_ratings import known_ratings_path, read_known_ratings
from transform_fn import features as F

RATINGS = """user_id,movie_id,rating,timestamp,split
7,50,4,100,train
7,60,5,100,train
9,50,2,101,train
9,70,3,200,eval
12,50,1,300,eval
7,80,5,400,test
"""


class Vocabularies:
    """What read_known_ratings asks of a TFTransformOutput: vocabularies in index order."""

    def vocabulary_by_name(self, name):
        return {F.USER_VOCAB: [b"9", b"7"], F.MOVIE_VOCAB: [b"50", b"60", b"70"]}[name]


def _write(tmp_path, text=RATINGS):
    path = tmp_path / F.RATINGS_FILE
    path.write_text(text)
    return str(path)


def test_every_train_rating_in_the_transforms_indices(tmp_path):
    (got,) = read_known_ratings(_write(tmp_path), Vocabularies(), [F.TRAIN_SPLIT])
    # user 9 -> 1, 7 -> 2; movie 50 -> 1, 60 -> 2: (user, movie) order
    assert list(zip(got.users, got.movies, got.ratings)) == [(1, 1, 2.0), (2, 1, 4.0), (2, 2, 5.0)]


def test_eval_ratings_join_and_unknown_ids_go_to_the_oov_bucket(tmp_path):
    train, got = read_known_ratings(_write(tmp_path), Vocabularies(), [F.TRAIN_SPLIT], [F.TRAIN_SPLIT, F.EVAL_SPLIT])
    assert len(train.users) == 3                    # one read, each set on its own
    assert len(got.users) == 5
    # user 12 is not in the user vocabulary: index len(vocab) + 1, as the Transform's lookup
    assert (3, 1, 1.0) in list(zip(got.users, got.movies, got.ratings))
    assert (1, 3, 3.0) in list(zip(got.users, got.movies, got.ratings))
    assert not np.isin(got.movies, [4]).any()       # movie 80 is a test rating: never read


def test_the_test_split_is_refused_and_a_broken_file_is_named(tmp_path):
    path = _write(tmp_path)
    with pytest.raises(ValueError, match="not \\['test'\\]"):
        read_known_ratings(path, Vocabularies(), [F.TRAIN_SPLIT], [F.TRAIN_SPLIT, F.TEST_SPLIT])
    broken = _write(tmp_path, "user_id,movie_id,rating\n1,2,3\n")
    with pytest.raises(ValueError, match=f"{F.RATINGS_FILE}: no column split"):
        read_known_ratings(broken, Vocabularies(), [F.TRAIN_SPLIT])
    with pytest.raises(ValueError, match="known_ratings"):
        known_ratings_path({"hparams": {}})


def test_the_train_periods_either_side_of_the_rolling_origin(tmp_path):
    text = RATINGS.replace("timestamp,split\n", "timestamp,split,period\n")
    periods = ["train_early", "train_late", "train_early", "eval", "eval", "test"]
    lines = text.splitlines()
    path = _write(tmp_path, "\n".join([lines[0]] + [f"{line},{p}" for line, p in zip(lines[1:], periods)]) + "\n")
    early, late, train = read_known_ratings(path, Vocabularies(), [F.EARLY_PERIOD], [F.LATE_PERIOD], [F.TRAIN_SPLIT])
    assert list(zip(early.users, early.movies)) == [(1, 1), (2, 1)]
    assert list(zip(late.users, late.movies, late.ratings)) == [(2, 2, 5.0)]
    assert len(train) == 3
    # a ratings file from before the rolling origin: named, with what to do
    with pytest.raises(ValueError, match="no column period.*run the data stage again"):
        read_known_ratings(_write(tmp_path), Vocabularies(), [F.EARLY_PERIOD])
