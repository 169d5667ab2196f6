"""A trained model at serving time: original ids in and out, top-K from a vector index, explanations, and live
new items, interactions and friendships that change the next answer and survive a restart (``writes``,
``friends``, ``LiveState``).

Scores are inner products ``user · item + bias``; the index holds ``[item, bias]`` and is queried with
``[user, 1]``, so exact and approximate retrieval rank exactly what the model scores.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from knowrec.data.catalogue import Catalogue
from knowrec.data.dataset import Dataset
from knowrec.devices import resolve_device
from knowrec.errors import NotSupportedError, UnknownNameError
from knowrec.explain import Explainer, Explanation
from knowrec.models.base import Recommender
from knowrec.serve.fresh import with_fresh
from knowrec.serve.friends import LiveFriends, PendingFriends
from knowrec.serve.index import VectorIndex, build_index
from knowrec.serve.live import LiveState
from knowrec.serve.writes import LiveWrites, PendingItems, PendingUsers, UserState
from knowrec.text import user_texts

logger = logging.getLogger(__name__)


@dataclass
class Recommendation:
    """One recommended item (original id), its score and, when asked for, why."""

    item_id: str
    title: str
    score: float
    explanation: Explanation | None = None
    #: An item added while serving, placed because it matches the user's taste (see ``fresh``).
    new: bool = False


class RecommenderService(LiveWrites, LiveFriends):
    """Serves a fitted factor model (``user_factors_``, ``item_factors_``) over ``data``'s ids.

    ``index`` picks the retrieval (``exact``, ``hnsw``, ``ivf``; ``index_options`` tune it). Adding items and
    serving unseen users need a model that embeds them from text, facts and history (the hybrid model);
    others raise ``NotSupportedError`` for those calls. ``state`` persists what is added; it is replayed here.

    New items have no interactions, so a model with a popularity prior ranks them below well-liked items
    however well they match a user. Up to ``fresh`` of the last places in a list go to items added while
    serving that are among the user's top ``k`` by taste alone (the score without the prior), flagged ``new``.

    Friends (the data's social graph and friendships added live) are suggested by ``recommend_friends``; a
    user's item vector adds ``social_weight`` × their friends' mean, and is that mean alone without a history.
    """

    def __init__(self, model: Recommender, data: Dataset, *, index: str = "exact",
                 index_options: Mapping[str, Any] | None = None, state: LiveState | None = None,
                 explainer: Explainer | None = None, fresh: int = 2, social_weight: float = 0.0,
                 device: str = "auto") -> None:
        if getattr(model, "item_factors_", None) is None or getattr(model, "user_factors_", None) is None:
            raise NotSupportedError(f"serving needs a model with user and item vectors; {type(model).__name__} "
                                    "has none (train bpr, lightgcn, kgnet, cke or hybrid)")
        self.model = model
        self.data = data
        self.index_kind = index
        self.fresh = fresh
        self._live: set[int] = set()  # indices of items added while serving
        self.state = state or LiveState()
        self.explainer = explainer
        self.items = explainer.items if explainer is not None else Catalogue.items_of(data)  # one, shared
        self.users = Catalogue.users_of(data)
        self._profiles = user_texts(data)
        self._changed: dict[int, UserState] = {}  # users whose history changed while serving, and new users
        self.index: VectorIndex = build_index(index, self._item_rows(np.arange(model.n_items_)),
                                              **dict(index_options or {}))
        if hasattr(model, "load_encoders"):  # now, not in the first write (it would hold up every read meanwhile)
            # the language model that encodes new items and profiles runs on ``device``; the vectors, the index
            # and every response stay on the CPU (a request's dot products are small, faiss reads numpy)
            model.device_ = resolve_device(device)
            model.load_encoders()
        self._init_friends(social_weight)
        self._replay()
        self._replay_friends()

    # --- lookups ----------------------------------------------------------------------------------------
    def item(self, item_id: str) -> int:
        """The index of an item (original id); ``UnknownNameError`` if neither trained on nor added."""
        return self.items.index(item_id)

    def user(self, user_id: str) -> int:
        """The index of a user (original id); ``UnknownNameError`` if neither trained on nor added."""
        if user_id not in self.users:
            raise UnknownNameError(f"unknown user {str(user_id)!r}: post their interactions or friends first, or "
                                   "ask POST /recommendations with a history")
        return self.users.index(user_id)

    def history(self, user: int) -> np.ndarray:
        """Item indices the user interacted with (training data plus interactions added while serving)."""
        changed = self._changed.get(user)
        if changed is not None:
            return changed.history
        return self.model.seen_[user].indices if user < self.model.n_users_ else np.zeros(0, dtype=np.int64)

    def _vector(self, user: int) -> torch.Tensor:
        vector = self._friends_vector(self.friends_of(user), self._own_vector(user))
        return vector if vector is not None else self._fallback_vector()

    def commit(self, pending: PendingItems | PendingUsers | PendingFriends) -> None:
        """Serve a prepared write from the next request on."""
        if isinstance(pending, PendingFriends):
            self.commit_friends(pending)
        else:
            super().commit(pending)

    def _item_rows(self, items: np.ndarray) -> np.ndarray:
        """Index rows ``[item vector, bias]`` for item indices."""
        items = torch.as_tensor(items, dtype=torch.long)
        bias = getattr(self.model, "item_bias_", None)
        bias = torch.zeros(len(items)) if bias is None else bias[items]
        return torch.cat([self.model.item_factors_[items], bias.unsqueeze(1)], 1).float().numpy()

    # --- reading ----------------------------------------------------------------------------------------
    def recommend(self, user_id: str, k: int = 10, *, explain: bool = False,
                  exclude_seen: bool = True) -> list[Recommendation]:
        """Top-``k`` for a known user, reflecting interactions added while serving."""
        user = self.user(user_id)
        return self._top(self._vector(user), self.history(user), k, explain=explain, exclude_seen=exclude_seen,
                         user_id=str(user_id))

    def recommend_for(self, history: Sequence[str] = (), text: str | None = None, k: int = 10, *,
                      explain: bool = False, exclude_seen: bool = True, profile: np.ndarray | None = None,
                      friends: Sequence[str] = ()) -> list[Recommendation]:
        """Top-``k`` for a user the model never saw, from their item ``history`` and/or profile ``text``
        (or its ``encode_profile``) and their ``friends`` (known user ids); with none, the popularity fallback
        the model learned."""
        items = np.asarray([self.item(i) for i in history], dtype=np.int64)
        mates = np.asarray([self.user(f) for f in friends], dtype=np.int64)
        own = None
        if len(items) or text or profile is not None or not len(mates):
            own = self._user_vectors([items], [text] if text and profile is None else None, profiles=profile)[0]
        vector = self._friends_vector(mates, own)
        vector = vector if vector is not None else self._fallback_vector()
        return self._top(vector, items, k, explain=explain, exclude_seen=exclude_seen)

    def similar(self, item_id: str, k: int = 10) -> list[Recommendation]:
        """The ``k`` items whose vectors are closest to the item's (cosine for the hybrid model)."""
        item = self.item(item_id)
        query = torch.nn.functional.normalize(self.model.item_factors_[item].float(), dim=0)
        idx, scores = self.index.search(torch.cat([query, torch.zeros(1)]).numpy(), k, [np.array([item])])
        return [Recommendation(self.items.ids[i], self.items.titles[i], float(s))
                for i, s in zip(idx[0], scores[0], strict=True) if i >= 0]

    def _top(self, vector: torch.Tensor, history: np.ndarray, k: int, *, explain: bool, exclude_seen: bool,
             user_id: str = "") -> list[Recommendation]:
        query = torch.cat([vector.float(), torch.ones(1)]).numpy()
        exclude = [history] if exclude_seen else None
        idx, scores = (a[0] for a in self.index.search(query, k, exclude))
        idx, scores, new = with_fresh(self.index, query, idx[idx >= 0], scores[idx >= 0], k, exclude, self._live,
                                      self.fresh, self._item_rows)
        out = []
        for i, s, is_new in zip(idx, scores, new, strict=True):
            why = None
            if explain and self.explainer is not None:
                why = self.explainer.explain_history(history, int(i), user_vector=vector, user_id=user_id)
            out.append(Recommendation(self.items.ids[i], self.items.titles[i], float(s), why, bool(is_new)))
        return out

    def health(self) -> dict[str, Any]:
        """What is served: model, dataset, catalogue and user counts, what was added live, the index."""
        return {"status": "ok", "model": self.model.name, "dataset": self.data.name, "index": self.index_kind,
                "users": len(self.users), "items": len(self.items),
                "friendships": int(self.friends.nnz if self.directed else self.friends.nnz // 2),
                "added": self.state.counts()}

