"""Serving on the model a real (tiny) pipeline run pushed: both signatures, the warm-up
records, the README's TF Serving requests run in-process, the service on the real model,
and `make serve` as the README writes it."""

import json
import os
import re
import shutil
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from fastapi.testclient import TestClient

from serving import serve
from bench.serve import free_port, stop, wait_for_model
from pipeline import runs as run_summary
from common.layout import WorkLayout, synthetic_name
from serving.tf_examples import serialize
from tests.conftest import require_current_venv
from tests.test_readme import README, ROOT, SERVICE_CURLS, readme_commands
from trainer_fn import signatures as S
from transform_fn import features as F

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def pushed(first_run) -> Path:
    return Path(first_run.pushed_path())


@pytest.fixture(scope="module")
def loaded(pushed):
    return tf.saved_model.load(str(pushed))


@pytest.fixture(scope="module")
def test_rows(work) -> pd.DataFrame:
    test_dir = WorkLayout.at(work).prepared / synthetic_name("tiny", 42) / F.TEST_SPLIT
    return pd.concat([pd.read_csv(test_dir / f"{kind}.csv", dtype=str, keep_default_na=False)
                      for kind in ("pairs", "singles")], ignore_index=True)


def raw_call(loaded, columns: dict) -> dict:
    """TF Serving's REST semantics: one list of values per input, typed by the signature."""
    signature = loaded.signatures[S.RAW_SIGNATURE]
    specs = signature.structured_input_signature[1]
    def typed(values, dtype):
        values = np.asarray(values)
        return tf.constant(values.astype(str) if dtype == tf.string else values.astype(dtype.as_numpy_dtype), dtype)

    return {k: v.numpy() for k, v in signature(**{name: typed(columns[name], spec.dtype)
                                                  for name, spec in specs.items()}).items()}


def test_every_pushed_version_has_its_signatures_and_warmup_records(loaded, pushed):
    assert {S.SERVING_DEFAULT, S.RAW_SIGNATURE, S.PAIR_SIGNATURE, S.SEQUENCE_SIGNATURE} == set(loaded.signatures)
    logs = S.read_warmup(str(pushed))
    assert len(logs) == 4 * len(S.WARMUP_BATCH_SIZES)         # the four signatures, watch_next's included
    for log in logs:
        request = log.predict_log.request
        out = S.run_predict_request(loaded, request)
        size = len(tf.make_ndarray(next(iter(request.inputs.values()))))
        if request.model_spec.signature_name == S.SERVING_DEFAULT:
            assert out[F.PREDICTION_KEY].shape == (size, 1)
        elif request.model_spec.signature_name == S.PAIR_SIGNATURE:
            assert set(out) == {"pair_rating"} and out["pair_rating"].shape == (size,)
        elif request.model_spec.signature_name == S.SEQUENCE_SIGNATURE:
            movies = len((pushed / "assets" / F.MOVIE_VOCAB).read_text().splitlines())
            assert set(out) == {F.SEQUENCE_OUTPUT} and out[F.SEQUENCE_OUTPUT].shape == (size, movies)
            np.testing.assert_allclose(np.exp(out[F.SEQUENCE_OUTPUT]).sum(axis=1), 1.0, atol=1e-4)
        else:
            assert set(out) == set(S.RAW_OUTPUTS) and out["a_attention"].shape == (size, F.HISTORY_LENGTH)
        assert all(np.isfinite(v).all() for v in out.values())


def test_raw_signature_agrees_with_serving_default(loaded, test_rows):
    rows = test_rows.head(300)
    default = loaded.signatures[S.SERVING_DEFAULT]
    raw_names = loaded.signatures[S.RAW_SIGNATURE].structured_input_signature[1]
    out = raw_call(loaded, {name: rows[name].tolist() for name in raw_names})
    pair = default(examples=tf.constant(serialize(rows)))[F.PREDICTION_KEY].numpy()[:, 0]
    np.testing.assert_allclose(out["pair_rating"], pair, atol=1e-5)
    for side in F.SIDES:                       # each member alone is the row (side, side)
        single = rows.copy()
        for column in F.USER_COLUMNS:
            for other in F.SIDES:
                single[column(other)] = rows[column(side)]
        alone = default(examples=tf.constant(serialize(single)))[F.PREDICTION_KEY].numpy()[:, 0]
        np.testing.assert_allclose(out[f"{side}_rating"], alone, atol=1e-5)
        weights = out[f"{side}_attention"]
        padded = np.array([[slot == "" for slot in h.split(F.LIST_SEPARATOR)] for h in rows[F.hist_movies(side)]])
        assert np.allclose(weights[padded], 0.0, atol=1e-6) and (weights[~padded] > 0).all()
        assert (weights.sum(axis=1) <= 1 + 1e-5).all()
    assert ((out["pair_rating"] >= 1) & (out["pair_rating"] <= 5)).all()


