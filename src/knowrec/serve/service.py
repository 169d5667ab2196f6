"""A trained model at serving time: original ids in and out, top-K from a vector index, explanations, and live
new items and interactions that change the next answer and survive a restart (``LiveState``).

Scores are inner products ``user · item + bias``; the index holds ``[item, bias]`` and is queried with
``[user, 1]``, so exact and approximate retrieval rank exactly what the model scores.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from knowrec.data.dataset import Dataset, titles_of
from knowrec.errors import ConfigError, ConflictError, NotSupportedError, UnknownNameError
from knowrec.models.base import Recommender
from knowrec.serve.explain import Explainer, Explanation
from knowrec.serve.index import VectorIndex, build_index
from knowrec.serve.live import LiveItem, LiveState
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


@dataclass
class UserState:
    """A user's history (item indices) and scored vector as the service knows them now."""

    history: np.ndarray
    vector: torch.Tensor


class RecommenderService:
    """Serves a fitted factor model (``user_factors_``, ``item_factors_``) over ``data``'s ids.

    ``index`` picks the retrieval (``exact``, ``hnsw``, ``ivf``; ``index_options`` tune it). Adding items and
    serving unseen users need a model that embeds them from text, facts and history (the hybrid model);
    others raise ``NotSupportedError`` for those calls. ``state`` persists what is added; it is replayed here.

    New items have no interactions, so a model with a popularity prior ranks them below well-liked items
    however well they match a user. Up to ``fresh`` of the last places in a list go to items added while
    serving that are among the user's top ``k`` by taste alone (the score without the prior), flagged ``new``.
    """

    def __init__(self, model: Recommender, data: Dataset, *, index: str = "exact",
                 index_options: Mapping[str, Any] | None = None, state: LiveState | None = None,
                 explainer: Explainer | None = None, fresh: int = 2) -> None:
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
        self.item_ids = [str(i) for i in data.item_ids]
        self.titles = data.item_titles() or list(self.item_ids)
        self._item_pos = {item: i for i, item in enumerate(self.item_ids)}
        self.user_ids = [str(u) for u in data.user_ids]
        self._user_pos = {user: u for u, user in enumerate(self.user_ids)}
        self._profiles = user_texts(data)
        self._changed: dict[int, UserState] = {}  # users whose history changed while serving, and new users
        self.index: VectorIndex = build_index(index, self._item_rows(np.arange(model.n_items_)),
                                              **dict(index_options or {}))
        self._replay()

    # --- lookups ----------------------------------------------------------------------------------------
    def item(self, item_id: str) -> int:
        """The index of an item (original id); ``UnknownNameError`` if neither trained on nor added."""
        try:
            return self._item_pos[str(item_id)]
        except KeyError:
            raise UnknownNameError(f"unknown item {item_id!r}") from None

    def user(self, user_id: str) -> int:
        """The index of a user (original id); ``UnknownNameError`` if neither trained on nor added."""
        try:
            return self._user_pos[str(user_id)]
        except KeyError:
            raise UnknownNameError(f"unknown user {user_id!r}: post their interactions first, or ask "
                                   "POST /recommendations with a history") from None

    def history(self, user: int) -> np.ndarray:
        """Item indices the user interacted with (training data plus interactions added while serving)."""
        changed = self._changed.get(user)
        if changed is not None:
            return changed.history
        return self.model.seen_[user].indices if user < self.model.n_users_ else np.zeros(0, dtype=np.int64)

    def _vector(self, user: int) -> torch.Tensor:
        changed = self._changed.get(user)
        return changed.vector if changed is not None else self.model.user_factors_[user]

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
                      explain: bool = False, exclude_seen: bool = True) -> list[Recommendation]:
        """Top-``k`` for a user the model never saw, from their item ``history`` and/or profile ``text``;
        with neither, the popularity fallback the model learned."""
        items = np.asarray([self.item(i) for i in history], dtype=np.int64)
        vector = self._user_vectors([items], [text] if text else None)[0]
        return self._top(vector, items, k, explain=explain, exclude_seen=exclude_seen)

    def similar(self, item_id: str, k: int = 10) -> list[Recommendation]:
        """The ``k`` items whose vectors are closest to the item's (cosine for the hybrid model)."""
        item = self.item(item_id)
        query = torch.nn.functional.normalize(self.model.item_factors_[item].float(), dim=0)
        idx, scores = self.index.search(torch.cat([query, torch.zeros(1)]).numpy(), k, [np.array([item])])
        return [Recommendation(self.item_ids[i], self.titles[i], float(s))
                for i, s in zip(idx[0], scores[0], strict=True) if i >= 0]

    def _top(self, vector: torch.Tensor, history: np.ndarray, k: int, *, explain: bool, exclude_seen: bool,
             user_id: str = "") -> list[Recommendation]:
        query = torch.cat([vector.float(), torch.ones(1)]).numpy()
        exclude = [history] if exclude_seen else None
        idx, scores = (a[0] for a in self.index.search(query, k, exclude))
        idx, scores, new = self._with_fresh(query, idx[idx >= 0], scores[idx >= 0], k, exclude)
        out = []
        for i, s, is_new in zip(idx, scores, new, strict=True):
            why = None
            if explain and self.explainer is not None:
                why = self.explainer.explain_history(history, int(i), user_vector=vector, user_id=user_id)
            out.append(Recommendation(self.item_ids[i], self.titles[i], float(s), why, bool(is_new)))
        return out

    def _with_fresh(self, query: np.ndarray, idx: np.ndarray, scores: np.ndarray, k: int,
                    exclude: list[np.ndarray] | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Give up to ``fresh`` of the last places to live items in the user's top ``k`` by taste alone."""
        new = np.zeros(len(idx), dtype=bool)
        if not self._live or not self.fresh:
            return idx, scores, new
        taste, _ = self.index.search(np.concatenate([query[:-1], [0.0]]), k, exclude)
        listed = set(idx.tolist())
        picks = [int(i) for i in taste[0] if int(i) in self._live and int(i) not in listed][: self.fresh]
        if not picks:
            return idx, scores, new
        keep = min(len(idx), k - len(picks))
        picked = np.asarray(picks, dtype=np.int64)
        return (np.concatenate([idx[:keep], picked]), np.concatenate([scores[:keep], self._item_rows(picked) @ query]),
                np.concatenate([new[:keep], np.ones(len(picked), dtype=bool)]))

    def health(self) -> dict[str, Any]:
        """What is served: model, dataset, catalogue and user counts, what was added live, the index."""
        return {"status": "ok", "model": self.model.name, "dataset": self.data.name, "index": self.index_kind,
                "users": len(self.user_ids), "items": len(self.item_ids), "added": self.state.counts()}

    # --- writing ----------------------------------------------------------------------------------------
    def add_item(self, item_id: str, fields: Mapping[str, Any], facts: Sequence[tuple[str, str]] = ()) -> int:
        """Embed, index and persist a new item from its ``fields`` (title, genres, …) and KG ``facts``
        (``(relation, entity)``); it is recommendable in the next request. Returns its index."""
        item = LiveItem(str(item_id), dict(fields), [(str(r), str(e)) for r, e in facts])
        if item.item_id in self._item_pos:
            raise ConflictError(f"item {item.item_id!r} exists already")
        self._require("add_items", "add items")
        self.state.add_item(item)
        return int(self._apply_items([item])[0])

    def add_interactions(self, user_id: str, item_ids: Sequence[str]) -> int:
        """Record and apply new interactions: the user's next recommendations reflect them. A user id the
        model never saw becomes a new user. Returns the length of the user's history."""
        items = [self.item(i) for i in item_ids]  # unknown ids fail before anything is written
        self._require("user_vectors", "update users")
        self.state.add_interactions(str(user_id), [self.item_ids[i] for i in items])
        return len(self._apply_interactions({str(user_id): items})[0])

    def _require(self, method: str, what: str) -> None:
        if not hasattr(self.model, method):
            raise NotSupportedError(f"a {type(self.model).__name__} model cannot {what} without retraining; "
                                    "serve a hybrid model for that")

    def _user_vectors(self, histories: Sequence[np.ndarray], texts: Sequence[str] | None,
                      users: Sequence[int] | None = None) -> torch.Tensor:
        self._require("user_vectors", "score users it never saw")
        return self.model.user_vectors(histories, texts, users=users)

    def _apply_items(self, items: Sequence[LiveItem]) -> np.ndarray:
        table = pd.DataFrame([i.fields for i in items], index=[i.item_id for i in items])
        facts = [(i.item_id, r, e) for i in items for r, e in i.facts]
        new = self.model.add_items(table, facts)
        titles = titles_of(table) or [i.item_id for i in items]
        titles = [t or i.item_id for t, i in zip(titles, items, strict=True)]
        self.index.add(self._item_rows(new))
        self._live.update(int(i) for i in new)
        for item, position, title in zip(items, new, titles, strict=True):
            self._item_pos[item.item_id] = int(position)
            self.item_ids.append(item.item_id)
            self.titles.append(title)
        if self.explainer is not None:
            self.explainer.add_items([i.item_id for i in items], titles, [i.facts for i in items])
        return new

    def _apply_interactions(self, added: Mapping[str, Sequence[int]]) -> list[np.ndarray]:
        """New histories and vectors for the users in ``added`` (user id → item indices), in one batch for
        users trained on and one for users new to the model."""
        users = []
        for user_id in added:
            if user_id not in self._user_pos:
                self._user_pos[user_id] = len(self.user_ids)
                self.user_ids.append(user_id)
            users.append(self._user_pos[user_id])
        histories = [np.unique(np.concatenate([self.history(u), np.asarray(items, dtype=np.int64)]))
                     for u, items in zip(users, added.values(), strict=True)]
        trained = [j for j, u in enumerate(users) if u < self.model.n_users_]
        for group, known in ((trained, True), ([j for j in range(len(users)) if j not in set(trained)], False)):
            if not group:
                continue
            texts = [self._profiles[users[j]] for j in group] if known and self._profiles else None
            vectors = self._user_vectors([histories[j] for j in group], texts,
                                         [users[j] for j in group] if known else None)
            for j, vector in zip(group, vectors, strict=True):
                self._changed[users[j]] = UserState(histories[j], vector)
        return histories

    def _replay(self) -> None:
        """Apply what an earlier run of the service recorded: added items first, then interactions."""
        t0 = time.perf_counter()
        items = list(self.state.items())
        if items:
            self._apply_items(items)
        interactions = self.state.interactions()
        if interactions:
            unknown = {i for ids in interactions.values() for i in ids} - self._item_pos.keys()
            if unknown:
                raise ConfigError(f"live state {self.state.path} names items this model does not know "
                                  f"({sorted(unknown)[:3]}): it belongs to another run")
            self._apply_interactions({u: [self._item_pos[i] for i in ids] for u, ids in interactions.items()})
        if items or interactions:
            logger.info("replayed %d added items and %d users' interactions in %.2f s", len(items),
                        len(interactions), time.perf_counter() - t0)
