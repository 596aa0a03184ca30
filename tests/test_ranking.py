"""The ranking benchmark's metrics and its BENCHMARKS.md section (no model needed)."""

import numpy as np
import pytest

from bench import ranking as B
from serving import ranking as M


def test_hit_rate_and_ndcg_at_10():
    hr, ndcg = M.hit_and_ndcg(np.array([1, 3, 10, 11]))
    assert hr == 0.75
    assert ndcg == pytest.approx((1 + 1 / np.log2(4) + 1 / np.log2(11) + 0) / 4)


def test_target_rank_counts_strictly_better_candidates():
    scores = np.array([3.0, 4.5, 4.0, 4.0, 1.0])
    assert M.target_rank(scores, 1) == 1
    assert M.target_rank(scores, 2) == 2 and M.target_rank(scores, 3) == 2     # ties in its favour
    assert M.target_rank(scores, 4) == 5


def test_the_section_is_replaced_between_its_markers_only(tmp_path):
    path = tmp_path / "BENCHMARKS.md"
    B.write_section(path, "first")
    assert B.START in path.read_text() and "first" in path.read_text()
    path.write_text(path.read_text() + "\n<!-- other:start -->\nsomeone else's\n<!-- other:end -->\n")
    B.write_section(path, "second")
    text = path.read_text()
    assert "second" in text and "first" not in text and "someone else's" in text
    assert text.count(B.START) == 1 and text.count(B.END) == 1


# ---------------------------------------------------------------- EASE and the pair ranker

import pandas as pd                                   # noqa: E402

from serving import recommend as R                    # noqa: E402
from serving.ease import Ease, PairRanker, RankerParams, watch_totals  # noqa: E402
from transform_fn import features as F                # noqa: E402


def co_watch() -> pd.DataFrame:
    """Users 1-4 each rated movies 10 and 20 together; users 5-6 rated 30 and 40; 50 alone."""
    pairs = [(u, m) for u in (1, 2, 3, 4) for m in (10, 20)] + [(u, m) for u in (5, 6) for m in (30, 40)]
    return pd.DataFrame(pairs + [(7, 50), (7, 10)], columns=["user_id", "movie_id"])


def test_ease_is_the_ridge_regression_of_each_movie_on_the_others():
    ratings = co_watch()
    ease = Ease.fit(ratings, [10, 20, 30, 40, 50, 60, 70], lam=0.5)
    # nobody rated 60: its row and column of B would be 0, so it is left out of the fit (as is
    # 70, rated by nobody and absent from the ratings), and scored 0
    assert list(ease.movies) == [10, 20, 30, 40, 50] and np.allclose(np.diag(ease.weights), 0)
    assert ease.weights.flags["C_CONTIGUOUS"]      # an F-ordered B is copied whole by every sparse product
    x = np.zeros((7, 6))
    for u, m in ratings.itertuples(index=False):
        x[u - 1, [10, 20, 30, 40, 50, 60].index(m)] = 1
    for j in range(5):       # column j: argmin ||x_j - X_-j b||^2 + lam ||b||^2, the closed form's claim
        others = [i for i in range(6) if i != j]
        a = x[:, others]
        b = np.linalg.solve(a.T @ a + 0.5 * np.eye(5), a.T @ x[:, j])
        assert np.allclose(ease.weights[others[:4], j], b[:4], atol=1e-5), j
        assert abs(b[4]) < 1e-12                             # the full fit's weight on 60: none
    scores = ease.profile([10]) @ ease.weights               # x B
    assert scores[1] == scores.max() and scores[1] > 0     # who rated 10 rates 20
    ranker = PairRanker(ease, RankerParams(decay=1.0, liked=False))
    watch = ranker.watch([([10], None)], [20, 60, 70, 50])
    assert watch[0] == scores[1] and watch[1] == watch[2] == 0 and watch[3] == scores[4]
    assert np.allclose(watch_totals(ease, [[([10], None)]], 1.0, False, [20, 60, 50]), [[scores[1], 0, scores[4]]])
    with pytest.raises(ValueError, match="lambda"):
        Ease.fit(ratings, [10], lam=0)


