"""``Hybrid``: the estimator — its parameters, what it reads from a dataset, one training step, what it
recomputes after an epoch, and how it is saved. The network, losses, inputs and cold-start methods live
beside it in this package."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from knowrec._io import read_json, write_json
from knowrec.data.dataset import Dataset
from knowrec.devices import sparse_mm
from knowrec.models.base import MODELS
from knowrec.models.gradient import TorchRecommender
from knowrec.models.hybrid.coldstart import ColdStart
from knowrec.models.hybrid.counterfactual import Counterfactual
from knowrec.models.hybrid.inputs import add_kg, add_text, base_inputs, kg_inputs, text_inputs
from knowrec.models.hybrid.losses import full_softmax, others_seen, sampled_softmax
from knowrec.models.hybrid.network import HybridNet
from knowrec.models.hybrid.options import (
    ALL_SOURCES,
    CONSTRAINTS,
    SEARCH_SPACE,
    Aggregation,
    Fusion,
    SoftmaxLoss,
    Source,
    fixed_weights,
    parse_sources,
)
from knowrec.models.lightgcn import SpMM, sparse_csr
from knowrec.params import Constraint, Dimension
from knowrec.text import DEFAULT_TEXT_MODEL
from knowrec.text.finetune import FineTune, embed, save_lm, trainable_lm

logger = logging.getLogger(__name__)
VOCAB_FILE = "vocab.json"
LM_FOLDER = "lm"


@MODELS.component("hybrid", aliases=("knowrec",))
class Hybrid(TorchRecommender, ColdStart, Counterfactual):
    """ID ⊕ KG ⊕ LM item vectors (fixed or gated fusion), history-aware users, softmax cross-entropy.

    ``sources`` picks the parts (any of ``Source.ID, KG, TEXT``, or ``"id,kg,text"``); sources the data lacks
    are left out with a warning, so the model degrades to what is there. ``finetune="frozen"`` keeps the
    language model's vectors fixed and trains a projection of them. ``exclude_seen`` leaves a user's other
    training items out of the softmax (they are not negatives, and evaluation never ranks them).
    """

    citation = ("knowrec's own model; the softmax and logQ correction follow Covington et al. (RecSys 2016) and "
                "Yi et al. (RecSys 2019), source dropout follows Volkovs et al. DropoutNet (NeurIPS 2017).")
    constraints: ClassVar[dict[str, Constraint]] = CONSTRAINTS
    search_space: ClassVar[dict[str, Dimension]] = SEARCH_SPACE

    def __init__(self, *, dim: int = 64, sources: str | Sequence[Source] = ALL_SOURCES,
                 fusion: Fusion | str = Fusion.GATE, weights: str | Sequence[float] = (),
                 source_dropout: float = 0.1, history_dropout: float = 0.0, align: float = 0.0,
                 user_text: bool = True, aggregation: Aggregation | str = Aggregation.MEAN,
                 temperature: float = 0.3, cosine: bool = True, dropout: float = 0.1, exclude_seen: bool = False,
                 loss: SoftmaxLoss | str = SoftmaxLoss.FULL, n_samples: int = 1024, max_degree: int = 32,
                 text_model: str = DEFAULT_TEXT_MODEL, text_template: str = "",
                 finetune: FineTune | str = FineTune.FROZEN, lm_lr: float = 1e-4, lm_batch: int = 64,
                 epochs: int = 300, batch_size: int = 1024, lr: float = 5e-3, reg: float = 1e-4,
                 seed: int = 2020) -> None:
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
        self.exclude_seen = exclude_seen
        self.loss = loss
        self.n_samples = n_samples
        self.max_degree = max_degree
        self.text_model = text_model
        self.text_template = text_template
        self.finetune = finetune
        self.lm_lr = lm_lr
        self.lm_batch = lm_batch

    # --- set-up -----------------------------------------------------------------------------------------
    def _net_options(self, weights: torch.Tensor) -> dict[str, Any]:
        self.check_params()
        return {"sources": self.sources_, "fusion": Fusion(self.fusion), "aggregation": Aggregation(self.aggregation),
                "weights": weights, "cosine": self.cosine}

    def _build(self, data: Dataset) -> nn.Module:
        wanted = parse_sources(self.sources)
        self._users, self._items = data.users, data.items
        self._inputs = inputs = base_inputs(data)
        kg_sizes: dict[str, int] = {}
        if Source.KG in wanted and data.kg is not None:
            kg = kg_inputs(data, max_degree=self.max_degree, seed=self.seed)
            add_kg(inputs, kg)
            self.kg_report_ = kg.report
            self.entity_ids_, self.relation_ids_, kg_sizes = kg.entity_ids, kg.relation_ids, kg.sizes
        text = None
        if Source.TEXT in wanted:
            text = text_inputs(data, model=self.text_model, template=self.text_template, user_text=self.user_text,
                               show_progress=self._progress, device=self._encode_device())
        self._lm = None
        text_dim = user_dim = 0
        if text is not None:
            add_text(inputs, text)
            if FineTune(self.finetune) is not FineTune.FROZEN:
                self._texts, self._lm = text.texts, trainable_lm(self.text_model, FineTune(self.finetune))
            text_dim = text.item_text.shape[1]
            user_dim = 0 if text.user_text is None else text.user_text.shape[1]
        missing = [s for s in wanted if s not in inputs.has]
        if missing:
            logger.warning("dataset %r has no %s: the hybrid model uses %s", data.name, " or ".join(missing),
                           ", ".join(s for s in wanted if s in inputs.has))
        self.sources_ = [str(s) for s in wanted if s in inputs.has]
        self._hist, self._hist_t = _history_operators(self.seen_)
        net = HybridNet(n_users=data.n_users, n_items=data.n_items, dim=self.dim, text_dim=text_dim,
                        user_text_dim=user_dim, **self._net_options(fixed_weights(self.weights, wanted, self.sources_)),
                        **kg_sizes)
        if self._lm is not None:
            net.lm = self._lm  # a submodule, so checkpoints and the optimizer include it
        return net

    def _param_groups(self) -> list[dict[str, Any]]:
        lm = list(getattr(self.module_, "lm", nn.Module()).parameters())
        in_lm = {id(p) for p in lm}
        groups = [{"params": [p for p in self.module_.parameters() if id(p) not in in_lm]}]
        trainable = [p for p in lm if p.requires_grad]
        return groups + ([{"params": trainable, "lr": self.lm_lr}] if trainable else [])

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
        net, inputs = self.module_, self._inputs
        p = self.source_dropout
        parts = net.source_vectors(inputs, self._tuned_text(pos))
        has_id = inputs.has[Source.ID].float()
        keep = has_id * (torch.rand(self.n_items_) >= p) if p else has_id
        items = nn.functional.dropout(net.unit(net.item_vectors(inputs, keep, parts).sum(1)), self.dropout,
                                      training=True)
        a = net.history_weights(items)
        # the history aggregate leaves the target out: (sum over history - target) / (weights - target's)
        weighted = SpMM.apply(self._hist, self._hist_t, a.unsqueeze(1) * items).index_select(0, users)
        total = sparse_mm(self._hist, a.unsqueeze(1)).squeeze(1).index_select(0, users)
        target = items.index_select(0, pos)
        a_t = a.index_select(0, pos)
        use_id = (torch.rand(len(users)) >= p).float() if p else torch.ones(len(users))
        text = None if inputs.user_text is None else inputs.user_text.index_select(0, users)
        history, weight = weighted - a_t.unsqueeze(1) * target, total - a_t
        if self.history_dropout:  # some users train with neither ID nor history: the path of unseen users
            keep = (torch.rand(len(users)) >= self.history_dropout).float()
            history, weight, use_id = history * keep.unsqueeze(1), weight * keep, use_id * keep
        u = net.users_from(history, weight, users, use_id, text)
        u = net.scale(nn.functional.dropout(u, self.dropout, training=True), self.temperature)
        bias = net.item_bias(inputs.popularity)
        seen = others_seen(self.seen_, users, pos) if self.exclude_seen else None
        if SoftmaxLoss(self.loss) is SoftmaxLoss.FULL:
            main = full_softmax(u, items, bias, inputs.has[Source.ID], pos, seen)
        else:
            main = sampled_softmax(u, items, pos, bias, inputs.popularity, self.n_samples, seen)
        if self.align and Source.ID in self.sources_ and len(self.sources_) > 1:
            # content alone (ID hidden) should land where the full vector of a warm item lies (DropoutNet-style)
            content = net.unit(net.item_vectors(inputs, torch.zeros(self.n_items_), parts).sum(1))[pos]
            anchor = net.unit(net.item_vectors(inputs, has_id, parts).sum(1))[pos].detach()
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
        return self._inputs.item_text.index_copy(0, items, fresh)

    def _refresh(self) -> None:
        net, inputs = self.module_, self._inputs
        if self._lm is not None:  # re-encode every item with the language model as tuned so far
            vectors = [embed(self._lm, self._texts[s:s + 256]) for s in range(0, len(self._texts), 256)]
            inputs.item_text = torch.cat(vectors)
        items, self.item_parts_ = net.normalised(net.item_vectors(inputs, inputs.has[Source.ID].float()))
        weighted, total = net.aggregate(self._hist, items)
        has_history = torch.from_numpy(np.diff(self.seen_.indptr) > 0).float().to(items.device)
        users = net.users_from(weighted, total, torch.arange(self.n_users_), has_history, inputs.user_text)
        # fit runs this under no_grad
        self.user_factors_, self.item_factors_ = net.scale(users, self.temperature), items
        self.item_bias_ = new_item_prior(net.item_bias(inputs.popularity), inputs.popularity)

    # --- scoring ----------------------------------------------------------------------------------------
    def _score(self, users: torch.Tensor) -> torch.Tensor:
        return super()._score(users) + self.item_bias_


    def score_pairs(self, users: Any, items: Any, *, batch_size: int = 2048) -> np.ndarray:
        bias = self.item_bias_[torch.as_tensor(np.asarray(items, dtype=np.int64))].to(torch.float64).numpy()
        return super().score_pairs(users, items, batch_size=batch_size) + bias

    def _net(self) -> HybridNet:
        """The network: the one training built, or one rebuilt from the saved (or best epoch's) weights."""
        net = getattr(self, "module_", None)
        if net is None:
            options = self._net_options(torch.as_tensor(self.fusion_weights_))
            net = self.module_ = HybridNet.from_state(self.net_state_, **options)
        return net.eval()

    # --- persistence ------------------------------------------------------------------------------------
    def _state(self) -> dict[str, torch.Tensor]:
        net = self._net()
        net_state = {f"net.{k}": v for k, v in net.state_dict().items()
                     if (k not in ("user_id.weight", "item_id.weight") or Source.ID in self.sources_)
                     and not k.startswith("lm.")}  # a tuned language model is saved as its own folder
        return {**super()._state(), **net_state, "fusion_weights": net.weights, "item_bias": self.item_bias_,
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


def new_item_prior(bias: torch.Tensor, popularity: torch.Tensor) -> torch.Tensor:
    """Items of the catalogue with no training interaction are new (held out, or listed without any), not passed
    over: like items added later (``append_items``) they get the mean prior of the others, not the lowest."""
    new = popularity == 0
    if not new.any() or new.all():
        return bias
    return torch.where(new, bias[~new].mean(), bias)

def _history_operators(history: sp.csr_matrix) -> tuple[torch.Tensor, torch.Tensor]:
    """The binary user × item history matrix and its transpose as sparse tensors."""
    coo = history.tocoo()
    values = np.ones(coo.nnz, dtype=np.float32)
    return (sparse_csr(coo.row, coo.col, values, history.shape),
            sparse_csr(coo.col, coo.row, values, history.shape[::-1]))
