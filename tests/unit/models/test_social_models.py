"""The friend task's models: link-prediction baselines by hand, shared facts, and a friend run end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from tests.conftest import make_tiny, make_tiny_social

from knowrec.data import Dataset, split
from knowrec.data.formats.table import ImportReport
from knowrec.data.social import build_social, friend_dataset
from knowrec.errors import MissingInputError
from knowrec.evaluate import Evaluator
from knowrec.experiment import open_run, pipeline
from knowrec.models import MODELS, Recommender
from knowrec.models.social import walk_matrix


def _path_graph() -> Dataset:
    """u0 – u1 – u2 – u3 and u1 – u4 (u1 has three friends)."""
    data = Dataset.from_ids("path", [f"u{i}" for i in range(5)], ["i0"] * 5)
    data.social = build_social(data.user_ids, np.array(["u0", "u1", "u2", "u1"]), np.array(["u1", "u2", "u3", "u4"]),
                               report=ImportReport(), path="<links>", line_no=np.arange(1, 5))
    return friend_dataset(data)


def test_common_neighbours_and_adamic_adar_by_hand() -> None:
    friends = _path_graph()
    index = {name: i for i, name in enumerate(friends.user_ids)}
    u0, u2, u3, u4 = (index[n] for n in ("u0", "u2", "u3", "u4"))
    cn = MODELS.get("common-neighbours")().fit(friends, show_progress=False).score([u0])[0]
    assert cn[u2] == 1 and cn[u4] == 1 and cn[u3] == 0  # u0 and u2 share u1
    aa = MODELS.get("adamic-adar")().fit(friends, show_progress=False).score([u0])[0]
    assert aa[u2] == pytest.approx(1 / np.log(3))  # through u1, who has three friends


def test_personalised_pagerank_is_a_walk_from_the_user() -> None:
    friends = _path_graph()
    ppr = MODELS.get("ppr")(restart=0.3, steps=50).fit(friends, show_progress=False)
    scores = ppr.score(np.arange(friends.n_users))
    assert torch.allclose(scores.sum(1), torch.ones(friends.n_users), atol=1e-4)  # every user has a friend
    assert (scores.argmax(1) == torch.arange(friends.n_users)).all() or (scores.diagonal() > 0.29).all()
    u0, u3 = (int(np.flatnonzero(friends.user_ids == n)[0]) for n in ("u0", "u3"))
    assert scores[u0, u3] > 0 and scores[u0, u3] < scores[u0].max()


def test_friend_models_refuse_an_item_task(tiny: Dataset) -> None:
    with pytest.raises(MissingInputError, match="--task friends"):
        MODELS.get("adamic-adar")().fit(tiny, show_progress=False)


def test_shared_facts_find_friends_without_the_graph(tmp_path: Path) -> None:
    friends = friend_dataset(make_tiny_social())
    s = split(friends, seed=0)
    train = s.train(friends)
    ev = Evaluator(friends, s, ks=[10])
    facts = MODELS.get("shared-facts")().fit(train, show_progress=False)
    random = MODELS.get("random")().fit(train, show_progress=False)
    # friends are drawn inside taste clusters: users who liked the same items should be found well above chance
    assert ev.evaluate(facts, "test").metrics["recall@10"] > 1.5 * ev.evaluate(random, "test").metrics["recall@10"]
    facts.save(tmp_path / "m")
    assert torch.equal(Recommender.load(tmp_path / "m").score([0, 1]), facts.score([0, 1]))
    with pytest.raises(Exception, match="no relation 'nope'"):
        MODELS.get("shared-facts")(relations="nope").fit(train, show_progress=False)


def test_a_friend_run_end_to_end(tmp_path: Path) -> None:
    folder = make_tiny_social().save(tmp_path / "social")
    result = pipeline(dataset=str(folder), task="friends", model="adamic-adar", out=tmp_path / "run",
                      show_progress=False)
    assert result.config.task == "friends" and "ndcg@10" in result.metrics()["test"]
    run = open_run(tmp_path / "run")
    assert run.data.task == "friends" and run.model.n_items_ == run.data.n_users
    top, values = run.model.recommend(np.arange(run.data.n_users), k=run.data.n_users - 1)
    oneself = (top == np.arange(run.data.n_users)[:, None]) & np.isfinite(values)
    assert not oneself.any()  # never oneself, even deep in the list
    assert np.isclose(run.evaluate()["test"].metrics["ndcg@10"], result.metrics()["test"]["ndcg@10"])
    with pytest.raises(MissingInputError, match="no social graph"):
        pipeline(dataset=str(make_tiny().save(tmp_path / "plain")), task="friends", model="ppr",
                 show_progress=False)


def test_friend_explanations_name_mutual_friends_and_shared_items() -> None:
    from knowrec.explain.friends import FriendExplainer

    friends = _path_graph()  # u0 – u1 – u2: u0 and u2 share the friend u1, and all rated i0
    model = MODELS.get("adamic-adar")().fit(friends, show_progress=False)
    why = FriendExplainer.of_task(friends, model.seen_).explain("u0", "u2")
    kinds = {r.kind: r for r in why.reasons}
    assert kinds["mutual friends"].shown == ("u1",) and kinds["mutual friends"].count == 1
    assert kinds["items both interacted with"].shown == ("item:i0",)
    assert "you and user u2: " in str(why) and "1 mutual friends: u1" in str(why)
    lonely = FriendExplainer.of_task(friends, model.seen_).explain("u3", "u4")  # no friend in common, one item
    assert [r.kind for r in lonely.reasons] == ["items both interacted with"]


def test_ppr_facts_mixes_the_walk_with_shared_facts_and_takes_a_live_graph(tmp_path: Path) -> None:
    friends = friend_dataset(make_tiny_social())
    s = split(friends, seed=0)
    train = s.train(friends)
    users = np.arange(train.n_users)
    plain = MODELS.get("ppr-facts")(facts_weight=0.0).fit(train, show_progress=False)
    ppr = MODELS.get("ppr")().fit(train, show_progress=False).score(users).numpy()
    # at weight 0 it is PageRank, z-scored per user: the same order
    assert np.array_equal(np.argsort(-plain.score(users).numpy(), 1)[:, :5], np.argsort(-ppr, 1)[:, :5])
    mixed = MODELS.get("ppr-facts")(facts_weight=1.0).fit(train, show_progress=False)
    assert not torch.allclose(mixed.score(users), plain.score(users))
    steps = [step["facts_weight"] for step in MODELS.get("ppr-facts")(facts_path="0.5,0").fit_steps(train)]
    assert steps == [0.0, 0.5]
    mixed.save(tmp_path / "m")
    assert torch.equal(Recommender.load(tmp_path / "m").score([0, 1]), mixed.score([0, 1]))
    # a graph of the moment: one user more, befriended by user 0: their walk stands on themselves and user 0 most
    live = train.matrix().tolil()
    live.resize(train.n_users + 1, train.n_users + 1)
    live[0, train.n_users] = live[train.n_users, 0] = 1.0
    scores = mixed.scores(np.array([train.n_users]), walk_matrix(live.tocsr()))[0]
    assert scores.shape == (train.n_users + 1,) and set(np.argsort(-scores)[:2]) == {0, train.n_users}


def test_lightgcn_propagates_over_friendships_when_weighted(caplog: pytest.LogCaptureFixture) -> None:
    data = make_tiny_social()
    fast = {"epochs": 3, "batch_size": 64, "lr": 0.01}
    plain = MODELS.get("lightgcn")(**fast).fit(data, show_progress=False)
    social = MODELS.get("lightgcn")(social_weight=1.0, **fast).fit(data, show_progress=False)
    assert social._adj._nnz() == plain._adj._nnz() + 2 * data.social.n_links  # both directions of each pair
    assert not torch.allclose(social.score([0, 1]), plain.score([0, 1]))
    alone = MODELS.get("lightgcn")(social_weight=1.0, **fast).fit(make_tiny(), show_progress=False)
    assert "no social graph" in caplog.text
    assert alone._adj._nnz() == MODELS.get("lightgcn")(**fast).fit(make_tiny(), show_progress=False)._adj._nnz()