def test_most_rated_fits_the_movies_with_most_raters_ties_by_the_lower_id():
    ratings = co_watch()          # raters: 10 five, 20 four, 30 and 40 two, 50 one
    ease = Ease.fit(ratings, [10, 20, 30, 40, 50, 60], lam=0.5, most_rated=3)
    assert list(ease.movies) == [10, 20, 30]
    alone = Ease.fit(ratings[ratings["movie_id"].isin([10, 20, 30])], [10, 20, 30], lam=0.5)
    assert np.array_equal(ease.weights, alone.weights)         # the fit on those movies' ratings alone
    assert list(Ease.fit(ratings, [10, 20, 30, 40, 50], lam=0.5, most_rated=10).movies) == [10, 20, 30, 40, 50]


def test_fits_over_a_lambda_grid_are_each_lambdas_own_fit_made_one_at_a_time():
    ratings = co_watch()
    grid = Ease.fits(ratings, [10, 20, 30, 40, 50], [0.5, 2.0, 8.0])
    first = next(grid)
    assert first.lam == 0.5 and np.array_equal(first.weights, Ease.fit(ratings, [10, 20, 30, 40, 50], 0.5).weights)
    rest = list(grid)
    assert [e.lam for e in rest] == [2.0, 8.0]
    for e in rest:
        assert np.array_equal(e.weights, Ease.fit(ratings, [10, 20, 30, 40, 50], e.lam).weights)
    assert not np.allclose(first.weights, rest[1].weights)          # a larger lambda shrinks B
    assert np.abs(rest[1].weights).sum() < np.abs(first.weights).sum()
    with pytest.raises(ValueError, match="lambda"):                  # refused before any fit is made
        next(Ease.fits(ratings, [10], [1.0, -1.0]))


def test_the_profile_weighs_the_newest_rating_most_and_ignores_unknown_movies():
    ease = Ease.fit(co_watch(), [10, 20, 30, 40, 50], lam=1.0)
    x = ease.profile([30, 999, 10, 20], decay=0.5)       # oldest first; 999 is not in the catalogue
    assert x.tolist() == [0.5, 1.0, 0.125, 0.0, 0.0]     # 999 still counts as a rating in the order
    assert ease.profile([10, 20]).tolist() == [1, 1, 0, 0, 0]
    # liking: 1 star adds nothing, 5 stars all, 3 stars half
    assert ease.profile([10, 20, 30], ratings=[1, 5, 3]).tolist() == [0.0, 1.0, 0.5, 0.0, 0.0]
    top = ease.contributions([30, 10], 20, decay=0.5)
    assert top[0][0] == 10 and top[0][1] > 0 and len(top) == 2


def test_top_contributors_in_one_product_are_each_movies_first_contribution():
    ease = Ease.fit(co_watch(), [10, 20, 30, 40, 50], lam=1.0)
    history, stars = [30, 10, 20, 30], [4, 5, 2, 3]         # 30 twice: one contributor, summed
    targets = [20, 40, 50, 10, 777]                          # 777: not in the catalogue
    found = ease.top_contributors(history, targets, decay=0.9, ratings=stars)
    for target, got in zip(targets, found):
        each = ease.contributions(history, target, decay=0.9, ratings=stars)
        assert got == (pytest.approx(each[0][0]), pytest.approx(each[0][1])) if each else got is None, target
    assert found[-1] is None and ease.top_contributors([], targets) == [None] * len(targets)


