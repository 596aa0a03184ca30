"""The report's PNG plots (matplotlib, no display). Each returns the file name it wrote."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _save(fig, out_dir: Path, name: str) -> str:
    fig.tight_layout()
    fig.savefig(out_dir / name, dpi=90)
    plt.close(fig)
    return name


def predicted_vs_actual(labels: np.ndarray, predicted: np.ndarray, out_dir: Path) -> str:
    """Box plot of predictions for each label value (labels are means of two ratings)."""
    values = np.unique(labels)
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.boxplot([predicted[labels == v] for v in values], positions=values, widths=0.35, showfliers=False)
    ax.plot([1, 5], [1, 5], "--", color="grey", label="perfect")
    ax.set_xlim(0.6, 5.4)
    ax.set_xlabel("actual pair rating (label)")
    ax.set_ylabel("predicted")
    ax.set_title(f"Test split: predicted vs actual ({len(labels):,} pairs)")
    ax.legend(loc="upper left")
    return _save(fig, out_dir, "predicted_vs_actual.png")


def residuals(labels: np.ndarray, predicted: np.ndarray, out_dir: Path) -> str:
    error = predicted - labels
    fig, ax = plt.subplots(figsize=(6.5, 3.5))
    ax.hist(error, bins=40, color="#4c72b0")
    ax.axvline(0, color="black", linewidth=1)
    ax.set_xlabel("prediction - label")
    ax.set_ylabel("pairs")
    ax.set_title(f"Residuals: mean {error.mean():+.3f}, RMSE {np.sqrt(np.mean(error ** 2)):.4f}")
    return _save(fig, out_dir, "residuals.png")


def training_curves(history: dict[str, list[float]], out_dir: Path) -> str | None:
    """The per-epoch curves; None when nothing was trained (--epochs 0 keeps the start)."""
    if not any(history.values()):
        return None
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    epochs = np.arange(1, len(next(iter(history.values()))) + 1)
    for ax, metric in zip(axes, ("loss", "rmse")):
        for key, label in ((metric, "train"), (f"val_{metric}", "eval")):
            if key in history:
                ax.plot(epochs, history[key], marker="o", label=label)
        ax.set_xlabel("epoch")
        ax.set_title({"loss": "MSE loss", "rmse": "RMSE"}[metric])
        ax.legend()
    return _save(fig, out_dir, "training_curves.png")


def slice_rmse(slices: list[dict], out_dir: Path) -> str:
    rows = [s for s in slices if s["rmse"] is not None]
    fig, ax = plt.subplots(figsize=(7, 0.28 * len(rows) + 1.2))
    y = np.arange(len(rows))
    ax.barh(y, [s["rmse"] for s in rows], height=0.4, label="rating model", color="#4c72b0")
    if any(s.get("baseline_rmse") is not None for s in rows):
        ax.barh(y + 0.4, [s.get("baseline_rmse") or 0 for s in rows], height=0.4, label="strong baseline",
                color="#dd8452")
    ax.set_yticks(y + 0.2, [f"{s['slice']} (n={int(s['count'])})" for s in rows], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("test RMSE")
    ax.legend(loc="lower right")
    return _save(fig, out_dir, "slice_rmse.png")
