"""The two-user model on hand-made inputs: symmetry in A and B, and masked padding."""

import numpy as np
import pytest
import tensorflow as tf

from trainer_fn.hparams import HParams
from trainer_fn.model import build_model, explaining_model
from trainer_fn.baseline.svdpp import FactorTables
from transform_fn import features as F

SIZES = {F.USER_VOCAB: 20, F.MOVIE_VOCAB: 30, F.SEX_VOCAB: 2, F.AGE_VOCAB: 7, F.OCCUPATION_VOCAB: 21,
         F.GENRE_VOCAB: 18, F.DIRECTOR_VOCAB: 5, F.ACTOR_VOCAB: 9}


def _tables(seed=0, factors=5):
    rng = np.random.default_rng(seed)
    users, movies = F.embedding_rows(SIZES[F.USER_VOCAB]), F.embedding_rows(SIZES[F.MOVIE_VOCAB])
    return FactorTables(mu=3.6, user_bias=rng.normal(0, 0.3, users), movie_bias=rng.normal(0, 0.3, movies),
                        user_vectors=rng.normal(0, 0.3, (users, factors)),
                        movie_vectors=rng.normal(0, 0.3, (movies, factors)))


def _untrained(residual: bool):
    tf.keras.utils.set_random_seed(0)
    return build_model(SIZES, HParams(embedding_dim=8, residual=residual), label_mean=3.5,
                       baseline=_tables() if residual else None)


@pytest.fixture(scope="module", params=[True, False], ids=["residual", "seed-style"])
def model(request):
    """A model whose deep output is not zero (as after training), so every input can matter."""
    m = _untrained(request.param)
    layer = m.get_layer("deep_rating")
    kernel, bias = layer.get_weights()
    layer.set_weights([np.random.default_rng(1).normal(0, 0.5, kernel.shape), bias])
    return m


def _inputs(rng, n=16, padded_slots=1):
    x = {}
    for side in F.SIDES:
        x[F.USER_IDX.format(side=side)] = rng.integers(1, 20, n)
        x[F.SEX_IDX.format(side=side)] = rng.integers(1, 3, n)
        x[F.AGE_IDX.format(side=side)] = rng.integers(1, 8, n)
        x[F.OCCUPATION_IDX.format(side=side)] = rng.integers(1, 22, n)
        mask = np.ones((n, F.HISTORY_LENGTH), np.float32)
        mask[:, :padded_slots] = 0.0
        x[F.HIST_MASK.format(side=side)] = mask
        x[F.HIST_IDX.format(side=side)] = (rng.integers(1, 30, (n, F.HISTORY_LENGTH)) * mask).astype(np.int64)
        x[F.HIST_RATING.format(side=side)] = (rng.integers(1, 6, (n, F.HISTORY_LENGTH)) * mask).astype(np.float32)
        recent = (np.arange(F.RECENT_LENGTH)[None, :] >= rng.integers(0, F.RECENT_LENGTH + 1, (n, 1))).astype(np.float32)
        x[F.RECENT_MASK.format(side=side)] = recent
        x[F.RECENT_IDX.format(side=side)] = (rng.integers(1, 30, (n, F.RECENT_LENGTH)) * recent).astype(np.int64)
        x[F.RECENT_RATING.format(side=side)] = (rng.integers(1, 6, (n, F.RECENT_LENGTH)) * recent).astype(np.float32)
    raters = (np.arange(F.RECENT_LENGTH)[None, :] >= rng.integers(0, F.RECENT_LENGTH + 1, (n, 1))).astype(np.float32)
    x[F.RATER_MASK] = raters
    x[F.RATER_IDX] = (rng.integers(1, 20, (n, F.RECENT_LENGTH)) * raters).astype(np.int64)
    x[F.RATER_RATING] = (rng.integers(1, 6, (n, F.RECENT_LENGTH)) * raters).astype(np.float32)
    x[F.MOVIE_IDX] = rng.integers(1, 30, n)
    x[F.DIRECTOR_IDX] = rng.integers(0, 5, n)
    x[F.GENRE_IDX] = rng.integers(0, 18, (n, F.MAX_GENRES))
    x[F.ACTOR_IDX] = rng.integers(0, 9, (n, F.MAX_ACTORS))
    for name in (F.YEAR_Z, F.RUNTIME_Z, F.RUNTIME_KNOWN, F.IMDB_RATING_Z, F.IMDB_VOTES_Z, F.IMDB_KNOWN):
        x[name] = rng.normal(size=n).astype(np.float32)
    return x


