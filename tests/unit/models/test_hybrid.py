"""The hybrid model: sources and fusion, cold items and users, add_items, graceful degradation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from torch import nn

from knowrec.data import Dataset, split
from knowrec.errors import ConfigError
from knowrec.models import Content, Hybrid, Recommender
from knowrec.models.hybrid.losses import full_softmax, others_seen
from knowrec.models.hybrid.network import HybridNet
from knowrec.models.hybrid.options import Aggregation, Fusion
from knowrec.text import TextEncoder, item_texts

FAST = {"epochs": 25, "batch_size": 64, "lr": 0.02}


def cluster_agreement(model: Recommender, data: Dataset, users: np.ndarray, candidates: np.ndarray) -> float:
    """Share of top-3 items (among ``candidates``) from the user's own taste cluster."""
    ids, _ = model.recommend(users, k=3, candidates=candidates)
    group = (users >= 25).astype(int)
    item_group = np.array([int(i[1:]) >= 20 for i in data.item_ids]).astype(int)
    return float((item_group[ids] == group[:, None]).mean())


@pytest.mark.parametrize("fusion", ["fixed", "gate"])
def test_learns_clusters(tiny: Dataset, fusion: str) -> None:
    m = Hybrid(fusion=fusion, **FAST).fit(tiny, show_progress=False)
    assert m.sources_ == ["id", "kg", "text"]
    assert cluster_agreement(m, tiny, np.arange(tiny.n_users), np.arange(tiny.n_items)) > 0.8


def test_cold_items_are_ranked_from_text_and_facts(tiny: Dataset) -> None:
    s = split(tiny, "cold-item", seed=3, cold_share=0.25)
    cold = np.concatenate([s.cold_valid, s.cold_test])
    train = s.train(tiny)
    m = Hybrid(**FAST).fit(train, show_progress=False)
    assert cluster_agreement(m, tiny, np.arange(tiny.n_users), cold) > 0.8
    id_only = Hybrid(sources="id", **FAST).fit(train, show_progress=False)
    assert cluster_agreement(id_only, tiny, np.arange(tiny.n_users), cold) < 0.75  # no content: guessing


def test_add_items_makes_new_items_recommendable(tiny: Dataset, tmp_path: Path) -> None:
    m = Hybrid(**FAST).fit(tiny, show_progress=False)
    m.save(tmp_path / "m")
    m = Recommender.load(tmp_path / "m")
    new = pd.DataFrame({"title": ["Item 99", "Item 98"], "genres": [["drama"], ["comedy", "family"]]},
                       index=["n1", "n2"])
    facts = [("n1", "genres", "genres:drama"), ("n2", "genres", "genres:comedy"), ("n2", "genres", "genres:family"),
             ("n2", "no-such-relation", "x")]
    idx = m.add_items(new, facts)
    assert idx.tolist() == [tiny.n_items, tiny.n_items + 1] and m.n_items_ == tiny.n_items + 2
    ids, _ = m.recommend(np.arange(tiny.n_users), k=1, candidates=idx)
    drama_fans = np.arange(tiny.n_users) < 25
    assert (ids[drama_fans, 0] == idx[0]).mean() > 0.8
    assert (ids[~drama_fans, 0] == idx[1]).mean() > 0.8


def test_user_vectors_for_unseen_users(tiny: Dataset) -> None:
    m = Hybrid(**FAST).fit(tiny, show_progress=False)
    vectors = m.user_vectors([[0, 1, 2, 3], [30, 31, 32]])
    scores = vectors @ m.item_factors_.T
    assert scores[0, :20].mean() > scores[0, 20:].mean() and scores[1, 20:].mean() > scores[1, :20].mean()
    with pytest.raises(IndexError):
        m.user_vectors([[tiny.n_items]])


def test_degrades_to_what_the_data_has(tiny: Dataset, caplog: pytest.LogCaptureFixture) -> None:
    bare = Dataset.from_ids("bare", tiny.user_ids[tiny.users], tiny.item_ids[tiny.items])
    m = Hybrid(epochs=2, batch_size=64).fit(bare, show_progress=False)
    assert m.sources_ == ["id"] and "uses id" in caplog.text
    assert torch.isfinite(m.score([0])).all()


@pytest.mark.parametrize("bad", [{"fusion": "sum"}, {"sources": "id,audio"}, {"sources": ""}, {"loss": "hinge"},
                                 {"weights": "1,2"}, {"temperature": 0}, {"history_dropout": 1.0},
                                 {"finetune": "full"}])