def test_the_pair_ranker_sums_the_members_and_adds_the_weighted_rating():
    ease = Ease.fit(co_watch(), [10, 20, 30, 40, 50], lam=1.0)
    ranker = PairRanker(ease, RankerParams(lam=1.0, decay=1.0, liked=True, rating_weight=0.5))
    one, other = ranker.watch([([10], [5])], [20, 40, 777]), ranker.watch([([30], [4])], [20, 40, 777])
    both = ranker.watch([([10], [5]), ([30], [4])], [20, 40, 777])
    assert np.allclose(both, one + other) and both[2] == 0          # 777: no EASE column, no watch score
    assert one[0] > one[1] and other[1] > other[0]
    assert np.allclose(other, 0.75 * ranker.watch([([30], [4])], [20, 40, 777], liked=False))
    assert not ranker.watch([([10], [1])], [20]).any()              # a 1-star rating says nothing of liking
    member = R.Member(1, "F", 25, 1, [], frozenset({10}), profile=(10,), profile_ratings=(5.0,))
    assert np.allclose(ranker.watch([member], [20, 40, 777]), one)
    assert ranker.score(np.array([1.0]), np.array([4.0]))[0] == pytest.approx(3.0)


@pytest.fixture
def prepared(tmp_path):
    """A hand-made prepared folder: users 1 and 2, six movies, two splits' worth of ratings."""
    out = tmp_path / "hand-made"
    (out / "test").mkdir(parents=True)
    (out / "eval").mkdir()
    pd.DataFrame({"movie_id": range(1, 7), "title": [f"M{i}" for i in range(1, 7)], "year": 1990,
                  "genres": "Drama", "runtime": 90, "director": 0, "actors": "0|0|0", "imdb_rating": 0.0,
                  "imdb_votes": 0}).to_csv(out / "movies.csv", index=False)
    pd.DataFrame({"user_id": [1, 2], "sex": ["F", "M"], "age": [25, 35], "occupation": [1, 2]}).to_csv(
        out / "users.csv", index=False)
    # user 1: 1 (train), 2 (eval), 3 and 4 in the same second (test), 5 later; user 2: 6 (train), 4 (test)
    pd.DataFrame({"user_id": [1, 1, 1, 1, 1, 2, 2], "movie_id": [1, 2, 3, 4, 5, 6, 4],
                  "rating": [5, 4, 3, 5, 2, 4, 4], "timestamp": [10, 20, 30, 30, 40, 15, 35],
                  "split": ["train", "eval", "test", "test", "test", "train", "test"]}).to_csv(
        out / F.RATINGS_FILE, index=False)
    row = {F.user("a"): 1, F.user("b"): 2, F.MOVIE: 4, F.LABEL: 4.5}
    pd.DataFrame([row]).to_csv(out / "test" / "pairs.csv", index=False)
    pd.DataFrame([{**row, F.user("b"): 1, F.LABEL: 5.0}]).to_csv(out / "test" / "singles.csv", index=False)
    pd.DataFrame([{**row, F.MOVIE: 2, F.user("b"): 1}]).to_csv(out / "eval" / "pairs.csv", index=False)
    pd.DataFrame([{**row, F.MOVIE: 2, F.user("b"): 1}]).to_csv(out / "eval" / "singles.csv", index=False)
    return out


def test_a_case_reads_only_ratings_before_the_targets_second(prepared):
    tables = R.Tables(prepared)
    (case,) = M.cases(tables, F.TEST_SPLIT, "pairs", 10, seed=0)
    assert case.members == (1, 2) and case.target == 4
    # user 1 rated 3 in the target's own second and 5 after it: neither is known
    assert case.profiles == [([1, 2], [5.0, 4.0]), ([6], [4.0])] and case.seen == {1, 2, 6}
    (single,) = M.cases(tables, F.TEST_SPLIT, "singles", 10, seed=0)
    assert single.members == (1,) and single.profiles == [([1, 2], [5.0, 4.0])]
    catalogue = M.Catalogue(tables)
    mask, where = catalogue.candidates(case)
    assert catalogue.ids[where] == 4 and mask.tolist() == [False, False, True, True, True, False]


