"""Hyperparameters of both Trainer modules, in one TensorFlow-free module.

The runners, PipelineConfig, the Kubeflow settings and the CLI all read these dataclasses;
unknown keys are refused wherever they come from (a flag, a TOML file, custom_config).
"""

from __future__ import annotations

import dataclasses
from typing import TypeVar

T = TypeVar("T")


def from_dict(cls: type[T], values: dict | None, where: str = "") -> T:
    """cls(**values), refusing keys cls does not have; lists become tuples where cls holds tuples."""
    values = dict(values or {})
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"{where or cls.__name__}: unknown keys {unknown}; known: {sorted(known)}")
    for name, value in values.items():
        if isinstance(value, list):
            values[name] = tuple(value)
    return cls(**values)


@dataclasses.dataclass(frozen=True)
class HParams:
    """The Trainer's two models: the rating model (over the SVD++ baseline: its eval-fitted terms
    and the deep part, served only where the held slice of eval keeps it) and the sequence model
    of what a member watches next. The seed's architecture (3 heads, dense [256, 128], dropout 0.1)
    is kept; its training configuration (Adagrad 0.01, batch 32, 10 epochs, no baseline)
    is `HParams.preset("seed")`, one flag away (--preset seed)."""
    residual: bool = True           # learn the residual over the frozen SVD++ baseline
    recency_on_eval: bool = True    # fit the recency weights on eval (trainer_fn/run.py)
    recent: bool = True             # + the recent-ratings terms (model.recent_features); off: the window only
    # > 0 (with recent): + the neighbourhood term over each member's whole profile and the row's
    # slots, the target's this many nearest movies (trainer_fn/neighbours.py); 0: off (an ablation).
    # K, shrink and alpha chosen on ML-100K's eval rows (K 50/100/300, alpha 0.3/1, shrink
    # 25/100/300: eval RMSE within 0.0002 of each other; alpha 0.3 keeps the weight under 2).
    neighbours: int = 50
    neighbour_shrink: float = 300.0
    neighbour_alpha: float = 0.3
    # > 0 (with recent): + the fold-in term (model.foldin_feature), its ridge penalty. 30 chosen
    # on ML-100K's held eval rows (1/3/10/30: 0.8254/0.8253/0.8249/0.8247); 0: off.
    foldin_l2: float = 30.0
    # > 0 (with recent): + the blend term of a second factor model, ALS-WR with this many factors
    # (trainer_fn/als.py), fitted on the baseline's fit and refit sets; 0: off. Its penalty chosen
    # on ML-100K's held eval rows (0.1/0.15/0.2 with the fold-in term: 0.8230/0.8225/0.8234).
    als_factors: int = 50
    als_l2: float = 0.15
    als_iterations: int = 15
    # > 0: the sequence model of what each member watches next (trainer_fn/sequence.py): causal
    # self-attention (attention_heads heads; 0: a causal mean instead) over each member's last
    # sequence_length rated movies, a full softmax over the movies; 0: no sequence model.
    # 50 chosen on ML-100K eval cases: 100 gave no better eval NDCG@10 (0.0764 against 0.0771)
    # at twice the time an epoch (2026-12-07, bench.sequence has --sequence-length 3 against it).
    sequence_length: int = 50
    sequence_dim: int = 64
    sequence_blocks: int = 2
    sequence_dropout: float = 0.2
    sequence_learning_rate: float = 0.001
    sequence_batch: int = 64        # windows of sequence_length + 1 movies a batch
    sequence_epochs: int = 30
    sequence_patience: int = 3      # epochs without an eval NDCG@10 gain before stopping
    embedding_dim: int = 8
    embedding_l2: float = 1e-4      # L2 penalty on the id embeddings (users, movies, directors)
    bias_l2: float = 1e-5           # L2 penalty on the explicit biases (residual off)
    dense_l2: float = 1e-3          # L2 penalty on the dense layers' kernels
    # heads of both attentions: the rating model's over the window and the sequence model's; 0:
    # no attention anywhere (an ablation: the window slots stay in the input, the sequence model
    # pools its movies by a causal mean)
    attention_heads: int = 3
    # > 0 (with recent and residual): heads of the target movie's attention over each member's
    # recent slots in the deep part (model.attend_recent); 0: the deep part reads the window only.
    # 0 chosen on ML-100K's tune slice of eval (seed 42, bench.origin): 2 heads 0.7761, 0 heads
    # 0.7753; neither beats the start on the held slice (BENCHMARKS.md "rolling origin").
    recent_heads: int = 0
    hidden_units: tuple[int, ...] = (256, 128)
    dropout: float = 0.1
    optimizer: str = "adam"         # adam | adagrad
    batch_size: int = 256
    # Chosen on ML-100K's tune slice of eval with the deep part trained after the rolling origin
    # (seed 42, the best epoch, bench.origin): 1e-4 gave 0.7753, 3e-4 0.7774 (it overfits the 29k
    # rows after one epoch).
    learning_rate: float = 0.0001
    epochs: int = 10
    early_stopping_patience: int = 2   # epochs without eval-loss gain before stopping; 0 = off
    # the deep part is kept only when the 95% interval of its RMSE difference with the start on
    # the held slice of eval (rows of 1 movie in 4, which neither early stopping nor the recency
    # weights read; users and movies resampled, as the gate does) ends below minus this
    keep_margin: float = 0.0
    # > 0: then tune the deep part (id embeddings frozen) on the later period, the eval rows of
    # 3 movies in 4, for up to this many epochs, early stopped and judged on the other movies' rows
    # (run.tune_on_later_period); 0: off.
    tune_epochs: int = 0
    seed: int = 42

    def __post_init__(self):
        if self.optimizer not in ("adam", "adagrad"):
            raise ValueError(f"optimizer must be adam or adagrad, got {self.optimizer!r}")

    @classmethod
    def preset(cls, name: str, **overrides) -> "HParams":
        """'default' (measured, see BENCHMARKS.md) or 'seed' (the spec's training setup)."""
        presets = {"default": {}, "seed": dict(residual=False, embedding_dim=4, optimizer="adagrad",
                                               batch_size=32, learning_rate=0.01, epochs=10,
                                               early_stopping_patience=0, sequence_length=0)}
        if name not in presets:
            raise ValueError(f"unknown preset {name!r}; known: {sorted(presets)}")
        return cls.from_dict({**presets[name], **overrides})

    @classmethod
    def from_dict(cls, values: dict | None) -> "HParams":
        return from_dict(cls, values, "hparams")


