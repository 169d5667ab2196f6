"""Friends while serving: the social graph of the moment (the dataset's friendships plus those added live), friend
suggestions over it with their reasons, and friends who speak for a user's item recommendations.

Suggestions are ``ppr-facts``'s scores — personalised PageRank over the friendships plus the cosine of what the
users did (items, their categories and cities, the users' own attributes) — computed per request over the graph
as it is now, so a friendship added a moment ago counts at once. A user's item vector is their own, plus
``social_weight`` × the mean of their friends' (0 by default: friends then speak only for a user with no history
of their own, who gets their friends' mean — a new user with only a friend list is served at once).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from knowrec.data.catalogue import Catalogue
from knowrec.data.dataset import Dataset
from knowrec.data.social import user_facts
from knowrec.errors import ConfigError
from knowrec.explain.friends import FriendExplainer, FriendExplanation
from knowrec.models.base import Recommender
from knowrec.models.social import fact_profiles, friend_scores, walk_matrix
from knowrec.serve.live import LiveState
from knowrec.serve.writes import UserState

#: ``ppr-facts``'s settings for suggestions: the weight validation chose on yelp-hin (0.1 of 0, 0.1, 0.25, 0.5, 1).
FRIEND_SCORING = {"restart": 0.15, "steps": 20, "facts_weight": 0.1}


@dataclass
class FriendSuggestion:
    """A suggested friend (original id), their score and, when asked for, why."""

    user_id: str
    score: float
    mutual_friends: int
    explanation: FriendExplanation | None = None


@dataclass
class FriendGraph:
    """The friendships as served, with what each suggestion reads off them, derived once per graph: its walk
    matrix and each user's tie-break prior (well-connected first)."""

    links: sp.csr_matrix
    walk_t: sp.csr_matrix
    prior: np.ndarray

    @classmethod
    def of(cls, links: sp.csr_matrix) -> FriendGraph:
        degree = np.asarray(links.sum(axis=1)).ravel()
        return cls(links, walk_matrix(links), 1e-6 * np.log1p(degree))  # below any real difference in score


@dataclass
class PendingFriends:
    """New friendships checked and recorded, not served yet: the users new to the service, and the graph."""

    new_users: list[str]
    graph: FriendGraph


