"""Why an item is recommended: the most specific knowledge-graph paths from the user's history to it, or, where
the graph has none, the history items closest to it — saying what that closeness rests on.

Every history item is searched (1- and 2-fact paths in one sparse slice, 3-fact ones for the closest few). A
path weighs what its busiest entity says, ``log(items / items linked to it)``, times how close its history item
is to the target in the model's space; one reason is kept per shared entity, with the number of history items
that share it. Reasons through hubs (entities linked to more than 10 % of the items) come last and say so.
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
from knowrec.explain.labels import entity_label, relation_label, relation_noun
from knowrec.kg.paths import PathFinder, WeightedPath
from knowrec.kg.store import GraphStore
from knowrec.kg.store.base import KGPath, graph_frames
from knowrec.models.base import Recommender

Basis = Literal["kg", "co-occurrence", "text", "similarity"]


@dataclass(frozen=True)
class Reason:
    """One piece of support for the target, starting from the history item ``via``.

    ``text`` says it in words; ``support`` is ``via``'s similarity to the target in the model's space;
    ``weight`` how strongly the reason speaks (a KG path's specificity in nats, else the similarity);
    ``evidence`` how many history items share it; ``basis`` what it rests on (``kg``, ``co-occurrence`` — people
    who chose both —, ``text``, or the model's ``similarity`` alone); ``weak`` marks a path through a hub;
    ``path`` is the raw path (entity ids, relation names) for audits.
    """

    text: str
    via: str
    support: float
    hops: int = 0
    weight: float = 0.0
    evidence: int = 1
    basis: Basis = "kg"
    weak: bool = False
    path: str = ""
    #: How much the score falls without the facts the path ends in (models with ``fact_support``; else 0).
    effect: float = 0.0
    #: The entity ids along the path, from the history item's to the target's (empty for a similar item).
    nodes: tuple[str, ...] = ()


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
        lead = "from the knowledge graph" if self.kind == "kg" else \
            "no knowledge-graph path within reach; closest items in your history"
        lines = [f"{head} — {lead}:"]
        lines += [f"  {r.text}  (weight {r.weight:.2f}, similarity {r.support:.2f})" for r in self.reasons]
        if self.sources:
            score = sum(self.sources.values())
            lines.append(f"  score {score:.2f} = " + " + ".join(f"{k} {v:.2f}" for k, v in self.sources.items()))
            popular = self.sources.get("popularity", 0.0)
            if popular > 0.5 * sum(max(v, 0.0) for v in self.sources.values()):
                lines.append(f"  mostly popularity: {popular:.2f} of the score is how popular the item is with "
                             "everyone, not something of yours")
        return "\n".join(lines)


def describe(found: WeightedPath, anchor: str) -> str:
    """A path in words, read from the target's side: "same brand (3M) as <anchor>", "its director is the actor
    of <anchor>"; entity names where the graph has labels, none where it has only ids."""
    p: KGPath = found.path
    names = p.names or p.nodes
    label = [entity_label(i, n) for i, n in zip(p.nodes, names, strict=True)]
    seen = f"{anchor}, which you interacted with"
    if p.hops == 1:
        noun = relation_noun(p.relations[0], True)  # item to item: the property names the relation
        text = f"the {noun} of {seen}" if p.forward[0] else f"its {noun} is {seen}"
    else:
        noun_s = relation_noun(p.relations[0], p.forward[0])
        noun_t = relation_noun(p.relations[-1], not p.forward[-1])
        key = f" ({label[-2]})" if label[-2] else ""
        if p.hops == 2 and noun_s == noun_t:
            text = f"same {noun_t}{key} as {seen}"
        elif p.hops == 2:
            text = f"its {noun_t}{key} is the {noun_s} of {seen}"
        else:
            near = f" ({label[1]})" if label[1] else ""
            text = f"its {noun_t}{key} is linked ({relation_label(p.relations[1])}) to the {noun_s}{near} of {seen}"
    if found.shared > 1:
        text += f"; {found.shared - 1} more in your history share it"
    if found.weak:
        what = label[-2] or f"this {relation_noun(p.relations[-1], not p.forward[-1])}"
        text += f" — a weak reason: {what} is shared by {found.hub_share:.0%} of the items"
    return text


class Explainer:
    """Explains a model's recommendations with the dataset's knowledge graph.

    Paths are searched in an in-memory copy of the graph (``PathFinder``: well under a millisecond, where a
    Cypher query costs 10–20 ms), read from the dataset or, when given, from a graph ``store`` holding it — new
    items then go into the store as well. ``items`` is the catalogue of served items (shared with a service
    that adds to it). Every history item is searched for paths of up to 2 facts, the ``anchors`` closest to
    the target up to ``max_hops``; ``limit`` reasons are returned.
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
        """The model's item vectors (unit length), its text parts where it has them, and items × users of the
        training history — what fallback reasons are measured on."""
        factors = getattr(self.model, "item_factors_", None)
        self._vectors = None if factors is None else torch.nn.functional.normalize(factors.float(), dim=1)
        parts, sources = getattr(self.model, "item_parts_", None), list(getattr(self.model, "sources_", []))
        self._text = None if parts is None or "text" not in sources else \
            torch.nn.functional.normalize(parts[:, sources.index("text")].float(), dim=1)
        seen = getattr(self.model, "seen_", None)
        self._chosen_by = None if seen is None else seen.T.tocsr()

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
        vector = user_vector if user_vector is not None else None if user is None else \
            getattr(self.model, "user_factors_", None)
        if vector is not None and user_vector is None:
            vector = vector[user]
        kind, reasons = self._reasons(item, np.asarray(history, dtype=np.int64), vector)
        sources = {}
        if hasattr(self.model, "attribution") and (user is not None or user_vector is not None):
            vectors = None if user_vector is None else user_vector.reshape(1, -1)
            with contextlib.suppress(NotSupportedError):
                parts = self.model.attribution(user, item, vectors=vectors)
                sources = {k: float(v[0]) for k, v in parts.items()}
        return Explanation(user_id, self.items.ids[item], self.items.titles[item], kind, reasons, sources)

    def _reasons(self, item: int, history: np.ndarray,
                 vector: torch.Tensor | None) -> tuple[Literal["kg", "similar", "none"], list[Reason]]:
        """KG paths from the history to ``item``, else the history items closest to it."""
        if len(history) == 0:
            return "none", []
        similarity = self._similarity(history, item)
        order = np.argsort(-similarity, kind="stable")
        ranked, support = history[order], similarity[order]
        if self.paths is not None:
            reasons = self._kg_reasons(ranked, support, item, vector)
            if reasons and all(r.weak for r in reasons):  # a hub alone says little: add the closest item
                reasons += self._similar(ranked[:1], support[:1], item)
            if reasons:
                return "kg", reasons
        return "similar", self._similar(ranked[: self.limit], support[: self.limit], item)

    def _similarity(self, history: np.ndarray, item: int) -> np.ndarray:
        if self._vectors is None:  # a model without item vectors: no ranking of the history, order kept
            return np.zeros(len(history))
        return (self._vectors[torch.as_tensor(history)] @ self._vectors[item]).numpy()

    def _kg_reasons(self, ranked: np.ndarray, support: np.ndarray, item: int,
                    vector: torch.Tensor | None) -> list[Reason]:
        """The most specific path of each history item (the closest ``anchors`` searched 3 facts deep), ranked:
        hubs last; then, where the model can tell (``fact_support``), by how much the score rests on the facts
        the path ends in; then by weight × closeness; one reason per shared entity."""
        ids = [self.items.ids[h] for h in ranked]
        found = self.paths.best_paths(ids, self.items.ids[item], max_hops=self.max_hops, deep=self.anchors)
        position = {i: k for k, i in enumerate(ids)}
        effect = self._effects(found, item, vector)
        ranked_paths = sorted(found.items(), key=lambda kv: self._order(kv[1], support[position[kv[0]]],
                                                                        effect.get(kv[1].nodes[-2], 0.0),
                                                                        position[kv[0]]))
        reasons, keys = [], set()
        for source, path in ranked_paths:
            if path.key and path.key in keys:
                continue
            keys.add(path.key)
            k = position[source]
            reasons.append(Reason(describe(path, _short(self.items.titles[ranked[k]])), source, float(support[k]),
                                  len(path.nodes) - 1, path.weight, path.shared, "kg", path.weak, str(path.path),
                                  effect.get(path.nodes[-2], 0.0), path.nodes))
            if len(reasons) == self.limit:
                break
        return reasons

    @staticmethod
    def _order(path: WeightedPath, closeness: float, effect: float, position: int) -> tuple:
        return (path.weak, -max(effect, 0.0), -path.weight * (1 + closeness) / 2, position)

    def _effects(self, found: dict[str, WeightedPath], item: int, vector: torch.Tensor | None) -> dict[str, float]:
        """How much the item's score falls without its facts to each entity the paths end in (models that can
        say: ``fact_support``); empty for others."""
        if vector is None or not hasattr(self.model, "fact_support") or not found:
            return {}
        ends = sorted({p.nodes[-2] for p in found.values()})
        with contextlib.suppress(NotSupportedError):
            return dict(zip(ends, self.model.fact_support(self.data, vector, item, ends).tolist(), strict=True))
        return {}

    def _similar(self, closest: np.ndarray, support: np.ndarray, item: int) -> list[Reason]:
        """The closest history items, each saying what the closeness rests on: how many people chose both,
        how alike the two texts are, or nothing but the model's vectors."""
        both = np.zeros(len(closest), dtype=np.int64)
        if self._chosen_by is not None and item < self._chosen_by.shape[0]:
            known = closest[closest < self._chosen_by.shape[0]]
            counts = (self._chosen_by[known] @ self._chosen_by[item].T).toarray().ravel()
            both[closest < self._chosen_by.shape[0]] = counts.astype(np.int64)
        text = None if self._text is None else (self._text[torch.as_tensor(closest)] @ self._text[item]).numpy()
        reasons = []
        for k, h in enumerate(closest.tolist()):
            head = f"similar to {_short(self.items.titles[h])}, which you interacted with"
            if both[k]:
                basis: Basis = "co-occurrence"
                tail = f": {both[k]} {'person' if both[k] == 1 else 'people'} chose both"
            elif text is not None:
                basis, tail = "text", ": nobody chose both"
            else:
                basis = "similarity"
                tail = f" (by the model's vectors alone, {support[k]:.2f}: no shared facts, co-choices or text)"
            if text is not None:
                tail += f"{',' if both[k] else ';'} their texts are {text[k]:.2f} alike"
            reasons.append(Reason(head + tail, self.items.ids[h], float(support[k]), 0, float(support[k]),
                                  1 + int(both[k]), basis))
        return reasons


def _short(title: str, width: int = 60) -> str:
    """A title cut to ``width`` characters, for sentences that name several items."""
    return title if len(title) <= width else title[: width - 1].rstrip() + "…"
