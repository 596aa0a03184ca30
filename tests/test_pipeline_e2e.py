"""End to end: the real pipeline on the tiny embedded data, twice, then a data anomaly."""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from tfx import v1 as tfx

from serving import ranking as ranking_metrics
from runners import run_local
from pipeline import runs as run_summary
from pipeline.config import PipelineConfig
from common.layout import WorkLayout, synthetic_name
from common.scratch import private_tmp
from pipeline.pipeline import create_pipeline
from serving import recommend as R
from serving.recommend import recommend
from report.report import build_report, report_dir
from serving.tf_examples import serialize
from tests.conftest import FIRST_RUN_FLAGS
from transform_fn import features as F

pytestmark = pytest.mark.e2e


def _prepared(work):
    """Where `run_local --size tiny` (seed 42) put the prepared data."""
    return WorkLayout.at(work).prepared / synthetic_name("tiny", 42)

COMPONENTS = {"CsvExampleGen", "StatisticsGen", "ImportSchemaGen", "ExampleValidator", "AnomalyGate",
              "Transform", "Trainer", "BaselineTrainer", "latest_blessed_model_resolver", "Evaluator",
              "RankingEvaluator", "BlessingGate", "Pusher"}
CACHEABLE = ("CsvExampleGen", "StatisticsGen", "ExampleValidator", "AnomalyGate", "Transform", "Trainer",
             "BaselineTrainer", "Evaluator")


def _swap(frame):
    renamed = {}
    for col in F.USER_COLUMNS:
        renamed[col("a")], renamed[col("b")] = col("b"), col("a")
    return frame.rename(columns=renamed)


def test_first_run_completes_is_blessed_and_pushed(first_run, first_run_console, work):
    assert set(first_run.components) == COMPONENTS      # no InfraValidator locally: the summary says why
    assert ("infra          InfraValidator skipped locally (no Kubernetes); on Kubeflow it runs before the "
            "Pusher") in first_run_console
    assert {c.state for c in first_run.components.values()} == {"COMPLETE"}
    assert first_run.blessed()
    pushed = Path(first_run.pushed_path())
    assert pushed.parent == WorkLayout.at(work).serving_model and pushed.name.isdigit()   # TF Serving layout
    assert (pushed / "saved_model.pb").exists()


def test_the_beam_modes_benchmark_reruns_a_component_on_the_runs_inputs_and_writes_only_its_scratch(
        first_run, work, tmp_path):
    from bench import beam_modes

    own = Path(first_run.output("StatisticsGen", "statistics").uri)
    before = sorted((str(p), p.stat().st_mtime_ns) for p in own.rglob("*"))
    spec = beam_modes.spec_of(work, "StatisticsGen")
    assert spec["inputs"]["examples"]["artifact"] and spec["properties"]["exclude_splits"] == "[]"
    spec.update(scratch=str(tmp_path), beam_args=beam_modes.beam_args("in_memory"))
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    beam_modes.child(str(tmp_path / "spec.json"))     # what each measured child process runs
    assert not (tmp_path / "python-tmp").exists()
    written = {p.parent.name for p in (tmp_path / "statistics").rglob("FeatureStats.pb")}
    assert written == {f"Split-{s}" for s in F.SPLITS}
    assert sorted((str(p), p.stat().st_mtime_ns) for p in own.rglob("*")) == before
    assert beam_modes.beam_args("multi_processing:2") == ["--direct_running_mode=multi_processing",
                                                          "--direct_num_workers=2"]
    with pytest.raises(ValueError, match="unknown mode"):
        beam_modes.beam_args("fast")


