"""The social graph: reading links (bad rows reported), keeping it through save/load and renumbering, and the
friend task built on it (users as items, a pair-level split with no leak through the reverse edge)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.conftest import make_tiny, make_tiny_social

from knowrec.data import Dataset, import_dataset, load_recbole, split
from knowrec.data.dataset import TEST, TRAIN, VALID
from knowrec.data.social import friend_dataset, pair_keys
from knowrec.errors import DataError, MissingInputError
from knowrec.evaluate import Evaluator


def _with_friends(tmp_path: Path, rows: list[str], directed: bool = False) -> tuple[Dataset, object]:
    inter = tmp_path / "inter.csv"
    inter.write_text("user_id,item_id\n" + "".join(f"u{u},i{u % 3}\n" for u in range(6)))
    links = tmp_path / "friends.tsv"
    links.write_text("".join(r + "\n" for r in rows))
    return import_dataset(inter, social=links, social_directed=directed)


def test_links_are_read_and_bad_rows_reported(tmp_path: Path) -> None:
    data, report = _with_friends(tmp_path, ["u0\tu1", "u1\tu0", "u0\tu1", "u2\tu2", "u3\tnobody", "u4\tu5"])
    assert data.social.n_links == 2  # u0–u1 (its reverse merged) and u4–u5
    pairs = {tuple(sorted(data.user_ids[[s, d]])) for s, d in zip(data.social.src, data.social.dst, strict=True)}
    assert pairs == {("u0", "u1"), ("u4", "u5")}
    assert set(report.dropped) == {"self-link", "link to an unknown user", "duplicate link; the first is kept"}
    assert report.examples["self-link"] == [f"{tmp_path / 'friends.tsv'}:4"]
    assert any("reverse" in note for note in report.notes)


def test_strict_import_names_the_line(tmp_path: Path) -> None:
    inter = tmp_path / "inter.csv"
    inter.write_text("user_id,item_id\nu0,i0\nu1,i1\n")
    links = tmp_path / "friends.tsv"
    links.write_text("u0\tu1\nu1\tghost\n")
    with pytest.raises(DataError, match=r"friends.tsv:2.*unknown user"):
        import_dataset(inter, social=links, strict=True)


def test_directed_links_keep_both_directions_apart(tmp_path: Path) -> None:
    data, _ = _with_friends(tmp_path, ["u0\tu1", "u1\tu0", "u2\tu3"], directed=True)
    assert data.social.directed and data.social.n_links == 3
    m = data.social.matrix(data.n_users)
    assert m.nnz == 3 and (m != m.T).nnz == 2  # u2 → u3 has no way back


def test_social_survives_save_load_and_canonical_numbering(tmp_path: Path) -> None:
    data, _ = _with_friends(tmp_path, ["u0\tu1", "u4\tu5", "u2\tu0"])
    back = Dataset.load(data.save(tmp_path / "saved"))
    for d in (back, data.canonical()):
        names = {tuple(sorted(d.user_ids[[s, t]])) for s, t in zip(d.social.src, d.social.dst, strict=True)}
        assert names == {("u0", "u1"), ("u4", "u5"), ("u0", "u2")}
        assert (d.social.src < d.social.dst).all()
    assert "social_links" in data.summary() and data.summary()["users_with_links"].startswith("5/6")


def test_recbole_net_file(tmp_path: Path) -> None:
    (tmp_path / "toy.inter").write_text("user_id:token\titem_id:token\nu0\ti0\nu1\ti0\nu2\ti1\n")
    (tmp_path / "toy.net").write_text("source_id:token\ttarget_id:token\nu0\tu1\nu1\tu0\nu1\tu2\nu2\tu1\n")
    data = load_recbole(tmp_path)
    assert not data.social.directed and data.social.n_links == 2
    (tmp_path / "toy.net").write_text("source_id:token\ttarget_id:token\nu0\tu1\nu1\tu7\n")
    with pytest.raises(DataError, match=r"toy.net:3.*unknown user"):
        load_recbole(tmp_path)


def test_friend_task_and_its_split() -> None:
    data = make_tiny_social()
    friends = friend_dataset(data)
    assert friends.task == "friends" and friends.n_items == friends.n_users == data.n_users
    assert friends.n_interactions == 2 * data.social.n_links
    facts = friends.kg.relation_ids[friends.kg.relations]
    assert {"interacted", "interacted.genres"} <= set(facts)
    s = split(friends, seed=3)
    keys = pair_keys(friends.users, friends.items, friends.n_users)
    per_pair = pd.Series(s.parts).groupby(keys).nunique()
    assert (per_pair == 1).all()  # both directions of a friendship in one part
    counts = np.bincount(s.parts, minlength=3) / len(s.parts)
    assert counts[TRAIN] > 0.5 and counts[VALID] > 0.03 and counts[TEST] > 0.03
    assert np.array_equal(s.parts, split(friends, seed=3).parts)
    with pytest.raises(Exception, match="friend task splits"):
        split(friends, "loo")


def test_friend_evaluation_never_suggests_the_user() -> None:
    friends = friend_dataset(make_tiny_social())
    s = split(friends, seed=0)

    class Me:
        def score(self, users: np.ndarray):
            import torch

            out = torch.zeros(len(users), friends.n_items)
            out[torch.arange(len(users)), torch.as_tensor(users)] = 1.0  # "yourself" first
            return out

    ev = Evaluator(friends, s, ks=[1])
    assert ev._masks["test"][np.arange(5), np.arange(5)].all()
    res = ev.evaluate(Me(), "test")
    assert res.metrics["hit@1"] < 0.5  # a random other user, not oneself


def test_friend_task_needs_a_social_graph() -> None:
    with pytest.raises(MissingInputError, match="no social graph"):
        friend_dataset(make_tiny())
