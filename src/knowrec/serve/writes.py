"""Live writes of a service: new items and interactions, recorded in the state file before they are served,
and replayed from it at start.

A write has a slow half (``prepare_*``: text encoding, the state file, the graph store, the next path index),
which leaves what is served as it is and so may run beside reads (in a worker thread), and a quick half
(``commit``) that puts it in place. One write at a time: ``prepare`` reads what earlier writes committed.
``add_item`` and ``add_interactions`` do both halves in one call.
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

from knowrec.data.catalogue import Catalogue
from knowrec.data.dataset import titles_of
from knowrec.errors import ConfigError, ConflictError, NotSupportedError
from knowrec.explain import Explainer
from knowrec.kg.paths import PathFinder
from knowrec.models.base import Recommender
from knowrec.serve.index import VectorIndex
from knowrec.serve.live import LiveItem, LiveState

logger = logging.getLogger(__name__)


@dataclass
class UserState:
    """A user's history (item indices) and scored vector as the service knows them now."""

    history: np.ndarray
    vector: torch.Tensor


@dataclass
class PendingItems:
    """New items embedded and recorded, not served yet (``commit``)."""

    items: list[LiveItem]
    titles: list[str]
    vectors: torch.Tensor
    parts: torch.Tensor
    paths: PathFinder | None = None


@dataclass
class PendingUsers:
    """New histories and vectors of users, recorded, not served yet."""

    users: dict[str, UserState]


class LiveWrites:
    """The writing half of ``RecommenderService`` (mixed into it: it uses the service's model, catalogues,
    index, explainer and state)."""

    model: Recommender
    items: Catalogue
    users: Catalogue
    index: VectorIndex
    explainer: Explainer | None
    state: LiveState
    _live: set[int]
    _changed: dict[int, UserState]
    _profiles: list[str] | None

    def history(self, user: int) -> np.ndarray:
        raise NotImplementedError

    def _item_rows(self, items: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def add_item(self, item_id: str, fields: Mapping[str, Any], facts: Sequence[tuple[str, str]] = ()) -> int:
        """Embed, index and persist a new item from its ``fields`` (title, genres, …) and KG ``facts``
        (``(relation, entity)``); it is recommendable in the next request. Returns its index."""
        self.commit(self.prepare_item(item_id, fields, facts))
        return self.items.index(item_id)

    def prepare_item(self, item_id: str, fields: Mapping[str, Any],
                     facts: Sequence[tuple[str, str]] = ()) -> PendingItems:
        """The slow half of ``add_item``: checked, embedded and recorded durably, not yet served."""
        item = LiveItem(str(item_id), dict(fields), [(str(r), str(e)) for r, e in facts])
        if item.item_id in self.items:
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
        self.state.add_interactions(str(user_id), [self.items.ids[i] for i in items])
        return pending

    def commit(self, pending: PendingItems | PendingUsers) -> None:
        """Serve a prepared write from the next request on (quick: appends and swaps)."""
        if isinstance(pending, PendingUsers):
            for user_id, update in pending.users.items():
                if user_id not in self.users:
                    self.users.add([user_id])
                self._changed[self.users.index(user_id)] = update
            return
        new = self.model.append_items(pending.vectors, pending.parts)
        self.index.add(self._item_rows(new))
        self._live.update(int(i) for i in new)
        self.items.add([i.item_id for i in pending.items], pending.titles)  # the explainer's catalogue too
        if self.explainer is not None:
            self.explainer.commit_items(pending.paths)

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
        users = [self.users.index(user_id) if user_id in self.users else None for user_id in added]
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
            unknown = {i for ids in interactions.values() for i in ids} - set(self.items.ids)
            if unknown:
                raise ConfigError(f"live state {self.state.path} names items this model does not know "
                                  f"({sorted(unknown)[:3]}): it belongs to another run")
            self.commit(self._user_updates({u: [self.items.index(i) for i in ids] for u, ids in interactions.items()}))
        if items or interactions:
            logger.info("replayed %d added items and %d users' interactions in %.2f s", len(items),
                        len(interactions), time.perf_counter() - t0)
