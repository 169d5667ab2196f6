"""Ties carry no information: the evaluator breaks them with a seeded key per (user, item), not by position."""

from __future__ import annotations

import numpy as np
import torch

from knowrec.data import Dataset, split
from knowrec.evaluate.evaluator import Evaluator, top_k
from knowrec.models import MODELS
from knowrec.random import pair_keys, pair_uniform


def test_top_k_is_topk_without_ties() -> None:
    scores = torch.randn(64, 300)
    values, top = top_k(scores, 20, torch.arange(64))
    expected_values, expected = torch.topk(scores, 20, dim=1)
    assert torch.equal(top, expected) and torch.equal(values, expected_values)


def test_tied_scores_are_ordered_by_the_key_not_the_index() -> None:
    users = torch.arange(500)
    _, top = top_k(torch.zeros(500, 50), 1, users)
    # with the index as tie-breaker every user's first item would be item 0; with the key it is uniform
    counts = np.bincount(top[:, 0].numpy(), minlength=50)
    assert counts.max() < 30 and (counts > 0).sum() > 40
    assert torch.equal(top[:, 0], torch.argsort(pair_keys(users, 50), dim=1)[:, 0])


def test_ties_only_reorder_among_themselves() -> None:
    scores = torch.tensor([[3.0, 1.0, 1.0, 1.0, 2.0, 0.0, -torch.inf]])
    values, top = top_k(scores, 5, torch.tensor([7]))
    assert top[0, 0] == 0 and top[0, 1] == 4 and set(top[0, 2:].tolist()) == {1, 2, 3}
    assert values[0].tolist() == [3.0, 2.0, 1.0, 1.0, 1.0]


def test_keys_do_not_depend_on_the_batch() -> None:
    full = pair_keys(torch.arange(10), 30, seed=3)
    assert torch.equal(full[4:6], pair_keys(torch.tensor([4, 5]), 30, seed=3))
    assert not torch.equal(full, pair_keys(torch.arange(10), 30, seed=4))
    u = pair_uniform(torch.arange(200), 100)
    assert float(u.min()) >= 0 and float(u.max()) < 1 and abs(float(u.mean()) - 0.5) < 0.02


def test_constant_scores_rank_like_chance_on_a_cold_split(tiny: Dataset) -> None:
    """The leak the issue measured: same scores for all items must not beat random scores by the numbering."""
    s = split(tiny, "cold-item", seed=3, cold_share=0.5)
    train = s.train(tiny)
    evaluator = Evaluator(tiny, s, ks=[5])
    cold = s.candidates("test")
    got = {}
    for name in ("constant", "random"):
        model = MODELS.get(name)().fit(train, show_progress=False)
        got[name] = evaluator.evaluate(model, "test", candidates=cold).metrics["recall@5"]
    chance = 5 / len(cold)
    assert abs(got["constant"] - chance) < 0.15 and abs(got["random"] - chance) < 0.15
    # ranked by −index instead, ties or not, the result is the same as by any other fixed order: no special bonus
    idx_model = MODELS.get("constant")().fit(train, show_progress=False)
    idx_model._score = lambda users: -torch.arange(tiny.n_items, dtype=torch.float32).expand(len(users), -1)
    by_index = evaluator.evaluate(idx_model, "test", candidates=cold).metrics["recall@5"]
    assert by_index != got["constant"]  # a strict order is a model's choice; equal scores are not
