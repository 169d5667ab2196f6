"""Why a user is suggested as a friend: the friends both have, what both interacted with, and the facts of those
items both reach (a category, a city), the rarest first — read off the friend task's graph and user facts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from knowrec.data.dataset import Dataset
from knowrec.data.social import FRIENDS, INTERACTED
from knowrec.data.triples import KnowledgeGraph
from knowrec.errors import ConfigError, UnknownNameError
from knowrec.kg.prepare import item_facts


@dataclass(frozen=True)
class FriendReason:
    """One kind of evidence: ``kind`` (mutual friends, shared items, a shared fact's relation), how many pieces
    there are, the first few by rarity, and a weight (the summed ``log(users / users holding it)``)."""

    kind: str
    count: int
    shown: tuple[str, ...]
    weight: float

    def __str__(self) -> str:
        more = f" and {self.count - len(self.shown)} more" if self.count > len(self.shown) else ""
        return f"{self.count} {self.kind}: {', '.join(self.shown)}{more} (weight {self.weight:.1f})"


@dataclass(frozen=True)
class FriendExplanation:
    user: str
    candidate: str
    reasons: tuple[FriendReason, ...] = field(default_factory=tuple)

    def __str__(self) -> str:
        if not self.reasons:
            return f"user {self.candidate}: no shared friend, item or fact — suggested by the model's score alone"
        return f"you and user {self.candidate}: " + "; ".join(map(str, self.reasons))


class FriendExplainer:
    """Explains suggested friends from a friend graph (``friends``, users × users) and the users' facts
    (``facts``: a KG whose "items" are the users, as ``user_facts`` builds it); ``shown`` pieces of evidence are
    named per reason. Users past the facts' rows (added while serving) have friends but no facts yet."""

    def __init__(self, user_ids: Sequence[str], facts: KnowledgeGraph, friends: sp.spmatrix, *,
                 shown: int = 3) -> None:
        self.user_ids = user_ids  # kept as given: a service's list of users grows in place
        self.shown = shown
        self.kg = facts
        users, rels, tails = item_facts(facts)
        self.n_known = len(facts.item_entities)
        self.facts = sp.csr_matrix((np.ones(len(users), dtype=np.float32), (users, tails)),
                                   shape=(self.n_known, facts.n_entities))
        self.facts.sum_duplicates()
        relation_of = np.zeros(facts.n_entities, dtype=np.int64)
        relation_of[tails] = rels
        self.relation_of = relation_of
        held = np.asarray((self.facts > 0).sum(axis=0)).ravel()
        self.fact_idf = np.log(self.n_known / np.maximum(held, 1))
        self.update(friends)

    @classmethod
    def of_task(cls, data: Dataset, friends_seen: sp.spmatrix, *, shown: int = 3) -> FriendExplainer:
        """The explainer of a friend task (``friend_dataset``) and its training friendships (a model's ``seen_``)."""
        if data.task != FRIENDS or data.kg is None:
            raise ConfigError(f"dataset {data.name!r} is not a friend task with user facts (friend_dataset)")
        return cls(data.user_ids, data.kg, friends_seen, shown=shown)

    def update(self, friends: sp.spmatrix) -> None:
        """The friendships of the moment (a service's, after a write; users past the old ones included)."""
        self.friends = friends.tocsr()
        degree = np.asarray(self.friends.sum(axis=1)).ravel()
        self.friend_idf = np.log(max(self.friends.shape[0], 1) / np.maximum(degree, 1))

    def explain(self, user_id: Any, candidate_id: Any) -> FriendExplanation:
        """Reasons the user ``candidate_id`` suits ``user_id`` (original ids), strongest first."""
        index = pd.Index(np.asarray(self.user_ids, dtype=object).astype(str))
        u, v = (int(i) for i in index.get_indexer([str(user_id), str(candidate_id)]))
        if u < 0 or v < 0:
            raise UnknownNameError(f"unknown user {str(user_id if u < 0 else candidate_id)!r}")
        return self.explain_pair(u, v)

    def explain_pair(self, u: int, v: int) -> FriendExplanation:
        """Reasons user ``v`` suits user ``u`` (indices), strongest first."""
        reasons = []
        mutual = np.intersect1d(self.friends[u].indices, self.friends[v].indices)
        if len(mutual):
            reasons.append(self._reason("mutual friends", mutual, self.friend_idf, self.user_ids))
        shared = np.intersect1d(self._facts_of(u), self._facts_of(v))
        names = self.kg.entity_ids
        for rel in np.unique(self.relation_of[shared]):
            chosen = shared[self.relation_of[shared] == rel]
            name = str(self.kg.relation_ids[rel])
            kind = "items both interacted with" if name == INTERACTED else \
                f"shared {name.removeprefix(INTERACTED + '.')} of what both interacted with" \
                if name.startswith(INTERACTED + ".") else f"shared {name}"
            reasons.append(self._reason(kind, chosen, self.fact_idf, names))
        reasons.sort(key=lambda r: -r.weight)
        return FriendExplanation(str(self.user_ids[u]), str(self.user_ids[v]), tuple(reasons))

    def _facts_of(self, user: int) -> np.ndarray:
        return self.facts[user].indices if user < self.n_known else np.zeros(0, dtype=np.int32)

    def _reason(self, kind: str, ids: np.ndarray, idf: np.ndarray, names: Sequence[str]) -> FriendReason:
        order = ids[np.argsort(-idf[ids], kind="stable")]
        shown = tuple(str(names[i]).removeprefix("user:") for i in order[: self.shown])
        return FriendReason(kind, len(ids), shown, float(idf[ids].sum()))
