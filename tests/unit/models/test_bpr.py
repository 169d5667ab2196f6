"""BPR with row-sparse gradients (``sparse=True``): the same model, trained by RowAdam on the batch's rows."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import make_tiny
from knowrec.data import split
from knowrec.errors import ConfigError
from knowrec.evaluate import Evaluator
from knowrec.models import BPR, Recommender
from knowrec.train import RowAdam


def test_sparse_rows_learn_as_well_as_dense(tmp_path) -> None:
    data = make_tiny(n_users=120, n_items=80)
    s = split(data, "random", seed=0)
    train = s.train(data)
    evaluator = Evaluator(data, s)
    scores = {}
    for sparse in (False, True):
        model = BPR(epochs=60, batch_size=128, lr=0.02, sparse=sparse, seed=1).fit(train, show_progress=False)
        scores[sparse] = evaluator.evaluate(model, "valid").metrics["ndcg@10"]
    assert isinstance(BPR(sparse=True).fit(train, show_progress=False).optimizer_, RowAdam)
    pop = evaluator.evaluate(Recommender.registry.get("pop")().fit(train), "valid").metrics["ndcg@10"]
    assert scores[True] > pop and abs(scores[True] - scores[False]) < 0.1


def test_a_sparse_step_moves_only_the_rows_of_the_batch() -> None:
    data = make_tiny(n_users=60, n_items=40)
    model = BPR(epochs=1, sparse=True)
    model.fit(data, show_progress=False)
    before = model.module_.user.weight.detach().clone()
    users = torch.tensor([0, 1]), torch.tensor([2, 3]), torch.tensor([[4], [5]])
    model.optimizer_.zero_grad()
    model._loss(users).backward()
    assert model.module_.user.weight.grad.is_sparse
    model.optimizer_.step()
    moved = (model.module_.user.weight.detach() != before).any(1)
    assert np.flatnonzero(moved.numpy()).tolist() == [0, 1]


def test_sparse_needs_the_pairwise_loss() -> None:
    with pytest.raises(ConfigError, match="sparse=true needs loss=bpr"):
        BPR(sparse=True, loss="softmax", epochs=1).fit(make_tiny(), show_progress=False)
