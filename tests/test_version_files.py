"""A pushed version carries how it ranks: the Trainer's "rating only" ranking.json
(trainer_fn/saving.py), the RankingEvaluator's copy of the Trainer's model with its result and
EASE matrix (serving/ranking_evaluator.py), and what the service reads from it
(serving/version_files.py). Fast: a hand-made model folder, no pipeline run."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from serving import version_files as V
from transform_fn import features as F


def files_of(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def hand_made_model(uri: Path) -> Path:
    model = uri / F.SERVING_FORMAT
    (model / "variables").mkdir(parents=True)
    (model / "assets.extra").mkdir()
    (model / "assets").mkdir()                       # an empty folder stays a folder
    (model / "saved_model.pb").write_bytes(bytes(range(256)) * 40)
    (model / "fingerprint.pb").write_bytes(b"\x00\x01fp")
    (model / "variables" / "variables.data-00000-of-00001").write_bytes(b"\xff" * 5000)
    (model / "variables" / "variables.index").write_bytes(b"idx")
    (model / "assets.extra" / "tf_serving_warmup_requests").write_bytes(b"warm")
    from trainer_fn.saving import write_rating_only

    write_rating_only(str(model))
    return model


RESULT = {"data": "tiny", "model": "/somewhere/Trainer/model/7/Format-Serving",
          "params": {"lam": 50.0, "decay": 0.9, "liked": False, "rating_weight": 0.3, "single_rating_weight": 0.2,
                     "sequence_weight": 0.5, "most_rated": 10_000},
          "check": {"peer": "EASE", "passed": True, "low": -0.01, "high": 0.02, "rule": "NDCG@10 ..."}}


def ease() -> "Ease":
    import pandas as pd

    from serving.ease import Ease

    ratings = pd.DataFrame({"user_id": [1, 1, 2, 2, 3, 3], "movie_id": [10, 20, 20, 30, 10, 40]})
    return Ease.fit(ratings, [10, 20, 30, 40], RESULT["params"]["lam"])


def test_the_ranked_model_is_the_trained_one_with_the_result_and_the_ease_matrix(tmp_path):
    from serving.ranking_evaluator import write_ranked_model

    trained = hand_made_model(tmp_path / "trainer")
    assert V.ranker_params(V.read_ranking(trained)) is None                 # the Trainer's: rating only
    assert V.read_ranking(trained)["ranked_by"] == "rating only" and V.ranking_summary(V.read_ranking(trained)) is None
    path = write_ranked_model(str(tmp_path / "trainer"), str(tmp_path / "ranked"), RESULT, ease(), "d1")
    ranked = tmp_path / "ranked" / F.SERVING_FORMAT
    assert Path(path) == ranked / V.RANKING_PATH
    before, after = files_of(trained), files_of(ranked)
    assert set(after) - set(before) == {V.EASE_PATH}                       # one file added,
    assert {k for k in before if after[k] != before[k]} == {V.RANKING_PATH}  # one replaced,
    assert (ranked / "assets").is_dir()                                     # the rest byte-identical
    assert json.loads((ranked / V.RANKING_PATH).read_text()) == RESULT
    assert files_of(trained) == before                                      # the source untouched
    loaded, digest, file_digest = V.read_ease(ranked, V.ranker_params(V.read_ranking(ranked)))
    fitted = ease()
    assert digest == "d1" and loaded.lam == fitted.lam and len(file_digest) == 16
    assert (loaded.movies == fitted.movies).all() and (loaded.weights == fitted.weights).all()


def test_the_service_reads_the_settings_from_the_version_folder(tmp_path):
    from serving.ease import RankerParams

    with pytest.raises(V.BadVersionFile, match="carries no assets.extra/ranking.json.*pushed by older code"):
        V.read_ranking(tmp_path)                                          # never served with defaults
    (tmp_path / V.EXTRA_DIR).mkdir()
    (tmp_path / V.RANKING_PATH).write_text(json.dumps(RESULT))
    result = V.read_ranking(tmp_path)
    assert V.ranker_params(result) == RankerParams(**RESULT["params"])
    summary = V.ranking_summary(result)
    assert summary["passed"] is True and summary["peer"] == "EASE" and "model" not in summary
    # A setting the file lacks keeps its default (a part of the ranker added later stays off).
    older = {**RESULT, "params": {k: v for k, v in RESULT["params"].items() if k != "sequence_weight"}}
    assert V.ranker_params(older).sequence_weight == RankerParams().sequence_weight
    # a version pushed before EASE's bound was fitted on every rated movie, as its refit is
    unbounded = {**RESULT, "params": {k: v for k, v in RESULT["params"].items() if k != "most_rated"}}
    assert V.ranker_params(unbounded).most_rated is None and V.ranker_params(RESULT).most_rated == 10_000


def test_a_version_ranking_with_ease_needs_its_matrix_at_its_lambda(tmp_path):
    params = V.ranker_params(RESULT)
    assert V.read_ease(tmp_path, None) == (None, None, None)               # rating only: no matrix
    with pytest.raises(V.BadVersionFile, match="carries no assets.extra/ease.npz"):
        V.read_ease(tmp_path, params)
    (tmp_path / V.EXTRA_DIR).mkdir()
    (tmp_path / V.EASE_PATH).write_bytes(b"not a zip")
    with pytest.raises(V.BadVersionFile, match="ease.npz cannot be read"):
        V.read_ease(tmp_path, params)
    other = ease()
    other.lam = 7.0
    (tmp_path / V.EASE_PATH).write_bytes(V.ease_bytes(other, "d"))
    with pytest.raises(V.BadVersionFile, match="lambda 7.0 .* says lambda 50.0"):
        V.read_ease(tmp_path, params)
    good = V.ease_bytes(ease(), "d")
    unordered = ease()
    unordered.movies = unordered.movies[::-1].copy()
    flat = ease()
    flat.movies = flat.movies.reshape(2, 2)
    for damaged, words in ((good[:-10], "cannot be read"), (good[:40], "cannot be read"), (b"", "cannot be read"),
                           (good[:200] + bytes([good[200] ^ 0xFF]) + good[201:], "cannot be read"),
                           (V.ease_bytes(unordered, "d"), "out of order"), (V.ease_bytes(flat, "d"), "shape")):
        (tmp_path / V.EASE_PATH).write_bytes(damaged)
        with pytest.raises(V.BadVersionFile, match=words) as raised:
            V.read_ease(tmp_path, params)
        assert "ease.npz" in str(raised.value)
    broken = ease()
    broken.weights[1, 2] = float("nan")
    (tmp_path / V.EASE_PATH).write_bytes(V.ease_bytes(broken, "d"))
    with pytest.raises(V.BadVersionFile, match="not finite"):
        V.read_ease(tmp_path, params)
    fortran = ease()
    fortran.weights = np.asfortranarray(fortran.weights)
    (tmp_path / V.EASE_PATH).write_bytes(V.ease_bytes(fortran, "d"))
    read = V.read_ease(tmp_path, params)[0]
    assert read.weights.flags["C_CONTIGUOUS"] and np.array_equal(read.weights, fortran.weights)


def test_the_ratings_digest_is_the_set_of_pairs():
    import pandas as pd

    a = pd.DataFrame({"user_id": [1, 2, 2], "movie_id": [5, 6, 5]})
    assert V.ratings_digest(a) == V.ratings_digest(a.iloc[::-1]) == V.ratings_digest(pd.concat([a, a.iloc[:1]]))
    assert V.ratings_digest(a) != V.ratings_digest(a.iloc[:2])


@pytest.mark.parametrize("text, words", [("{not json", "cannot be read"), ('{"check": {}}', "no 'params'"),
                                         ("[1, 2]", "no 'params'"), ('{"params": null}', "no 'params'")])
def test_a_broken_ranking_file_is_refused_with_the_reason(tmp_path, text, words):
    (tmp_path / V.EXTRA_DIR).mkdir()
    (tmp_path / V.RANKING_PATH).write_text(text)
    with pytest.raises(V.BadVersionFile, match=words):
        V.read_ranking(tmp_path)


@pytest.mark.parametrize("name, value", [("lam", "abc"), ("lam", None), ("lam", 0), ("decay", "x"), ("decay", 1.5),
                                         ("liked", "yes"), ("rating_weight", -1), ("sequence_weight", 2.0),
                                         ("rating_weight", float("nan")), ("most_rated", 0), ("most_rated", 2.5),
                                         ("most_rated", True), ("most_rated", "10")])
def test_a_ranker_setting_of_the_wrong_kind_is_refused_naming_the_file(name, value):
    with pytest.raises(V.BadVersionFile, match=f"ranking.json: params.{name} is"):
        V.ranker_params({**RESULT, "params": {**RESULT["params"], name: value}})


def test_a_matrix_fitted_on_other_ratings_is_said_once_in_one_place():
    import pandas as pd

    served = pd.DataFrame({"user_id": [1, 2], "movie_id": [5, 6]})
    assert V.fitted_elsewhere(V.ratings_digest(served), served, "tiny") is None
    assert V.fitted_elsewhere(None, served, "tiny") is None                  # rating only: no matrix
    assert "other ratings than the prepared data tiny" in V.fitted_elsewhere("other", served, "tiny")
