"""The hybrid model's network: its trainable parts and the forward math over them.

Which parts exist depends on the sources and options. The network is told its ``sources``, fusion, pooling
and fixed weights; the training inputs it reads (item facts, text vectors, popularity) come as a
``HybridInputs`` argument, so a network rebuilt from saved weights embeds new items and users without them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from knowrec.devices import sparse_mm
from knowrec.models.hybrid.options import Aggregation, Fusion, Source
from knowrec.models.lightgcn import SpMM, sparse_csr


@dataclass
class ItemFacts:
    """Items' KG facts arranged for the mean of ``relation ⊙ entity`` per item: the entities of each (item,
    relation) pair are summed by one sparse product, each weighted by 1 / the item's number of facts, and each
    pair's sum is then scaled by its relation. Nothing of ``facts × dim`` floats is materialised, forward or
    backward, and there are fewer pairs than facts (ml-100k: 21,719 pairs of 46,773 facts)."""

    n_items: int
    items: torch.Tensor  # the item of each pair
    relations: torch.Tensor  # the relation of each pair
    gather: torch.Tensor  # sparse CSR, pairs × entities
    gather_t: torch.Tensor  # its transpose, for the gradient
    has: torch.Tensor  # which items have any fact

    @classmethod
    def build(cls, items: torch.Tensor, rels: torch.Tensor, tails: torch.Tensor, n_items: int,
              n_entities: int) -> ItemFacts:
        n_rel = int(rels.max()) + 1 if len(rels) else 1
        pairs, pair_of_fact = torch.unique(items * n_rel + rels, return_inverse=True)
        count = torch.bincount(items, minlength=n_items)
        weight = 1.0 / count.index_select(0, items).float()
        gather = sparse_csr(pair_of_fact, tails, weight, (len(pairs), n_entities))
        gather_t = sparse_csr(tails, pair_of_fact, weight, (n_entities, len(pairs)))
        return cls(n_items, pairs // n_rel, pairs % n_rel, gather, gather_t, count > 0)


@dataclass
class HybridInputs:
    """What the training data gives the network: each item's KG facts (item, relation, entity index), its text
    vector, which sources each item has, its training popularity, and the users' profile vectors."""

    popularity: torch.Tensor
    has: dict[Source, torch.Tensor]
    facts: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None
    kg: ItemFacts | None = None  # the facts arranged for training (``ItemFacts``)
    item_text: torch.Tensor | None = None
    user_text: torch.Tensor | None = None