def _swapped(x):
    out = dict(x)
    for name in (F.USER_IDX, F.SEX_IDX, F.AGE_IDX, F.OCCUPATION_IDX, F.HIST_IDX, F.HIST_RATING, F.HIST_MASK,
                 F.RECENT_IDX, F.RECENT_RATING, F.RECENT_MASK):
        out[name.format(side="a")], out[name.format(side="b")] = x[name.format(side="b")], x[name.format(side="a")]
    return out


def test_prediction_for_a_b_equals_b_a(model):
    x = _inputs(np.random.default_rng(1))
    np.testing.assert_allclose(model(x, training=False), model(_swapped(x), training=False), atol=1e-5)


def test_padded_history_slots_do_not_change_the_prediction(model):
    x = _inputs(np.random.default_rng(2), padded_slots=2)
    _only_real_slots_matter(model, x, F.HIST_IDX, F.HIST_RATING, padded=2)


def _only_real_slots_matter(model, x, idx_name: str, rating_name: str, padded: int) -> None:
    """What sits in the first `padded` (masked) slots of both members changes nothing, while a
    real slot's stars do."""
    noisy = dict(x)
    for side in F.SIDES:
        idx, rating = x[idx_name.format(side=side)].copy(), x[rating_name.format(side=side)].copy()
        idx[:, :padded], rating[:, :padded] = 7, 5.0
        noisy[idx_name.format(side=side)], noisy[rating_name.format(side=side)] = idx, rating
    np.testing.assert_allclose(model(x, training=False), model(noisy, training=False), atol=1e-5)
    changed = dict(x)
    last = x[rating_name.format(side="a")].copy()
    last[:, -1] = 6.0 - last[:, -1]
    changed[rating_name.format(side="a")] = last
    assert not np.allclose(model(x, training=False), model(changed, training=False), atol=1e-5)


def test_before_training_the_residual_model_is_exactly_the_baseline():
    x = _inputs(np.random.default_rng(3))
    tables = _tables()
    members = [tables.predict(x[F.USER_IDX.format(side=s)], x[F.MOVIE_IDX]) for s in F.SIDES]
    np.testing.assert_allclose(_untrained(True)(x, training=False), (members[0] + members[1]) / 2, atol=1e-5)


def test_the_baseline_tables_stay_frozen():
    m = _untrained(True)
    frozen = {w.name for w in m.non_trainable_weights}
    assert {n for n in frozen if n.startswith("baseline_")} and not any(
        w.name.startswith("baseline_") for w in m.trainable_weights)


def test_the_explaining_model_shares_the_layers_and_exposes_the_attention(model):
    x = _inputs(np.random.default_rng(4), padded_slots=1)
    explain = explaining_model(model)
    out = explain(x, training=False)
    assert len(model.outputs) == 1      # the training model keeps its single output
    np.testing.assert_allclose(out["rating"], model(x, training=False), atol=1e-6)
    for side in F.SIDES:
        weights = out[f"{side}_attention"].numpy()
        assert weights.shape == (16, F.HISTORY_LENGTH)
        np.testing.assert_allclose(weights[:, 0], 0.0, atol=1e-6)       # the padded slot
        assert (weights[:, 1:] > 0).all() and (weights.sum(axis=1) <= 1 + 1e-5).all()
    swapped = explain(_swapped(x), training=False)
    np.testing.assert_allclose(swapped["a_attention"], out["b_attention"], atol=1e-6)


def test_attention_off_is_an_ablation_without_the_attention_layer():
    tf.keras.utils.set_random_seed(0)
    m = build_model(SIZES, HParams(embedding_dim=8, attention_heads=0), label_mean=3.5, baseline=_tables())
    assert explaining_model(m) is None
    assert "history_attention" not in [layer.name for layer in m.layers]
    x = _inputs(np.random.default_rng(0))
    np.testing.assert_allclose(m(x, training=False).numpy(), m(_swapped(x), training=False).numpy(), atol=1e-5)