@pytest.mark.parametrize("body", ["predict_raw_instances.json", "predict_raw_inputs.json"])
def test_the_readme_rest_bodies_run_through_the_signature(loaded, body):
    request = json.loads((ROOT / "docs" / "serving" / body).read_text())
    assert request["signature_name"] == S.RAW_SIGNATURE
    assert f"`{body}`" in README.read_text()        # the README names both bodies
    if "instances" in request:
        columns = {name: [row[name] for row in request["instances"]] for name in request["instances"][0]}
    else:
        columns = request["inputs"]
    out = raw_call(loaded, columns)
    n = len(columns[F.MOVIE])
    assert out["pair_rating"].shape == (n,) and np.isfinite(out["pair_rating"]).all()
    if "inputs" in request:       # one person as (A, A): the pair is the member
        np.testing.assert_allclose(out["pair_rating"], out["a_rating"], atol=1e-5)


def test_the_readme_grpc_example_builds_a_request_the_signature_answers(loaded, monkeypatch, capsys):
    """The README's Python block, as written, with the channel and stub replaced by an
    in-process call of the same signature (no TF Serving here)."""
    import grpc
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    blocks = [b for b in re.findall(r"```python\n(.*?)```", README.read_text(), re.S) if "stub.Predict" in b]
    assert len(blocks) == 1, "the README's gRPC example"
    code = blocks[0]

    class Stub:
        def __init__(self, channel):
            assert channel == "localhost:8500"

        def Predict(self, request, timeout):
            response = predict_pb2.PredictResponse()
            for name, value in S.run_predict_request(loaded, request).items():
                response.outputs[name].CopyFrom(tf.make_tensor_proto(value))
            return response

    monkeypatch.setattr(grpc, "insecure_channel", lambda target: target)
    monkeypatch.setattr(prediction_service_pb2_grpc, "PredictionServiceStub", Stub)
    exec(compile(code, "README.md (python block)", "exec"), {})
    printed = capsys.readouterr().out
    assert "pair_rating" in printed and "a_attention" in printed


def test_the_service_on_the_pushed_model(first_run, work, pushed, tmp_path):
    # A serving folder of its own, so the swap below does not touch the pipeline's.
    own = tmp_path / "work"
    shutil.copytree(pushed, own / "serving_model" / pushed.name)
    prepared = WorkLayout.at(work).prepared / synthetic_name("tiny", 42)
    ratings = pd.read_csv(prepared / "ratings_by_split.csv")
    a, b = (int(u) for u in ratings["user_id"].unique()[:2])
    app = serve.create_app(own, prepared=prepared, watch=False)
    with TestClient(app) as client:
        body = client.get("/v1/recommendations", params={"users": f"{a},{b}", "n": 10}).json()
        items = body["items"]
        assert len(items) == 10 and body["mode"] == "pair"
        assert not {i["movie"] for i in items} & set(ratings.loc[ratings["user_id"].isin([a, b]), "movie_id"])
        # ranked by the pair ranker's score; each reason names what drove it
        assert [i["score"] for i in items] == sorted((i["score"] for i in items), reverse=True)
        assert all(f"predicted {m['predicted_rating']:.1f} stars" in i["reason"]
                   for i in items for m in i["member_ratings"])
        # the history movie that drove the watch score: the sequence model's where the ranker weighs it
        assert any(" watched '" in i["reason"] for i in items)
        assert len({i["reason"] for i in items}) > 1
        # The CLI's function gives the same list with the settings the version carries.
        from serving import recommend as R
        from serving import version_files as V

        assert body["ranker"] == "pair ranker"
        cli = R.recommend(pushed, prepared, a, b, top=10, tables=R.version_tables(prepared, pushed))
        assert cli["movie"].tolist() == [i["movie"] for i in items]
        # The version's EASE matrix is the one a refit on the same ratings gives.
        refit = R.Tables(prepared).use_ranker(V.ranker_params(V.read_ranking(pushed)))
        assert R.recommend(pushed, prepared, a, b, top=10, tables=refit)["movie"].tolist() == cli["movie"].tolist()
        least = client.get("/v1/recommendations", params={"users": f"{a},{b}", "strategy": "least_misery"}).json()
        scores = [i["score"] for i in least["items"]]
        assert scores == sorted(scores, reverse=True)
        diverse = client.get("/v1/recommendations", params={"users": f"{a},{b}", "diversify": "true"}).json()
        assert diverse["genre_spread"]["distinct_genres"] >= body["genre_spread"]["distinct_genres"]
        one = client.get("/v1/predict", params={"users": f"{a},{b}", "movie": items[0]["movie"]}).json()
        assert one["pair_rating"] == pytest.approx(items[0]["pair_rating"], abs=1e-4)
        cold = client.post("/v1/recommendations", json=json.loads((ROOT / "docs/serving/cold_start.json").read_text()))
        assert cold.status_code == 200 and cold.json()["users"][1] is None
        # No MLMD in this folder: version and pushed time still; the pipeline's work has the RMSE.
        assert client.get("/v1/model").json()["version"] == pushed.name
        # A newer version is swapped in while requests run, none failing.
        statuses, stop = [], threading.Event()

        def hammer():
            while not stop.is_set():
                statuses.append(client.get("/v1/recommendations", params={"users": f"{a},{b}"}).status_code)

        threads = [threading.Thread(target=hammer) for _ in range(3)]
        for t in threads:
            t.start()
        newer = own / "serving_model" / str(int(pushed.name) + 1)
        shutil.copytree(pushed, newer)
        app.state.watcher.settle_seconds = 0
        try:
            assert app.state.watcher.refresh()
            time.sleep(0.5)
        finally:
            stop.set()
            for t in threads:
                t.join()
        assert set(statuses) == {200}
        assert client.get("/v1/model").json()["version"] == newer.name