def test_the_summary_and_the_report_hold_the_ranking_metrics(first_run, first_run_console, work):
    path = report_dir(WorkLayout.at(work).reports, first_run.run_id) / ranking_metrics.RESULT_FILE
    ranking = json.loads(path.read_text())
    assert ranking["model"] == str(Path(first_run.output("Trainer", "model").uri) / "Format-Serving")
    assert list(ranking["rankers"]) == ["popularity", "EASE", "EASE with recency", "sequence model",
                                        "sequence model (history shuffled)", "pair ranker without the sequence model",
                                        "pair ranker"]
    assert ranking["params"]["sequence_weight"] in ranking_metrics.SEQUENCE_WEIGHTS
    gain = ranking["check"]["sequence_gain"]
    assert gain["low"] <= gain["difference"] <= gain["high"]
    for name, m in ranking["rankers"].items():
        for kind in ("pair", "single"):
            assert 0 < m[kind]["rows"] <= ranking_metrics.SUMMARY_ROWS, (name, kind)
            assert 0 <= m[kind]["ndcg"] <= m[kind]["hr"] <= 1, (name, kind)
    for name in ("popularity", "EASE", "pair ranker"):
        assert 0 < ranking["rankers"][name]["coverage"] <= 1
    # every setting comes from eval, from the grids the module declares
    params, chosen = ranking["params"], ranking["chosen_on_eval"]
    assert params["lam"] in ranking_metrics.LAMBDAS and params["decay"] in ranking_metrics.DECAYS
    assert params["rating_weight"] in ranking_metrics.RATING_WEIGHTS and chosen["rows"] > 0
    assert params["liked"] in (True, False) and set(chosen["liked"]) == {"false", "true"}
    assert max(chosen["rating_weight"].values()) == chosen["rating_weight"][str(params["rating_weight"])]
    check = ranking["check"]
    assert check["low"] <= check["difference"] <= check["high"] and check["peer"] in ranking_metrics.PEERS
    summary = first_run_console.split("run summary ===")[1]
    assert "ranking" in summary and ranking_metrics.check_text(ranking) in summary
    line = next(line for line in summary.splitlines() if line.strip().startswith("popularity"))
    pop = ranking["rankers"]["popularity"]
    assert line.split()[1:] == [f"{v:.3f}" for v in (pop["pair"]["hr"], pop["pair"]["ndcg"], pop["single"]["hr"],
                                                      pop["single"]["ndcg"], pop["coverage"])]
    html = (path.parent / "report.html").read_text()
    assert "Ranking on a sample of the test split" in html and f"{ranking['rankers']['pair ranker']['pair']['hr']:.3f}" in html


def test_the_run_leaves_no_temporary_files(first_run, work):
    assert first_run.components["Evaluator"].state == "COMPLETE"
    assert not WorkLayout.at(work).tmp.exists()


def test_pushed_model_scores_tf_examples_like_the_evaluator(first_run, work):
    test_dir = _prepared(work) / F.TEST_SPLIT
    test_rows = pd.concat([pd.read_csv(test_dir / f"{kind}.csv", dtype=str, keep_default_na=False)
                           for kind in ("pairs", "singles")], ignore_index=True)
    model = tf.saved_model.load(first_run.pushed_path())
    serve = model.signatures["serving_default"]
    predictions = serve(examples=tf.constant(serialize(test_rows)))[F.PREDICTION_KEY].numpy()[:, 0]
    assert predictions.shape == (len(test_rows),) and np.isfinite(predictions).all()
    # Training/serving parity: the served RMSE is the Evaluator's RMSE on the same examples.
    labels = test_rows[F.LABEL].astype(float).to_numpy()
    served_rmse = float(np.sqrt(np.mean((predictions - labels) ** 2)))
    evaluation = first_run.output("Evaluator", "evaluation")
    tfma_rmse = run_summary.overall_metrics(evaluation.uri)["candidate"]["root_mean_squared_error"]
    assert served_rmse == pytest.approx(tfma_rmse, abs=1e-4)
    # Pair symmetry: (A, B) and (B, A) get the same prediction.
    swapped = serve(examples=tf.constant(serialize(_swap(test_rows))))[F.PREDICTION_KEY].numpy()[:, 0]
    np.testing.assert_allclose(swapped, predictions, atol=1e-5)
    # Unknown users and movies map to out-of-vocabulary buckets, not to an error.
    unknown = test_rows.head(3).assign(a_user="999999", movie="999999", a_hist_movies="|999998|999997")
    assert np.isfinite(serve(examples=tf.constant(serialize(unknown)))[F.PREDICTION_KEY].numpy()).all()


def test_second_run_with_unchanged_inputs_is_served_from_cache(first_run, work):
    args = run_local.parse_args(["--work-dir", str(work), *FIRST_RUN_FLAGS])
    second = run_local.run(args)
    assert second.run_id != first_run.run_id
    for name in CACHEABLE:
        assert second.components[name].state == "CACHED", name
    # The cached model is the last blessed one: the difference is exactly zero, and there is
    # nothing new to push.
    vs_last = second.comparison()["intervals"]["candidate - last blessed (all)"]
    assert vs_last["diff"] == 0 and vs_last["low"] == 0 and vs_last["high"] == 0
    checks = {c["name"]: c["passed"] for c in second.comparison()["checks"]}
    ranking = [name for name in checks if name.startswith("ranks at least as well as ")]
    assert len(ranking) == 1 and checks.pop(ranking[0]) is True         # the RankingEvaluator's check, from cache
    assert checks == {"beats the strong baseline": True, "not worse than the last blessed model": True,
                      "below the mean predictor": True, "is a new model": False}
    assert not second.blessed() and second.pushed_path() is None