def _baseline(t: FactorTables, users, movies):
    r = t.mu + t.user_bias[users] + t.movie_bias[movies] + np.sum(t.user_vectors[users] * t.movie_vectors[movies], -1)
    return np.clip(r, F.RATING_MIN, F.RATING_MAX)


def test_the_recent_terms_are_the_residuals_of_the_ratings_the_baseline_has_not_seen():
    """Each recency weight alone: the members' recent residuals weighted by each movie's
    similarity to the target, the movie's recent raters; padded slots add nothing. The plain
    drift over the recent ratings is no term (the weight vector is the window's drift, these
    two and the fold-in)."""
    from trainer_fn.model import RECENCY_LAYER

    tables = _tables()
    m = _untrained(residual=True)
    x = _inputs(np.random.default_rng(3))
    users = {s: x[F.USER_IDX.format(side=s)] for s in F.SIDES}
    start = (_baseline(tables, users["a"], x[F.MOVIE_IDX]) + _baseline(tables, users["b"], x[F.MOVIE_IDX])) / 2
    layer = m.get_layer(RECENCY_LAYER)
    assert layer.get_weights()[0].shape == (4, 1)      # + the fold-in term (index 3)
    np.testing.assert_allclose(m(x, training=False).numpy(), start, atol=1e-4)   # weights 0: the baseline
    similar = []
    for s in F.SIDES:
        movies, mask = x[F.RECENT_IDX.format(side=s)], x[F.RECENT_MASK.format(side=s)]
        res = (x[F.RECENT_RATING.format(side=s)] - _baseline(tables, users[s][:, None], movies)) * mask
        q = tables.movie_vectors / np.linalg.norm(tables.movie_vectors, axis=-1, keepdims=True)
        w = np.maximum(np.sum(q[movies] * q[x[F.MOVIE_IDX]][:, None], -1), 0) ** 2 * mask
        similar.append((w * res).sum(-1) / (w.sum(-1) + 0.5))
    raters, mask = x[F.RATER_IDX], x[F.RATER_MASK]
    received = ((x[F.RATER_RATING] - _baseline(tables, raters, x[F.MOVIE_IDX][:, None])) * mask).sum(-1) / (mask.sum(-1) + 5)
    for k, term in ((1, (similar[0] + similar[1]) / 2), (2, received)):
        weights = np.zeros((4, 1), np.float32)
        weights[k] = 1.0
        layer.set_weights([weights])
        np.testing.assert_allclose(m(x, training=False).numpy(), start + term, atol=1e-4, err_msg=str(k))
    assert np.abs(received).max() > 0.1 and np.abs(similar[0]).max() > 0.05
    layer.set_weights([np.ones((4, 1), np.float32)])
    padded = dict(x)
    for name in (F.RATER_IDX, F.RATER_RATING):
        padded[name] = np.where(x[F.RATER_MASK] > 0, x[name], 7).astype(x[name].dtype)   # junk under the mask
    np.testing.assert_allclose(m(padded, training=False).numpy(), m(x, training=False).numpy(), atol=1e-5)


def _foldin(tables: FactorTables, x, l2: float) -> np.ndarray:
    """The fold-in term by numpy: each member's ridge regression of the readable slots' residuals
    on [q_j, 1], a window slot that is also recent counted once."""
    out = []
    for s in F.SIDES:
        user = x[F.USER_IDX.format(side=s)]
        hist, recent = x[F.HIST_IDX.format(side=s)], x[F.RECENT_IDX.format(side=s)]
        rec_mask = x[F.RECENT_MASK.format(side=s)]
        term = np.zeros(len(user))
        for row in range(len(user)):
            slots = [(hist[row, k], x[F.HIST_RATING.format(side=s)][row, k]) for k in range(F.HISTORY_LENGTH)
                     if x[F.HIST_MASK.format(side=s)][row, k] > 0
                     and not any(recent[row, j] == hist[row, k] and rec_mask[row, j] > 0 for j in range(F.RECENT_LENGTH))]
            slots += [(recent[row, j], x[F.RECENT_RATING.format(side=s)][row, j]) for j in range(F.RECENT_LENGTH)
                      if rec_mask[row, j] > 0]
            design = np.array([np.r_[tables.movie_vectors[m], 1.0] for m, _ in slots]).reshape(len(slots), -1)
            e = np.array([r - _baseline(tables, user[row], m) for m, r in slots])
            d = np.linalg.solve(design.T @ design + l2 * np.eye(design.shape[1]), design.T @ e) if slots else 0.0
            term[row] = np.r_[tables.movie_vectors[x[F.MOVIE_IDX][row]], 1.0] @ d if slots else 0.0
        out.append(term)
    return (out[0] + out[1]) / 2