def test_the_pushed_version_carries_its_ranker_settings_and_serves_the_same_from_a_copy(first_run, work, pushed,
                                                                                       tmp_path):
    """The Pusher pushed the RankingEvaluator's copy of the Trainer's model: byte-identical
    but for assets.extra/ranking.json (the evaluation it passed, in place of the Trainer's
    "rating only") and assets.extra/ease.npz (the served EASE matrix); a copy of the version
    in a folder with no MLMD and no reports serves the same top-10 as where it was pushed."""
    import hashlib

    from serving import version_files as V

    def files(root):
        return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in root.rglob("*") if p.is_file()}

    trained = Path(first_run.output("Trainer", "model").uri) / F.SERVING_FORMAT
    before, after = files(trained), files(pushed)
    assert set(after) - set(before) == {V.EASE_PATH}
    assert {k for k in before if after[k] != before[k]} == {V.RANKING_PATH}
    assert V.read_ranking(trained)["ranked_by"] == "rating only"
    _, digest, _ = V.read_ease(pushed, V.ranker_params(V.read_ranking(pushed)))
    assert digest == V.ratings_digest(pd.read_csv(WorkLayout.at(work).prepared / synthetic_name("tiny", 42)
                                                  / F.RATINGS_FILE))
    evaluation = first_run.output("RankingEvaluator", "evaluation")
    assert json.loads((pushed / V.RANKING_PATH).read_text()) == json.loads(
        (Path(evaluation.uri) / F.RANKING_FILE).read_text())
    copy = tmp_path / "elsewhere"
    shutil.copytree(pushed, copy / "serving_model" / pushed.name)
    prepared = WorkLayout.at(work).prepared / synthetic_name("tiny", 42)
    users = ",".join(str(int(u)) for u in pd.read_csv(prepared / "users.csv")["user_id"][:2])
    answers = []
    for folder in (work, copy):
        # This version, where it is: the shared work folder may hold newer ones.
        watcher = serve.ModelWatcher(folder, prepared=prepared, settle_seconds=float("inf"))
        watcher.current = watcher.load(WorkLayout.at(folder).serving_model / pushed.name)
        with TestClient(serve.create_app(folder, watch=False, watcher=watcher)) as client:
            body = client.get("/v1/recommendations", params={"users": users, "n": 10}).json()
            model = client.get("/v1/model").json()
            answers.append(([(i["movie"], i["score"]) for i in body["items"]], body["ranker"],
                            model["ranker_settings"], model["version"]))
    assert answers[0] == answers[1] and answers[0][1] == "pair ranker" and answers[0][3] == pushed.name
    assert len(answers[0][0]) == 10
    assert answers[0][2] == json.loads((pushed / V.RANKING_PATH).read_text())["params"]


def test_model_info_reads_the_run_from_mlmd(first_run, work, pushed):
    info = serve.model_info(WorkLayout.at(work), pushed)
    evaluation = first_run.output("Evaluator", "evaluation")
    expected = run_summary.overall_metrics(evaluation.uri)["candidate"]["root_mean_squared_error"]
    assert info["rmse"]["candidate"] == pytest.approx(expected)
    assert Path(info["prepared"]).name == synthetic_name("tiny", 42) and info["pushed_at"]


def test_make_serve_answers_the_readme_requests(first_run, work):
    require_current_venv(ROOT)
    assert "make serve PORT=8080" in readme_commands(README.read_text())
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("PORT", "MAKEFLAGS")}
    env["WORK"] = str(work)
    process = subprocess.Popen(["bash", "-c", f"make serve PORT={port}"], cwd=ROOT, env=env, start_new_session=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for_model(port, process, timeout=180)   # raises with make's output if it exits
        for command in SERVICE_CURLS:
            result = subprocess.run(["bash", "-c", command.replace("127.0.0.1:8000", f"127.0.0.1:{port}")],
                                    cwd=ROOT, capture_output=True, text=True, timeout=60)
            assert result.returncode == 0, result.stderr
            answer = json.loads(result.stdout)
            assert "error" not in answer, (command, answer)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/openapi.json", timeout=10) as r:
            assert "/v1/recommendations" in json.load(r)["paths"]
    finally:
        stop(process)
