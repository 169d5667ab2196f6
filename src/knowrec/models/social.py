"""Models of the friend task (``Dataset.task == "friends"``: users ranked for a user).

Link-prediction baselines that read the training friendships alone — common neighbours, Adamic–Adar, personalised
PageRank — and ``shared-facts``, which reads what the users did and what is known of them instead. The item models
run on the friend task too: ``lightgcn`` is the plain embedding model of the friend graph, ``kease`` stacks it with
each user's facts, and a ``blend`` mixes graph and facts with weights chosen on validation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Self

import numpy as np
import scipy.sparse as sp
import torch

from knowrec.data.dataset import Dataset
from knowrec.errors import ConfigError
from knowrec.kg.prepare import item_facts
from knowrec.models.base import MODELS, StatelessRecommender
from knowrec.params import POSITIVE_INT, Choice, Constraint, Dimension, Flag, Float, Int, Interval, Text, split_names
from knowrec.train.callbacks import Callback


class _FriendGraphModel(StatelessRecommender):
    """A friend-task model whose whole state is the training friend graph (``seen_``, saved by the base)."""

    requires = frozenset({"friends"})


class _NeighbourScore(_FriendGraphModel):
    """Scores ``A_u · W · A``: friends of friends, each shared friend weighted by ``_weights`` of its degree."""

    def __init__(self) -> None:  # no hyper-parameters
        pass

    def _weights(self, degree: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _score(self, users: torch.Tensor) -> torch.Tensor:
        if getattr(self, "_through", None) is None:
            degree = np.asarray(self.seen_.sum(axis=1)).ravel()
            self._through = (sp.diags(self._weights(degree).astype(np.float32)) @ self.seen_).tocsr()
        return torch.from_numpy(np.asarray((self.seen_[users.numpy()] @ self._through).todense(), dtype=np.float32))


@MODELS.component("common-neighbours", aliases=("cn", "common-neighbors"))
class CommonNeighbours(_NeighbourScore):
    """The number of friends two users share."""

    citation = "Liben-Nowell & Kleinberg. The link-prediction problem for social networks. JASIST 2007."

    def _weights(self, degree: np.ndarray) -> np.ndarray:
        return np.ones_like(degree, dtype=np.float64)


@MODELS.component("adamic-adar", aliases=("aa",))
class AdamicAdar(_NeighbourScore):
    """Shared friends, each weighted by ``1 / log(degree)``: a friend of few says more than a friend of all."""

    citation = "Adamic & Adar. Friends and neighbors on the web. Social Networks 2003."

    def _weights(self, degree: np.ndarray) -> np.ndarray:
        return 1.0 / np.log(np.maximum(degree, 2.0))


@MODELS.component("ppr", aliases=("personalised-pagerank", "personalized-pagerank", "rwr"))
class PersonalisedPageRank(_FriendGraphModel):
    """A random walk over the training friendships that returns to the user with probability ``restart`` at each
    of ``steps`` steps; a user's score is the walk's probability of standing there."""

    citation = "Haveliwala. Topic-sensitive PageRank. WWW 2002; Liben-Nowell & Kleinberg, JASIST 2007."
    constraints: ClassVar[dict[str, Constraint]] = {"restart": Interval(0, 1, low_open=True),
                                                    "steps": POSITIVE_INT}
    search_space: ClassVar[dict[str, Dimension]] = {"restart": Float(0.05, 0.8, log=True), "steps": Int(2, 30)}

    def __init__(self, *, restart: float = 0.15, steps: int = 20) -> None:
        self.restart = restart
        self.steps = steps

    def _score(self, users: torch.Tensor) -> torch.Tensor:
        if getattr(self, "_walk_t", None) is None:
            degree = np.asarray(self.seen_.sum(axis=1)).ravel()
            walk = sp.diags(1.0 / np.maximum(degree, 1.0)) @ self.seen_  # row-stochastic where a user has friends
            self._walk_t = walk.T.tocsr().astype(np.float32)
        start = np.zeros((self.n_users_, len(users)), dtype=np.float32)
        start[users.numpy(), np.arange(len(users))] = 1.0
        prob = start.copy()
        for _ in range(int(self.steps)):
            prob = self.restart * start + (1.0 - self.restart) * (self._walk_t @ prob)
        return torch.from_numpy(np.ascontiguousarray(prob.T))


@MODELS.component("shared-facts", aliases=("profile-similarity",))
class SharedFacts(_FriendGraphModel):
    """Users alike in what they did and what is known of them: the cosine of their KG-fact rows (items they
    interacted with, those items' categories and cities, their own attributes), each fact weighted by
    ``log(users / users holding it)`` with ``idf``. Needs no friendship at all: a user with none still gets
    suggestions."""

    citation = "content-based link prediction over shared attributes (the TF–IDF cosine of Salton & Buckley 1988)"
    requires = frozenset({"friends", "kg"})
    constraints: ClassVar[dict[str, Constraint]] = {"idf": Flag(), "relations": Text()}
    search_space: ClassVar[dict[str, Dimension]] = {"idf": Choice((True, False))}

    def __init__(self, *, idf: bool = True, relations: str = "") -> None:
        self.idf = idf
        self.relations = relations

    def fit(self, data: Dataset, *, callbacks: Sequence[Callback] = (), show_progress: bool = True) -> Self:
        self._check_inputs(data)
        users, rels, tails = item_facts(data.kg)
        wanted = split_names(self.relations)
        if wanted:
            known = [str(r) for r in data.kg.relation_ids]
            unknown = sorted(set(wanted) - set(known))
            if unknown:
                raise ConfigError(f"shared-facts: no relation {unknown[0]!r} in the KG (it has {', '.join(known)})")
            keep = np.isin(data.kg.relation_ids[rels].astype(str), wanted)
            users, tails = users[keep], tails[keep]
        facts = sp.csr_matrix((np.ones(len(users)), (users, tails)), shape=(data.n_users, data.kg.n_entities))
        facts.sum_duplicates()
        facts.data[:] = 1.0
        if self.idf:
            held = np.asarray((facts > 0).sum(axis=0)).ravel()
            facts = facts @ sp.diags(np.log(data.n_users / np.maximum(held, 1)))
        norms = np.sqrt(np.asarray(facts.multiply(facts).sum(axis=1)).ravel())
        self.profiles_ = (sp.diags(1.0 / np.maximum(norms, 1e-12)) @ facts).astype(np.float32).tocsr()
        for cb in callbacks:
            cb.on_fit_end(self)
        return self

    def _score(self, users: torch.Tensor) -> torch.Tensor:
        sims = self.profiles_[users.numpy()] @ self.profiles_.T
        return torch.from_numpy(np.asarray(sims.todense(), dtype=np.float32))

    def _state(self) -> dict[str, torch.Tensor]:
        p = self.profiles_.tocoo()
        return {"profile_rows": torch.from_numpy(p.row.astype(np.int64)),
                "profile_cols": torch.from_numpy(p.col.astype(np.int64)), "profile_values": torch.from_numpy(p.data),
                "profile_shape": torch.tensor(p.shape)}

    def _set_state(self, state: dict[str, torch.Tensor]) -> None:
        self.profiles_ = sp.csr_matrix(
            (state["profile_values"].numpy(), (state["profile_rows"].numpy(), state["profile_cols"].numpy())),
            shape=tuple(state["profile_shape"].tolist()))
