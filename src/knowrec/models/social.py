"""Models of the friend task (``Dataset.task == "friends"``: users ranked for a user).

Link-prediction baselines that read the training friendships alone — common neighbours, Adamic–Adar, personalised
PageRank — and ``shared-facts``, which reads what the users did and what is known of them instead. The item models
run on the friend task too: ``lightgcn`` is the plain embedding model of the friend graph, ``kease`` stacks it with
each user's facts, and a ``blend`` mixes graph and facts with weights chosen on validation.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import ClassVar, Self

import numpy as np
import scipy.sparse as sp
import torch

from knowrec.data.dataset import Dataset
from knowrec.data.triples import KnowledgeGraph
from knowrec.errors import ConfigError
from knowrec.kg.prepare import item_facts
from knowrec.models.base import MODELS, StatelessRecommender
from knowrec.params import (
    NON_NEGATIVE,
    POSITIVE_INT,
    Choice,
    Constraint,
    Dimension,
    Flag,
    Float,
    Int,
    Interval,
    Numbers,
    Text,
    split_names,
    split_numbers,
)
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
            self._walk_t = walk_matrix(self.seen_)
        return torch.from_numpy(pagerank(self._walk_t, users.numpy(), self.restart, self.steps))


def walk_matrix(friends: sp.spmatrix) -> sp.csr_matrix:
    """The transposed one-step walk of a friend graph: each user's mass spread evenly over their friends."""
    degree = np.asarray(friends.sum(axis=1)).ravel()
    walk = sp.diags(1.0 / np.maximum(degree, 1.0)) @ friends  # row-stochastic where a user has friends
    return walk.T.tocsr().astype(np.float32)


def pagerank(walk_t: sp.csr_matrix, users: np.ndarray, restart: float, steps: int) -> np.ndarray:
    """Personalised PageRank from each of ``users`` (rows) over every user (columns), by ``steps`` power steps."""
    start = np.zeros((walk_t.shape[0], len(users)), dtype=np.float32)
    start[users, np.arange(len(users))] = 1.0
    prob = start.copy()
    for _ in range(int(steps)):
        prob = restart * start + (1.0 - restart) * (walk_t @ prob)
    return np.ascontiguousarray(prob.T)


def fact_profiles(kg: KnowledgeGraph, *, idf: bool = True, relations: str = "") -> sp.csr_matrix:
    """Each user's row of facts from a KG whose "items" are the users (``user_facts``; ``relations`` only, when
    given), ``idf``-weighted by ``log(users / users holding it)`` and of unit length: ``P Pᵀ`` is their cosine."""
    n_users = len(kg.item_entities)
    users, rels, tails = item_facts(kg)
    wanted = split_names(relations)
    if wanted:
        known = [str(r) for r in kg.relation_ids]
        unknown = sorted(set(wanted) - set(known))
        if unknown:
            raise ConfigError(f"no relation {unknown[0]!r} in the KG (it has {', '.join(known)})")
        keep = np.isin(kg.relation_ids[rels].astype(str), wanted)
        users, tails = users[keep], tails[keep]
    facts = sp.csr_matrix((np.ones(len(users)), (users, tails)), shape=(n_users, kg.n_entities))
    facts.sum_duplicates()
    facts.data[:] = 1.0
    if idf:
        held = np.asarray((facts > 0).sum(axis=0)).ravel()
        facts = facts @ sp.diags(np.log(n_users / np.maximum(held, 1)))
    norms = np.sqrt(np.asarray(facts.multiply(facts).sum(axis=1)).ravel())
    return (sp.diags(1.0 / np.maximum(norms, 1e-12)) @ facts).astype(np.float32).tocsr()