def test_bad_options_are_config_errors(tiny: Dataset, bad: dict) -> None:
    with pytest.raises(ConfigError):
        Hybrid(epochs=1, **bad).fit(tiny, show_progress=False)


def test_sampled_softmax_attention_and_history_dropout_train(tiny: Dataset) -> None:
    m = Hybrid(loss="sampled", n_samples=16, aggregation="attention", history_dropout=0.2,
               **FAST).fit(tiny, show_progress=False)
    assert cluster_agreement(m, tiny, np.arange(tiny.n_users), np.arange(tiny.n_items)) > 0.8


def test_excluding_a_users_other_items_from_the_softmax(tiny: Dataset) -> None:
    history = sp.csr_matrix(np.array([[1, 1, 0, 1], [0, 1, 1, 0]], dtype=np.float32))
    mask = others_seen(history, torch.tensor([0, 0, 1]), torch.tensor([0, 3, 2]))
    assert mask.tolist() == [[False, True, False, True], [True, True, False, False], [False, True, False, False]]
    known = torch.ones(4, dtype=torch.bool)
    # all logits equal: among the items left (the positive and the unseen ones) the loss is log(how many)
    loss = full_softmax(torch.zeros(3, 1), torch.zeros(4, 1), torch.zeros(4), known, torch.tensor([0, 3, 2]), mask)
    assert loss.item() == pytest.approx(np.log([2, 2, 3]).mean())
    for objective in ("softmax", "sampled"):
        m = Hybrid(exclude_seen=True, loss=objective, n_samples=16, **FAST).fit(tiny, show_progress=False)
        assert cluster_agreement(m, tiny, np.arange(tiny.n_users), np.arange(tiny.n_items)) > 0.8


def test_full_softmax_leaves_unknown_items_out_as_a_mask_would() -> None:
    g = torch.Generator().manual_seed(0)
    users, items = torch.randn(5, 3, generator=g), torch.randn(7, 3, generator=g, requires_grad=True)
    bias = torch.randn(7, generator=g)
    known = torch.tensor([True, False, True, True, False, True, True])
    pos, seen = torch.tensor([0, 2, 6, 3, 0]), torch.rand(5, 7, generator=g) > 0.7
    seen[torch.arange(5), pos] = False
    masked = (users @ items.T + bias).masked_fill(~known | seen, -torch.inf)
    expected = nn.functional.cross_entropy(masked, pos)
    (want,) = torch.autograd.grad(expected, items)
    loss = full_softmax(users, items, bias, known, pos, seen)
    (got,) = torch.autograd.grad(loss, items)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    assert torch.allclose(got, want, atol=1e-6) and not got[~known].any()


def test_kg_vectors_are_the_mean_of_relation_times_entity_over_each_items_facts() -> None:
    g = torch.Generator().manual_seed(0)
    net = HybridNet(n_users=2, n_items=6, dim=4, sources=["kg"], fusion=Fusion.FIXED, aggregation=Aggregation.MEAN,
                    weights=torch.ones(1), cosine=False, n_entities=9, n_relations=3)
    items = torch.tensor([0, 0, 0, 2, 2, 3, 5, 5, 5, 5])  # item 0: two facts of one relation; 1 and 4: none
    rels, tails = torch.randint(0, 3, (10,), generator=g), torch.randint(0, 9, (10,), generator=g)
    rels[:2] = 1
    vectors, has = net.kg_vectors(items, rels, tails, 6)
    msg = net.relation.weight[rels] * net.entity.weight[tails]
    want = torch.stack([msg[items == i].mean(0) if (items == i).any() else torch.zeros(4) for i in range(6)])
    assert torch.allclose(vectors, want, atol=1e-6) and has.tolist() == [1, 0, 1, 1, 0, 1]
    grads = torch.autograd.grad(vectors.square().sum(), [net.entity.weight, net.relation.weight])
    expected = torch.autograd.grad(want.square().sum(), [net.entity.weight, net.relation.weight])
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(grads, expected, strict=True))


def test_content_baseline_scores_by_text(tiny: Dataset) -> None:
    m = Content().fit(tiny, show_progress=False)
    assert cluster_agreement(m, tiny, np.arange(tiny.n_users), np.arange(tiny.n_items)) > 0.7


