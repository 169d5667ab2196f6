"""Knowledge-graph embeddings — TransE, TransR, RotatE — trained by the shared loop, for link prediction
and as entity vectors for other models."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from knowrec.data.triples import KnowledgeGraph
from knowrec.errors import ConfigError, DataError, NotFittedError
from knowrec.models.gradient import TorchModel
from knowrec.params import POSITIVE, POSITIVE_INT, Constraint
from knowrec.registry import Registry

KGE_MODELS: Registry[type[KGEmbedding]] = Registry("KG embedding")


class KGEmbedding(TorchModel):
    """Entity and relation vectors scored by a distance ``d(h, r, t)`` (lower = more plausible).

    Trained on shuffled triples, each with ``neg`` corruptions of its head or tail (even odds), by the
    logistic loss ``-log σ(γ - d⁺) - log σ(d⁻ - γ)``.
    """

    name: ClassVar[str] = ""
    citation: ClassVar[str] = ""
    constraints: ClassVar[dict[str, Constraint]] = {"margin": POSITIVE, "neg": POSITIVE_INT}

    def __init__(self, *, dim: int = 64, margin: float = 6.0, neg: int = 8, epochs: int = 100,
                 batch_size: int = 2048, lr: float = 1e-3, reg: float = 0.0, seed: int = 2020) -> None:
        super().__init__(dim=dim, epochs=epochs, batch_size=batch_size, lr=lr, reg=reg, seed=seed)
        self.margin = margin
        self.neg = neg

    # --- training ---------------------------------------------------------------------------------------
    def _prepare(self, kg: KnowledgeGraph) -> None:
        self.check_params()
        if not isinstance(kg, KnowledgeGraph):
            raise ConfigError(f"{type(self).__name__}.fit expects a KnowledgeGraph, got {type(kg).__name__}")
        if kg.n_triples == 0:
            raise DataError("the knowledge graph has no triples to learn from")
        if self.dim % 2:
            raise ConfigError(f"dim must be even, got {self.dim}")
        self.n_entities_, self.n_relations_ = kg.n_entities, kg.n_relations
        self._triples = np.stack([kg.heads, kg.relations, kg.tails], axis=1)

    def _build(self, kg: KnowledgeGraph) -> nn.Module:
        module = nn.Module()
        bound = 6 / math.sqrt(self.dim)
        module.entity = nn.Embedding(kg.n_entities, self.dim)
        module.relation = nn.Embedding(kg.n_relations, self._relation_dim())
        nn.init.uniform_(module.entity.weight, -bound, bound)
        nn.init.uniform_(module.relation.weight, -bound, bound)
        return module

    def _relation_dim(self) -> int:
        return self.dim

    def _n_batches(self) -> int:
        return -(-len(self._triples) // self.batch_size)

    def _batches(self, rng: np.random.Generator) -> Iterator[tuple[torch.Tensor, ...]]:
        triples = self._triples[rng.permutation(len(self._triples))]
        corrupt = rng.integers(0, self.n_entities_, size=(len(triples), self.neg))
        tail_side = rng.random((len(triples), self.neg)) < 0.5
        for s in range(0, len(triples), self.batch_size):
            part = slice(s, s + self.batch_size)
            yield torch.from_numpy(triples[part]), torch.from_numpy(corrupt[part]), torch.from_numpy(tail_side[part])

    def _loss(self, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        triples, corrupt, tail_side = batch
        h, r, t = triples.unbind(1)
        pos = self._distance(h, r, t)
        neg_h = torch.where(tail_side, h.unsqueeze(1), corrupt)
        neg_t = torch.where(tail_side, corrupt, t.unsqueeze(1))
        neg = self._distance(neg_h.reshape(-1), r.repeat_interleave(self.neg), neg_t.reshape(-1)).view_as(corrupt)
        loss = -nn.functional.logsigmoid(self.margin - pos).mean() - nn.functional.logsigmoid(neg - self.margin).mean()
        if self.reg:
            loss = loss + self.reg * self.module_.entity.weight.index_select(0, torch.cat([h, t])).pow(2).mean()
        return loss

    def _refresh(self) -> None:
        self.entity_factors_ = self.module_.entity.weight.detach().clone()
        self.relation_factors_ = self.module_.relation.weight.detach().clone()

    def _state(self) -> dict[str, torch.Tensor]:
        return {"entity_factors": self.entity_factors_, "relation_factors": self.relation_factors_}

    # --- scoring ----------------------------------------------------------------------------------------
    def _ent(self, idx: torch.Tensor) -> torch.Tensor:
        return (self.module_.entity.weight if self.training_now else self.entity_factors_).index_select(0, idx)

    @property
    def training_now(self) -> bool:
        return hasattr(self, "module_") and self.module_.training

    def _rel(self, idx: torch.Tensor) -> torch.Tensor:
        return (self.module_.relation.weight if self.training_now else self.relation_factors_).index_select(0, idx)

    def _distance(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def distance_all(self, known: torch.Tensor, relations: torch.Tensor, *, predict: str = "tail",
                     chunk: int = 1024) -> torch.Tensor:
        """Distance of every entity as the missing tail (or head) of ``(known, relation, ?)``: ``(B, n_entities)``."""
        self.check_is_fitted()
        cands = torch.arange(self.n_entities_)
        out = []
        for s in range(0, self.n_entities_, chunk):
            c = cands[s:s + chunk]
            b, k = len(known), len(c)
            kk = known.repeat_interleave(k)
            rr = relations.repeat_interleave(k)
            cc = c.repeat(b)
            d = self._distance(kk, rr, cc) if predict == "tail" else self._distance(cc, rr, kk)
            out.append(d.view(b, k))
        return torch.cat(out, dim=1)

    # --- persistence ------------------------------------------------------------------------------------
    def check_is_fitted(self) -> None:
        if not hasattr(self, "entity_factors_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet")

    def _save_meta(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        return {"n_entities": self.n_entities_, "n_relations": self.n_relations_}, {}

    def _load_meta(self, meta: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
        self.n_entities_, self.n_relations_ = meta["n_entities"], meta["n_relations"]


KGEmbedding.registry = KGE_MODELS


def transr_distance(h: torch.Tensor, t: torch.Tensor, r: torch.Tensor, proj: torch.Tensor) -> torch.Tensor:
    """``‖M_r h + r − M_r t‖₂`` for rows of head, tail and relation vectors and their (d × d) projections."""
    diff = (h - t).unsqueeze(1)  # M_r h − M_r t = M_r (h − t): one product, not two
    return (torch.bmm(diff, proj).squeeze(1) + r).norm(dim=-1)


@KGE_MODELS.component("transe")
class TransE(KGEmbedding):
    """Relations as translations: ``d = ‖h + r − t‖₂``."""

    citation = "Bordes et al. Translating Embeddings for Modeling Multi-relational Data. NeurIPS 2013."

    def _distance(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return (self._ent(h) + self._rel(r) - self._ent(t)).norm(dim=-1)

    def distance_all(self, known: torch.Tensor, relations: torch.Tensor, *, predict: str = "tail",
                     chunk: int = 1024) -> torch.Tensor:
        sign = 1.0 if predict == "tail" else -1.0  # t ≈ h + r, h ≈ t − r
        return torch.cdist(self._ent(known) + sign * self._rel(relations), self.entity_factors_)


@KGE_MODELS.component("transr")
class TransR(KGEmbedding):
    """Entities projected into each relation's space by ``M_r`` before translating: ``‖M_r h + r − M_r t‖₂``."""

    citation = "Lin et al. Learning Entity and Relation Embeddings for Knowledge Graph Completion. AAAI 2015."

    def _build(self, kg: KnowledgeGraph) -> nn.Module:
        module = super()._build(kg)
        module.projection = nn.Parameter(torch.eye(self.dim).repeat(kg.n_relations, 1, 1))
        return module

    def _refresh(self) -> None:
        super()._refresh()
        self.projection_factors_ = self.module_.projection.detach().clone()

    def _state(self) -> dict[str, torch.Tensor]:
        return super()._state() | {"projection_factors": self.projection_factors_}

    def distance_all(self, known: torch.Tensor, relations: torch.Tensor, *, predict: str = "tail",
                     chunk: int = 1024) -> torch.Tensor:
        sign = 1.0 if predict == "tail" else -1.0
        out = torch.empty(len(known), self.n_entities_)
        for rel in torch.unique(relations):  # evaluation only: project all entities once per relation
            rows = torch.nonzero(relations == rel).squeeze(1)
            projected = self.entity_factors_ @ self.projection_factors_[rel]
            query = projected[known[rows]] + sign * self.relation_factors_[rel]
            out[rows] = torch.cdist(query, projected)
        return out

    def _distance(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        proj = self.module_.projection if self.training_now else self.projection_factors_
        return transr_distance(self._ent(h), self._ent(t), self._rel(r), proj.index_select(0, r))


@KGE_MODELS.component("rotate")
class RotatE(KGEmbedding):
    """Relations as rotations in the complex plane: ``d = Σ |h ∘ r − t|`` with ``|r_k| = 1``."""

    citation = "Sun et al. RotatE: Knowledge Graph Embedding by Relational Rotation in Complex Space. ICLR 2019."

    def _relation_dim(self) -> int:
        return self.dim // 2

    def _distance(self, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        hr, hi = self._ent(h).chunk(2, dim=-1)
        tr, ti = self._ent(t).chunk(2, dim=-1)
        phase = self._rel(r) * math.pi / (6 / math.sqrt(self.dim))  # uniform init → phases in [-π, π]
        cos, sin = torch.cos(phase), torch.sin(phase)
        re, im = hr * cos - hi * sin - tr, hr * sin + hi * cos - ti
        return torch.sqrt(re * re + im * im + 1e-12).sum(-1)
