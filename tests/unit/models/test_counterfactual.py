"""Scores without some evidence, nothing retrained: exact with nothing removed (fitted or loaded), and
``fact_support`` equal to the fall ``scores_without`` measures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from knowrec.data import Dataset
from knowrec.models import Hybrid, KGNet
from knowrec.models.base import Recommender


def _scores(model: Recommender, user: int, n: int) -> torch.Tensor:
    return torch.as_tensor(model.score_pairs(np.full(n, user), np.arange(n))).float()


@pytest.mark.parametrize("make", [lambda: Hybrid(epochs=8, batch_size=64, lr=0.02),
                                  lambda: KGNet(epochs=8, batch_size=64)], ids=["hybrid", "kgnet"])
def test_nothing_removed_gives_the_models_scores(make, tiny: Dataset, tmp_path: Path) -> None:
    model = make().fit(tiny, show_progress=False)
    user, history = 3, model.seen_[3].indices
    ref = _scores(model, user, tiny.n_items)
    assert torch.allclose(model.scores_without(tiny, user), ref, atol=1e-5)
    loaded = type(model).load(model.save(tmp_path / "m"))
    assert torch.allclose(loaded.scores_without(tiny, user), ref, atol=1e-5)
    without_item = loaded.scores_without(tiny, user, history=[history[0]])
    without_facts = loaded.scores_without(tiny, user, facts=[(int(history[0]), "genres:drama"),
                                                              (int(history[0]), "genres:comedy")])
    assert not torch.allclose(without_item, ref) and not torch.allclose(without_facts, ref)
    assert torch.allclose(_scores(loaded, user, tiny.n_items), ref)  # the model itself is left as it was


def test_fact_support_is_the_fall_without_the_fact(tiny: Dataset) -> None:
    model = Hybrid(epochs=8, batch_size=64, lr=0.02).fit(tiny, show_progress=False)
    user, item = 3, 25
    vector = model.user_factors_[user]
    support = model.fact_support(tiny, vector, item, ["genres:comedy", "genres:family", "genres:drama"])
    base = model.scores_without(tiny, user)[item]
    for entity, s in zip(["genres:comedy", "genres:family"], support[:2], strict=True):
        assert s == pytest.approx(float(base - model.scores_without(tiny, user, facts=[(item, entity)])[item]),
                                  abs=1e-4)
    assert support[2] == 0.0  # item 25 has no drama fact