def test_the_foldin_term_is_each_members_ridge_update_from_their_readable_ratings():
    from trainer_fn.model import RECENCY_LAYER

    tables = _tables()
    x = _inputs(np.random.default_rng(5))
    x[F.RECENT_IDX.format(side="a")][:, -1] = x[F.HIST_IDX.format(side="a")][:, -1]   # one rating in both
    tf.keras.utils.set_random_seed(0)
    m = build_model(SIZES, HParams(embedding_dim=8, foldin_l2=2.0), label_mean=3.5, baseline=tables)
    users = {s: x[F.USER_IDX.format(side=s)] for s in F.SIDES}
    start = (_baseline(tables, users["a"], x[F.MOVIE_IDX]) + _baseline(tables, users["b"], x[F.MOVIE_IDX])) / 2
    weights = np.zeros((4, 1), np.float32)
    weights[3] = 1.0
    m.get_layer(RECENCY_LAYER).set_weights([weights])
    expected = _foldin(tables, x, 2.0)
    assert np.abs(expected).max() > 0.05
    np.testing.assert_allclose(m(x, training=False).numpy(), start + expected, atol=1e-4)
    np.testing.assert_allclose(m(_swapped(x), training=False).numpy(), m(x, training=False).numpy(), atol=1e-5)
    off = build_model(SIZES, HParams(embedding_dim=8, foldin_l2=0.0), label_mean=3.5, baseline=tables)
    assert off.get_layer(RECENCY_LAYER).get_weights()[0].shape == (3, 1)


def test_the_second_model_term_is_its_pair_prediction_minus_the_baselines():
    from trainer_fn.model import RECENCY_LAYER

    tables, second = _tables(), _tables(seed=7, factors=3)
    x = _inputs(np.random.default_rng(6))
    tf.keras.utils.set_random_seed(0)
    m = build_model(SIZES, HParams(embedding_dim=8, foldin_l2=0.0), label_mean=3.5, baseline=tables, second=second)
    weights = np.zeros((4, 1), np.float32)
    weights[3] = 1.0
    m.get_layer(RECENCY_LAYER).set_weights([weights])
    a, b, movie = x[F.USER_IDX.format(side="a")], x[F.USER_IDX.format(side="b")], x[F.MOVIE_IDX]
    # the weight 1 on (second - baseline) leaves the second model's own pair prediction
    np.testing.assert_allclose(m(x, training=False).numpy(),
                               (_baseline(second, a, movie) + _baseline(second, b, movie)) / 2, atol=1e-4)
    assert {w.name.split("/")[0] for w in m.non_trainable_weights} >= {
        "second_user_bias", "second_movie_bias", "second_user_vectors", "second_movie_vectors"}


def test_a_deep_part_that_is_not_kept_is_not_served():
    """served_model without the deep part: the same rating as the model with its deep output at
    zero, and none of the attention towers or dense layers in the graph."""
    from trainer_fn.model import served_model

    m = _untrained(True)                                  # the deep output is zero as built
    x = _inputs(np.random.default_rng(4))
    start = served_model(m, deep_kept=False)
    np.testing.assert_allclose(start(x, training=False), m(x, training=False), atol=1e-6)
    names = {layer.name for layer in start.layers}
    assert "deep_rating" not in names and not any(n.startswith(("dense_", "history_attention")) for n in names)
    assert served_model(m, deep_kept=True) is m


