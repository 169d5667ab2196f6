"""Why an item is recommended: knowledge-graph paths from the user's history to it, or, where the graph has
none, the history items closest to it in the model's item space.

Paths are searched from the few history items most similar to the target (not the whole history: a 3-hop
query from 5 items stays within ~20 ms on ml-100k). Each history item keeps its most specific path — the one
whose intermediate entities have the fewest facts (a shared director says more than a shared language) —
and history items are ranked by their similarity to the target.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch

from knowrec.data.dataset import Dataset
from knowrec.errors import NotSupportedError
from knowrec.kg.store import GraphStore, open_store
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

    ``store`` is a graph store holding the dataset's KG; by default an in-memory LadybugDB is loaded from
    ``data`` (0.3 s for ml-100k). ``anchors`` history items (the most similar to the target) start the path
    search of up to ``max_hops`` facts; of up to ``candidates`` shortest paths found, ``limit`` reasons are
    returned.
    """

    def __init__(self, model: Recommender, data: Dataset, store: GraphStore | None = None, *, anchors: int = 5,
                 max_hops: int = 3, limit: int = 3, candidates: int = 200) -> None:
        self.model = model
        self.data = data
        self.anchors = anchors
        self.max_hops = max_hops
        self.limit = limit
        self.candidates = candidates
        self.store = store
        if store is None and data.kg is not None:
            self.store = open_store(":memory:")
            self.store.load(data)
        self._titles = data.item_titles() or [str(i) for i in data.item_ids]
        self._degree: dict[str, int] = {}
        if data.kg is not None:
            counts = np.bincount(np.concatenate([data.kg.heads, data.kg.tails]), minlength=data.kg.n_entities)
            self._degree = dict(zip(map(str, data.kg.entity_ids), counts.tolist(), strict=True))
        factors = getattr(model, "item_factors_", None)
        self._vectors = None if factors is None else torch.nn.functional.normalize(factors.float(), dim=1)

    def explain(self, user_id: Any, item_id: Any) -> Explanation:
        """Reasons for ``item_id`` (original id) being recommended to ``user_id`` (original id)."""
        user, item = int(self.data.user_index(user_id)), int(self.data.item_index(item_id))
        history = self.model.seen_[user].indices
        kind, reasons = self._reasons(item, history)
        sources = {}
        if hasattr(self.model, "attribution"):
            with contextlib.suppress(NotSupportedError):
                sources = {k: float(v[0]) for k, v in self.model.attribution(user, item).items()}
        return Explanation(str(user_id), str(item_id), self._titles[item], kind, reasons, sources)

    def _reasons(self, item: int, history: np.ndarray) -> tuple[Literal["kg", "similar", "none"], list[Reason]]:
        """KG paths from the history items closest to ``item``, else those closest items themselves."""
        if len(history) == 0:
            return "none", []
        similarity = self._similarity(history, item)
        order = np.argsort(-similarity, kind="stable")
        support = dict(zip(history.tolist(), similarity.tolist(), strict=True))
        if self.store is not None:
            anchors = history[order[: self.anchors]]
            reasons = self._kg_reasons(anchors, item, support)
            if reasons:
                return "kg", reasons
        closest = history[order[: self.limit]]
        reasons = [Reason(f"similar to {self._titles[h]}, which you interacted with", str(self.data.item_ids[h]),
                          support[int(h)]) for h in closest]
        return "similar", reasons

    def _similarity(self, history: np.ndarray, item: int) -> np.ndarray:
        if self._vectors is None:  # a model without item vectors: no ranking of the history, order kept
            return np.zeros(len(history))
        return (self._vectors[torch.as_tensor(history)] @ self._vectors[item]).numpy()

    def _kg_reasons(self, anchors: np.ndarray, item: int, support: dict[int, float]) -> list[Reason]:
        ids = self.data.item_ids
        entity_item = {}
        for h in anchors:
            try:
                entity_item[self.store.item_entity(str(ids[h]))] = int(h)
            except LookupError:
                continue
        if not entity_item:
            return []
        paths = self.store.paths([str(ids[h]) for h in entity_item.values()], str(ids[item]),
                                 max_hops=self.max_hops, limit=self.candidates)
        best: dict[int, tuple[int, Reason]] = {}
        for path in paths:
            source = entity_item.get(path.nodes[0])
            if source is None:
                continue
            hub = max((self._degree.get(n, 1) for n in path.nodes[1:-1]), default=1)
            if source not in best or hub < best[source][0]:
                best[source] = (hub, Reason(str(path), str(ids[source]), support[source], path.hops))
        reasons = sorted((r for _, r in best.values()), key=lambda r: (-r.support, r.hops))
        return reasons[: self.limit]
