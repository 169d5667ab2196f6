"""Click-through-rate protocol (RippleNet/KGCN): AUC and F1 over held-out positives and sampled negatives."""

from __future__ import annotations

from typing import Any

import numpy as np

from knowrec.data.dataset import TEST, VALID, Dataset
from knowrec.data.split import Split, row_parts
from knowrec.errors import DataError


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve by the rank-sum formula (ties share their mean rank)."""
    from scipy.stats import rankdata

    pos = labels == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if not n_pos or not n_neg:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def f1_at(scores: np.ndarray, labels: np.ndarray, threshold: float) -> float:
    pred = scores >= threshold
    tp = int((pred & (labels == 1)).sum())
    if tp == 0:
        return 0.0
    precision, recall = tp / pred.sum(), tp / (labels == 1).sum()
    return float(2 * precision * recall / (precision + recall))


class CTREvaluator:
    """Scores each held-out (user, item) pair: the split's positives and the dataset's sampled negatives.

    Negatives are divided between validation and test with the split's ratios and seed. F1 uses the score
    threshold that maximises F1 on validation (models trained on rankings have no natural 0.5).
    """

    def __init__(self, data: Dataset, split: Split) -> None:
        if data.negatives is None:
            raise DataError(f"dataset {data.name!r} has no sampled negatives for the CTR protocol")
        r = np.asarray(split.params.get("ratios", (0.8, 0.1, 0.1)), dtype=np.float64)
        neg_parts = row_parts(len(data.negatives), r, np.random.default_rng([split.seed, 1]))
        self._pairs = {}
        for name, code in (("valid", VALID), ("test", TEST)):
            pos = np.flatnonzero(split.parts == code)
            neg = data.negatives[neg_parts == code]
            users = np.concatenate([data.users[pos], neg[:, 0]])
            items = np.concatenate([data.items[pos], neg[:, 1]])
            labels = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))]).astype(np.int8)
            self._pairs[name] = (users, items, labels)

    def _scores(self, model: Any, part: str) -> tuple[np.ndarray, np.ndarray]:
        users, items, labels = self._pairs[part]
        return model.score_pairs(users, items), labels

    def validate(self, model: Any) -> dict[str, float]:
        """Validation AUC alone (cheap enough to early-stop on)."""
        return {"auc": auc(*self._scores(model, "valid"))}

    def evaluate(self, model: Any) -> dict[str, dict[str, float]]:
        """``{"valid": {"auc", "f1"}, "test": {"auc", "f1"}}`` with the threshold picked on validation."""
        v_scores, v_labels = self._scores(model, "valid")
        candidates = np.quantile(v_scores, np.linspace(0.05, 0.95, 37)) if len(v_scores) else [0.0]
        threshold = max(candidates, key=lambda t: f1_at(v_scores, v_labels, t))
        t_scores, t_labels = self._scores(model, "test")
        return {"valid": {"auc": auc(v_scores, v_labels), "f1": f1_at(v_scores, v_labels, threshold)},
                "test": {"auc": auc(t_scores, t_labels), "f1": f1_at(t_scores, t_labels, threshold)}}