def test_the_deep_part_is_kept_only_when_its_interval_on_the_held_slice_is_below_the_start():
    from trainer_fn.run import keep_decision

    rng = np.random.default_rng(5)
    x = _inputs(rng, n=256)
    m = _untrained(True)
    target = m(x, training=False).numpy()
    data = tf.data.Dataset.from_tensor_slices((x, target)).batch(256)
    layer = m.get_layer("deep_rating")
    kernel, bias = layer.get_weights()
    layer.set_weights([rng.normal(0, 0.5, kernel.shape), bias + 1.0])     # a deep part that only hurts
    hp = HParams(embedding_dim=8, recency_on_eval=False)
    decision = keep_decision(m, data, x, target, hp)
    assert not decision["kept"] and decision["held_eval_rmse_start"] < 1e-5 < decision["held_eval_rmse_trained"]
    np.testing.assert_allclose(m(x, training=False), target, atol=1e-5)     # left as the start
    helpful = target + 0.5 + rng.normal(0, 0.1, len(target))    # the labels sit 0.5 above the start...
    layer.set_weights([np.zeros_like(kernel), bias + 0.5])                # ...and the deep part adds 0.5
    data = tf.data.Dataset.from_tensor_slices((x, helpful)).batch(256)
    decision = keep_decision(m, data, x, helpful, hp)
    assert decision["kept"] and decision["interval"][1] < 0 and decision["held_eval_rmse_trained"] < 0.15
    # a gain the interval cannot tell from noise is not kept: labels scattered around both arms
    noisy = target + 0.25 + rng.normal(0, 1.0, len(target))
    layer.set_weights([np.zeros_like(kernel), bias + 0.5])
    decision = keep_decision(m, tf.data.Dataset.from_tensor_slices((x, noisy)).batch(256), x, noisy, hp)
    assert decision["interval"][0] < 0 < decision["interval"][1] and not decision["kept"]


def test_the_recency_weights_are_fitted_afresh_each_time():
    """fit_recency_weight twice on the same rows gives the same weights: each fit reads the
    model's error without the weights of the last one."""
    from trainer_fn.model import RECENCY_LAYER
    from trainer_fn.run import fit_recency_weight

    rng = np.random.default_rng(6)
    x = _inputs(rng, n=64)
    m = _untrained(True)
    layer = m.get_layer(RECENCY_LAYER)
    features = tf.keras.Model(m.inputs, layer.input)(x, training=False).numpy().reshape(64, -1)
    truth = np.linspace(0.1, 0.5, features.shape[1])
    y = m(x, training=False).numpy() + features @ truth
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(64)
    first = fit_recency_weight(m, data)
    second = fit_recency_weight(m, data)
    np.testing.assert_allclose(first, second, atol=1e-5)
    assert np.abs(m(x, training=False).numpy() - y).max() < 1e-3


def test_recency_weights_with_no_term_or_no_row_are_empty_or_zero():
    """term_ablation leaving out the only term (--no-recent keeps one) asks for the weights of
    no term: zeros of no length, where scipy's nnls would abort the process."""
    from trainer_fn.run import recency_weights

    assert recency_weights(np.zeros((100, 0)), np.ones(100)).shape == (0,)
    np.testing.assert_array_equal(recency_weights(np.zeros((0, 3)), np.zeros(0)), np.zeros(3))
    x = np.column_stack([np.ones(50), np.arange(50.0)])
    np.testing.assert_allclose(recency_weights(x, x @ np.array([0.5, 0.01])), [0.5, 0.01], atol=1e-9)


def test_each_hand_made_term_is_judged_on_the_held_slice_with_weights_refitted_without_it():
    """term_ablation: a term the labels follow shows a held RMSE gain with an interval above 0;
    a term they ignore shows none; the names follow the layer, and the model is left as it was."""
    from trainer_fn.model import RECENCY_LAYER, recency_term_names
    from trainer_fn.run import term_ablation

    rng = np.random.default_rng(9)
    x = _inputs(rng, n=600)
    m = _untrained(True)
    hp = HParams(embedding_dim=8)
    names = recency_term_names(hp, neighbourhood=False, second=False)
    assert names == ["window drift", "recent like the target", "the movie's recent raters", "fold-in"]
    features = tf.keras.Model(m.inputs, m.get_layer(RECENCY_LAYER).input)(x, training=False).numpy().reshape(600, -1)
    truth = np.array([0.0, 0.0, 1.0, 0.0])             # the labels follow the movie's recent raters only
    y = (m(x, training=False).numpy() + features @ truth + rng.normal(0, 0.05, 600)).astype(np.float32)
    before = m(x, training=False).numpy()
    tune = tf.data.Dataset.from_tensor_slices(({k: v[:400] for k, v in x.items()}, y[:400])).batch(128)
    out = term_ablation(m, tune, {k: v[400:] for k, v in x.items()}, y[400:], names, seed=0)
    np.testing.assert_allclose(m(x, training=False).numpy(), before)
    assert out["held_rows"] == 200 and list(out["terms"]) == names
    raters = out["terms"]["the movie's recent raters"]
    assert raters["weight_on_tune"] > 0.8 and raters["difference"] > 0.05 and raters["interval"][0] > 0
    assert abs(out["terms"]["window drift"]["difference"]) < 0.01
    assert out["held_rmse_with_all"] < 0.07
    with pytest.raises(ValueError, match="terms"):
        term_ablation(m, tune, {k: v[400:] for k, v in x.items()}, y[400:], names[:-1], seed=0)