def test_a_model_that_does_not_beat_the_baseline_is_not_pushed(first_run, work):
    serving = WorkLayout.at(work).serving_model
    pushed_before = sorted(serving.iterdir())
    args = run_local.parse_args(["--work-dir", str(work), *FIRST_RUN_FLAGS, "--baseline-margin", "5.0"])
    third = run_local.run(args)
    assert third.components["Trainer"].state == "CACHED"
    assert not third.blessed()
    assert third.pushed_path() is None and sorted(serving.iterdir()) == pushed_before
    checks = {c["name"]: c for c in third.comparison()["checks"]}
    failed = checks["beats the strong baseline"]
    assert not failed["passed"] and failed["bound"] == -5.0 and failed["value"] == failed["interval"][1]
    assert checks["not worse than the last blessed model"]["passed"]


def test_anomalies_stop_the_run_before_transform(first_run, work, tmp_path):
    data = tmp_path / "bad"
    shutil.copytree(_prepared(work), data)
    eval_rows = pd.read_csv(data / F.EVAL_SPLIT / "pairs.csv", dtype=str, keep_default_na=False)
    eval_rows.loc[0, F.sex("a")] = "X"
    eval_rows.to_csv(data / F.EVAL_SPLIT / "pairs.csv", index=False)
    layout = WorkLayout.at(tmp_path / "work")
    config = PipelineConfig.local(layout.root, data)
    with pytest.raises(Exception, match="anomalies"), private_tmp(layout.tmp):
        tfx.orchestration.LocalDagRunner().run(create_pipeline(config))
    assert not layout.tmp.exists()      # the failed run's temporary files are gone too
    result = run_summary.latest_run(config.metadata_path, config.pipeline_name)
    assert result.components["AnomalyGate"].state == "FAILED"
    assert "Transform" not in result.components and "Trainer" not in result.components
    # The report of the failed run still shows the data and names the anomaly.
    html = build_report(config.metadata_path, config.pipeline_name, layout.reports).read_text()
    assert "Not blessed" in html and "a_sex" in html and "unexpected string values" in html.lower()


def test_recommend_ranks_unseen_movies_for_a_pair(first_run, work):
    prepared = _prepared(work)
    ratings = pd.read_csv(prepared / "ratings_by_split.csv")
    a, b = (int(u) for u in ratings["user_id"].unique()[:2])
    model = Path(first_run.pushed_path())
    top = recommend(model, prepared, a, b, top=5)
    assert len(top) == 5 and top["score"].is_monotonic_decreasing           # the pair ranker's order
    assert not set(top[F.MOVIE]) & set(ratings.loc[ratings["user_id"].isin([a, b]), "movie_id"])
    swapped = recommend(model, prepared, b, a, top=5)
    np.testing.assert_allclose(swapped["predicted_rating"], top["predicted_rating"], atol=1e-5)
    np.testing.assert_allclose(swapped["score"], top["score"], atol=1e-5)
    only_popular = recommend(model, prepared, a, a, top=3, retrieval=R.Retrieval(popular=10, near=0))
    assert len(only_popular) == 3
    # Retrieval on the pushed model's movie embedding (the frozen SVD++ movie vectors): the
    # unseen movie nearest a history movie is a candidate, and the count is bounded.
    scorer, tables = R.Scorer(model), R.Tables(prepared)
    assert scorer.embedding.vectors.shape[0] == len((model / "assets" / F.MOVIE_VOCAB).read_text().split()) + 2
    ma, mb = tables.member(a), tables.member(b)
    unseen = tables.candidates([ma, mb])
    history = [m for member in (ma, mb) for m, _ in member.history]
    nearest = unseen["movie_id"].iloc[int((scorer.embedding.of(unseen["movie_id"])
                                           @ scorer.embedding.of(history).T).max(axis=1).argmax())]
    picked = tables.candidates([ma, mb], R.Retrieval(popular=5, near=10), scorer.embedding)
    assert len(picked) == 15 < len(unseen) and nearest in set(picked["movie_id"])
    assert R.score_pair(scorer, tables, ma, mb, R.Retrieval(popular=5, near=10))["movie_id"].tolist() == \
        picked["movie_id"].tolist()
    with pytest.raises(KeyError, match="not in"):
        recommend(model, prepared, a, 10**9)
