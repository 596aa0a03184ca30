"""data.cli subsample: a sparser copy of a raw folder, every other file unchanged."""

import pytest

from common.errors import UserError
from data.cli import main
from data.subsample import subsample
from tests import raw_fixtures


def test_each_rating_line_kept_with_the_fraction_the_rest_copied(tmp_path):
    raw = raw_fixtures.write_grid(tmp_path / "raw")
    lines = (raw / "ml-1m" / "ratings.dat").read_bytes().splitlines(keepends=True)
    counts = subsample(raw, tmp_path / "half", 0.5, seed=0)
    kept = (tmp_path / "half" / "ml-1m" / "ratings.dat").read_bytes().splitlines(keepends=True)
    assert counts == {"ml-1m/ratings.dat": {"read": len(lines), "kept": len(kept)}}
    assert 0.35 * len(lines) < len(kept) < 0.65 * len(lines)
    it = iter(lines)
    assert all(line in it for line in kept)           # a subsequence: order and bytes kept
    for name in ("users.dat", "movies.dat"):
        assert (tmp_path / "half" / "ml-1m" / name).read_bytes() == (raw / "ml-1m" / name).read_bytes()
    subsample(raw, tmp_path / "again", 0.5, seed=0)
    assert (tmp_path / "again" / "ml-1m" / "ratings.dat").read_bytes() == b"".join(kept)


def test_ml100k_through_the_command_line(tmp_path, capsys):
    raw = raw_fixtures.write_ml100k(tmp_path / "ml-100k")
    main(["subsample", "--raw", str(raw), "--fraction", "1", "--out", str(tmp_path / "all")])
    assert (tmp_path / "all" / "u.data").read_text() == raw_fixtures.ML100K_DATA
    assert "u.data" in capsys.readouterr().out


def test_bad_requests_write_nothing(tmp_path):
    raw = raw_fixtures.write_ml100k(tmp_path / "ml-100k")
    with pytest.raises(UserError, match="--fraction 0"):
        subsample(raw, tmp_path / "out", 0.0)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no u.data or ml-1m/ratings.dat"):
        subsample(tmp_path / "empty", tmp_path / "x", 0.5)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(UserError, match="exists and is not empty"):
        subsample(raw, tmp_path / "full", 0.5)
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"
    assert not (tmp_path / "out").exists()
