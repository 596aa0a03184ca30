"""EpochProgress: a Keras callback that shows a Trainer's epochs on the local runner's console.

Each Trainer adds it to its fit call. It draws through the open common.console.Console
(a bar on a terminal, the epoch in the "running" lines otherwise); with none open
(Kubeflow, --verbose, run_fn called directly) it does nothing and Keras's log is all there is.
"""

from __future__ import annotations

import tf_keras as keras


class EpochProgress(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self._supports_tf_logs = True   # batch ends are only counted: no per-batch copy of the metrics
        self._bar = None
        self._epoch = 0
        self._batches = 0
        self._steps = None              # batches per epoch, known after the first one

    def on_train_begin(self, logs=None):
        try:
            from common import console
        except ImportError:             # an image with the Trainer modules only
            return
        if console.active() is not None:
            self._bar = console.active().progress(self.params["epochs"], f"0/{self.params['epochs']} epochs")

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch, self._batches = epoch, 0

    def on_train_batch_end(self, batch, logs=None):
        self._batches = batch + 1
        if self._bar and self._steps:
            self._bar.update(self._epoch + min(self._batches / self._steps, 1.0))

    def on_epoch_end(self, epoch, logs=None):
        self._steps = self._steps or self._batches
        if self._bar:
            metrics = "".join(f", {k} {float(v):.4f}" for k, v in (logs or {}).items() if k in ("loss", "val_loss"))
            self._bar.update(epoch + 1, f"{epoch + 1}/{self.params['epochs']} epochs{metrics}")

    def on_train_end(self, logs=None):
        if self._bar:
            self._bar.close()
            self._bar = None


def epoch_reporter(epochs: int):
    """For a training loop of our own (the SVD++ baseline): a callable(epoch, history) that
    draws the same bar, or None when no console is open."""
    try:
        from common import console
    except ImportError:
        return None
    if console.active() is None:
        return None
    bar = console.active().progress(epochs, f"0/{epochs} epochs")

    def report(epoch: int, history: dict) -> None:
        metrics = "".join(f", {k} {v[-1]:.4f}" for k, v in history.items())
        bar.update(epoch + 1, f"{epoch + 1}/{epochs} epochs (early stopping on eval){metrics}")

    return report
