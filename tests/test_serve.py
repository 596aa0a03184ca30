"""The recommendation service and its ranking code, fast: hand-made tables and a stand-in
scorer (no TensorFlow, no pipeline run). tests/test_serve_e2e.py runs them on a real model."""

import json
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from serving import recommend as R
from serving import serve
from transform_fn import features as F

GENRES = ["Drama", "Comedy", "Action", "Drama|Comedy", "Horror", "Drama", "Comedy|Romance", "Action|Thriller",
          "Documentary", "Drama|Romance", "Animation", "Drama"]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("prepared") / "hand-made"
    out.mkdir()
    movies = pd.DataFrame({"movie_id": range(1, 13), "title": [f"Movie {i}" for i in range(1, 13)],
                           "year": 1990, "genres": GENRES, "runtime": 100, "director": [2, 3] * 6,
                           "actors": "2|3|0", "imdb_rating": 7.0, "imdb_votes": 1000, "imdb_matched": True,
                           "tconst": "tt0"})
    movies.to_csv(out / "movies.csv", index=False)
    pd.DataFrame({"user_id": [1, 2, 3], "sex": ["F", "M", "F"], "age": [25, 35, 18],
                  "occupation": [4, 7, 0]}).to_csv(out / "users.csv", index=False)
    # user 1 rated 1, 2, 3, 4 (4 last); user 2 rated 5, 6; user 3 nothing
    pd.DataFrame({"user_id": [1, 1, 1, 1, 2, 2], "movie_id": [1, 2, 3, 4, 5, 6], "rating": [5, 4, 3, 2, 5, 1],
                  "timestamp": [10, 20, 30, 40, 15, 25],
                  "split": ["train"] * 6}).to_csv(out / "ratings_by_split.csv", index=False)
    pd.DataFrame({"role": ["director", "director"], "code": [2, 3], "nconst": ["nm1", "nm2"],
                  "name": ["Ada Director", "Bo Director"]}).to_csv(out / "people.csv", index=False)
    return out


def hand_made_embedding() -> R.MovieEmbedding:
    """Movies 1-12 in a vocabulary out of id order; random vectors, except that movie 11 points
    the way movie 3 does (rated by user 1) and movie 12 the way movie 5 does (rated by user 2)."""
    vocabulary = [str(m) for m in (4, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12)]
    table = np.random.default_rng(0).normal(size=(len(vocabulary) + 2, 6))
    row = {int(m): i + 1 for i, m in enumerate(vocabulary)}
    table[row[11]], table[row[12]] = 2.5 * table[row[3]], 0.5 * table[row[5]]
    return R.MovieEmbedding(vocabulary, table)


class FakeScorer:
    """Deterministic stand-in for R.Scorer: member rating from movie and user, pair the mean."""
    has_attention = True

    def __init__(self, offset: float = 0.0):
        self.offset = offset
        self.embedding = hand_made_embedding()

    def member(self, users, movies):
        return np.clip(1.0 + ((movies * 7 + users * 3) % 9) / 2.0 + self.offset, 1, 5)

    def score(self, rows):
        """rows: a DataFrame or its columns as arrays (raw_arrays')."""
        movies = np.asarray(rows[F.MOVIE], dtype=int)
        a, b = (self.member(np.asarray(rows[F.user(s)], dtype=int), movies) for s in F.SIDES)
        weights = np.tile(np.array([0.1, 0.2, 0.5], np.float32), (len(movies), 1))
        return {"pair_rating": (a + b) / 2, "a_rating": a, "b_rating": b, "a_attention": weights,
                "b_attention": weights}

    score_arrays = score

    def raw_arrays(self, rows):
        return {name: rows[name].to_numpy() for name in rows.columns}

    def pair_ratings(self, arrays):
        self.pair_rows = getattr(self, "pair_rows", 0) + len(arrays[F.MOVIE])
        return self.score(arrays)["pair_rating"]

    has_sequence = False


def frame(pair, a, b, genres=None):
    n = len(pair)
    return pd.DataFrame({"movie_id": range(1, n + 1), "title": [f"m{i}" for i in range(n)], "year": 2000,
                         "genres": genres or ["Drama"] * n, "director": 0, "pair_rating": pair, "a_rating": a,
                         "b_rating": b})


# ---------------------------------------------------------------- ranking

def test_average_ranks_by_the_pair_and_least_misery_by_the_lower_member():
    f = frame(pair=[4.0, 3.9, 3.0], a=[5.0, 3.9, 3.1], b=[2.5, 3.9, 2.9])
    assert R.rank(f, "average", 3)["movie_id"].tolist() == [1, 2, 3]
    least = R.rank(f, "least_misery", 3)
    assert least["movie_id"].tolist() == [2, 3, 1]
    assert least["score"].tolist() == [3.9, 2.9, 2.5]
    assert len(R.rank(f, "average", 2)) == 2
    with pytest.raises(ValueError, match="unknown strategy"):
        R.rank(f, "median", 3)


def test_ties_are_broken_by_pair_rating_then_movie_id():
    f = frame(pair=[3.0, 3.5, 3.5], a=[3.0, 3.0, 3.0], b=[3.0, 3.0, 3.0])
    assert R.rank(f, "least_misery", 3)["movie_id"].tolist() == [2, 3, 1]


def test_diversify_trades_a_little_relevance_for_genre_spread():
    genres = ["Drama"] * 6 + ["Comedy", "Action", "Horror", "Drama"]
    pair = [5.0, 4.95, 4.9, 4.85, 4.8, 4.75, 4.7, 4.65, 4.6, 4.0]
    f = frame(pair=pair, a=pair, b=pair, genres=genres)
    plain, diverse = R.rank(f, "average", 4), R.diversify(f, "average", 4)
    assert plain["genres"].tolist() == ["Drama"] * 4
    assert diverse["movie_id"].iloc[0] == 1                      # the best stays first
    assert R.genre_spread(diverse)["distinct_genres"] == 4 > R.genre_spread(plain)["distinct_genres"]
    assert len(diverse) == 4 and diverse["movie_id"].is_unique
    # lam = 1: pure relevance, the plain ranking
    assert R.diversify(f, "average", 4, lam=1.0)["movie_id"].tolist() == plain["movie_id"].tolist()


