"""The sequence model of what each member watches next (trainer_fn/sequence.py) and the data it
reads (trainer_fn/known_ratings.py read_sequences): causal, trained on every position, early
stopped on eval cases whose history ends before the target's second, never a test rating."""

import numpy as np
import tensorflow as tf

from tests.test_known_ratings import Vocabularies, _write
from trainer_fn import sequence as seq
from trainer_fn.hparams import HParams
from trainer_fn.known_ratings import read_sequences

HP = HParams(sequence_length=6, sequence_dim=16, sequence_blocks=1, attention_heads=2, sequence_dropout=0.0,
             sequence_learning_rate=0.01, sequence_batch=16, sequence_epochs=25, sequence_patience=25)


def test_a_position_reads_only_the_movies_before_it():
    model = seq.build(20, HP)
    x = np.array([[0, 0, 3, 4, 5, 6]])
    changed = x.copy()
    changed[0, -1] = 9                            # the newest movie only
    a, b = model(tf.constant(x)).numpy(), model(tf.constant(changed)).numpy()
    np.testing.assert_allclose(a[0, :-1], b[0, :-1], atol=1e-5)
    assert np.abs(a[0, -1] - b[0, -1]).max() > 1e-4
    assert (a[0, -1, [0, 19]] <= -1e8).all()      # padding and the out-of-vocabulary row are never predicted


def test_windows_make_every_item_but_the_first_a_target_each_epoch():
    sequences = [np.arange(1, 16), np.array([4, 5]), np.array([99])]
    cut = seq.windows(sequences, 6, np.random.default_rng(3))
    assert cut.shape[1] == 7
    targets = {(int(w[i]), int(w[i + 1])) for w in cut for i in range(6) if w[i] > 0}
    assert {(i, i + 1) for i in range(1, 15)} | {(4, 5)} <= targets
    assert not any(99 in w for w in cut)           # a one-movie sequence has no target


def _cycle_data(users=40, movies=12, length=30, seed=0):
    """Every user walks the cycle 1 -> 2 -> ... -> movies -> 1 from a random start: the next
    movie is the one after the last."""
    rng = np.random.default_rng(seed)
    sequences, histories, targets = [], [], []
    for _ in range(users):
        start = rng.integers(0, movies)
        walk = (start + np.arange(length + 1)) % movies + 1
        sequences.append(walk[:length])
        histories.append(walk[:length][-4:])
        targets.append(walk[length])
    return sequences, seq.Cases(histories, np.array(targets), [set() for _ in targets])


def test_training_learns_what_comes_next_and_keeps_the_best_epoch():
    sequences, cases = _cycle_data()
    untrained = seq.ndcg(seq.ranks(seq.build(14, HP), cases))
    model, history = seq.fit(sequences, cases, 14, HP, log=lambda line: None)
    assert history["best_eval_ndcg"] > 0.9 > untrained
    assert seq.ndcg(seq.ranks(model, cases)) == history["best_eval_ndcg"]
    assert history["loss"][-1] < history["loss"][0]


def test_the_causal_mean_ablation_trains_too_and_a_seen_movie_is_never_ranked():
    sequences, cases = _cycle_data()
    model, history = seq.fit(sequences, cases, 14, HParams(**{**HP.__dict__, "attention_heads": 0}),
                             log=lambda line: None)
    assert not any(isinstance(layer, tf.keras.layers.MultiHeadAttention) for layer in model.submodules)
    assert len(history["loss"]) >= 2 and history["loss"][-1] < history["loss"][0]
    blocked = seq.Cases(cases.histories, cases.targets, [set(range(1, 13)) - {int(t)} for t in cases.targets])
    assert (seq.ranks(model, blocked) == 1).all()  # every other movie seen: the target comes first


def test_sequences_read_train_only_and_cases_read_before_the_targets_second(tmp_path):
    text = """user_id,movie_id,rating,timestamp,split
7,60,5,100,train
7,50,4,100,train
7,70,2,150,train
7,50,4,200,eval
7,60,4,300,eval
7,70,5,300,eval
7,90,5,350,eval
7,80,5,400,test
9,70,4,90,train
"""
    sequences, cases = read_sequences(_write(tmp_path, text), Vocabularies(), cases_per_user=5)
    # movie 50 -> 1, 60 -> 2, 70 -> 3, others -> 4 (OOV); same second: by movie id
    assert [list(s) for s in sequences] == [[1, 2, 3], [3]]
    assert len(cases.targets) == 3
    assert list(cases.targets) == [1, 2, 3]          # eval ratings >= 4 of user 7; none of the test split
    # (an eval target outside the vocabulary, movie 90 below, is no case: the model cannot name it)
    assert [list(h) for h in cases.histories] == [[1, 2, 3], [1, 2, 3, 1], [1, 2, 3, 1]]
    assert cases.seen[1] == {1, 2, 3}                # 70 at the same second is neither history nor seen


def test_a_target_outside_the_vocabulary_adds_no_loss():
    """A train movie no Transform row named sits in the out-of-vocabulary row, whose logit is
    -1e9: as a target it would add 1e9 to the loss and nothing to learn."""
    sequences = [np.array([1, 2, 13, 3, 4, 5])] * 8        # 13: the out-of-vocabulary row of 14
    cases = seq.Cases([np.array([1, 2])], np.array([3]), [set()])
    _, history = seq.fit(sequences, cases, 14, HParams(**{**HP.__dict__, "sequence_epochs": 2}),
                         log=lambda line: None)
    assert all(loss < 10 for loss in history["loss"])


def test_the_loss_on_real_positions_only_equals_every_positions_loss_masked():
    """next_movie_loss computes logits at the positions with a real movie in and out only; it is
    the same number as the full logits' cross-entropy with padding and out-of-vocabulary
    targets masked, so that skipping them changes the time of a step, not the model."""
    model = seq.build(14, HP)
    window = np.array([[0, 0, 0, 1, 2, 3, 4],         # padding first
                       [5, 6, 13, 7, 8, 9, 10],       # 13: the out-of-vocabulary row, in and out
                       [0, 0, 0, 0, 0, 0, 11]])       # no target at all
    inputs, targets = window[:, :-1], window[:, 1:]
    logits = model(tf.constant(inputs)).numpy().astype(np.float64)
    log_p = logits - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1, keepdims=True)) \
        - logits.max(-1, keepdims=True)
    mask = (inputs > 0) & (targets > 0) & (targets < 13)
    expected = -np.take_along_axis(log_p, targets[..., None], -1)[..., 0][mask].mean()
    assert mask.sum() == 3 + 5                      # an out-of-vocabulary movie in is still read
    np.testing.assert_allclose(float(seq.next_movie_loss(model, tf.constant(window))), expected, rtol=1e-5)
    assert float(seq.next_movie_loss(model, tf.constant(window[2:]))) == 0.0   # nothing to predict: no NaN


def test_the_next_movie_after_the_whole_sequence_is_the_last_positions_of_every_position():
    """last_log_probabilities computes the last block at the last position only: the same
    log-probabilities as the last position of the full forward pass, with attention and with
    the causal mean, for full, padded and empty histories."""
    seqs = tf.constant([[3, 4, 5, 6, 7, 8], [0, 0, 0, 2, 9, 4], [0, 0, 0, 0, 0, 0]])
    for heads in (2, 0):
        model = seq.build(20, HParams(**{**HP.__dict__, "sequence_blocks": 2, "attention_heads": heads}))
        full = tf.nn.log_softmax(model(seqs)[:, -1, :]).numpy()
        np.testing.assert_allclose(model.last_log_probabilities(seqs).numpy(), full, atol=1e-4)
