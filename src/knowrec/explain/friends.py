"""Why a user is suggested as a friend: the friends both have, what both interacted with, and the facts of those
items both reach (a category, a city), the rarest first — read off the friend task's graph and user facts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from knowrec.data.dataset import Dataset
from knowrec.data.social import FRIENDS, INTERACTED
from knowrec.errors import ConfigError
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
    """Explains suggestions of a friend task (``friend_dataset``) from its training friendships ``friends_seen``
    (a model's ``seen_``) and its user facts; ``shown`` pieces of evidence are named per reason."""

    def __init__(self, data: Dataset, friends_seen: sp.csr_matrix, *, shown: int = 3) -> None:
        if data.task != FRIENDS or data.kg is None:
            raise ConfigError(f"dataset {data.name!r} is not a friend task with user facts (friend_dataset)")
        self.data = data
        self.shown = shown
        self.friends = friends_seen.tocsr()
        users, rels, tails = item_facts(data.kg)
        self.facts = sp.csr_matrix((np.ones(len(users), dtype=np.float32), (users, tails)),
                                   shape=(data.n_users, data.kg.n_entities))
        self.facts.sum_duplicates()
        relation_of = np.zeros(data.kg.n_entities, dtype=np.int64)
        relation_of[tails] = rels
        self.relation_of = relation_of
        held = np.asarray((self.facts > 0).sum(axis=0)).ravel()
        self.fact_idf = np.log(data.n_users / np.maximum(held, 1))
        degree = np.asarray(self.friends.sum(axis=1)).ravel()
        self.friend_idf = np.log(data.n_users / np.maximum(degree, 1))

    def explain(self, user_id: Any, candidate_id: Any) -> FriendExplanation:
        """Reasons the user ``candidate_id`` suits ``user_id`` (original ids), strongest first."""
        u, v = int(self.data.user_index(user_id)), int(self.data.user_index(candidate_id))
        reasons = []
        mutual = np.intersect1d(self.friends[u].indices, self.friends[v].indices)
        if len(mutual):
            reasons.append(self._reason("mutual friends", mutual, self.friend_idf, self.data.user_ids))
        shared = np.intersect1d(self.facts[u].indices, self.facts[v].indices)
        names = self.data.kg.entity_ids
        for rel in np.unique(self.relation_of[shared]):
            chosen = shared[self.relation_of[shared] == rel]
            name = str(self.data.kg.relation_ids[rel])
            kind = "items both interacted with" if name == INTERACTED else \
                f"shared {name.removeprefix(INTERACTED + '.')} of what both interacted with" \
                if name.startswith(INTERACTED + ".") else f"shared {name}"
            reasons.append(self._reason(kind, chosen, self.fact_idf, names))
        reasons.sort(key=lambda r: -r.weight)
        return FriendExplanation(str(user_id), str(candidate_id), tuple(reasons))

    def _reason(self, kind: str, ids: np.ndarray, idf: np.ndarray, names: np.ndarray) -> FriendReason:
        order = ids[np.argsort(-idf[ids], kind="stable")]
        shown = tuple(str(names[i]).removeprefix("user:") for i in order[: self.shown])
        return FriendReason(kind, len(ids), shown, float(idf[ids].sum()))
