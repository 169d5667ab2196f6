"""One contract for every registered model: fit, recommend, save/load, clone, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from knowrec.data import Dataset, split
from knowrec.errors import ConfigError, NotFittedError
from knowrec.models import MODELS, Recommender

#: Small settings per model so each fits the tiny data in well under a second.
FAST = {"bpr": {"epochs": 5, "batch_size": 64, "lr": 0.01}, "lightgcn": {"epochs": 5, "batch_size": 64, "lr": 0.01},
        "kgnet": {"epochs": 5, "batch_size": 64, "lr": 0.01}, "cke": {"epochs": 5, "batch_size": 64, "lr": 0.01},
        "hybrid": {"epochs": 5, "batch_size": 64, "lr": 0.01}, "pop": {}, "itemknn": {"k": 10}, "content": {},
        "ease": {}, "kease": {"text_neighbours": 5}, "constant": {}, "random": {}, "blend": {},
        "common-neighbours": {}, "adamic-adar": {}, "ppr": {}, "shared-facts": {},
        "ppr-facts": {}}


def test_every_model_has_a_case_and_citation() -> None:
    assert set(MODELS.names()) == set(FAST)
    for _, cls in MODELS:
        assert cls.citation and cls.__doc__


@pytest.fixture(params=sorted(FAST))
def model(request, tiny: Dataset, tmp_path_factory: pytest.TempPathFactory) -> Recommender:
    if request.param == "blend":  # its members are finished models of the same catalogue
        folder = tmp_path_factory.mktemp("members")
        for name in ("pop", "itemknn"):
            MODELS.get(name)(**FAST[name]).fit(split(tiny, seed=1).train(tiny), show_progress=False).save(folder / name)
        return MODELS.get("blend")(runs=f"{folder / 'pop'},{folder / 'itemknn'}")
    return MODELS.get(request.param)(**FAST[request.param])


def test_fit_recommend_save_load(model: Recommender, tiny: Dataset, tmp_path: Path) -> None:
    if "friends" in model.requires:  # models of the friend task rank users for users
        from tests.conftest import make_tiny_social

        from knowrec.data.social import friend_dataset

        tiny = friend_dataset(make_tiny_social())
    s = split(tiny, seed=1)
    train = s.train(tiny)
    assert model.fit(train, show_progress=False) is model
    ids, scores = model.recommend(0, k=5)
    assert ids.shape == (5,) and np.all(np.diff(scores) <= 0)
    seen = set(train.items[train.users == 0])
    assert not seen & set(ids.tolist())
    batch_ids, _ = model.recommend(np.array([0, 1, 2]), k=4)
    assert batch_ids.shape == (3, 4) and (batch_ids[0] == ids[:4]).all()
    with_seen, _ = model.recommend(0, k=tiny.n_items, exclude_seen=False)
    assert seen <= set(with_seen.tolist())
    restricted, _ = model.recommend(0, k=3, candidates=[1, 2, 3, 4, 5], exclude_seen=False)
    assert set(restricted.tolist()) <= {1, 2, 3, 4, 5}
    model.save(tmp_path / "m")
    back = Recommender.load(tmp_path / "m")
    assert type(back) is type(model) and back.get_params() == model.get_params()
    assert torch.allclose(back.score([0, 1]), model.score([0, 1]))
    assert (back.recommend(3, k=5)[0] == model.recommend(3, k=5)[0]).all()


def test_not_fitted_and_clone(model: Recommender) -> None:
    with pytest.raises(NotFittedError):
        model.recommend(0)
    twin = model.clone()
    assert twin is not model and twin.get_params() == model.get_params()


def test_unknown_parameter(model: Recommender) -> None:
    with pytest.raises(ConfigError, match="no parameter"):
        model.set_params(dimm=3)


def test_gradient_models_learn_clusters(tiny: Dataset) -> None:
    """On two taste clusters, BPR and LightGCN rank in-cluster items first for most users."""
    for name in ("bpr", "lightgcn"):
        m = MODELS.get(name)(epochs=30, batch_size=64, lr=0.02, reg=1e-4).fit(tiny, show_progress=False)
        ids, _ = m.recommend(np.arange(tiny.n_users), k=3)
        group = (np.arange(tiny.n_users) >= 25).astype(int)
        item_group = np.array([int(i[1:]) >= 20 for i in tiny.item_ids]).astype(int)
        agree = (item_group[ids] == group[:, None]).mean()
        assert agree > 0.8, (name, agree)


@pytest.mark.parametrize("name", ["bpr", "lightgcn", "itemknn"])
def test_similar_items(tiny: Dataset, name: str) -> None:
    params = {"k": 10} if name == "itemknn" else {"epochs": 30, "batch_size": 64, "lr": 0.02, "reg": 1e-4}
    m = MODELS.get(name)(**params).fit(tiny, show_progress=False)
    ids, sims = m.similar_items(0, k=5)
    assert ids.shape == (5,) and np.all(np.diff(sims) <= 1e-6)
    item_group = np.array([int(i[1:]) >= 20 for i in tiny.item_ids])
    assert item_group[ids].mean() <= 0.2 if not item_group[0] else item_group[ids].mean() >= 0.8


def test_pop_has_no_similar_items(tiny: Dataset) -> None:
    from knowrec.errors import NotSupportedError

    with pytest.raises(NotSupportedError):
        MODELS.get("pop")().fit(tiny).similar_items(0)


@pytest.mark.parametrize("name", ["kgnet", "cke"])
def test_kg_models_need_a_kg(tiny: Dataset, name: str) -> None:
    from knowrec.errors import MissingInputError

    tiny.kg = None
    with pytest.raises(MissingInputError, match="knowledge graph"):
        MODELS.get(name)(**FAST[name]).fit(tiny, show_progress=False)


def test_kgnet_exposes_entity_vectors(tiny: Dataset) -> None:
    m = MODELS.get("kgnet")(**FAST["kgnet"]).fit(tiny, show_progress=False)
    assert m.entity_factors_.shape == (tiny.kg.n_entities, m.dim)
    assert m.kg_report_.triples_in == tiny.kg.n_triples
