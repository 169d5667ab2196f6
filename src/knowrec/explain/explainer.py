"""Why an item is recommended: knowledge-graph paths from the user's history to it, or, where the graph has
none, the history items closest to it in the model's item space.

Paths are searched from the few history items most similar to the target. Each history item keeps its most
specific shortest path — the one whose intermediate entities have the fewest facts (a shared director says
more than a shared language) — and history items are ranked by their similarity to the target.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch

from knowrec.data.catalogue import Catalogue
from knowrec.data.dataset import Dataset
from knowrec.errors import NotSupportedError
from knowrec.kg.paths import PathFinder
from knowrec.kg.store import GraphStore
from knowrec.kg.store.base import graph_frames
from knowrec.models.base import Recommender


@dataclass(frozen=True)
class Reason:
    """One piece of support: a KG path (or a similar item) from the history item ``via`` to the target."""

    text: str
    via: str
    support: float
    hops: int = 0


@dataclass
class Explanation:
    """The reasons for recommending ``item_id`` to ``user_id``; ``kind`` says whether they are KG paths."""

    user_id: str
    item_id: str
    title: str
    kind: Literal["kg", "similar", "none"]
    reasons: list[Reason] = field(default_factory=list)
    #: Each source's part of the score (``id``, ``kg``, ``text``, ``popularity``) for models that split it.
    sources: dict[str, float] = field(default_factory=dict)

    def __str__(self) -> str:
        head = f"{self.title} for user {self.user_id}"
        if self.kind == "none":
            return f"{head}: no history to explain it from"
        lead = "knowledge-graph paths from your history" if self.kind == "kg" else \
            "no knowledge-graph path within reach; closest items in your history"
        lines = [f"{head} — {lead}:"]
        lines += [f"  {r.text}  (similarity {r.support:.2f})" for r in self.reasons]
        if self.sources:
            score = sum(self.sources.values())
            lines.append(f"  score {score:.2f} = " + " + ".join(f"{k} {v:.2f}" for k, v in self.sources.items()))
        return "\n".join(lines)


class Explainer:
    """Explains a model's recommendations with the dataset's knowledge graph.

    Paths are searched in an in-memory copy of the graph (``PathFinder``: well under a millisecond, where a
    Cypher query costs 10–20 ms), read from the dataset or, when given, from a graph ``store`` holding it — new
    items then go into the store as well. ``items`` is the catalogue of served items (shared with a service
    that adds to it). ``anchors`` history items (the most similar to the target) start the search of up to
    ``max_hops`` facts; ``limit`` reasons are returned.
    """

    def __init__(self, model: Recommender, data: Dataset, store: GraphStore | None = None, *,
                 items: Catalogue | None = None, anchors: int = 5, max_hops: int = 3, limit: int = 3) -> None:
        self.model = model
        self.data = data
        self.anchors = anchors
        self.max_hops = max_hops
        self.limit = limit
        self.store = store
        frames = store.frames() if store is not None else graph_frames(data) if data.kg is not None else None
        self.paths = None if frames is None else PathFinder(*frames)
        self.items = items if items is not None else Catalogue.items_of(data)
        self._refresh_vectors()

    def _refresh_vectors(self) -> None:
        factors = getattr(self.model, "item_factors_", None)
        self._vectors = None if factors is None else torch.nn.functional.normalize(factors.float(), dim=1)

    def prepare_items(self, item_ids: Sequence[str], titles: Sequence[str],
                      facts: Sequence[Sequence[tuple[str, str]]]) -> PathFinder | None:
        """The slow half of making new items explainable, safe beside requests: their facts go into the graph
        store (if any) and the next path index is built (``commit_items`` puts it in place)."""
        if self.paths is None:
            return None
        added = [(str(i), list(f), t) for i, t, f in zip(item_ids, titles, facts, strict=True)]
        if self.store is not None:
            for item_id, item_facts, title in added:
                self.store.add_item(item_id, item_facts, name=title)
        return self.paths.with_items(added)

    def add_items(self, item_ids: Sequence[str], titles: Sequence[str],
                  facts: Sequence[Sequence[tuple[str, str]]]) -> None:
        """Make items the model has just added (``model.add_items``) explainable: graph facts, catalogue entries
        and vectors (a service does the halves itself: ``prepare_items``, then its catalogue, ``commit_items``)."""
        paths = self.prepare_items(item_ids, titles, facts)
        self.items.add(item_ids, titles)
        self.commit_items(paths)

    def commit_items(self, paths: PathFinder | None) -> None:
        """Explain the items the model and the shared catalogue have just gained: the path index, the vectors."""
        if paths is not None:
            self.paths = paths
        self._refresh_vectors()

    def explain(self, user_id: Any, item_id: Any) -> Explanation:
        """Reasons for ``item_id`` (original id) being recommended to ``user_id`` (original id)."""
        user, item = int(self.data.user_index(user_id)), self.items.index(item_id)
        return self.explain_history(self.model.seen_[user].indices, item, user=user, user_id=str(user_id))

    def explain_history(self, history: np.ndarray, item: int, *, user: int | None = None,
                        user_vector: torch.Tensor | None = None, user_id: str = "") -> Explanation:
        """Reasons for the item at index ``item`` given a ``history`` of item indices; the source attribution
        uses the trained vector of ``user`` or, for users scored from their history, ``user_vector``."""
        kind, reasons = self._reasons(item, np.asarray(history, dtype=np.int64))
        sources = {}
        if hasattr(self.model, "attribution") and (user is not None or user_vector is not None):
            vectors = None if user_vector is None else user_vector.reshape(1, -1)
            with contextlib.suppress(NotSupportedError):
                parts = self.model.attribution(user, item, vectors=vectors)
                sources = {k: float(v[0]) for k, v in parts.items()}
        return Explanation(user_id, self.items.ids[item], self.items.titles[item], kind, reasons, sources)

    def _reasons(self, item: int, history: np.ndarray) -> tuple[Literal["kg", "similar", "none"], list[Reason]]:
        """KG paths from the history items closest to ``item``, else those closest items themselves."""
        if len(history) == 0:
            return "none", []
        similarity = self._similarity(history, item)
        order = np.argsort(-similarity, kind="stable")
        support = dict(zip(history.tolist(), similarity.tolist(), strict=True))
        if self.paths is not None:
            anchors = history[order[: self.anchors]]
            reasons = self._kg_reasons(anchors, item, support)
            if reasons:
                return "kg", reasons
        closest = history[order[: self.limit]]
        reasons = [Reason(f"similar to {self.items.titles[h]}, which you interacted with", self.items.ids[h],
                          support[int(h)]) for h in closest]
        return "similar", reasons

    def _similarity(self, history: np.ndarray, item: int) -> np.ndarray:
        if self._vectors is None:  # a model without item vectors: no ranking of the history, order kept
            return np.zeros(len(history))
        return (self._vectors[torch.as_tensor(history)] @ self._vectors[item]).numpy()

    def _kg_reasons(self, anchors: np.ndarray, item: int, support: dict[int, float]) -> list[Reason]:
        by_id = {self.items.ids[h]: int(h) for h in anchors}
        found = self.paths.best_paths(list(by_id), self.items.ids[item], max_hops=self.max_hops)
        reasons = [Reason(str(path), source, support[by_id[source]], path.hops) for source, path in found.items()]
        return sorted(reasons, key=lambda r: (-r.support, r.hops))[: self.limit]
