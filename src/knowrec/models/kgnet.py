"""KGNet: LightGCN whose items first gather their knowledge-graph neighbourhood by relation-aware attention.

Entity vectors are propagated over the KG (with inverse relations) KGIN-style: a head receives
``e_r ⊙ e_t`` from each fact ``(h, r, t)``, weighted by a softmax over its facts of ``⟨e_h, e_r ⊙ e_t⟩``
(KGAT's knowledge-aware attention, recomputed each step without gradient). An item's layer-0 vector is its
ID embedding plus the layer mean of its entity; users and items are then smoothed over the user–item graph
as in LightGCN. Everything is whole-tensor gathers and ``index_add_``: no Python loop over nodes or edges.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from knowrec.data.dataset import Dataset
from knowrec.errors import NotSupportedError
from knowrec.kg.prepare import item_graph, item_links
from knowrec.models.base import MODELS
from knowrec.models.lightgcn import LightGCN, normalized_adjacency
from knowrec.params import NON_NEGATIVE_INT, Constraint, Dimension, Int


def segment_softmax(scores: torch.Tensor, segments: torch.Tensor, n_segments: int) -> torch.Tensor:
    """Softmax of ``scores`` within each segment (edges sharing a head), fully vectorised."""
    peak = torch.full((n_segments,), -torch.inf, dtype=scores.dtype)
    peak = peak.scatter_reduce(0, segments, scores, reduce="amax", include_self=True)
    ex = torch.exp(scores - peak[segments])
    total = torch.zeros(n_segments, dtype=scores.dtype).index_add_(0, segments, ex)
    return ex / total[segments]


@MODELS.component("kgnet", aliases=("kg-net", "kgnn"))
class KGNet(LightGCN):
    """LightGCN with items enriched by relation-aware attentive propagation over the knowledge graph."""

    requires = frozenset({"kg"})
    citation = ("knowrec's own network, after Wang et al. KGAT (KDD 2019), Wang et al. KGIN (WWW 2021) and "
                "He et al. LightGCN (SIGIR 2020).")
    constraints: ClassVar[dict[str, Constraint]] = {"kg_layers": NON_NEGATIVE_INT, "max_degree": NON_NEGATIVE_INT}
    search_space: ClassVar[dict[str, Dimension]] = {"kg_layers": Int(1, 3), "max_degree": Int(8, 64, log=True)}

    def __init__(self, *, dim: int = 64, layers: int = 3, kg_layers: int = 1, max_degree: int = 16,
                 epochs: int = 300, batch_size: int = 4096, lr: float = 5e-3, reg: float = 1e-3, neg: int = 4,
                 loss: str = "bpr", seed: int = 2020) -> None:
        super().__init__(dim=dim, layers=layers, epochs=epochs, batch_size=batch_size, lr=lr, reg=reg, neg=neg,
                         loss=loss, seed=seed)
        self.kg_layers = kg_layers
        self.max_degree = max_degree

    def _build(self, data: Dataset) -> nn.Module:
        module = super()._build(data)
        kg, self.kg_report_ = item_graph(data.kg, max_degree=self.max_degree, seed=self.seed)
        self._linked_items, self._linked_entities = item_links(kg)
        # Receptive-field pruning: only items' entities are read out, so layer l needs only the facts whose
        # head lies within (kg_layers - l) hops of an item; everything else would be computed and discarded.
        needed = np.zeros(kg.n_entities, dtype=bool)
        needed[self._linked_entities.numpy()] = True
        self._layer_edges = []
        for _ in range(self.kg_layers):
            use = needed[kg.heads]
            order = np.flatnonzero(use)[np.argsort(kg.heads[use], kind="stable")]
            self._layer_edges.insert(0, tuple(torch.from_numpy(a[order]) for a in (kg.heads, kg.relations, kg.tails)))
            needed = needed.copy()
            needed[kg.tails[use]] = True
        self._n_entities = kg.n_entities
        self._kg = kg
        module.entity = nn.Embedding(kg.n_entities, self.dim)
        module.relation = nn.Embedding(kg.n_relations, self.dim)
        nn.init.xavier_normal_(module.entity.weight)
        nn.init.normal_(module.relation.weight, mean=1.0, std=0.1)  # starts as a plain neighbour mean
        return module

    def _propagate_kg(self) -> torch.Tensor:
        """Mean of layers 1..``kg_layers`` of entity vectors propagated over the KG, exact at items' entities.

        Layer 0 (an item entity's own vector) is left out on purpose: it would be a second free item
        embedding; what the KG adds must come from the facts items share.
        """
        x = self.module_.entity.weight
        total = torch.zeros_like(x)
        for heads, rels, tails in self._layer_edges:
            msg = self.module_.relation.weight.index_select(0, rels) * x.index_select(0, tails)
            with torch.no_grad():
                scores = (x.index_select(0, heads) * msg).sum(-1) / math.sqrt(self.dim)
                att = segment_softmax(scores, heads, self._n_entities)
            x = torch.zeros_like(x).index_add_(0, heads, msg * att.unsqueeze(1))
            total = total + x
        return total / self.kg_layers

    def _ego(self) -> tuple[torch.Tensor, torch.Tensor]:
        users, items = super()._ego()
        entities = self._propagate_kg()
        if not self.module_.training:  # the refresh after an epoch: expose the KG vectors it just computed
            self.entity_factors_ = entities.detach().clone()
        kg_items = torch.zeros_like(items).index_copy_(
            0, self._linked_items, entities.index_select(0, self._linked_entities))
        return users, items + kg_items

    # --- the network's weights travel with the model, so its scores can be derived again without evidence ---
    def _state(self) -> dict[str, torch.Tensor]:
        module = getattr(self, "module_", None)
        weights = module.state_dict() if module is not None else getattr(self, "module_state_", {})
        return super()._state() | {f"module.{k}": v for k, v in weights.items()}

    def _set_state(self, state: dict[str, torch.Tensor]) -> None:
        weights = {k.removeprefix("module."): v for k, v in state.items() if k.startswith("module.")}
        super()._set_state({k: v for k, v in state.items() if not k.startswith("module.")})
        if weights and getattr(self, "module_", None) is not None:
            self.module_.load_state_dict(weights)
        elif weights:
            self.module_state_ = weights

    def scores_without(self, train: Dataset, user: int, *, history: Iterable[int] = (),
                       facts: Iterable[tuple[int, str]] = ()) -> torch.Tensor:
        """Every item's score for ``user`` as if the history items ``history`` and the KG facts joining item ``i``
        to entity ``e`` (``facts``) were not in ``train`` (the data the model was fitted on): the KG and the
        user–item graph are propagated again with the trained weights, nothing retrained."""
        self.check_is_fitted()
        if getattr(self, "module_", None) is None or not hasattr(self, "_layer_edges"):
            weights = getattr(self, "module_state_", None)
            if weights is None:
                raise NotSupportedError("this KGNet was saved without its network weights; retrain it")
            self.module_ = self._build(train)
            self.module_.load_state_dict(weights)
        kept = self._layer_edges, self._adj, self.__dict__.get("entity_factors_")
        try:
            self._layer_edges = self._edges_without(list(facts))
            drop = np.asarray(list(history), dtype=np.int64)
            if len(drop):
                keep = ~((train.users == user) & np.isin(train.items, drop))
                self._adj = normalized_adjacency(train.users[keep], train.items[keep], train.n_users, train.n_items,
                                                 self._friends(train))
            with torch.no_grad():
                users, items = self._propagate(*self._ego())
            return users[user] @ items.T
        finally:
            self._layer_edges, self._adj = kept[0], kept[1]
            if kept[2] is not None:
                self.entity_factors_ = kept[2]

    def _edges_without(self, facts: list[tuple[int, str]]) -> list[tuple[torch.Tensor, ...]]:
        """Each KG layer's facts less those joining the given items' entities and entities (either way)."""
        if not facts:
            return self._layer_edges
        index = {str(e): i for i, e in enumerate(self._kg.entity_ids)}
        pairs = [(int(self._kg.item_entities[i]), index[str(e)]) for i, e in facts
                 if self._kg.item_entities[i] >= 0 and str(e) in index]
        out = []
        for heads, rels, tails in self._layer_edges:
            drop = torch.zeros(len(heads), dtype=torch.bool)
            for a, b in pairs:
                drop |= ((heads == a) & (tails == b)) | ((heads == b) & (tails == a))
            out.append((heads[~drop], rels[~drop], tails[~drop]))
        return out