def test_the_settings_are_chosen_on_eval_rows_only(prepared, monkeypatch):
    read = []
    real = M.cases
    monkeypatch.setattr(M, "cases", lambda tables, split, *a, **k: read.append(split) or real(tables, split, *a, **k))
    monkeypatch.setattr(M, "model_scores", lambda scorer, catalogue, case_list, positions: [
        np.zeros(len(catalogue.ids)) for _ in case_list])
    monkeypatch.setattr(M, "sequence_scores", lambda scorer, catalogue, case_list: None)   # no sequence model
    tables = R.Tables(prepared)
    params, log = M.choose(tables, M.Catalogue(tables), scorer=None, rows=10, seed=0)
    assert set(read) == {F.EVAL_SPLIT} and log["rows"] == 1
    assert params.lam in M.LAMBDAS and params.decay in M.DECAYS and params.rating_weight in M.RATING_WEIGHTS
    assert set(log["lambda"]) == set(M.LAMBDAS) and set(log["rating_weight"]) == set(M.RATING_WEIGHTS)
    assert set(log["liked"]) == {False, True} and isinstance(params.liked, bool)
    assert params.single_rating_weight in M.RATING_WEIGHTS and set(log["single_rating_weight"]) == set(M.RATING_WEIGHTS)
    assert params.sequence_weight == 0.0 and "sequence_weight" not in log   # a model without the sequence model


def test_a_sequence_model_that_finds_the_eval_target_gets_a_weight(prepared, monkeypatch):
    """Where EASE ranks each eval target last, the sequence model scoring it highest is what
    eval weighs in."""
    def sequence(scorer, catalogue, case_list):
        out = []
        for case in case_list:
            t = np.full(len(catalogue.ids), -10.0)
            t[catalogue.candidates(case)[1]] = -1.0
            out.append(t)
        return out

    monkeypatch.setattr(M, "model_scores", lambda scorer, catalogue, case_list, positions: [
        np.zeros(len(catalogue.ids)) for _ in case_list])
    monkeypatch.setattr(M, "sequence_scores", sequence)
    # EASE ranks each target last...
    monkeypatch.setattr(M, "watch_scores", lambda ease, catalogue, case_list, decay, liked=False: [
        -1.0 * (catalogue.ids == case.target) for case in case_list])
    tables = R.Tables(prepared)
    params, log = M.choose(tables, M.Catalogue(tables), scorer=None, rows=10, seed=0)
    assert set(log["sequence_weight"]) == set(M.SEQUENCE_WEIGHTS)
    # ...the sequence model first: a weight large enough to lift it to the top
    assert params.sequence_weight > 0 and log["sequence_weight"][params.sequence_weight] == pytest.approx(1.0)
    assert log["sequence_weight"][0.0] < 1.0


def test_standardising_puts_each_part_on_one_scale_over_the_candidates():
    from serving.ease import standardised

    mask = np.array([True, True, False, True])
    z = standardised(np.array([1.0, 3.0, 100.0, 5.0]), mask)
    assert z[mask].mean() == pytest.approx(0.0) and z[mask].std() == pytest.approx(1.0)
    assert np.allclose(standardised(np.array([2.0, 2.0])), 0.0)      # no spread: no score, no error


def test_the_check_interval_holds_the_mean_difference():
    a, b = np.array([1.0, 0.5, 0.0, 0.3]), np.array([0.5, 0.5, 0.0, 0.0])
    got = M.interval(a, b, resamples=500, seed=1)
    assert got["difference"] == pytest.approx(0.2) and got["low"] <= 0.2 <= got["high"]
    assert M.interval(a, a)["high"] == 0.0


def test_retrieval_keeps_only_candidates_even_when_the_catalogue_is_small(prepared):
    tables = R.Tables(prepared)
    catalogue = M.Catalogue(tables)
    (case,) = M.cases(tables, F.TEST_SPLIT, "pairs", 10, seed=0)
    # the seen movies (1, 2, 6) score highest for the ranker; the target (4) lowest of the rest
    ranking = np.array([9.0, 9.0, 3.0, 1.0, 2.0, 9.0])
    retrieve = np.array([9.0, 9.0, 1.0, 2.0, 3.0, 9.0])
    assert M.ranks_of([ranking], catalogue, [case])[0] == 3
    every = M.retrieved([retrieve], catalogue, [case], None)
    assert every[0].tolist() == [2, 3, 4]                               # the unseen 3, 4 and 5 only
    assert M.retrieved([retrieve], catalogue, [case], 10)[0].tolist() == [2, 3, 4]
    assert M.ranks_within([ranking], every, catalogue, [case])[0] == 3
    two = M.retrieved([retrieve], catalogue, [case], 2)
    assert two[0].tolist() == [3, 4]                                     # 3 (retrieve 1) is dropped
    assert M.ranks_within([ranking], two, catalogue, [case])[0] == 2
    one = M.retrieved([retrieve], catalogue, [case], 1)
    assert M.ranks_within([ranking], one, catalogue, [case])[0] == np.inf   # 5 is ahead of the target