BASELINE_KINDS = ("svdpp", "mf", "biases")


@dataclasses.dataclass(frozen=True)
class BaselineParams:
    """The classical baseline trained beside the rating model on the same split.

    kind: "svdpp" (biases, factors and each user's implicit feedback: the strong default),
    "mf" (biased matrix factorisation, Funk SVD) or "biases" (mu + b_u + b_i).
    The defaults are scikit-surprise's SVD++ objective and step (20 factors, lambda 0.02).
    """
    kind: str = "svdpp"
    refit: bool = True         # then refitted on train + eval for the epochs chosen on eval
    recency: bool = True       # plus w . the row's mean residuals (its members' readable ratings, the
                               # movie's recent raters), w fitted on eval (baseline/run.py)
    factors: int = 20
    l2: float = 0.02
    # init_std, epochs and patience chosen on the eval split's rating RMSE (the train-only fit):
    # init 0.1 (scikit-surprise's), 30 epochs, patience 3 gave 0.9491 on ML-100K and 0.9998 on the
    # default data; init 0.02, 60 epochs, patience 6 gives 0.9379 and 0.9790 (l2 0.05: 0.9399;
    # init 0.01: 0.9377; Adam 0.001 / 0.003: 0.9483 / 0.9489 on ML-100K).
    init_std: float = 0.02
    # Plain SGD on the batch-mean loss, as scikit-surprise's per-rating SGD: its step 0.007
    # (on half the squared error) times the batch of 2048 over 2 (on the squared error).
    # First chosen in an earlier round on the test split (against the rule); re-chosen on eval
    # with init 0.02: this SGD 0.9379 against Adam's 0.9483-0.9489 (ML-100K eval ratings).
    optimizer: str = "sgd"     # sgd | adam
    learning_rate: float = 7.168
    batch_size: int = 2048
    # SVD++: batches made of runs of up to user_run ratings of one user (svdpp.py _epoch_order),
    # so that each user's implicit sum is computed once per batch, not once per rating; 0 (and
    # always for mf and biases): batches of ratings in random order.
    user_run: int = 32
    epochs: int = 60
    patience: int = 6          # early stopping on the eval split's RMSE, best epoch kept
    seed: int = 42

    def __post_init__(self):
        if self.kind not in BASELINE_KINDS:
            raise ValueError(f"baseline kind must be one of {BASELINE_KINDS}, got {self.kind!r}")
        if self.optimizer not in ("sgd", "adam"):
            raise ValueError(f"baseline optimizer must be sgd or adam, got {self.optimizer!r}")

    @property
    def implicit(self) -> bool:
        return self.kind == "svdpp"

    @property
    def uses_factors(self) -> bool:
        return self.kind != "biases" and self.factors > 0

    @classmethod
    def from_dict(cls, values: dict | None) -> "BaselineParams":
        return from_dict(cls, values, "baseline")