def friend_scores(users: np.ndarray, walk_t: sp.csr_matrix, profiles: sp.csr_matrix, *, restart: float, steps: int,
                  facts_weight: float) -> np.ndarray:
    """``ppr-facts``'s scores of every user of a friend graph (given as its ``walk_matrix``; users past
    ``profiles``' rows have no facts) for each of ``users``: the z-scored walk plus ``facts_weight`` × the
    z-scored cosine."""
    ppr = standardised(pagerank(walk_t, users, restart, steps))
    if facts_weight == 0:
        return ppr
    n, known = walk_t.shape[0], profiles.shape[0]
    has = users < known
    rows = sp.diags(has.astype(np.float32)) @ profiles[np.where(has, users, 0)]  # no facts: a zero row
    sims = np.zeros((len(users), n), dtype=np.float32)
    sims[:, :known] = (rows @ profiles.T).toarray()
    return ppr + facts_weight * standardised(sims)


def standardised(scores: np.ndarray) -> np.ndarray:
    """Each row z-scored (a constant row becomes zeros), so scores on different scales mix evenly."""
    std = scores.std(axis=1, keepdims=True)
    return (scores - scores.mean(axis=1, keepdims=True)) / np.where(std > 0, std, 1.0)


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
        self.profiles_ = fact_profiles(data.kg, idf=self.idf, relations=self.relations)
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


@MODELS.component("ppr-facts", aliases=("social",))
class PPRFacts(SharedFacts):
    """Personalised PageRank over the friendships plus ``facts_weight`` × the ``shared-facts`` cosine, each
    z-scored per user: friends of friends where a user has friends, shared places and tastes where they have few.
    The trainer validates every weight of ``facts_path`` (0, plain PageRank, included when listed). ``scores``
    takes any friend graph, so the service ranks over the friendships of the moment without refitting."""

    citation = "personalised PageRank (Haveliwala 2002) mixed with attribute similarity, as in Backstrom & Leskovec"
    constraints: ClassVar[dict[str, Constraint]] = {
        **SharedFacts.constraints, **PersonalisedPageRank.constraints, "facts_weight": NON_NEGATIVE,
        "facts_path": Numbers(0.0)}
    search_space: ClassVar[dict[str, Dimension]] = {**PersonalisedPageRank.search_space,
                                                    "facts_weight": Float(0.0, 2.0)}

    def __init__(self, *, restart: float = 0.15, steps: int = 20, facts_weight: float = 0.1,
                 facts_path: object = (0.0, 0.1, 0.25, 0.5, 1.0), idf: bool = True, relations: str = "") -> None:
        super().__init__(idf=idf, relations=relations)
        self.restart = restart
        self.steps = steps
        self.facts_weight = facts_weight
        self.facts_path = facts_path

    def fit(self, data: Dataset, *, callbacks: Sequence[Callback] = (), show_progress: bool = True) -> Self:
        super().fit(data, callbacks=(), show_progress=show_progress)
        self.facts_weight_ = torch.tensor(float(self.facts_weight))
        for cb in callbacks:
            cb.on_fit_end(self)
        return self

    def fit_steps(self, data: Dataset, *, show_progress: bool = True) -> Iterator[dict[str, float]]:
        """One step per weight of ``facts_path`` (ascending; ``facts_weight`` alone when empty)."""
        self.fit(data, show_progress=show_progress)
        for w in sorted(split_numbers(self.facts_path)) or [float(self.facts_weight)]:
            self.facts_weight_ = torch.tensor(w)
            yield {"facts_weight": w}

    def scores(self, users: np.ndarray, walk_t: sp.csr_matrix) -> np.ndarray:
        """Scores of every user of a friend graph, given as its ``walk_matrix`` (it may hold users added since
        fitting: they have no facts), for each of ``users``."""
        return friend_scores(users, walk_t, self.profiles_, restart=self.restart, steps=self.steps,
                             facts_weight=float(self.facts_weight_))

    def _score(self, users: torch.Tensor) -> torch.Tensor:
        if getattr(self, "_walk_t", None) is None:  # once per fitted graph, not per batch of users
            self._walk_t = walk_matrix(self.seen_)
        return torch.from_numpy(self.scores(users.numpy(), self._walk_t).astype(np.float32))

    def _state(self) -> dict[str, torch.Tensor]:
        return super()._state() | {"facts_weight": self.facts_weight_.clone()}

    def _set_state(self, state: dict[str, torch.Tensor]) -> None:
        super()._set_state(state)
        self.facts_weight_ = state["facts_weight"]