class HybridNet(nn.Module):
    """ID, KG and text parts of item vectors, fused; users from their ID, history and profile text."""

    def __init__(self, *, n_users: int, n_items: int, dim: int, sources: Sequence[str], fusion: Fusion,
                 aggregation: Aggregation, weights: torch.Tensor, cosine: bool, n_entities: int = 0,
                 n_relations: int = 0, text_dim: int = 0, user_text_dim: int = 0) -> None:
        super().__init__()
        self.sources = [Source(s) for s in sources]
        self.fusion, self.aggregation, self.weights, self.cosine = fusion, aggregation, weights, cosine
        self.dim = dim
        self.user_bias = nn.Parameter(torch.zeros(dim))  # every user's share: what most people like
        self.pop_weight = nn.Parameter(torch.zeros(()))  # score bonus per log(1 + training interactions)
        self.user_id = nn.Embedding(n_users, dim)
        self.item_id = nn.Embedding(n_items, dim)
        nn.init.normal_(self.user_id.weight, std=0.1)
        nn.init.normal_(self.item_id.weight, std=0.1)
        if n_entities:
            self.entity = nn.Embedding(n_entities, dim)
            self.relation = nn.Embedding(n_relations, dim)
            nn.init.normal_(self.entity.weight, std=0.1)
            nn.init.normal_(self.relation.weight, mean=1.0, std=0.1)
        if text_dim:
            self.text_proj = nn.Linear(text_dim, dim)
        if user_text_dim:
            self.user_text_proj = nn.Linear(user_text_dim, dim)
        if fusion is Fusion.GATE:
            self.gate = nn.Linear(len(self.sources) * dim + 1, len(self.sources))  # + the item's log-popularity
        if aggregation is Aggregation.ATTENTION:
            self.query = nn.Parameter(torch.zeros(dim))

    @classmethod
    def from_state(cls, state: dict[str, torch.Tensor], *, sources: Sequence[str], fusion: Fusion,
                   aggregation: Aggregation, weights: torch.Tensor, cosine: bool) -> HybridNet:
        """Rebuild the network from saved parameters (their shapes say which parts exist)."""
        def rows(key: str) -> int:
            return state[key].shape[0] if key in state else 0

        def cols(key: str) -> int:
            return state[key].shape[1] if key in state else 0

        dim = state["user_bias"].shape[0]
        empty = torch.zeros(0, dim)  # a model without the ID source saves no ID embeddings
        state = {"user_id.weight": empty, "item_id.weight": empty} | state
        net = cls(n_users=rows("user_id.weight"), n_items=rows("item_id.weight"), dim=dim, sources=sources,
                  fusion=Fusion.GATE if "gate.weight" in state else Fusion.FIXED,
                  aggregation=Aggregation.ATTENTION if "query" in state else Aggregation.MEAN,
                  weights=weights, cosine=cosine, n_entities=rows("entity.weight"),
                  n_relations=rows("relation.weight"), text_dim=cols("text_proj.weight"),
                  user_text_dim=cols("user_text_proj.weight"))
        net.load_state_dict(state)
        return net.eval()

    # --- items ------------------------------------------------------------------------------------------
    def kg_vectors(self, items: torch.Tensor, rels: torch.Tensor, tails: torch.Tensor,
                   n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Per item, the mean of ``relation ⊙ entity`` over its facts; and which items have any."""
        return self.kg_mean(ItemFacts.build(items, rels, tails, n, self.entity.num_embeddings))

    def kg_mean(self, facts: ItemFacts) -> tuple[torch.Tensor, torch.Tensor]:
        """``kg_vectors`` of facts already arranged (``ItemFacts``): what training recomputes every batch."""
        summed = SpMM.apply(facts.gather, facts.gather_t, self.entity.weight)  # per pair, / the item's facts
        msg = self.relation.weight.index_select(0, facts.relations) * summed
        return torch.zeros(facts.n_items, self.dim).index_add_(0, facts.items, msg), facts.has.float()

    def source_vectors(self, inputs: HybridInputs,
                       item_text: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-source item vectors ``(n_items, S, dim)`` and which exist ``(n_items, S)``."""
        vectors, present = [], []
        for source in self.sources:
            if source is Source.ID:
                vectors.append(self.item_id.weight)
            elif source is Source.KG:
                vectors.append(self.kg_mean(inputs.kg)[0])
            else:
                vectors.append(self.text_proj(inputs.item_text if item_text is None else item_text))
            present.append(inputs.has[source])
        return torch.stack(vectors, 1), torch.stack(present, 1).float()

    def fuse(self, vectors: torch.Tensor, present: torch.Tensor, log_count: torch.Tensor) -> torch.Tensor:
        """Weight the present sources — fixed weights renormalised over them, or a learned gate that also sees
        how many interactions the item had (``log_count``, 0 for items without an ID part) to trust its ID
        more — and return the weighted parts ``(n, S, dim)``, whose sum is the fused vector."""
        if self.fusion is Fusion.GATE:
            logits = self.gate(torch.cat([(vectors * present.unsqueeze(-1)).flatten(1), log_count.unsqueeze(1)], 1))
            weights = torch.softmax(logits.masked_fill(present == 0, -torch.inf), 1).nan_to_num(0.0)
        else:
            weights = present * self.weights
            weights = weights / weights.sum(1, keepdim=True).clamp_min(1e-12)
        return weights.unsqueeze(-1) * vectors

    def item_vectors(self, inputs: HybridInputs, keep_id: torch.Tensor,
                     parts: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """Weighted source parts of the item vectors, the ID part used only where ``keep_id`` (1/0) says."""
        vectors, present = parts if parts is not None else self.source_vectors(inputs)
        if Source.ID in self.sources:
            col = self.sources.index(Source.ID)
            present = torch.cat([present[:, :col], keep_id.unsqueeze(1), present[:, col + 1:]], 1)
        return self.fuse(vectors, present, torch.log1p(inputs.popularity) * keep_id)

    def item_bias(self, popularity: torch.Tensor) -> torch.Tensor:
        """A learned popularity prior: items known from many training interactions score a little higher, items
        with none (cold or new ones) get no bonus. Cosine scores cannot carry popularity in a vector norm."""
        return self.pop_weight * torch.log1p(popularity)

    def unit(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(x, dim=-1) if self.cosine else x

    def normalised(self, parts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The scored item vectors (unit length when ``cosine``) and their source parts, scaled alike."""
        fused = parts.sum(1)
        scale = fused.norm(dim=1, keepdim=True).clamp_min(1e-12) if self.cosine else torch.ones(len(fused), 1)
        return fused / scale, parts / scale.unsqueeze(1)

    # --- users ------------------------------------------------------------------------------------------
    def history_weights(self, items: torch.Tensor) -> torch.Tensor:
        if self.aggregation is Aggregation.MEAN:
            return torch.ones(len(items))
        return torch.exp((items @ self.query).clamp(-20, 20))

    def aggregate(self, history: torch.Tensor, items: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Weighted sums of the history items' vectors and of their weights, for each row of the sparse
        ``history`` (users × items)."""
        a = self.history_weights(items)
        return sparse_mm(history, a.unsqueeze(1) * items), sparse_mm(history, a.unsqueeze(1)).squeeze(1)

    def users_from(self, history_sum: torch.Tensor, history_weight: torch.Tensor, users: torch.Tensor | None,
                   use_id: torch.Tensor | None, user_text: torch.Tensor | None) -> torch.Tensor:
        """User vectors: popularity + ID (where ``use_id``) + history aggregate + projected profile text."""
        u = self.user_bias + history_sum / history_weight.clamp_min(1e-9).unsqueeze(1)
        if users is not None and Source.ID in self.sources:
            u = u + self.user_id(users) * use_id.unsqueeze(1)
        if user_text is not None and hasattr(self, "user_text_proj"):
            u = u + self.user_text_proj(user_text)
        return u

    def scale(self, users: torch.Tensor, temperature: float) -> torch.Tensor:
        """Scored user vectors: unit length when ``cosine``, divided by the temperature."""
        return self.unit(users) / temperature