def test_the_deep_part_reads_the_recent_slots_through_its_attention_and_ignores_padded_ones():
    """The target's learned attention over each member's recent slots (model.attend_recent):
    what sits in a padded recent slot changes nothing, a real one changes the deep output, and
    with --recent-heads 0 the layer is not built."""
    from trainer_fn.model import RECENT_ATTENTION_LAYER

    tf.keras.utils.set_random_seed(0)
    m = build_model(SIZES, HParams(embedding_dim=8, recent_heads=2), label_mean=3.5, baseline=_tables())
    layer = m.get_layer("deep_rating")
    kernel, bias = layer.get_weights()
    layer.set_weights([np.random.default_rng(1).normal(0, 0.5, kernel.shape), bias])
    x = _inputs(np.random.default_rng(8))
    for side in F.SIDES:
        mask = np.ones((16, F.RECENT_LENGTH), np.float32)
        mask[:, :5] = 0.0
        x[F.RECENT_MASK.format(side=side)] = mask
    # the recent-ratings terms have zero weight as built: only the deep part reads the slots here
    _only_real_slots_matter(m, x, F.RECENT_IDX, F.RECENT_RATING, padded=5)
    np.testing.assert_allclose(m(x, training=False), m(_swapped(x), training=False), atol=1e-5)
    assert RECENT_ATTENTION_LAYER in {layer.name for layer in m.layers}
    tf.keras.utils.set_random_seed(0)
    off = build_model(SIZES, HParams(embedding_dim=8, recent_heads=0), label_mean=3.5, baseline=_tables())
    assert RECENT_ATTENTION_LAYER not in {layer.name for layer in off.layers}


def test_the_deep_part_learns_over_the_early_fit_and_is_judged_over_the_train_fit():
    """run.install swaps every frozen part (the baseline's tables, the second factor model's, the
    neighbourhood's) between fit sets; ScoredOver puts the train fit in for validation only;
    is_late picks the train rows whose target is after the rolling origin."""
    from trainer_fn.baseline.svdpp import Ratings
    from trainer_fn.run import FrozenParts, ScoredOver, install, is_late

    m = _untrained(True)
    x = _inputs(np.random.default_rng(9))
    built, early = FrozenParts(_tables(0)), FrozenParts(_tables(7))
    before = m(x, training=False).numpy()
    install(m, built, early)
    over_early = m(x, training=False).numpy()
    assert not np.allclose(before, over_early, atol=1e-4)
    tf.keras.utils.set_random_seed(0)
    rebuilt = build_model(SIZES, HParams(embedding_dim=8), label_mean=3.5, baseline=_tables(7))
    np.testing.assert_allclose(over_early, rebuilt(x, training=False), atol=1e-4)   # as if built over it
    callback = ScoredOver(built, early, built)
    callback.set_model(m)
    callback.on_test_begin()
    np.testing.assert_allclose(m(x, training=False), before, atol=1e-5)
    callback.on_test_end()
    np.testing.assert_allclose(m(x, training=False), over_early, atol=1e-5)
    install(m, built, built)
    np.testing.assert_allclose(m(x, training=False), before, atol=1e-5)

    late = Ratings(np.array([3, 5]), np.array([4, 9]), np.array([4.0, 2.0], np.float32))
    data = {F.USER_IDX.format(side="a"): np.array([3, 3, 5, 6]), F.MOVIE_IDX: np.array([4, 9, 9, 9]),
            "other": np.arange(4)}
    keep = is_late(data, late)
    assert data["other"][keep].tolist() == [0, 2] and np.arange(4.0)[keep].tolist() == [0.0, 2.0]
