"""EASE: the closed form, λ chosen on validation along its path, and side rows that reach cold items."""

from __future__ import annotations

import numpy as np
import torch

from knowrec.data import Dataset, split
from knowrec.evaluate import Evaluator
from knowrec.models import EASE, MODELS
from knowrec.models.ease import kg_rows, neighbour_rows
from knowrec.train import Trainer


def test_closed_form_solves_the_ridge_problem(tiny: Dataset) -> None:
    model = EASE(l2=10.0).fit(tiny, show_progress=False)
    x = torch.from_numpy(tiny.matrix().toarray()).double()
    b = model.weights_.double()
    assert torch.allclose(b.diagonal(), torch.zeros(tiny.n_items, dtype=torch.float64))
    # stationarity of ‖X − XB‖² + λ‖B‖² with diag(B) = 0: (XᵀX + λI)B − XᵀX is zero off the diagonal
    g = x.T @ x
    residual = (g + 10.0 * torch.eye(tiny.n_items, dtype=torch.float64)) @ b - g
    off = ~torch.eye(tiny.n_items, dtype=torch.bool)
    assert float(residual[off].abs().max()) < 1e-4


def test_trainer_picks_l2_on_validation(tiny: Dataset) -> None:
    s = split(tiny, seed=1)
    evaluator = Evaluator(tiny, s, ks=[5])
    path = [0.1, 10.0, 1000.0, 100000.0]
    model = EASE(l2_path=path)
    result = Trainer(validate=lambda m: evaluator.evaluate(m, "valid").metrics, metric="ndcg@5",
                     show_progress=False).fit(model, s.train(tiny))
    scores = [row["valid_ndcg@5"] for row in result.history]
    assert [row["l2"] for row in result.history] == path
    assert float(model.l2_) == path[int(np.argmax(scores))] and result.best_epoch == int(np.argmax(scores)) + 1


def test_kg_rows_let_a_cold_item_be_recommended(tiny: Dataset) -> None:
    cold = tiny.item_index("i3")
    train = tiny.subset(tiny.items != cold)
    plain = EASE(l2=1.0).fit(train, show_progress=False)
    assert float(plain.score([0]).abs()[0, cold]) == 0.0
    side = EASE(l2=1.0, sources="id,kg").fit(train, show_progress=False)
    users_of_drama = np.arange(tiny.n_users)[:25]  # cluster 0 likes items 0..19, the "drama" ones (i3 among them)
    assert float(side.score(users_of_drama)[:, cold].mean()) > 0


def test_side_rows() -> None:
    vectors = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    rows = neighbour_rows(vectors, 1).toarray()
    assert rows[0, 0] == 1 and rows[0, 1] > 0.9 and rows[0, 2] == 0 and rows[2, 1] > 0


def test_kg_rows_weigh_hubs_down(tiny: Dataset) -> None:
    rows = kg_rows(tiny, idf=True)
    plain = kg_rows(tiny, idf=False)
    assert rows.shape == plain.shape and rows.shape[1] == tiny.n_items
    assert set(np.unique(plain.data)) == {1.0} and (rows.data > 0).all()


def test_models_registered() -> None:
    assert MODELS.get("kease")().sources == "id,kg,text" and MODELS.get("ease")().sources == "id"


def test_friends_items_join_a_users_own(tmp_path) -> None:
    from tests.conftest import make_tiny_social

    data = make_tiny_social()
    train = split(data, seed=0).train(data)
    social = EASE(sources="id,social", l2_path="10,100", social_path="0,0.5", social_weight=0.5).fit(
        train, show_progress=False)
    plain = EASE(l2=500).fit(train, show_progress=False)
    users = np.arange(8)
    own = torch.from_numpy(train.matrix()[users].toarray())
    a = data.social.matrix(data.n_users).toarray()[users]
    mean_of_friends = torch.from_numpy(a / a.sum(1, keepdims=True)).float() @ torch.from_numpy(train.matrix().toarray())
    expected = (own + 0.5 * mean_of_friends) @ plain.weights_
    assert torch.allclose(social.score(users), expected, atol=1e-4)
    steps = list(EASE(sources="id,social", l2_path="10,100", social_path="0,0.5").fit_steps(train, show_progress=False))
    assert steps == [{"l2": 10.0, "social_weight": 0.0}, {"l2": 10.0, "social_weight": 0.5},
                     {"l2": 100.0, "social_weight": 0.0}, {"l2": 100.0, "social_weight": 0.5}]
    social.save(tmp_path / "m")
    assert torch.allclose(EASE.load(tmp_path / "m").score(users), social.score(users))


def test_social_source_without_a_graph_is_skipped(tiny: Dataset, caplog) -> None:
    model = EASE(sources="id,social", l2=100).fit(tiny, show_progress=False)
    assert "no social graph" in caplog.text and float(model.social_weight_) == 0.0


def test_the_best_social_step_is_the_one_kept() -> None:
    """The trainer restores the best step's state: its λ and its social weight, even when that weight is 0."""
    from tests.conftest import make_tiny_social

    data = make_tiny_social()
    s = split(data, seed=0)
    train = s.train(data)
    evaluator = Evaluator(data, s, ks=[5])
    model = EASE(sources="id,social", l2_path="10,100", social_path="0,3")
    result = Trainer(validate=lambda m: evaluator.evaluate(m, "valid").metrics, metric="ndcg@5",
                     show_progress=False).fit(model, train)
    best = result.history[int(np.argmax([row["valid_ndcg@5"] for row in result.history]))]
    assert float(model.social_weight_) == best["social_weight"] and float(model.l2_) == best["l2"]
    assert np.isclose(evaluator.evaluate(model, "valid").metrics["ndcg@5"], best["valid_ndcg@5"])