def test_genre_spread():
    spread = R.genre_spread(frame([1, 1, 1], [1, 1, 1], [1, 1, 1], genres=["Drama|Comedy", "Drama", "Horror"]))
    assert spread["distinct_genres"] == 3 and spread["genre_counts"] == {"Drama": 2, "Comedy": 1, "Horror": 1}
    assert spread["mean_pairwise_genre_dissimilarity"] == pytest.approx((0.5 + 1 + 1) / 3, abs=1e-4)
    assert R.genre_spread(frame([1], [1], [1]))["mean_pairwise_genre_dissimilarity"] == 0.0


# ---------------------------------------------------------------- members and reasons

def test_members_history_candidates_and_cold_start(prepared):
    tables = R.Tables(prepared)
    one, two = tables.member(1), tables.member(2)
    assert one.history == [(2, 4.0), (3, 3.0), (4, 2.0)] and one.seen == {1, 2, 3, 4}
    assert R._history_strings(two) == ("|5|6", "|5|1")
    assert set(tables.candidates([one, two])["movie_id"]) == set(range(7, 13))
    with pytest.raises(KeyError, match="user 99 is not in"):
        tables.member(99)
    fresher = tables.member_with_ratings([(9, 5.0)], user=1)
    assert fresher.history == [(3, 3.0), (4, 2.0), (9, 5.0)] and 9 in fresher.seen and fresher.sex == "F"
    new = tables.member_with_ratings([(7, 4.0), (8, 1.0)], sex="M", age=25, occupation=3)
    assert new.user == R.NEW_USER_ID and not new.known and new.history == [(7, 4.0), (8, 1.0)]
    assert R._history_strings(new) == ("|7|8", "|4|1")
    with pytest.raises(ValueError, match="needs sex, age"):
        tables.member_with_ratings([(7, 4.0)])
    with pytest.raises(ValueError, match="unknown movie"):
        tables.member_with_ratings([(999, 4.0)], user=1)


# ---------------------------------------------------------------- candidate retrieval

def test_the_embedding_looks_movies_up_through_the_vocabulary():
    embedding = hand_made_embedding()
    vectors = embedding.of([4, 1, 3, 11, 999, -1])
    np.testing.assert_allclose(np.linalg.norm(vectors[:4], axis=1), 1.0, rtol=1e-6)
    assert embedding.rows[4] == 1 and embedding.rows[1] == 2          # vocabulary index + 1
    np.testing.assert_allclose(vectors[2], vectors[3], rtol=1e-6)     # 11 is 3 scaled: cosine 1
    np.testing.assert_allclose(vectors[4], embedding.vectors[embedding.oov])  # unknown ids: the OOV row
    np.testing.assert_allclose(vectors[5], vectors[4])


def test_retrieval_takes_the_most_rated_and_the_nearest_unseen_movies(prepared):
    tables = R.Tables(prepared)
    one, two = tables.member(1), tables.member(2)
    embedding = hand_made_embedding()
    # Unseen by both: 7-12, none ever rated, so the most rated is the lowest id (7); the
    # nearest: 11 (user 1's movie 3) and 12 (user 2's movie 5).
    picked = tables.candidates([one, two], R.Retrieval(popular=1, near=2), embedding)
    assert picked["movie_id"].tolist() == [7, 11, 12]
    assert tables.candidates([one], R.Retrieval(popular=1, near=1), embedding)["movie_id"].tolist() == [5, 11]
    # Every unseen movie when the sizes cover them, or with retrieval=None.
    assert tables.candidates([one, two], R.Retrieval(4, 2), embedding)["movie_id"].tolist() == list(range(7, 13))
    assert tables.candidates([one, two], None)["movie_id"].tolist() == list(range(7, 13))
    # Popularity decides the first part; no history: the most rated fill both parts.
    unseen = tables.movies[tables.movies["movie_id"] > 6]
    counts = pd.Series({10: 9, 8: 5, 12: 1})
    assert R.retrieve(unseen, [3], counts, R.Retrieval(1, 1), embedding)["movie_id"].tolist() == [10, 11]
    assert R.retrieve(unseen, [], counts, R.Retrieval(1, 1), embedding)["movie_id"].tolist() == [8, 10]


def test_retrieval_is_bounded_and_never_returns_a_rated_movie():
    rng = np.random.default_rng(1)
    movies = pd.DataFrame({"movie_id": np.arange(1, 2001)})
    embedding = R.MovieEmbedding([str(m) for m in rng.permutation(2000) + 1], rng.normal(size=(2002, 16)))
    popularity = pd.Series(rng.integers(0, 500, 2000), index=movies["movie_id"])
    for _ in range(5):
        rated = rng.choice(2000, 300, replace=False) + 1
        unseen = movies[~movies["movie_id"].isin(rated)]
        history = list(rated[-10:])
        picked = R.retrieve(unseen, history, popularity, R.Retrieval(50, 150), embedding)["movie_id"]
        assert len(picked) == 200 and picked.is_unique and not set(picked) & set(rated)
        sims = embedding.of(unseen["movie_id"]) @ embedding.of(history).T
        assert unseen["movie_id"].iloc[int(sims.max(axis=1).argmax())] in set(picked)   # the nearest one
        top = popularity[unseen["movie_id"]].sort_values(ascending=False).index[:20]
        assert set(top) <= set(picked)


def test_reason_names_the_most_attended_movie_shared_genres_and_director(prepared):
    tables = R.Tables(prepared)
    member = tables.member(1)                     # history 2 (Comedy), 3 (Action), 4 (Drama|Comedy)
    row = {"genres": "Drama|Romance", "director": 2, "a_attention": np.array([0.1, 0.2, 0.6]),
           "b_attention": np.array([0.1, 0.2, 0.6])}
    text = R.reason(tables, row, [member])
    assert "user 1's attention weighted 'Movie 4' (2 stars) most (0.60)" in text
    assert "shares Drama with their recent movies" in text
    assert "same director (Ada Director) as 'Movie 3'" in text    # movies 1, 3, 5... have director 2
    no_attention = {**row, "a_attention": np.zeros(3), "genres": "Horror", "director": 0}
    assert R.reason(tables, no_attention, [member]) == "high predicted rating"