def test_the_rating_model_scores_only_the_retrieved_movies(prepared):
    class Counting:
        rows = 0

        def raw_arrays(self, frame):
            return {name: frame[name].to_numpy() for name in frame.columns}

        def pair_ratings(self, arrays):
            Counting.rows += len(arrays[F.MOVIE])
            return arrays[F.MOVIE].astype(float)

    tables = R.Tables(prepared)
    catalogue = M.Catalogue(tables)
    (case,) = M.cases(tables, F.TEST_SPLIT, "pairs", 10, seed=0)
    case.row.update({column(side): "" for column in F.USER_COLUMNS for side in F.SIDES})
    case.row.update({column(side): "1" for column in (F.user, F.age, F.occupation) for side in F.SIDES})
    (got,) = M.model_scores(Counting(), catalogue, [case], [np.array([2, 4])])
    assert Counting.rows == 2 and got[[2, 4]].tolist() == [3.0, 5.0] and np.isnan(got[[0, 1, 3, 5]]).all()


def test_the_ranking_code_version_covers_the_code_the_component_runs():
    from serving import ranking_evaluator as E

    version = E.ranking_code_version()
    assert len(version) == 16 and version == E.ranking_code_version()
    imported = {f"serving/{m}.py" for m in ("ease", "ranking", "recommend")}
    assert imported <= set(E.RANKING_CODE)


def test_many_cases_watch_scores_in_one_product_are_each_cases_own():
    """watch_totals (one sparse product for every case) gives each group what its members'
    scores, computed one by one, sum to: recency and liking weights, repeated and unknown
    movies included."""
    from serving.ease import watch_totals

    rng = np.random.default_rng(4)
    ratings = pd.DataFrame({"user_id": rng.integers(1, 30, 400), "movie_id": rng.integers(1, 60, 400)})
    ease = Ease.fit(ratings, range(1, 61), lam=5.0)
    groups = [[(list(rng.integers(1, 70, n)), list(rng.integers(1, 6, n).astype(float))) for n in sizes]
              for sizes in ([5, 9], [1], [0, 3], [12, 12, 4])]
    for decay, liked in ((1.0, False), (0.9, True)):
        together = watch_totals(ease, groups, decay, liked)
        for row, profiles in zip(together, groups):
            alone = sum((ease.profile(ids, decay, stars if liked else None).astype(np.float64) @ ease.weights
                         for ids, stars in profiles), np.zeros(len(ease.movies)))
            np.testing.assert_allclose(row, alone, rtol=1e-5, atol=1e-6)


def test_the_ease_bound_benchmark_fits_each_bound_on_the_same_eval_cases(prepared):
    """bench/ease_bound.py: every rated movie first, then each bound that leaves some out (a
    bound above the rated movies is the first row again: skipped); eval cases only."""
    from bench import ease_bound

    result = ease_bound.measure(prepared, 1.0, 0.9, [None, 1, 5], rows=10, singles=10, seed=0)
    assert [(r["bound"], r["movies"]) for r in result] == [(None, 2), (1, 1)]     # train rated movies 1 and 6
    assert all(r["pair", "rows"] == r["single", "rows"] == 1 for r in result)
    assert all(0.0 <= r[kind, name] <= 1.0 for r in result for kind in ("pair", "single")
               for name in ("EASE", "EASE with recency"))
    lines = ease_bound.table(prepared, 1.0, 0.9, result)
    assert lines[0].startswith("`hand-made`: lambda 1") and "| 2 (every rated movie) |" in lines[4]
    assert lines[5].startswith("| 1 most rated |")
