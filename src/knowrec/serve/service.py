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
from knowrec.kg.paths import PathFinder
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


@dataclass
class PendingItems:
    """New items embedded and recorded, not served yet (``RecommenderService.commit``)."""

    items: list[LiveItem]
    titles: list[str]
    vectors: torch.Tensor
    parts: torch.Tensor
    paths: PathFinder | None = None


@dataclass
class PendingUsers:
    """New histories and vectors of users, recorded, not served yet."""

    users: dict[str, UserState]


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
        if hasattr(model, "load_encoders"):  # now, not in the first write (it would hold up every read meanwhile)
            model.load_encoders()
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
                      explain: bool = False, exclude_seen: bool = True,
                      profile: np.ndarray | None = None) -> list[Recommendation]:
        """Top-``k`` for a user the model never saw, from their item ``history`` and/or profile ``text``
        (or its ``encode_profile``); with neither, the popularity fallback the model learned."""
        items = np.asarray([self.item(i) for i in history], dtype=np.int64)
        vector = self._user_vectors([items], [text] if text and profile is None else None, profiles=profile)[0]
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
    # A write has a slow half (``prepare_*``: text encoding, the state file, the graph store, the next path
    # index), which leaves what is served as it is and so may run beside reads (in a worker thread), and a
    # fast half (``commit``) that puts it in place. One write at a time: ``prepare`` reads what earlier writes
    # committed. ``add_item`` and ``add_interactions`` do both halves in one call.
    def add_item(self, item_id: str, fields: Mapping[str, Any], facts: Sequence[tuple[str, str]] = ()) -> int:
        """Embed, index and persist a new item from its ``fields`` (title, genres, …) and KG ``facts``
        (``(relation, entity)``); it is recommendable in the next request. Returns its index."""
        self.commit(self.prepare_item(item_id, fields, facts))
        return self._item_pos[str(item_id)]

    def prepare_item(self, item_id: str, fields: Mapping[str, Any],
                     facts: Sequence[tuple[str, str]] = ()) -> PendingItems:
        """The slow half of ``add_item``: checked, embedded and recorded durably, not yet served."""
        item = LiveItem(str(item_id), dict(fields), [(str(r), str(e)) for r, e in facts])
        if item.item_id in self._item_pos:
            raise ConflictError(f"item {item.item_id!r} exists already")
        self._require("embed_items", "add items")
        pending = self._embed([item])  # before the state file: what cannot be embedded is never recorded
        self.state.add_item(item)
        self._index_paths(pending)
        return pending

    def add_interactions(self, user_id: str, item_ids: Sequence[str]) -> int:
        """Record and apply new interactions: the user's next recommendations reflect them. A user id the
        model never saw becomes a new user. Returns the length of the user's history."""
        self.commit(self.prepare_interactions(user_id, item_ids))
        return len(self.history(self.user(user_id)))

    def prepare_interactions(self, user_id: str, item_ids: Sequence[str]) -> PendingUsers:
        """The slow half of ``add_interactions``: checked, the user's new vector computed, recorded durably."""
        items = [self.item(i) for i in item_ids]  # unknown ids fail before anything is written
        self._require("user_vectors", "update users")
        pending = self._user_updates({str(user_id): items})
        self.state.add_interactions(str(user_id), [self.item_ids[i] for i in items])
        return pending

    def commit(self, pending: PendingItems | PendingUsers) -> None:
        """Serve a prepared write from the next request on (quick: appends and swaps)."""
        if isinstance(pending, PendingUsers):
            for user_id, update in pending.users.items():
                if user_id not in self._user_pos:
                    self._user_pos[user_id] = len(self.user_ids)
                    self.user_ids.append(user_id)
                self._changed[self._user_pos[user_id]] = update
            return
        new = self.model.append_items(pending.vectors, pending.parts)
        self.index.add(self._item_rows(new))
        self._live.update(int(i) for i in new)
        for item, position, title in zip(pending.items, new, pending.titles, strict=True):
            self._item_pos[item.item_id] = int(position)
            self.item_ids.append(item.item_id)
            self.titles.append(title)
        if self.explainer is not None:
            self.explainer.commit_items([i.item_id for i in pending.items], pending.titles, pending.paths)

    def _require(self, method: str, what: str) -> None:
        if not hasattr(self.model, method):
            raise NotSupportedError(f"a {type(self.model).__name__} model cannot {what} without retraining; "
                                    "serve a hybrid model for that")

    def encode_profile(self, text: str) -> np.ndarray | None:
        """A profile text encoded for ``recommend_for(profile=…)``: its slow half, which changes nothing."""
        self._require("user_vectors", "score users it never saw")
        return self.model.encode_profiles([text])

    def _user_vectors(self, histories: Sequence[np.ndarray], texts: Sequence[str] | None,
                      users: Sequence[int] | None = None, profiles: np.ndarray | None = None) -> torch.Tensor:
        self._require("user_vectors", "score users it never saw")
        return self.model.user_vectors(histories, texts, users=users, profiles=profiles)

    def _embed(self, items: Sequence[LiveItem]) -> PendingItems:
        table = pd.DataFrame([i.fields for i in items], index=[i.item_id for i in items])
        facts = [(i.item_id, r, e) for i in items for r, e in i.facts]
        vectors, parts = self.model.embed_items(table, facts)
        titles = titles_of(table) or [i.item_id for i in items]
        titles = [t or i.item_id for t, i in zip(titles, items, strict=True)]
        return PendingItems(list(items), titles, vectors, parts)

    def _index_paths(self, pending: PendingItems) -> None:
        """The items' facts into the graph store, and the next path index (swapped in by ``commit``)."""
        if self.explainer is not None:
            pending.paths = self.explainer.prepare_items([i.item_id for i in pending.items], pending.titles,
                                                         [i.facts for i in pending.items])

    def _user_updates(self, added: Mapping[str, Sequence[int]]) -> PendingUsers:
        """New histories and vectors for the users in ``added`` (user id → item indices), in one batch for
        users trained on and one for users new to the model."""
        users = [self._user_pos.get(user_id) for user_id in added]
        histories = [np.unique(np.concatenate([np.zeros(0, np.int64) if u is None else self.history(u),
                                               np.asarray(items, dtype=np.int64)]))
                     for u, items in zip(users, added.values(), strict=True)]
        updates: dict[str, UserState] = {}
        trained = [j for j, u in enumerate(users) if u is not None and u < self.model.n_users_]
        for group, known in ((trained, True), ([j for j in range(len(users)) if j not in set(trained)], False)):
            if not group:
                continue
            texts = [self._profiles[users[j]] for j in group] if known and self._profiles else None
            vectors = self._user_vectors([histories[j] for j in group], texts,
                                         [users[j] for j in group] if known else None)
            for j, vector in zip(group, vectors, strict=True):
                updates[list(added)[j]] = UserState(histories[j], vector)
        return PendingUsers({user_id: updates[user_id] for user_id in added})

    def _replay(self) -> None:
        """Apply what an earlier run of the service recorded: added items first, then interactions."""
        t0 = time.perf_counter()
        items = list(self.state.items())
        if items:
            pending = self._embed(items)
            self._index_paths(pending)
            self.commit(pending)
        interactions = self.state.interactions()
        if interactions:
            unknown = {i for ids in interactions.values() for i in ids} - self._item_pos.keys()
            if unknown:
                raise ConfigError(f"live state {self.state.path} names items this model does not know "
                                  f"({sorted(unknown)[:3]}): it belongs to another run")
            self.commit(self._user_updates({u: [self._item_pos[i] for i in ids] for u, ids in interactions.items()}))
        if items or interactions:
            logger.info("replayed %d added items and %d users' interactions in %.2f s", len(items),
                        len(interactions), time.perf_counter() - t0)