# ---------------------------------------------------------------- the service (stand-in scorer)

class FakeWatcher(serve.ModelWatcher):
    """Versions are the folder names under serving_model; loading builds a FakeScorer (the
    rest of loading is the service's: the version folder's ranker settings, the tables)."""

    def __init__(self, work, prepared, retrieval=R.DEFAULT_RETRIEVAL, offsets: bool = True):
        super().__init__(work, prepared, settle_seconds=0, retrieval=retrieval)
        self.loads = 0
        self.offsets = offsets

    def scorer_of(self, model_dir):
        self.loads += 1
        return FakeScorer(offset=0.1 * self.loads if self.offsets else 0.0)

    def info_of(self, model_dir):
        return {"rmse": {"candidate": 0.9}, "pushed_at": "now"}


RATING_ONLY = {"params": None, "ranked_by": "rating only", "why": "no RankingEvaluator"}


def push(work: Path, version: int, ranking: dict | None = RATING_ONLY, ease: bytes | None = None) -> Path:
    """A version folder carrying `ranking` (the Trainer's "rating only" unless given; None:
    no ranking.json at all, as older code pushed) and `ease` (ease.npz's bytes)."""
    folder = work / "serving_model" / str(version)
    folder.mkdir(parents=True)
    (folder / "saved_model.pb").write_bytes(b"")
    if ranking is not None or ease is not None:
        (folder / "assets.extra").mkdir()
    if ranking is not None:
        (folder / "assets.extra" / "ranking.json").write_text(json.dumps(ranking))
    if ease is not None:
        (folder / "assets.extra" / "ease.npz").write_bytes(ease)
    return folder


def ease_of(prepared: Path, lam: float = 1.0) -> bytes:
    """ease.npz as the RankingEvaluator writes it: EASE fitted on every rating of `prepared`."""
    from serving import version_files as V
    from serving.ease import Ease

    tables = R.Tables(prepared)
    return V.ease_bytes(Ease.fit(tables.ratings, tables.movies["movie_id"], lam), V.ratings_digest(tables.ratings))


RANKING = {"data": "hand-made", "model": "/pipeline_root/Trainer/model/9/Format-Serving",
           "params": {"lam": 1.0, "decay": 0.9, "liked": True, "rating_weight": 0.5, "single_rating_weight": 0.25,
                      "sequence_weight": 0.0, "most_rated": 10_000},
           "check": {"peer": "EASE", "passed": True, "low": 0.0, "high": 0.1, "rule": "NDCG@10 ..."}}


@pytest.fixture
def client(tmp_path, prepared):
    push(tmp_path, 1)
    app = serve.create_app(tmp_path, watch=False, watcher=FakeWatcher(tmp_path, prepared))
    with TestClient(app) as c:
        yield c


