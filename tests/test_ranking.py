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
