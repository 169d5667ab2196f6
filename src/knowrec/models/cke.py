"""CKE: matrix factorisation whose item vectors include a knowledge-graph entity vector trained by TransR."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from knowrec.data.dataset import Dataset
from knowrec.kg.prepare import clean, item_links
from knowrec.models.base import MODELS
from knowrec.models.bpr import BPR
from knowrec.models.kge import transr_distance
from knowrec.params import NON_NEGATIVE, Constraint, Dimension, Float


@MODELS.component("cke")
class CKE(BPR):
    """BPR-MF with item vector = ID embedding + its entity's embedding, the entities trained jointly by TransR.

    Each step adds ``kg_weight`` × a pairwise TransR loss on as many KG triples as interactions, each with a
    corrupted tail. Items without an entity keep their ID vector alone.
    """

    requires = frozenset({"kg"})
    citation = "Zhang et al. Collaborative Knowledge Base Embedding for Recommender Systems. KDD 2016."
    constraints: ClassVar[dict[str, Constraint]] = {"kg_weight": NON_NEGATIVE}
    search_space: ClassVar[dict[str, Dimension]] = {"kg_weight": Float(0.01, 10.0, log=True)}

    def __init__(self, *, dim: int = 64, kg_weight: float = 1.0, epochs: int = 300, batch_size: int = 2048,
                 lr: float = 1e-3, reg: float = 1e-2, neg: int = 1, loss: str = "bpr", seed: int = 2020) -> None:
        super().__init__(dim=dim, epochs=epochs, batch_size=batch_size, lr=lr, reg=reg, neg=neg, loss=loss,
                         seed=seed)
        self.kg_weight = kg_weight

    def _build(self, data: Dataset) -> nn.Module:
        module = super()._build(data)
        kg, self.kg_report_ = clean(data.kg)
        self._triples = np.stack([kg.heads, kg.relations, kg.tails], axis=1)
        self._n_entities = kg.n_entities
        self._linked_items, self._linked_entities = item_links(kg)
        module.entity = nn.Embedding(kg.n_entities, self.dim)
        module.relation = nn.Embedding(kg.n_relations, self.dim)
        module.projection = nn.Parameter(torch.eye(self.dim).repeat(kg.n_relations, 1, 1))
        nn.init.xavier_normal_(module.entity.weight)
        nn.init.xavier_normal_(module.relation.weight)
        return module

    def _batches(self, rng: np.random.Generator) -> Iterator[tuple[torch.Tensor, ...]]:
        for users, pos, neg in super()._batches(rng):
            picked = self._triples[rng.integers(0, len(self._triples), size=len(users))]
            corrupt = rng.integers(0, self._n_entities, size=len(users))
            yield users, pos, neg, torch.from_numpy(picked), torch.from_numpy(corrupt)

    def _ego(self) -> tuple[torch.Tensor, torch.Tensor]:
        users, items = super()._ego()
        entities = self.module_.entity.weight.index_select(0, self._linked_entities)
        return users, items.index_add(0, self._linked_items, entities)

    def _loss(self, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        users, pos, neg, triples, corrupt = batch
        cf = super()._loss((users, pos, neg))
        h, r, t = triples.unbind(1)
        ent, rel = self.module_.entity.weight, self.module_.relation.weight
        proj = self.module_.projection.index_select(0, r)
        e_h, e_r = ent.index_select(0, h), rel.index_select(0, r)
        d_pos = transr_distance(e_h, ent.index_select(0, t), e_r, proj)
        d_neg = transr_distance(e_h, ent.index_select(0, corrupt), e_r, proj)
        return cf - self.kg_weight * nn.functional.logsigmoid(d_neg - d_pos).mean()