def test_recommendations_for_a_pair(client):
    r = client.get("/v1/recommendations", params={"users": "1,2", "n": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["users"] == [1, 2] and body["mode"] == "pair" and body["model_version"] == "1"
    assert body["ranker"] == "rating only"           # the version carries no ranker settings: it says so
    assert body["candidates"] == 6 and len(body["items"]) == 3
    items = body["items"]
    assert [i["rank"] for i in items] == [1, 2, 3]
    assert all(i["movie"] in range(7, 13) for i in items)            # neither has rated them
    pair = [i["pair_rating"] for i in items]
    assert pair == sorted(pair, reverse=True)
    first = items[0]
    assert set(first) >= {"movie", "title", "year", "genres", "pair_rating", "member_ratings", "reason"}
    assert [m["user"] for m in first["member_ratings"]] == [1, 2]
    mean = np.mean([m["predicted_rating"] for m in first["member_ratings"]])
    assert first["pair_rating"] == pytest.approx(mean, abs=1e-3)
    assert "attention weighted" in first["reason"]
    assert body["genre_spread"]["distinct_genres"] >= 1


def test_the_service_scores_the_retrieved_candidates(tmp_path, prepared):
    push(tmp_path, 1)
    watcher = FakeWatcher(tmp_path, prepared, retrieval=R.Retrieval(popular=1, near=2))
    with TestClient(serve.create_app(tmp_path, watch=False, watcher=watcher)) as c:
        body = c.get("/v1/recommendations", params={"users": "1,2", "n": 5}).json()
        assert body["candidates"] == 3 and {i["movie"] for i in body["items"]} == {7, 11, 12}
        posted = c.post("/v1/recommendations", json={"members": [{"user": 3}], "n": 5}).json()
        assert posted["candidates"] == 3                     # no history: the three most rated
        assert {i["movie"] for i in posted["items"]} == {1, 2, 3}


def test_least_misery_and_diversify(client):
    body = client.get("/v1/recommendations", params={"users": "1,2", "n": 4, "strategy": "least_misery",
                                                     "diversify": "true"}).json()
    assert body["strategy"] == "least_misery" and body["diversify"] is True
    for item in body["items"]:
        assert item["score"] == pytest.approx(min(m["predicted_rating"] for m in item["member_ratings"]), abs=1e-3)


def test_one_user_twice_is_single_person_mode(client):
    body = client.get("/v1/recommendations", params={"users": "1,1", "n": 2}).json()
    assert body["users"] == [1] and body["mode"] == "single"
    assert len(body["items"][0]["member_ratings"]) == 1
    assert client.get("/v1/recommendations", params={"users": "1"}).json()["mode"] == "single"


@pytest.mark.parametrize("params, status, words", [
    ({"users": "1,999"}, 404, "999"),
    ({"users": "1,abc"}, 422, "whole numbers"),
    ({"users": "1,2,3"}, 422, "one or two"),
    ({"users": "1,2", "n": 0}, 422, "greater than or equal to 1"),
    ({"users": "1,2", "n": 101}, 422, "less than or equal to 100"),
    ({"users": "1,2", "strategy": "median"}, 422, "least_misery"),
])
def test_bad_input_is_refused_with_the_reason(client, params, status, words):
    r = client.get("/v1/recommendations", params=params)
    assert r.status_code == status and words in r.text and "Traceback" not in r.text


@pytest.mark.parametrize("users", ["9" * 5000, "\u00b2", "--1", "-1", "+1", "1,\u0663", "1" * 10, "1,2" + " " * 60],
                         ids=["5000 digits", "superscript two", "double minus", "negative", "plus", "arabic digit",
                              "10 digits", "long padding"])
@pytest.mark.parametrize("path", ["/v1/recommendations", "/v1/predict"])
def test_odd_user_ids_are_a_short_422_never_a_500(client, users, path):
    r = client.get(path, params={"users": users, "movie": 1})
    assert r.status_code == 422, r.text
    assert len(r.text) < 400 and "Traceback" not in r.text


@pytest.mark.parametrize("rating", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_a_non_finite_rating_is_a_422_that_echoes_nothing(client, rating):
    body = '{"members": [{"user": 1, "ratings": [{"movie": 8, "rating": %s}]}]}' % rating
    r = client.post("/v1/recommendations", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["errors"][0]["loc"][-1] == "rating" and "input" not in error["errors"][0]


def test_a_huge_body_is_413_before_parsing_and_a_huge_invalid_field_is_not_echoed(client):
    from serving.limits import MAX_BODY_BYTES

    big = '{"members": [{"user": 1, "sex": "%s"}]}' % ("x" * (MAX_BODY_BYTES + 10))
    r = client.post("/v1/recommendations", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and len(r.text) < 200
    chunks = iter([big[:1000].encode(), big[1000:].encode()])     # no Content-Length: counted as it streams
    r = client.post("/v1/recommendations", content=chunks, headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    fits = '{"members": [{"user": 1, "sex": "%s"}]}' % ("x" * 50_000)
    r = client.post("/v1/recommendations", content=fits, headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and len(r.text) < 400


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_that_is_not_json_is_415(client, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    r = client.post("/v1/recommendations", content='{"members": [{"user": 1}]}', headers=headers)
    assert r.status_code == 415 and "application/json" in r.json()["error"]["message"]
    assert r.json()["error"]["code"] == "unsupported_media_type"
    ok = client.post("/v1/recommendations", content='{"members": [{"user": 1}]}',
                     headers={"Content-Type": "application/json; charset=utf-8"})
    assert ok.status_code == 200


def test_no_answer_names_a_file_system_path(client, tmp_path_factory):
    answers = [client.get("/v1/recommendations", params={"users": "1,1700"}),
               client.get("/v1/predict", params={"users": "1,2", "movie": 99999}),
               client.post("/v1/recommendations", json={"members": [{"user": 1700}]}),
               client.get("/v1/model")]
    assert [a.status_code for a in answers] == [404, 404, 404, 200]
    assert answers[0].json()["error"] == {"code": "unknown_user", "message": "unknown user 1700"}
    assert answers[1].json()["error"] == {"code": "unknown_movie", "message": "unknown movie 99999"}
    for a in answers:
        assert str(tmp_path_factory.getbasetemp()) not in a.text and "/tmp" not in a.text and ".csv" not in a.text
    info = answers[-1].json()
    assert {"version", "data", "data_fingerprint", "model_fingerprint"} <= set(info)
    assert "path" not in info and "prepared" not in info and len(info["model_fingerprint"]) == 16


def test_beyond_the_concurrency_limit_a_request_gets_503_with_retry_after():
    import asyncio

    from serving.limits import RequestLimits

    release = asyncio.Event()

    async def slow_app(scope, receive, send):
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def main():
        limits = RequestLimits(slow_app, max_in_flight=2)
        sent: list[list[dict]] = [[], [], []]

        async def call(i):
            async def receive():
                return {"type": "http.request", "body": b"", "more_body": False}

            async def send(message):
                sent[i].append(message)
            await limits({"type": "http", "method": "GET", "headers": []}, receive, send)
        first = [asyncio.create_task(call(i)) for i in range(2)]
        await asyncio.sleep(0.01)
        await call(2)                  # the third while two are in progress: refused at once
        release.set()
        await asyncio.gather(*first)
        return sent

    sent = asyncio.run(main())
    assert [m[0]["status"] for m in sent] == [200, 200, 503]
    assert (b"retry-after", b"1") in sent[2][0]["headers"]


def test_a_body_that_does_not_arrive_in_time_is_408():
    import asyncio

    from serving.limits import RequestLimits

    async def never_called(scope, receive, send):
        raise AssertionError("the app must not see a request whose body never came")

    async def main():
        limits = RequestLimits(never_called, body_timeout=0.05)
        sent = []

        async def receive():
            await asyncio.sleep(10)

        async def send(message):
            sent.append(message)
        headers = [(b"content-type", b"application/json"), (b"content-length", b"100")]
        await limits({"type": "http", "method": "POST", "headers": headers}, receive, send)
        return sent

    assert asyncio.run(main())[0]["status"] == 408


def test_predict(client):
    r = client.get("/v1/predict", params={"users": "1,2", "movie": 8})
    assert r.status_code == 200
    body = r.json()
    assert body["movie"] == 8 and body["already_rated_by"] == []
    assert body["pair_rating"] == pytest.approx(np.mean([m["predicted_rating"] for m in body["member_ratings"]]),
                                                abs=1e-3)
    assert client.get("/v1/predict", params={"users": "1,2", "movie": 1}).json()["already_rated_by"] == [1]
    assert client.get("/v1/predict", params={"users": "1,2", "movie": 999}).status_code == 404
    assert client.get("/v1/predict", params={"users": "1,2", "movie": "x"}).status_code == 422


def test_post_cold_start_and_fresher_ratings(client):
    body = {"members": [{"user": 1, "ratings": [{"movie": 9, "rating": 5}]},
                        {"sex": "F", "age": 25, "occupation": 4, "ratings": [{"movie": 10, "rating": 4}]}],
            "n": 10, "strategy": "least_misery", "diversify": True}
    r = client.post("/v1/recommendations", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["users"] == [1, None] and out["mode"] == "pair"
    movies = {i["movie"] for i in out["items"]}
    assert not movies & {1, 2, 3, 4, 9, 10}                       # stored and fresh ratings both excluded
    assert "the new member's attention" in out["items"][0]["reason"]
    half = {"members": [{"user": 1, "ratings": [{"movie": 9, "rating": 0.5}, {"movie": 10, "rating": 3.5}]}]}
    assert client.post("/v1/recommendations", json=half).status_code == 200     # the half-star releases' stars
    single = client.post("/v1/recommendations", json={"members": [{"user": 3}]}).json()
    assert single["mode"] == "single" and single["candidates"] == 12
    for bad, status, words in [
        ({"members": [{"ratings": [{"movie": 7, "rating": 4}]}]}, 422, "needs sex, age, occupation"),
        ({"members": [{"user": 1, "ratings": [{"movie": 999, "rating": 4}]}]}, 422, "unknown movie"),
        ({"members": [{"user": 1, "ratings": [{"movie": 7, "rating": 9}]}]}, 422, "less than or equal to 5"),
        ({"members": [{"user": 1, "ratings": [{"movie": 7, "rating": 0.25}]}]}, 422, "greater than or equal to 0.5"),
        ({"members": []}, 422, "at least 1"),
        ({"members": [{"user": 77}]}, 404, "unknown user 77"),
    ]:
        r = client.post("/v1/recommendations", json=bad)
        assert r.status_code == status and words in r.text, r.text


def test_health_model_and_openapi(client):
    assert client.get("/healthz").json() == {"status": "ok", "model_loaded": True, "model_version": "1"}
    model = client.get("/v1/model").json()
    assert model["version"] == "1" and model["rmse"] == {"candidate": 0.9} and model["pushed_at"] == "now"
    assert model["ranker"] == "rating only" and model["ranker_settings"] is None and model["failed_versions"] == []
    assert client.get("/readyz").json() == {"status": "ready", "model_version": "1", "ranker": "rating only"}
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/healthz", "/readyz", "/v1/model", "/v1/recommendations", "/v1/predict"} <= set(paths)
    assert {"get", "post"} <= set(paths["/v1/recommendations"])


def test_the_openapi_schema_describes_every_response_body(client):
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas         # 422 is the one error shape too
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                ref = response["content"]["application/json"]["schema"].get("$ref", "")
                name = ref.rsplit("/", 1)[-1]
                assert name in schemas, (path, method, status)
                if int(status) >= 400:
                    assert name == "ErrorResponse", (path, method, status)
    assert set(schemas["ErrorDetail"]["required"]) == {"code", "message"}
    assert {"ranker", "items", "model_version"} <= set(schemas["Recommendations"]["required"])
    statuses = {m: set(o["responses"]) for m, o in spec["paths"]["/v1/recommendations"].items()}
    assert {"200", "404", "422", "503"} <= statuses["get"] and {"413", "415"} <= statuses["post"]
    assert set(spec["paths"]["/readyz"]["get"]["responses"]) == {"200", "400", "405", "500", "503"}
    for operations in spec["paths"].values():             # what any path can answer is declared on each
        assert all({"400", "405", "500", "503"} <= set(o["responses"]) for o in operations.values())


def _error(r, status: int, code: str) -> dict:
    """The one error shape, with this status and code, no traceback or path."""
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert "Traceback" not in r.text and "/tmp" not in r.text
    return body["error"]


def test_every_error_is_one_shape_with_a_machine_readable_code(client):
    from serving.limits import MAX_BODY_BYTES

    json_type = {"Content-Type": "application/json"}
    _error(client.get("/v1/recommendations", params={"users": "1,999"}), 404, "unknown_user")
    _error(client.get("/v1/predict", params={"users": "1,2", "movie": 999}), 404, "unknown_movie")
    _error(client.post("/v1/recommendations", json={"members": [{"user": 77}]}), 404, "unknown_user")
    users = _error(client.get("/v1/recommendations", params={"users": "1,abc"}), 422, "invalid_request")
    assert users["errors"][0]["loc"] == ["query", "users"] and "whole numbers" in users["message"]
    n = _error(client.get("/v1/recommendations", params={"users": "1", "n": 0}), 422, "invalid_request")
    assert n["errors"][0]["loc"] == ["query", "n"] and "greater than or equal to 1" in n["message"]
    _error(client.get("/v1/predict", params={"users": "1,2"}), 422, "invalid_request")          # movie missing
    _error(client.post("/v1/recommendations", content="{not json", headers=json_type), 422, "invalid_request")
    member = _error(client.post("/v1/recommendations", json={"members": [{"ratings": [{"movie": 7, "rating": 4}]}]}),
                    422, "invalid_request")
    assert member["errors"][0]["loc"] == ["body", "members", 0] and "needs sex" in member["message"]
    _error(client.post("/v1/recommendations", content="{}", headers={"Content-Type": "text/plain"}), 415,
           "unsupported_media_type")
    _error(client.post("/v1/recommendations", content="x" * (MAX_BODY_BYTES + 1), headers=json_type), 413,
           "body_too_large")
    _error(client.get("/nowhere"), 404, "not_found")
    _error(client.post("/nowhere", content="{}", headers={"Content-Type": "text/plain"}), 404, "not_found")


@pytest.mark.parametrize("method, path, body", [
    ("PUT", "/v1/model", None), ("PUT", "/v1/model", '{"version": "2"}'), ("PATCH", "/v1/predict", None),
    ("PATCH", "/v1/predict", "not json either"), ("DELETE", "/v1/recommendations", None), ("POST", "/healthz", "{}"),
])
def test_a_method_a_path_does_not_take_is_405_before_the_body_is_looked_at(client, method, path, body):
    headers = {"Content-Type": "text/plain"} if body else {}
    r = client.request(method, path, content=body, headers=headers)
    error = _error(r, 405, "method_not_allowed")
    assert method in error["message"]
    allowed = set(r.headers["allow"].split(", "))
    assert allowed == {"GET", "POST"} if path == "/v1/recommendations" else allowed == {"GET"}


def test_busy_and_no_model_are_503s_told_apart_by_their_code(tmp_path, prepared):
    from starlette.middleware import Middleware

    from serving.limits import RequestLimits

    app = serve.create_app(tmp_path, watch=False, watcher=FakeWatcher(tmp_path, prepared))
    with TestClient(app) as c:
        _error(c.get("/v1/recommendations", params={"users": "1,2"}), 503, "no_model")
    busy = serve.create_app(tmp_path, watch=False, watcher=FakeWatcher(tmp_path, prepared))
    busy.user_middleware = [Middleware(RequestLimits, max_in_flight=0) if m.cls is RequestLimits else m
                            for m in busy.user_middleware]
    with TestClient(busy) as c:
        r = c.get("/v1/recommendations", params={"users": "1,2"})
        _error(r, 503, "busy")
        assert r.headers["retry-after"] == "1"


def test_a_pinned_version_is_answered_only_while_it_is_the_one_served(client, tmp_path):
    watcher = client.app.state.watcher
    ok = client.get("/v1/recommendations", params={"users": "1,2", "version": "1"})
    assert ok.status_code == 200 and ok.json()["model_version"] == "1"
    assert client.get("/v1/predict", params={"users": "1,2", "movie": 8, "version": "1"}).status_code == 200
    error = _error(client.get("/v1/recommendations", params={"users": "1,2", "version": "2"}), 404, "unknown_version")
    assert "no version 2 has been pushed" in error["message"] and "serves version 1" in error["message"]
    _error(client.get("/v1/recommendations", params={"users": "1,2", "version": "x1"}), 422, "invalid_request")
    push(tmp_path, 2)
    assert watcher.refresh()
    error = _error(client.post("/v1/recommendations", params={"version": "1"}, json={"members": [{"user": 1}]}),
                   404, "unknown_version")
    assert "older than the version this service serves (2)" in error["message"]
    posted = client.post("/v1/recommendations", params={"version": "2"}, json={"members": [{"user": 1}]})
    assert posted.status_code == 200 and posted.json()["model_version"] == "2"
    assert client.get("/v1/predict", params={"users": "1,2", "movie": 8, "version": "2"}).status_code == 200


def test_a_version_that_fails_to_load_is_reported_once_and_retried_when_its_folder_changes(client, tmp_path,
                                                                                            prepared, caplog):
    watcher = client.app.state.watcher
    loads = []
    real_load = watcher.load
    watcher.load = lambda folder: (loads.append(folder.name), real_load(folder))[1]
    broken = push(tmp_path, 4)
    (broken / "assets.extra" / "ranking.json").write_text("{not json")
    with caplog.at_level("ERROR", logger="serving.serve"):
        for _ in range(3):                                  # three polls: one try, one log line
            assert not watcher.refresh()
    assert loads == ["4"]
    assert [r for r in caplog.records if "version 4 failed to load" in r.getMessage()] and len(caplog.records) == 1
    model = client.get("/v1/model").json()
    assert model["version"] == "1"
    (failed,) = model["failed_versions"]
    assert failed["version"] == "4" and "ranking.json cannot be read" in failed["error"]
    assert str(tmp_path) not in failed["error"]
    _error(client.get("/v1/recommendations", params={"users": "1,2", "version": "4"}), 404, "unknown_version")
    # Fixed (the folder changes): tried again, and served.
    (broken / "assets.extra" / "ranking.json").write_text(json.dumps(RANKING))
    assert not watcher.refresh() and loads == ["4", "4"]      # pair-ranker settings without their matrix
    assert "carries no assets.extra/ease.npz" in client.get("/v1/model").json()["failed_versions"][0]["error"]
    (broken / "assets.extra" / "ease.npz").write_bytes(ease_of(prepared))
    assert watcher.refresh() and loads == ["4", "4", "4"]
    model = client.get("/v1/model").json()
    assert model["version"] == "4" and model["failed_versions"] == [] and model["ranker"] == "pair ranker"


def test_every_version_failing_is_503_no_model_naming_them(tmp_path, prepared):
    broken = push(tmp_path, 3)
    (broken / "assets.extra" / "ranking.json").write_text('{"check": {}}')
    with TestClient(serve.create_app(tmp_path, watch=False, watcher=FakeWatcher(tmp_path, prepared))) as c:
        for path in ("/readyz", "/v1/model"):
            error = _error(c.get(path), 503, "no_model")
            assert error["failed_versions"][0]["version"] == "3" and "params" in error["failed_versions"][0]["error"]
        assert c.get("/healthz").status_code == 200                # alive all the same


def _top(client, users: str) -> list:
    body = client.get("/v1/recommendations", params={"users": users, "n": 10}).json()
    return [(i["movie"], i["score"], i["reason"]) for i in body["items"]], body["ranker"]


def test_a_version_copied_to_another_folder_serves_the_same_top_10(tmp_path, prepared):
    """How a version ranks travels in its folder: a copy of it (another work folder, no MLMD,
    no reports) answers the same lists with the same settings and EASE matrix, the matrix the
    service would have fitted itself; a version without the files is refused, never served
    with defaults."""
    import shutil

    pushed = push(tmp_path / "work", 1, RANKING, ease_of(prepared))
    copy = tmp_path / "elsewhere" / "serving_model" / "1"
    shutil.copytree(pushed, copy)
    push(tmp_path / "rating-only", 1)                        # the same model, pushed with --no-ranking
    answers = {}
    for name in ("work", "elsewhere", "rating-only"):
        watcher = FakeWatcher(tmp_path / name, prepared, offsets=False)
        with TestClient(serve.create_app(tmp_path / name, watch=False, watcher=watcher)) as c:
            answers[name] = (_top(c, "1,2"), _top(c, "3"), c.get("/v1/model").json())
    pushed_answer, copy_answer, bare = answers["work"], answers["elsewhere"], answers["rating-only"]
    assert len(pushed_answer[1][0]) == 10 and pushed_answer[:2] == copy_answer[:2]
    assert pushed_answer[0][1] == "pair ranker" and bare[0][1] == "rating only"
    assert pushed_answer[2]["ranker_settings"] == copy_answer[2]["ranker_settings"] == RANKING["params"]
    assert copy_answer[2]["ranking_check"]["passed"] is True and "model" not in copy_answer[2]["ranking_check"]
    assert bare[2]["ranking_check"] is None and bare[2]["ranker_settings"] is None
    assert [s for _, s, _ in pushed_answer[1][0]] != [s for _, s, _ in bare[1][0]]     # the settings were used
    assert "/pipeline_root" not in json.dumps(copy_answer[2])
    # The version's matrix is the one the service would fit: the same answer as a refit.
    from serving.ease import RankerParams

    refit = R.Tables(prepared).use_ranker(RankerParams(**RANKING["params"]))
    members = [refit.member(1), refit.member(2)]
    top = R.recommendations(FakeScorer(), refit, members, n=10)["items"]
    assert [(i["movie"], i["score"]) for i in top] == [(m, s) for m, s, _ in pushed_answer[0][0]]
    # Without its files a version is refused with the reason, in the log and in /v1/model.
    for name, files in (("older", {}), ("no-matrix", {"ranking": RANKING})):
        push(tmp_path / name, 1, **{"ranking": None, **files})
        with TestClient(serve.create_app(tmp_path / name, watch=False,
                                         watcher=FakeWatcher(tmp_path / name, prepared))) as c:
            error = _error(c.get("/v1/model"), 503, "no_model")
            assert error["failed_versions"][0]["version"] == "1"
            assert ("pushed by older code" in error["failed_versions"][0]["error"]
                    and str(tmp_path) not in error["failed_versions"][0]["error"])


def test_no_pushed_model_is_503_saying_how_to_get_one(tmp_path, prepared):
    app = serve.create_app(tmp_path, watch=False, watcher=FakeWatcher(tmp_path, prepared))
    with TestClient(app) as c:
        r = c.get("/v1/recommendations", params={"users": "1,2"})
        assert r.status_code == 503 and "make run" in r.json()["error"]["message"]
        assert r.json()["error"]["code"] == "no_model"
        assert c.get("/v1/model").status_code == 503
        assert c.get("/healthz").json()["model_loaded"] is False        # alive, not ready
        assert c.get("/readyz").status_code == 503 and c.get("/readyz").json()["error"]["code"] == "no_model"
        push(tmp_path, 5)                       # pushed while serving: picked up, no restart
        assert app.state.watcher.refresh()
        assert c.get("/v1/model").json()["version"] == "5"
        assert c.get("/readyz").json() == {"status": "ready", "model_version": "5", "ranker": "rating only"}


def test_a_new_version_is_swapped_in_without_a_failed_request(client, tmp_path):
    watcher = client.app.state.watcher
    statuses, versions, stop = [], set(), threading.Event()

    def hammer():
        while not stop.is_set():
            r = client.get("/v1/recommendations", params={"users": "1,2", "n": 3})
            statuses.append(r.status_code)
            versions.add(r.json().get("model_version"))

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for version in (2, 3):
            push(tmp_path, version)
            assert watcher.refresh()
            assert not watcher.refresh()            # already current
        # one request after the last swap, while the others still run: the hammering threads
        # may all have been mid-request on version 2 when it happened
        r = client.get("/v1/recommendations", params={"users": "1,2", "n": 3})
        statuses.append(r.status_code)
        versions.add(r.json().get("model_version"))
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert statuses and set(statuses) == {200}
    assert client.get("/v1/model").json()["version"] == "3" and "3" in versions


def test_a_version_that_fails_to_load_keeps_the_current_one(client, tmp_path, monkeypatch):
    watcher = client.app.state.watcher
    push(tmp_path, 7)
    monkeypatch.setattr(watcher, "load", lambda d: (_ for _ in ()).throw(OSError("half written")))
    assert not watcher.refresh()
    assert client.get("/v1/model").json()["version"] == "1" and "half written" in watcher.last_error


def test_unfinished_version_folders_are_not_loaded(tmp_path):
    push(tmp_path, 1)
    (tmp_path / "serving_model" / "2").mkdir()          # no saved_model.pb yet
    watcher = serve.ModelWatcher(tmp_path, settle_seconds=0)
    assert watcher.newest().name == "1"
    assert serve.ModelWatcher(tmp_path, settle_seconds=3600).newest() is None    # still being written


def test_the_worker_count_is_checked_before_anything_loads(capsys):
    with pytest.raises(SystemExit) as exit_info:
        serve.main(["--workers", "0"])
    assert exit_info.value.code == 2 and "--workers must be 1 or more, got 0" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        serve.main(["--scoring-threads", "0"])
    assert exit_info.value.code == 2 and "--scoring-threads must be 1 or more, got 0" in capsys.readouterr().err


def test_the_scoring_threads_bound_how_many_requests_are_scored_at_once(prepared, tmp_path):
    """With one scoring thread, requests are scored one at a time (anyio's limiter)."""
    import anyio
    from fastapi.testclient import TestClient

    push(tmp_path, 1)
    app = serve.create_app(tmp_path, watch=False, watcher=FakeWatcher(tmp_path, prepared), scoring_threads=1)
    with TestClient(app) as client:
        assert client.get("/v1/recommendations", params={"users": "1,2"}).status_code == 200
        tokens = client.portal.call(lambda: anyio.to_thread.current_default_thread_limiter().total_tokens)
    assert tokens == 1


def test_each_worker_process_builds_the_app_from_the_settings_main_leaves(monkeypatch, prepared, tmp_path):
    monkeypatch.setenv(serve.APP_SETTINGS_ENV, json.dumps({"work_dir": str(tmp_path), "prepared": str(prepared),
                                                           "poll_seconds": 5.0,
                                                           "retrieval": {"popular": 3, "near": 4}}))
    app = serve.app_from_environment()
    watcher = app.state.watcher
    assert watcher.retrieval == R.Retrieval(3, 4) and watcher.prepared == prepared


@pytest.mark.parametrize("diversified", [False, True])
def test_members_are_scored_for_the_top_only_and_the_list_is_the_same(prepared, diversified):
    """With the average strategy every candidate's pair rating comes from the pair-only
    signature and the members' ratings for the top of the list only: the same list and the
    same numbers as scoring every candidate fully."""
    from serving.ease import RankerParams

    tables = R.Tables(prepared).use_ranker(RankerParams(lam=1.0, rating_weight=0.5))
    users = list(tables.users.index[:2])
    members = [tables.member(u) for u in users]
    scorer = FakeScorer()
    full = R.score_pair(scorer, tables, *members, retrieval=None)
    partial = R.score_pair(scorer, tables, *members, retrieval=None, top=3)
    assert scorer.pair_rows <= len(full) and len(full) > 3
    assert partial["a_rating"].isna().sum() == len(full) - 3
    pd.testing.assert_frame_equal(R.rank(partial, "average", 3), R.rank(full, "average", 3))
    body = R.recommendations(scorer, tables, members, n=2, diversified=diversified, retrieval=None)
    expected = R.diversify(full, "average", 2) if diversified else R.rank(full, "average", 2)
    assert [i["movie"] for i in body["items"]] == expected["movie_id"].tolist()
    assert [[m["predicted_rating"] for m in i["member_ratings"]] for i in body["items"]] == [
        [round(float(r), 4) for r in (row.a_rating, row.b_rating)] for row in expected.itertuples()]


def test_a_bug_is_a_500_in_the_one_shape_without_a_traceback(tmp_path, prepared, monkeypatch):
    push(tmp_path, 1)
    app = serve.create_app(tmp_path, watch=False, watcher=FakeWatcher(tmp_path, prepared))
    monkeypatch.setattr(R, "recommendations", lambda *a, **k: 1 / 0)
    with TestClient(app, raise_server_exceptions=False) as c:
        error = _error(c.get("/v1/recommendations", params={"users": "1,2"}), 500, "internal")
        assert "ZeroDivision" not in error["message"]


class _CountingPairs:
    """pair_ratings from a fixed table by movie id, counting the rows asked for."""

    def __init__(self, ratings: dict):
        self.ratings, self.rows = ratings, 0

    def pair_ratings(self, arrays):
        self.rows += len(arrays[F.MOVIE])
        return np.array([self.ratings[int(m)] for m in arrays[F.MOVIE]], np.float32)


@pytest.mark.parametrize("weight", [0.0, 0.3, 1.0, 4.0, -0.5])
def test_pair_ratings_are_computed_only_where_they_can_reach_the_list_and_the_list_is_the_same(weight):
    """bounded_pair_ratings: every list rank() makes from the bounded ratings, up to `listed`
    places, is the list of every candidate rated; a candidate whose watch score plus the
    highest rating the weight can add stays below the list is never rated; ties (equal scores,
    equal pair ratings) fall as rank() orders them."""
    rng = np.random.default_rng(int(weight * 10) + 7)
    n = 400
    ids = rng.permutation(np.arange(1, n + 1))
    watch = np.round(rng.normal(0, 1, n), 1)                   # rounded: many equal watch scores
    ratings = {int(m): float(r) for m, r in zip(ids, np.round(rng.uniform(1, 5, n) * 2) / 2)}
    rows = {F.MOVIE: ids}
    every = np.array([ratings[int(m)] for m in ids])

    def ranked(pair, k):
        frame = pd.DataFrame({"movie_id": ids, "watch": watch, "rating_weight": weight, "pair_rating": pair})
        return R.rank(frame, "average", k)["movie_id"].tolist()

    for listed in (1, 10, 50):
        scorer = _CountingPairs(ratings)
        pair = R.bounded_pair_ratings(scorer, rows, watch, weight, ids, listed, first=16)
        assert scorer.rows == (~np.isnan(pair)).sum() <= n
        for k in (1, listed):
            assert ranked(pair, k) == ranked(every, k)
        # a row left unrated could not have reached the list: its bound is below the listed-th
        # best score of every row rated
        bound = watch + max(weight, 0) * F.RATING_MAX
        assert (bound[np.isnan(pair)] < np.sort(watch + weight * every)[-listed]).all()
    scorer = _CountingPairs(ratings)
    R.bounded_pair_ratings(scorer, rows, watch, weight, ids, 10, first=16)
    if weight <= 1.0:
        assert scorer.rows < n / 2                          # the bound prunes most candidates


class _HistoryScorer:
    """next_log_probabilities from the history alone: log p(m | h) = sum over h's last
    `sequence_length` movies, the later ones weighing more, of cos-like overlap with m; the
    calls and their rows counted."""
    sequence_length = 4

    def __init__(self):
        self.calls = self.rows = 0

    def next_log_probabilities(self, histories, movie_ids):
        self.calls += 1
        self.rows += len(histories)
        out = np.zeros((len(histories), len(movie_ids)))
        for i, h in enumerate(histories):
            for k, movie in enumerate(list(h)[-self.sequence_length:]):
                out[i] += (k + 1) * np.cos(np.asarray(movie_ids, float) * 0.7 + movie)
        return out


def test_sequence_reasons_remove_each_latest_movie_for_every_member_in_one_call():
    """sequence_reasons: for each member and movie, the latest movie whose removal lowers the
    log-probability most (by brute force here), None where none lowers it; every member's
    variants in one watch_next call; a member with no history gets None everywhere."""
    def member(profile):
        return R.Member(user=1, sex="F", age=25, occupation=1, history=[], seen=frozenset(profile),
                        profile=tuple(profile))

    members = [member([3, 9, 4, 11, 7, 2]), member([5, 1]), member([])]
    ids = [10, 20, 30, 40]
    scorer = _HistoryScorer()
    found = R.sequence_reasons(scorer, members, ids)
    assert scorer.calls == 1 and scorer.rows == (1 + 4) + (1 + 2)
    for m, mine in zip(members, found):
        profile = list(m.profile)
        latest = profile[-4:]
        for j, movie in enumerate(ids):
            if not latest:
                assert mine[j] is None
                continue
            whole = _HistoryScorer().next_log_probabilities([profile], [movie])[0, 0]
            drops = [whole - _HistoryScorer().next_log_probabilities([profile[:len(profile) - len(latest)]
                                                                      + latest[:i] + latest[i + 1:]], [movie])[0, 0]
                     for i in range(len(latest))]
            i = int(np.argmax(drops))
            assert mine[j] == ((latest[i], pytest.approx(drops[i])) if drops[i] > 0 else None)
    assert any(x is not None for x in found[0]) and any(x is None for mine in found[:2] for x in mine)
