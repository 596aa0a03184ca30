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
    """The attention model. The seed's hyperparameters are the defaults."""
    embedding_dim: int = 4          # not in the seed; larger tables overfit (24 lost to the mean)
    embedding_l2: float = 1e-4      # L2 penalty on the id embeddings (users, movies, directors)
    bias_l2: float = 1e-5           # L2 penalty on the explicit user and movie biases
    dense_l2: float = 1e-3          # L2 penalty on the dense layers' kernels
    attention_heads: int = 3
    hidden_units: tuple[int, ...] = (256, 128)
    dropout: float = 0.1
    batch_size: int = 32
    learning_rate: float = 0.01
    epochs: int = 10
    early_stopping_patience: int = 0   # epochs without eval-loss gain before stopping; 0 = off
    seed: int = 42

    @classmethod
    def from_dict(cls, values: dict | None) -> "HParams":
        return from_dict(cls, values, "hparams")


@dataclasses.dataclass(frozen=True)
class BaselineParams:
    """The classical baseline trained beside the attention model on the same split."""
    factors: int = 32
    l2: float = 1e-4
    learning_rate: float = 0.005
    batch_size: int = 256
    epochs: int = 30
    patience: int = 3          # early stopping on the eval split, best weights restored
    seed: int = 42

    @classmethod
    def from_dict(cls, values: dict | None) -> "BaselineParams":
        return from_dict(cls, values, "baseline")