class LiveFriends:
    """The social half of ``RecommenderService`` (mixed into it, like ``LiveWrites``)."""

    model: Recommender
    data: Dataset
    users: Catalogue
    state: LiveState
    _changed: dict[int, UserState]

    def user(self, user_id: str) -> int:
        raise NotImplementedError

    def _user_vectors(self, histories: Sequence[np.ndarray], texts: Sequence[str] | None,
                      users: Sequence[int] | None = None, profiles: np.ndarray | None = None) -> torch.Tensor:
        raise NotImplementedError

    def _init_friends(self, social_weight: float) -> None:
        if not social_weight >= 0:
            raise ConfigError(f"social_weight must be a number ≥ 0, got {social_weight!r}")
        self.social_weight = float(social_weight)
        social = self.data.social
        self.directed = bool(social is not None and social.directed)
        self._graph = FriendGraph.of(social.matrix(self.data.n_users) if social is not None
                                     else sp.csr_matrix((self.data.n_users, self.data.n_users), dtype=np.float32))
        facts = user_facts(self.data)
        self._friend_profiles = fact_profiles(facts)
        self.friend_explainer = FriendExplainer(self.users.ids, facts, self.friends)

    @property
    def friends(self) -> sp.csr_matrix:
        """The friend graph as served now (users × users)."""
        return self._graph.links

    # --- reading ----------------------------------------------------------------------------------------
    def friends_of(self, user: int) -> np.ndarray:
        """The user's friends (indices) as the service knows them now."""
        return self.friends[user].indices if user < self.friends.shape[0] else np.zeros(0, dtype=np.int32)

    def recommend_friends(self, user_id: str, k: int = 10, *, explain: bool = False) -> list[FriendSuggestion]:
        """Top-``k`` users to befriend, never the user or a friend already; ties go to well-connected users."""
        user, graph = self.user(user_id), self._graph
        scores = friend_scores(np.array([user]), graph.walk_t, self._friend_profiles, **FRIEND_SCORING)[0]
        scores += graph.prior  # orders only exact ties
        mine = self.friends_of(user)
        scores[user] = -np.inf
        scores[mine] = -np.inf
        k = min(k, int(np.isfinite(scores).sum()))
        top = np.argpartition(-scores, k - 1)[:k] if k else np.zeros(0, dtype=np.int64)
        top = top[np.argsort(-scores[top], kind="stable")]
        return [FriendSuggestion(self.users.ids[v], float(scores[v]), len(np.intersect1d(mine, self.friends_of(v))),
                                 self.friend_explainer.explain_pair(user, int(v)) if explain else None)
                for v in top]

    def _friends_vector(self, friends: np.ndarray, own: torch.Tensor | None) -> torch.Tensor | None:
        """``own`` plus ``social_weight`` × the friends' mean vector; the mean alone for a user with no vector."""
        vectors = [self._own_vector(int(f)) for f in friends]
        vectors = [v for v in vectors if v is not None]
        if not vectors or (own is not None and not self.social_weight):
            return own
        mean = torch.stack(vectors).mean(0)
        return mean if own is None else own + self.social_weight * mean

    def _own_vector(self, user: int) -> torch.Tensor | None:
        """The user's vector from their own history (``None`` for a user known only by friendships)."""
        changed = self._changed.get(user)
        if changed is not None:
            return changed.vector
        return self.model.user_factors_[user] if user < self.model.n_users_ else None

    def _fallback_vector(self) -> torch.Tensor:
        """A user with neither history nor friends with one: the hybrid's popularity fallback, else zeros."""
        if hasattr(self.model, "user_vectors"):
            return self._user_vectors([np.zeros(0, dtype=np.int64)], None)[0]
        return torch.zeros_like(self.model.user_factors_[0])

    # --- writing ----------------------------------------------------------------------------------------
    def add_friends(self, user_id: str, friend_ids: Sequence[str]) -> int:
        """Record and apply new friendships of ``user_id`` (a new id starts a new user); returns their number of
        friends."""
        self.commit_friends(self.prepare_friends(user_id, friend_ids))
        return len(self.friends_of(self.users.index(user_id)))

    def prepare_friends(self, user_id: str, friend_ids: Sequence[str]) -> PendingFriends:
        """The slow half of ``add_friends``: checked (friends must be known users, not the user), recorded
        durably, the next graph built."""
        user_id = str(user_id)
        friends = [self.user(f) for f in friend_ids]  # unknown ids fail before anything is written
        if user_id in {str(f) for f in friend_ids}:
            raise ConfigError(f"user {user_id!r} cannot befriend themselves")
        known = set(self.friends_of(self.users.index(user_id))) if user_id in self.users else set()
        new = list(dict.fromkeys(f for f in friends if f not in known))
        if new:
            self.state.add_friends(user_id, [self.users.ids[f] for f in new])
        return self._linked([(user_id, self.users.ids[f]) for f in new])

    def _linked(self, links: Sequence[tuple[str, str]]) -> PendingFriends:
        """The graph with ``links`` (original ids) added, and the users it names that the service lacks."""
        new_users = list(dict.fromkeys(u for pair in links for u in pair if u not in self.users))
        position = {u: len(self.users) + j for j, u in enumerate(new_users)}
        pairs = np.array([[position[u] if u in position else self.users.index(u) for u in pair] for pair in links],
                         dtype=np.int64).reshape(-1, 2)
        src, dst = pairs[:, 0], pairs[:, 1]
        if not self.directed:
            src, dst = np.concatenate([src, dst]), np.concatenate([dst, src])
        n = len(self.users) + len(new_users)
        old = self.friends.tocoo()
        graph = sp.csr_matrix((np.concatenate([old.data, np.ones(len(src), dtype=np.float32)]),
                               (np.concatenate([old.row, src]), np.concatenate([old.col, dst]))), shape=(n, n))
        return PendingFriends(new_users, FriendGraph.of(graph))

    def commit_friends(self, pending: PendingFriends) -> None:
        """Serve prepared friendships from the next request on."""
        if pending.new_users:
            self.users.add(pending.new_users)
        self._graph = pending.graph
        self.friend_explainer.update(pending.graph.links)

    def _replay_friends(self) -> None:
        """Apply the friendships an earlier run of the service recorded."""
        links = self.state.friendships()
        if links:
            self.commit_friends(self._linked(links))
