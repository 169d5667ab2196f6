"""The CTR protocol: AUC by hand, F1 thresholds, and the split of sampled negatives."""

from __future__ import annotations

import numpy as np
import pytest

from knowrec.data import Dataset, split
from knowrec.evaluate.ctr import CTREvaluator, auc, f1_at


def test_auc_by_hand() -> None:
    labels = np.array([1, 0, 1, 0])
    assert auc(np.array([0.9, 0.1, 0.8, 0.2]), labels) == 1.0
    assert auc(np.array([0.1, 0.9, 0.2, 0.8]), labels) == 0.0
    assert auc(np.array([0.9, 0.5, 0.3, 0.5]), labels) == pytest.approx(0.5)  # pairs: 1, 1, 0, 0 → 2/4
    assert auc(np.array([0.5, 0.5, 0.5, 0.5]), labels) == pytest.approx(0.5)  # ties count half


def test_f1_at_threshold() -> None:
    labels = np.array([1, 1, 0, 0])
    assert f1_at(np.array([0.9, 0.8, 0.1, 0.2]), labels, 0.5) == 1.0
    assert f1_at(np.array([0.9, 0.1, 0.8, 0.2]), labels, 0.5) == pytest.approx(0.5)


class Perfect:
    """Scores a pair 1 when it is a real interaction of the dataset, else 0."""

    def __init__(self, data: Dataset) -> None:
        self.keys = set(zip(data.users.tolist(), data.items.tolist(), strict=True))

    def score_pairs(self, users, items) -> np.ndarray:
        return np.array([float((u, i) in self.keys) for u, i in zip(users, items, strict=True)])


def test_ctr_evaluator(tiny: Dataset) -> None:
    rng = np.random.default_rng(0)
    tiny.negatives = np.stack([rng.integers(0, tiny.n_users, 300), rng.integers(0, tiny.n_items, 300)], axis=1)
    seen = set(zip(tiny.users.tolist(), tiny.items.tolist(), strict=True))
    tiny.negatives = tiny.negatives[[tuple(p) not in seen for p in tiny.negatives.tolist()]]
    s = split(tiny, "rows", ratios=(0.6, 0.2, 0.2))
    counts = s.counts()
    assert counts["valid"] == int(0.8 * tiny.n_interactions) - int(0.6 * tiny.n_interactions)
    scores = CTREvaluator(tiny, s).evaluate(Perfect(tiny))
    assert scores["test"]["auc"] == 1.0 and scores["test"]["f1"] == 1.0