@pytest.mark.parametrize("mode", ["lora", "top"])
def test_language_model_fine_tuning(tiny: Dataset, tmp_path: Path, mode: str) -> None:
    m = Hybrid(finetune=mode, sources="id,text", epochs=2, batch_size=128, lm_batch=8, lr=0.02, lm_lr=1e-3)
    before = m.fit(tiny, show_progress=False)._inputs.item_text.clone()
    lm_params = [p for p in m.module_.lm.parameters() if p.requires_grad]
    assert lm_params and len(lm_params) < len(list(m.module_.lm.parameters()))  # only adapters / top layers
    pretrained = TextEncoder().encode(item_texts(tiny), show_progress=False)
    assert not torch.allclose(before, torch.from_numpy(pretrained))  # the refresh re-encoded with the tuned LM
    m.save(tmp_path / "m")
    assert (tmp_path / "m" / "lm").is_dir()
    back = Recommender.load(tmp_path / "m")
    assert torch.allclose(back.score([0, 1]), m.score([0, 1]))
    new = pd.DataFrame({"title": ["Item 0"], "genres": [["drama"]]}, index=["n"])
    (idx,) = back.add_items(new)
    # the tuned encoder maps the text of item 0 where the fitted model put item 0's text part
    assert torch.nn.functional.cosine_similarity(back.item_factors_[idx], m.item_factors_[0], dim=0) > 0.5


def test_attribution_splits_the_score_by_source(tiny: Dataset, tmp_path: Path) -> None:
    m = Hybrid(**FAST).fit(tiny, show_progress=False)
    users, items = np.array([0, 0, 30]), np.array([1, 25, 25])
    parts = m.attribution(users, items)
    assert set(parts) == {"id", "kg", "text", "popularity"}
    total = sum(parts.values())
    assert np.allclose(total, m.score_pairs(users, items), atol=1e-4)
    m.save(tmp_path / "m")
    back = Recommender.load(tmp_path / "m")
    new = back.add_items(pd.DataFrame({"title": ["Item 97"], "genres": [["drama"]]}, index=["n"]))
    added = back.attribution([0], new)
    assert added["id"][0] == 0 and np.isclose(sum(added.values())[0], back.score_pairs([0], new)[0], atol=1e-4)


def test_known_users_are_rebuilt_from_history_with_the_best_epochs_weights(tiny: Dataset) -> None:
    from knowrec.text import user_texts
    from knowrec.train.callbacks import EarlyStopping

    # a validator that peaks at the first epoch: the restored (best) state must serve new users and items too
    stop = EarlyStopping(lambda model: {"score": -float(model.epoch_)}, "score", patience=3)
    m = Hybrid(**FAST).fit(tiny, callbacks=[stop], show_progress=False)
    assert stop.best_epoch == 0 and m.epoch_ == 3
    users = [0, 30]
    profiles = user_texts(tiny)
    texts = None if profiles is None else [profiles[u] for u in users]
    rebuilt = m.user_vectors([m.seen_[u].indices for u in users], texts, users=users)
    assert torch.allclose(rebuilt, m.user_factors_[users], atol=1e-5)
    unseen = m.user_vectors([m.seen_[u].indices for u in users])  # without the ID embedding: not the same
    assert not torch.allclose(unseen, m.user_factors_[users], atol=1e-3)


def test_a_model_without_ids_saves_and_embeds_new_items(tiny: Dataset, tmp_path: Path) -> None:
    m = Hybrid(sources="kg,text", **FAST).fit(tiny, show_progress=False)
    m.save(tmp_path / "m")
    back = Recommender.load(tmp_path / "m")
    assert torch.allclose(back.score([0, 1]), m.score([0, 1]))
    (idx,) = back.add_items(pd.DataFrame({"title": ["Item 0"], "genres": [["drama"]]}, index=["n"]),
                            [("n", "genres", "genres:drama")])
    # item 0's content again: its vector (the model has no ID part to miss) up to the gate's popularity input
    assert torch.nn.functional.cosine_similarity(back.item_factors_[idx], m.item_factors_[0], dim=0) > 0.9


def test_items_without_training_interactions_get_the_mean_prior() -> None:
    """A held-out (new) item is not an unpopular one: it gets the others' mean prior, as ``add_items`` gives."""
    import torch

    from knowrec.models.hybrid.model import new_item_prior

    bias = torch.tensor([0.5, 1.5, 0.0, 0.0])
    popularity = torch.tensor([3.0, 10.0, 0.0, 0.0])
    assert new_item_prior(bias, popularity).tolist() == [0.5, 1.5, 1.0, 1.0]
    assert new_item_prior(bias[:2], popularity[:2]).tolist() == [0.5, 1.5]
