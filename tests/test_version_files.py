"""A pushed version carries the ranker's settings it was evaluated with: the RankingEvaluator's
copy of the Trainer's model (serving/ranking_evaluator.py) and what the service reads from it
(serving/version_files.py). Fast: a hand-made model folder, no pipeline run."""

import hashlib
import json
from pathlib import Path

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
    return model


RESULT = {"data": "tiny", "model": "/somewhere/Trainer/model/7/Format-Serving",
          "params": {"lam": 50.0, "decay": 0.9, "liked": False, "rating_weight": 0.3, "single_rating_weight": 0.2,
                     "sequence_weight": 0.5},
          "check": {"peer": "EASE", "passed": True, "low": -0.01, "high": 0.02, "rule": "NDCG@10 ..."}}


def test_the_ranked_model_is_the_trained_one_plus_the_ranking_file(tmp_path):
    from serving.ranking_evaluator import write_ranked_model

    trained = hand_made_model(tmp_path / "trainer")
    path = write_ranked_model(str(tmp_path / "trainer"), str(tmp_path / "ranked"), RESULT)
    ranked = tmp_path / "ranked" / F.SERVING_FORMAT
    assert Path(path) == ranked / V.RANKING_PATH
    before, after = files_of(trained), files_of(ranked)
    assert set(after) - set(before) == {V.RANKING_PATH}                   # one file added
    assert {k: after[k] for k in before} == before                         # the rest byte-identical
    assert (ranked / "assets").is_dir()
    assert json.loads((ranked / V.RANKING_PATH).read_text()) == RESULT
    assert files_of(trained) == before                                      # the source untouched


def test_the_service_reads_the_settings_from_the_version_folder(tmp_path):
    from serving.ease import RankerParams

    assert V.read_ranking(tmp_path) is None and V.ranker_params(None) is None      # rating only
    (tmp_path / V.EXTRA_DIR).mkdir()
    (tmp_path / V.RANKING_PATH).write_text(json.dumps(RESULT))
    result = V.read_ranking(tmp_path)
    assert V.ranker_params(result) == RankerParams(**RESULT["params"])
    summary = V.ranking_summary(result)
    assert summary["passed"] is True and summary["peer"] == "EASE" and "model" not in summary
    # A setting the file lacks keeps its default (a part of the ranker added later stays off).
    older = {**RESULT, "params": {k: v for k, v in RESULT["params"].items() if k != "sequence_weight"}}
    assert V.ranker_params(older).sequence_weight == RankerParams().sequence_weight


@pytest.mark.parametrize("text, words", [("{not json", "cannot be read"), ('{"check": {}}', "no 'params'"),
                                         ("[1, 2]", "no 'params'")])
def test_a_broken_ranking_file_is_refused_with_the_reason(tmp_path, text, words):
    (tmp_path / V.EXTRA_DIR).mkdir()
    (tmp_path / V.RANKING_PATH).write_text(text)
    with pytest.raises(V.BadVersionFile, match=words):
        V.read_ranking(tmp_path)
