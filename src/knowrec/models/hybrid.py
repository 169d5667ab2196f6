"""Hybrid: one vector per item from its ID, its knowledge-graph facts and its text, trained by full softmax.

An item's vector mixes up to three sources — an ID embedding, the relation-modulated mean of its KG
neighbours' entity embeddings, and a projection of its language-model text vector — with fixed weights or a
learned per-item gate. A user is a global popularity vector plus their ID embedding, an aggregate (mean or
attention) of the vectors of the items in their history and a projection of their own text. Scores are dot
products over a temperature, trained with softmax cross-entropy over all items (or a sampled softmax with
logQ correction). Source dropout hides the ID part of a share of items and users in every batch, so the
fused vector stays good without it: items and users never seen in training are scored from their text,
facts and history alone (``add_items``, ``user_vectors``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Iterator, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from torch import nn

from knowrec._io import read_json, write_json
from knowrec.data.dataset import Dataset
from knowrec.errors import ConfigError, NotSupportedError
from knowrec.kg.prepare import add_inverse, cap_degree, clean, item_facts, shared_tails
from knowrec.models.base import TorchRecommender, register
from knowrec.models.lightgcn import SpMM, sparse_csr
from knowrec.params import NON_NEGATIVE, NON_NEGATIVE_INT, POSITIVE, POSITIVE_INT, RATE, Constraint, Flag, OneOf, Text
from knowrec.text import DEFAULT_TEXT_MODEL, TextEncoder, item_texts, user_texts
from knowrec.text.finetune import FineTune, embed, save_lm, trainable_lm
from knowrec.text.templates import texts_for

logger = logging.getLogger(__name__)
VOCAB_FILE = "vocab.json"
LM_FOLDER = "lm"


class Source(StrEnum):
    ID = "id"
    KG = "kg"
    TEXT = "text"


class Fusion(StrEnum):
    FIXED = "fixed"
    GATE = "gate"


class Aggregation(StrEnum):
    MEAN = "mean"
    ATTENTION = "attention"


class SoftmaxLoss(StrEnum):
    FULL = "softmax"
    SAMPLED = "sampled"


def parse_sources(sources: str | Sequence[str]) -> list[Source]:
    """``"id,kg,text"`` → the sources in their canonical order, checked."""
    names = [s.strip().lower() for s in (sources.split(",") if isinstance(sources, str) else sources) if s.strip()]
    try:
        chosen = {Source(n) for n in names}
    except ValueError:
        raise ConfigError(f"unknown source in {sources!r}; choose from {', '.join(Source)}") from None
    if not chosen:
        raise ConfigError("sources is empty; choose some of id, kg, text")
    return [s for s in Source if s in chosen]


def _valid_sources(value: str) -> bool:
    return bool({s.strip().lower() for s in value.split(",") if s.strip()}) and \
        {s.strip().lower() for s in value.split(",") if s.strip()} <= set(Source)


def _valid_weights(value: str) -> bool:
    try:
        return not value or all(math.isfinite(w) and w >= 0 for w in map(float, value.split(",")))
    except ValueError:
        return False


class HybridNet(nn.Module):
    """The trainable parts; which exist depends on the sources and options."""

    def __init__(self, *, n_users: int, n_items: int, dim: int, n_entities: int = 0, n_relations: int = 0,
                 text_dim: int = 0, user_text_dim: int = 0, n_sources: int = 1, gate: bool = False,
                 attention: bool = False) -> None:
        super().__init__()
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
        if gate:
            self.gate = nn.Linear(n_sources * dim + 1, n_sources)  # + the item's log-popularity
        if attention:
            self.query = nn.Parameter(torch.zeros(dim))

    @classmethod
    def from_state(cls, state: dict[str, torch.Tensor], n_sources: int) -> HybridNet:
        """Rebuild the module from saved parameters (their shapes say which parts exist)."""
        def rows(key: str) -> int:
            return state[key].shape[0] if key in state else 0

        def cols(key: str) -> int:
            return state[key].shape[1] if key in state else 0

        dim = state["user_bias"].shape[0]
        empty = torch.zeros(0, dim)  # a model without the ID source saves no ID embeddings
        state = {"user_id.weight": empty, "item_id.weight": empty} | state
        net = cls(n_users=rows("user_id.weight"), n_items=rows("item_id.weight"), dim=dim,
                  n_entities=rows("entity.weight"), n_relations=rows("relation.weight"),
                  text_dim=cols("text_proj.weight"), user_text_dim=cols("user_text_proj.weight"),
                  n_sources=n_sources, gate="gate.weight" in state, attention="query" in state)
        net.load_state_dict(state)
        return net.eval()


@register("hybrid", aliases=("knowrec",))
class Hybrid(TorchRecommender):
    """ID ⊕ KG ⊕ LM item vectors (fixed or gated fusion), history-aware users, softmax cross-entropy.

    ``sources`` picks the parts (``"id,kg,text"``); sources the data lacks are left out with a warning, so
    the model degrades to what is there. ``finetune="frozen"`` keeps the language model's vectors fixed and
    trains a projection of them.
    """

    citation = ("knowrec's own model; the softmax and logQ correction follow Covington et al. (RecSys 2016) and "
                "Yi et al. (RecSys 2019), source dropout follows Volkovs et al. DropoutNet (NeurIPS 2017).")
    constraints: ClassVar[dict[str, Constraint]] = {
        "sources": Text(required=True, valid=_valid_sources, what="a comma-separated subset of id, kg, text"),
        "fusion": OneOf.enum(Fusion), "aggregation": OneOf.enum(Aggregation), "loss": OneOf.enum(SoftmaxLoss),
        "finetune": OneOf.enum(FineTune),
        "weights": Text(valid=_valid_weights, what="empty, or one non-negative number per source (\"1,1,0.5\")"),
        "source_dropout": RATE, "history_dropout": RATE, "dropout": RATE, "align": NON_NEGATIVE,
        "temperature": POSITIVE, "lm_lr": POSITIVE, "n_samples": POSITIVE_INT, "lm_batch": POSITIVE_INT,
        "max_degree": NON_NEGATIVE_INT, "user_text": Flag(), "cosine": Flag(),
        "text_model": Text(required=True), "text_template": Text(),
    }

    def __init__(self, *, dim: int = 64, sources: str = "id,kg,text", fusion: str = "gate",
                 weights: str = "", source_dropout: float = 0.1, history_dropout: float = 0.0,
                 align: float = 0.0, user_text: bool = True,
                 aggregation: str = "mean",
                 temperature: float = 0.3, cosine: bool = True, dropout: float = 0.1, loss: str = "softmax",
                 n_samples: int = 1024, max_degree: int = 32, text_model: str = DEFAULT_TEXT_MODEL,
                 text_template: str = "", finetune: str = "frozen", lm_lr: float = 1e-4,
                 lm_batch: int = 64, epochs: int = 300, batch_size: int = 1024, lr: float = 5e-3,
                 reg: float = 1e-4, seed: int = 2020) -> None:
        super().__init__(dim=dim, epochs=epochs, batch_size=batch_size, lr=lr, reg=reg, seed=seed)
        self.sources = sources
        self.fusion = fusion
        self.weights = weights
        self.source_dropout = source_dropout
        self.history_dropout = history_dropout
        self.align = align
        self.user_text = user_text
        self.aggregation = aggregation
        self.temperature = temperature
        self.cosine = cosine
        self.dropout = dropout
        self.loss = loss
        self.n_samples = n_samples
        self.max_degree = max_degree
        self.text_model = text_model
        self.text_template = text_template
        self.finetune = finetune
        self.lm_lr = lm_lr
        self.lm_batch = lm_batch

    # --- set-up -----------------------------------------------------------------------------------------
    def _check_options(self) -> None:
        self.check_params()
        self._fusion = Fusion(self.fusion)
        self._aggregation = Aggregation(self.aggregation)
        self._loss_kind = SoftmaxLoss(self.loss)
        self._finetune = FineTune(self.finetune)

    def _build(self, data: Dataset) -> nn.Module:
        self._check_options()
        wanted = parse_sources(self.sources)
        self._users, self._items = data.users, data.items
        counts = np.bincount(data.items, minlength=data.n_items)
        self._popularity = torch.from_numpy(counts.astype(np.float32))
        self._has = {Source.ID: torch.from_numpy(counts > 0)}
        kg_sizes: dict[str, int] = {}
        if Source.KG in wanted and data.kg is not None:
            kg_sizes = self._prepare_kg(data)
        texts = item_texts(data, self.text_template or None) if Source.TEXT in wanted else None
        text_dim = user_dim = 0
        self._lm = self._user_text = None
        if texts is not None:
            encoder = TextEncoder(self.text_model)
            self._item_text = torch.from_numpy(encoder.encode(texts, show_progress=self._progress))
            if self._finetune is not FineTune.FROZEN:
                self._texts, self._lm = texts, trainable_lm(self.text_model, self._finetune)
            self._has[Source.TEXT] = torch.tensor([bool(t.strip()) for t in texts])
            text_dim = self._item_text.shape[1]
            profiles = user_texts(data) if self.user_text else None
            if profiles is not None:
                self._user_text = torch.from_numpy(encoder.encode(profiles, show_progress=self._progress))
                user_dim = self._user_text.shape[1]
        missing = [s for s in wanted if s not in self._has]
        if missing:
            logger.warning("dataset %r has no %s: the hybrid model uses %s", data.name, " or ".join(missing),
                           ", ".join(s for s in wanted if s in self._has))
        self.sources_ = [str(s) for s in wanted if s in self._has]
        self._weights = self._fixed_weights(wanted)
        self._hist, self._hist_t = _history_operators(self.seen_)
        net = HybridNet(n_users=data.n_users, n_items=data.n_items, dim=self.dim, text_dim=text_dim,
                        user_text_dim=user_dim, n_sources=len(self.sources_), gate=self._fusion is Fusion.GATE,
                        attention=self._aggregation is Aggregation.ATTENTION, **kg_sizes)
        if self._lm is not None:
            net.lm = self._lm  # a submodule, so checkpoints and the optimizer include it
        return net

    def _param_groups(self) -> list[dict[str, Any]]:
        lm = list(getattr(self.module_, "lm", nn.Module()).parameters())
        in_lm = {id(p) for p in lm}
        groups = [{"params": [p for p in self.module_.parameters() if id(p) not in in_lm]}]
        trainable = [p for p in lm if p.requires_grad]
        return groups + ([{"params": trainable, "lr": self.lm_lr}] if trainable else [])

    def _prepare_kg(self, data: Dataset) -> dict[str, int]:
        kg, self.kg_report_ = clean(data.kg)
        kg = shared_tails(add_inverse(kg))  # a tail no other item shares would be a free per-item vector
        if self.max_degree:
            kg = cap_degree(kg, self.max_degree, seed=self.seed)
        items, rels, tails = item_facts(kg)
        used, tails = np.unique(tails, return_inverse=True)  # only entities that items point to get vectors
        self._facts = tuple(torch.from_numpy(a) for a in (items, rels, tails))
        self._has[Source.KG] = torch.from_numpy(np.bincount(items, minlength=data.n_items) > 0)
        self.entity_ids_, self.relation_ids_ = kg.entity_ids[used], kg.relation_ids
        return {"n_entities": len(used), "n_relations": kg.n_relations}

    def _fixed_weights(self, wanted: list[Source]) -> torch.Tensor:
        if not self.weights:
            return torch.ones(len(self.sources_))
        values = [float(w) for w in str(self.weights).split(",")]
        if len(values) != len(wanted) or min(values) < 0:
            raise ConfigError(f"weights needs one non-negative number per source ({', '.join(wanted)}), "
                              f"got {self.weights!r}")
        return torch.tensor([w for s, w in zip(wanted, values, strict=True) if str(s) in self.sources_])

    # --- the model --------------------------------------------------------------------------------------
    def _source_vectors(self, net: HybridNet,
                        item_text: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-source item vectors ``(n_items, S, dim)`` and which exist ``(n_items, S)``."""
        vectors, present = [], []
        for name in self.sources_:
            source = Source(name)
            if source is Source.ID:
                vectors.append(net.item_id.weight)
            elif source is Source.KG:
                vectors.append(self._kg_vectors(net, *self._facts, self.n_items_)[0])
            else:
                vectors.append(net.text_proj(self._item_text if item_text is None else item_text))
            present.append(self._has[source])
        return torch.stack(vectors, 1), torch.stack(present, 1).float()

    def _kg_vectors(self, net: HybridNet, items: torch.Tensor, rels: torch.Tensor, tails: torch.Tensor,
                    n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Per item, the mean of ``relation ⊙ entity`` over its facts; and which items have any."""
        msg = net.relation.weight.index_select(0, rels) * net.entity.weight.index_select(0, tails)
        total = torch.zeros(n, self.dim).index_add_(0, items, msg)
        count = torch.zeros(n).index_add_(0, items, torch.ones(len(items)))
        return total / count.clamp_min(1).unsqueeze(1), (count > 0).float()

    def _fuse(self, net: HybridNet, vectors: torch.Tensor, present: torch.Tensor,
              log_count: torch.Tensor) -> torch.Tensor:
        """Weight the present sources — fixed weights renormalised over them, or a learned gate that also sees
        how many interactions the item had (``log_count``, 0 for items without an ID part) to trust its ID
        more — and return the weighted parts ``(n, S, dim)``, whose sum is the fused vector."""
        if self._fusion is Fusion.GATE:
            logits = net.gate(torch.cat([(vectors * present.unsqueeze(-1)).flatten(1), log_count.unsqueeze(1)], 1))
            weights = torch.softmax(logits.masked_fill(present == 0, -torch.inf), 1).nan_to_num(0.0)
        else:
            weights = present * self._weights
            weights = weights / weights.sum(1, keepdim=True).clamp_min(1e-12)
        return weights.unsqueeze(-1) * vectors

    def _history_weights(self, net: HybridNet, items: torch.Tensor) -> torch.Tensor:
        if self._aggregation is Aggregation.MEAN:
            return torch.ones(len(items))
        return torch.exp((items @ net.query).clamp(-20, 20))

    def _aggregate(self, net: HybridNet, history: torch.Tensor,
                   items: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Weighted sums of the history items' vectors and of their weights, for each row of the sparse
        ``history`` (users × items)."""
        a = self._history_weights(net, items)
        return history @ (a.unsqueeze(1) * items), (history @ a.unsqueeze(1)).squeeze(1)

    def _users_from(self, net: HybridNet, history_sum: torch.Tensor,
                    history_weight: torch.Tensor, users: torch.Tensor | None, use_id: torch.Tensor | None,
                    user_text: torch.Tensor | None) -> torch.Tensor:
        """User vectors: popularity + ID (where ``use_id``) + history aggregate + projected profile text."""
        u = net.user_bias + history_sum / history_weight.clamp_min(1e-9).unsqueeze(1)
        if users is not None and Source.ID in self.sources_:
            u = u + net.user_id(users) * use_id.unsqueeze(1)
        if user_text is not None and hasattr(net, "user_text_proj"):
            u = u + net.user_text_proj(user_text)
        return u

    def _item_vectors(self, net: HybridNet, keep_id: torch.Tensor,
                      parts: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """Weighted source parts of the item vectors, the ID part used only where ``keep_id`` (1/0) says."""
        vectors, present = parts if parts is not None else self._source_vectors(net)
        if Source.ID in self.sources_:
            col = self.sources_.index(Source.ID)
            present = torch.cat([present[:, :col], keep_id.unsqueeze(1), present[:, col + 1:]], 1)
        return self._fuse(net, vectors, present, torch.log1p(self._popularity) * keep_id)

    def _normalised(self, parts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The scored item vectors (unit length when ``cosine``) and their source parts, scaled alike."""
        fused = parts.sum(1)
        scale = fused.norm(dim=1, keepdim=True).clamp_min(1e-12) if self.cosine else torch.ones(len(fused), 1)
        return fused / scale, parts / scale.unsqueeze(1)

    def attribution(self, users: Any, items: Any, *, vectors: torch.Tensor | None = None) -> dict[str, np.ndarray]:
        """How much of each (user, item) score each source gave: the user vector's dot product with the
        item's ID, KG and text parts, plus the popularity prior. The values sum to the score.

        ``vectors`` (from ``user_vectors``) stand in for the users' trained vectors; ``users`` is then ignored.
        """
        self.check_is_fitted()
        if getattr(self, "item_parts_", None) is None:
            raise NotSupportedError("this model was saved without per-source item parts; retrain it to attribute")
        items = torch.as_tensor(np.atleast_1d(items), dtype=torch.long)
        if vectors is None:
            vectors = self.user_factors_[torch.as_tensor(np.atleast_1d(users), dtype=torch.long)]
        shares = (self.item_parts_[items] * vectors.unsqueeze(1)).sum(-1)
        out = {name: shares[:, j].numpy() for j, name in enumerate(self.sources_)}
        return out | {"popularity": self.item_bias_[items].numpy()}

    def _unit(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(x, dim=-1) if self.cosine else x

    def _scale(self, users: torch.Tensor) -> torch.Tensor:
        """Scored user vectors: unit length when ``cosine``, divided by the temperature."""
        return self._unit(users) / self.temperature

    # --- training ---------------------------------------------------------------------------------------
    def _n_batches(self) -> int:
        return -(-len(self._users) // self.batch_size)

    def _batches(self, rng: np.random.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = rng.permutation(len(self._users))
        for s in range(0, len(order), self.batch_size):
            idx = order[s:s + self.batch_size]
            yield torch.from_numpy(self._users[idx]), torch.from_numpy(self._items[idx])

    def _loss(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        users, pos = batch
        net = self.module_
        p = self.source_dropout
        parts = self._source_vectors(net, self._tuned_text(pos))
        has_id = self._has[Source.ID].float()
        keep = has_id * (torch.rand(self.n_items_) >= p) if p else has_id
        items = nn.functional.dropout(self._unit(self._item_vectors(net, keep, parts).sum(1)), self.dropout,
                                      training=True)
        a = self._history_weights(net, items)
        # the history aggregate leaves the target out: (sum over history - target) / (weights - target's)
        weighted = SpMM.apply(self._hist, self._hist_t, a.unsqueeze(1) * items).index_select(0, users)
        total = (self._hist @ a.unsqueeze(1)).squeeze(1).index_select(0, users)
        target = items.index_select(0, pos)
        a_t = a.index_select(0, pos)
        use_id = (torch.rand(len(users)) >= p).float() if p else torch.ones(len(users))
        text = None if self._user_text is None else self._user_text.index_select(0, users)
        history, weight = weighted - a_t.unsqueeze(1) * target, total - a_t
        if self.history_dropout:  # some users train with neither ID nor history: the path of unseen users
            keep = (torch.rand(len(users)) >= self.history_dropout).float()
            history, weight, use_id = history * keep.unsqueeze(1), weight * keep, use_id * keep
        u = self._users_from(net, history, weight, users, use_id, text)
        u = self._scale(nn.functional.dropout(u, self.dropout, training=True))
        if self._loss_kind is SoftmaxLoss.FULL:
            # items with no training interaction (held-out cold items) are unknown, not negatives
            logits = (u @ items.T + self._item_bias(net)).masked_fill(~self._has[Source.ID], -torch.inf)
            main = nn.functional.cross_entropy(logits, pos)
        else:
            main = self._sampled_softmax(u, items, pos, self._item_bias(net))
        if self.align and Source.ID in self.sources_ and len(self.sources_) > 1:
            # content alone (ID hidden) should land where the full vector of a warm item lies (DropoutNet-style)
            content = self._unit(self._item_vectors(net, torch.zeros(self.n_items_), parts).sum(1))[pos]
            anchor = self._unit(self._item_vectors(net, has_id, parts).sum(1))[pos].detach()
            main = main + self.align * (1 - (content * anchor).sum(1)).mean()
        l2 = net.user_id(users).pow(2).sum() + target.pow(2).sum()
        if Source.ID in self.sources_:
            l2 = l2 + net.item_id(pos).pow(2).sum()
        return main + self.reg * l2 / (2 * len(users))

    def _tuned_text(self, pos: torch.Tensor) -> torch.Tensor | None:
        """While fine-tuning, the text vectors with up to ``lm_batch`` of the batch's items re-encoded through
        the language model (with gradient); the other rows are the vectors of the last refresh."""
        if self._lm is None:
            return None
        items = torch.unique(pos)
        items = items[torch.randperm(len(items))[: self.lm_batch]]
        fresh = embed(self._lm, [self._texts[i] for i in items.tolist()])
        return self._item_text.index_copy(0, items, fresh)

    def _item_bias(self, net: HybridNet) -> torch.Tensor:
        """A learned popularity prior: items known from many training interactions score a little higher, items
        with none (cold or new ones) get no bonus. Cosine scores cannot carry popularity in a vector norm."""
        return net.pop_weight * torch.log1p(self._popularity)

    def _sampled_softmax(self, u: torch.Tensor, items: torch.Tensor, pos: torch.Tensor,
                         bias: torch.Tensor) -> torch.Tensor:
        """Softmax over the positive and ``n_samples`` popularity-sampled items, logits corrected by log q."""
        q = self._popularity.pow(0.75)  # items never interacted with are never drawn
        q = q / q.sum()
        neg = torch.multinomial(q, self.n_samples, replacement=True)
        log_q = q.log() - bias  # a logit is score + bias - log q
        pos_logit = (u * items.index_select(0, pos)).sum(1, keepdim=True) - log_q.index_select(0, pos).unsqueeze(1)
        neg_logit = u @ items.index_select(0, neg).T - log_q.index_select(0, neg)
        neg_logit = neg_logit.masked_fill(neg.unsqueeze(0) == pos.unsqueeze(1), -torch.inf)  # accidental hits
        logits = torch.cat([pos_logit, neg_logit], 1)
        return nn.functional.cross_entropy(logits, torch.zeros(len(u), dtype=torch.long))

    def _refresh(self) -> None:
        net = self.module_
        if self._lm is not None:  # re-encode every item with the language model as tuned so far
            vectors = [embed(self._lm, self._texts[s:s + 256]) for s in range(0, len(self._texts), 256)]
            self._item_text = torch.cat(vectors)
        items, self.item_parts_ = self._normalised(self._item_vectors(net, self._has[Source.ID].float()))
        weighted, total = self._aggregate(net, self._hist, items)
        has_history = torch.from_numpy(np.diff(self.seen_.indptr) > 0).float()
        users = self._users_from(net, weighted, total, torch.arange(self.n_users_), has_history, self._user_text)
        self.user_factors_, self.item_factors_ = self._scale(users), items  # fit runs this under no_grad
        self.item_bias_ = self._item_bias(net)

    def _score(self, users: torch.Tensor) -> torch.Tensor:
        return super()._score(users) + self.item_bias_

    def score_pairs(self, users: Any, items: Any, *, batch_size: int = 2048) -> np.ndarray:
        bias = self.item_bias_[torch.as_tensor(np.asarray(items, dtype=np.int64))].to(torch.float64).numpy()
        return super().score_pairs(users, items, batch_size=batch_size) + bias

    # --- serving: new users and new items without retraining --------------------------------------------
    def user_vectors(self, histories: Sequence[Iterable[int]], texts: Sequence[str] | None = None, *,
                     users: Sequence[int] | None = None, profiles: np.ndarray | None = None) -> torch.Tensor:
        """Scored vectors of users from their item histories and/or profile texts, with no retraining.

        ``users`` (indices of known users, one per history) adds their ID embeddings: a known user's vector
        then follows new interactions. Without it the users are treated as never seen. ``profiles`` (from
        ``encode_profiles``) stand in for ``texts`` already encoded.
        """
        self.check_is_fitted()
        net = self._net()
        histories = [np.asarray(list(h), dtype=np.int64) for h in histories]
        cols = np.concatenate([np.zeros(0, dtype=np.int64), *histories])
        if len(cols) and (cols.min() < 0 or cols.max() >= self.n_items_):
            raise IndexError(f"history item index out of range [0, {self.n_items_})")
        rows = np.repeat(np.arange(len(histories)), [len(h) for h in histories])
        history = sparse_csr(rows, cols, np.ones(len(cols), dtype=np.float32), (len(histories), self.n_items_))
        known = None if users is None else torch.as_tensor(np.asarray(users, dtype=np.int64))
        if profiles is None and texts is not None:
            profiles = self.encode_profiles(texts)
        with torch.no_grad():
            weighted, total = self._aggregate(net, history, self.item_factors_)
            text = None if profiles is None or not hasattr(net, "user_text_proj") else torch.from_numpy(profiles)
            use_id = None if known is None else torch.ones(len(known))
            return self._scale(self._users_from(net, weighted, total, known, use_id, text))

    def load_encoders(self) -> None:
        """Load the language model now, so the first item or profile text to encode does not wait for it (a
        service calls this at start)."""
        if Source.TEXT in self.sources_:
            self._item_encoder().load()
        if hasattr(self._net(), "user_text_proj"):
            self._encoder(self.text_model).load()

    def encode_profiles(self, texts: Sequence[str]) -> np.ndarray | None:
        """Profile texts encoded by the language model, for ``user_vectors(profiles=…)`` (``None`` if the model
        has no user-text part): the slow half of scoring a user from their text, which changes nothing."""
        if not hasattr(self._net(), "user_text_proj"):
            return None
        return self._encoder(self.text_model).encode(list(texts), show_progress=False)

    def add_items(self, table: pd.DataFrame, facts: Iterable[tuple[Any, str, str]] = (), *,
                  show_progress: bool = False) -> np.ndarray:
        """Embed new items from their fields (``table``, one row each) and KG ``facts``; return their indices.

        ``facts`` are ``(row key of table, relation name, entity name)``; facts naming an entity or relation
        the model never saw are skipped (they carry no learned vector). The items are recommendable at once,
        with the catalogue's mean popularity prior.
        """
        if len(table) == 0:
            return np.array([], dtype=np.int64)
        return self.append_items(*self.embed_items(table, facts, show_progress=show_progress))

    def embed_items(self, table: pd.DataFrame, facts: Iterable[tuple[Any, str, str]] = (), *,
                    show_progress: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """The scored vectors and per-source parts of new items (as ``add_items`` takes them), without adding
        them: the slow half of ``add_items`` (text encoding), which leaves the model as it is."""
        self.check_is_fitted()
        net = self._net()
        n_new = len(table)
        vectors, present = [], []
        with torch.no_grad():
            for name in self.sources_:
                if name == Source.ID:
                    vectors.append(torch.zeros(n_new, self.dim))
                    present.append(torch.zeros(n_new))
                elif name == Source.KG:
                    kg_vec, has_kg = self._fact_vectors(net, table, facts)
                    vectors.append(kg_vec)
                    present.append(has_kg)
                else:
                    texts = texts_for(table, self.text_template or None)
                    encoded = self._item_encoder().encode(texts, show_progress=show_progress)
                    vectors.append(net.text_proj(torch.from_numpy(encoded)))
                    present.append(torch.tensor([bool(t.strip()) for t in texts], dtype=torch.float32))
            return self._normalised(
                self._fuse(net, torch.stack(vectors, 1), torch.stack(present, 1), torch.zeros(n_new)))

    def append_items(self, vectors: torch.Tensor, parts: torch.Tensor) -> np.ndarray:
        """Add items embedded by ``embed_items`` to the catalogue; return their indices."""
        self.check_is_fitted()
        n_new = len(vectors)
        start = self.n_items_
        self.item_factors_ = torch.cat([self.item_factors_, vectors])
        self.item_parts_ = torch.cat([self.item_parts_, parts])
        # a new item has no interactions because it is new, not because people pass it over: it gets the
        # catalogue's mean popularity prior, not the lowest one
        self.item_bias_ = torch.cat([self.item_bias_, self.item_bias_.mean().expand(n_new)])
        self.n_items_ += n_new
        self.seen_ = sp.csr_matrix((self.seen_.data, self.seen_.indices, self.seen_.indptr),
                                   shape=(self.n_users_, self.n_items_))
        return np.arange(start, self.n_items_)

    def _item_encoder(self) -> TextEncoder:
        """The encoder of item text: the fine-tuned language model where there is one (never cached on disk:
        its folder may be retrained), else the pretrained one."""
        lm = getattr(self, "_lm", None)
        if lm is not None:
            encoder = TextEncoder(self.text_model, cache=False)
            encoder.model_ = lm
            return encoder
        tuned = getattr(self, "tuned_lm_", None)
        return self._encoder(tuned or self.text_model)

    def _encoder(self, model: str) -> TextEncoder:
        """One loaded encoder per model name, kept for the model's lifetime. A service encodes a few texts per
        request, so it skips the on-disk cache (reading and rewriting it would cost more than encoding) and
        leaves nothing shared to change: requests may encode side by side."""
        encoders = self.__dict__.setdefault("_encoders", {})
        if model not in encoders:
            encoders[model] = TextEncoder(model, cache=False)
        return encoders[model]

    def _fact_vectors(self, net: HybridNet, table: pd.DataFrame,
                      facts: Iterable[tuple[Any, str, str]]) -> tuple[torch.Tensor, torch.Tensor]:
        rows = {key: i for i, key in enumerate(table.index)}
        entity = {str(e): i for i, e in enumerate(self.entity_ids_)}
        relation = {str(r): i for i, r in enumerate(self.relation_ids_)}
        triples = [(rows[k], relation[str(r)], entity[str(e)]) for k, r, e in facts
                   if k in rows and str(r) in relation and str(e) in entity]
        if not triples:
            return torch.zeros(len(table), self.dim), torch.zeros(len(table))
        it, rt, tt = (torch.tensor(c) for c in zip(*triples, strict=True))
        return self._kg_vectors(net, it, rt, tt, len(table))

    def _net(self) -> HybridNet:
        net = getattr(self, "module_", None)
        if net is None:
            self._check_options()
            self._weights = torch.as_tensor(self.fusion_weights_)
            net = self.module_ = HybridNet.from_state(self.net_state_, len(self.sources_))
        return net.eval()

    # --- persistence ------------------------------------------------------------------------------------
    def _state(self) -> dict[str, torch.Tensor]:
        net_state = {f"net.{k}": v for k, v in self._net().state_dict().items()
                     if (k not in ("user_id.weight", "item_id.weight") or Source.ID in self.sources_)
                     and not k.startswith("lm.")}  # a tuned language model is saved as its own folder
        return {**super()._state(), **net_state, "fusion_weights": self._weights, "item_bias": self.item_bias_,
                "item_parts": self.item_parts_}

    def _set_state(self, state: dict[str, torch.Tensor]) -> None:
        self.net_state_ = {k.removeprefix("net."): v for k, v in state.items() if k.startswith("net.")}
        super()._set_state({k: v for k, v in state.items() if not k.startswith("net.")})
        # the network is rebuilt from this state when next needed: restoring the best epoch's vectors must
        # restore the weights that embed new items and users too, not leave the last epoch's in place
        self.__dict__.pop("module_", None)

    def _save_extra(self, folder: Path) -> None:
        vocab: dict[str, Any] = {"sources": self.sources_}
        if Source.KG in self.sources_:
            vocab |= {"entities": [str(e) for e in self.entity_ids_],
                      "relations": [str(r) for r in self.relation_ids_]}
        write_json(folder / VOCAB_FILE, vocab)
        if getattr(self, "_lm", None) is not None:
            save_lm(self._lm, folder / LM_FOLDER)

    def _load_extra(self, folder: Path) -> None:
        vocab = read_json(folder / VOCAB_FILE)
        self.sources_ = vocab["sources"]
        if (folder / LM_FOLDER).is_dir():
            self.tuned_lm_ = str(folder / LM_FOLDER)
        if "entities" in vocab:
            self.entity_ids_ = np.asarray(vocab["entities"], dtype=object)
            self.relation_ids_ = np.asarray(vocab["relations"], dtype=object)


def _history_operators(history: sp.csr_matrix) -> tuple[torch.Tensor, torch.Tensor]:
    """The binary user × item history matrix and its transpose as sparse tensors."""
    coo = history.tocoo()
    values = np.ones(coo.nnz, dtype=np.float32)
    return (sparse_csr(coo.row, coo.col, values, history.shape),
            sparse_csr(coo.col, coo.row, values, history.shape[::-1]))
