"""Each metric against a hand-computed case (RecBole's definitions), and the evaluator's masking."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from knowrec.data import Dataset
from knowrec.data.dataset import TEST, TRAIN, VALID
from knowrec.data.split import Split, SplitKind
from knowrec.evaluate import Evaluator, compare_per_user
from knowrec.evaluate.metrics import USER_METRICS, intra_list_diversity, novelty

# user A: positives at ranks 2 and 4 of 5 (2 positives); user B: one positive at rank 5.
HITS = torch.tensor([[0, 1, 0, 1, 0], [0, 0, 0, 0, 1]], dtype=torch.bool)
N_POS = torch.tensor([2.0, 1.0], dtype=torch.float64)
L = math.log2

EXPECTED = {
    ("recall", 3): [1 / 2, 0.0],
    ("recall", 5): [1.0, 1.0],
    ("precision", 3): [1 / 3, 0.0],
    ("precision", 5): [2 / 5, 1 / 5],
    ("hit", 3): [1.0, 0.0],
    ("hit", 5): [1.0, 1.0],
    ("mrr", 3): [1 / 2, 0.0],
    ("mrr", 5): [1 / 2, 1 / 5],
    ("ndcg", 3): [(1 / L(3)) / (1 + 1 / L(3)), 0.0],
    ("ndcg", 5): [(1 / L(3) + 1 / L(5)) / (1 + 1 / L(3)), 1 / L(6)],
}


@pytest.mark.parametrize(("name", "k"), list(EXPECTED))
def test_metric_by_hand(name: str, k: int) -> None:
    got = USER_METRICS.get(name)(HITS, N_POS, k)
    assert got.tolist() == pytest.approx(EXPECTED[name, k])


def test_ndcg_ideal_is_capped_at_k() -> None:
    hits = torch.ones(1, 2, dtype=torch.bool)  # 5 positives, both of the top 2 are hits: perfect at k=2
    assert USER_METRICS.get("ndcg")(hits, torch.tensor([5.0], dtype=torch.float64), 2).item() == pytest.approx(1.0)


def test_novelty_and_diversity() -> None:
    top = torch.tensor([[0, 1]])
    pop = torch.tensor([4.0, 1.0, 0.0])
    assert novelty(top, pop, 4).item() == pytest.approx((-L(1.0) - L(0.25)) / 2)
    vectors = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    assert intra_list_diversity(top, vectors).item() == pytest.approx(1.0)
    assert intra_list_diversity(torch.tensor([[0, 0]]), vectors).item() == pytest.approx(0.0)


class FixedScores:
    def __init__(self, scores: np.ndarray) -> None:
        self.scores = torch.as_tensor(scores, dtype=torch.float32)

    def score(self, users):
        return self.scores[torch.as_tensor(np.asarray(users))]


def test_evaluator_masks_train_and_valid() -> None:
    # user 0: train item 5, valid item 4, test items 1 and 3; user 1: train 5, test 4.
    users = [0, 0, 0, 0, 1, 1]
    items = [5, 4, 1, 3, 5, 4]
    parts = np.array([TRAIN, VALID, TEST, TEST, TRAIN, TEST], dtype=np.int8)
    data = Dataset.from_ids("m", np.array(users), np.array(items))
    data = Dataset(name="m", user_ids=np.array(["0", "1"]), item_ids=np.arange(6).astype(str),
                   users=np.array(users), items=np.array(items))
    split = Split(SplitKind.GIVEN, 0, parts)
    # scores rank items 5 > 4 > 0 > 1 > 2 > 3 for both users
    scores = np.tile(np.array([4.0, 3.0, 2.0, 1.0, 5.0, 6.0]), (2, 1))
    ev = Evaluator(data, split, ks=[3])
    res = ev.evaluate(FixedScores(scores), "test")
    # user 0 after masking 5 (train) and 4 (valid): [0, 1, 2] → one hit at rank 2 of 2 positives
    # user 1 after masking 5: [4, 0, 1] → hit at rank 1
    assert res.per_user["recall@3"].tolist() == pytest.approx([0.5, 1.0])
    assert res.per_user["mrr@3"].tolist() == pytest.approx([0.5, 1.0])
    assert res.metrics["hit@3"] == pytest.approx(1.0)
    assert res.metrics["coverage@3"] == pytest.approx(4 / 6)
    valid = ev.evaluate(FixedScores(scores), "valid")  # only user 0 has a valid item; 5 masked → 4 first
    assert valid.users.tolist() == [0] and valid.metrics["ndcg@3"] == pytest.approx(1.0)


def test_candidates_restrict_ranking(tiny: Dataset) -> None:
    from knowrec.data import split

    s = split(tiny, "cold-item")
    scores = np.random.default_rng(0).random((tiny.n_users, tiny.n_items))
    ev = Evaluator(tiny, s, ks=[5])
    res = ev.evaluate(FixedScores(scores), "test", candidates=s.cold_test)
    assert res.metrics["coverage@5"] <= len(s.cold_test) / tiny.n_items + 1e-9


def test_paired_comparison() -> None:
    rng = np.random.default_rng(0)
    users = np.arange(200)
    a = {"users": users, "ndcg@10": rng.random(200)}
    b = {"users": users, "ndcg@10": a["ndcg@10"] + 0.1 + rng.normal(0, 0.01, 200)}
    same = compare_per_user(a, a)[0]
    better = compare_per_user(a, b)[0]
    assert same.p_ttest == 1.0 and better.p_ttest < 1e-6 and better.diff == pytest.approx(0.1, abs=0.01)
