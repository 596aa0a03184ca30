"""The report's plots on small inputs: a run that trained nothing still gets a report."""

from report import plots


def test_training_curves_are_drawn_per_epoch(tmp_path):
    name = plots.training_curves({"loss": [0.9, 0.8], "val_loss": [0.95, 0.9],
                                  "rmse": [0.95, 0.89], "val_rmse": [0.97, 0.95]}, tmp_path)
    assert (tmp_path / name).stat().st_size > 0


def test_no_training_curves_when_nothing_was_trained(tmp_path):
    # --epochs 0: the Trainer keeps the start and its history holds no epoch.
    assert plots.training_curves({}, tmp_path) is None
    assert plots.training_curves({"loss": [], "val_loss": []}, tmp_path) is None
    assert list(tmp_path.iterdir()) == []
