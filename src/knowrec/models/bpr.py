"""Matrix factorisation trained with BPR (or a full softmax), the base of the embedding models."""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from knowrec.data.dataset import Dataset
from knowrec.data.sampling import NegativeSampler
from knowrec.errors import ConfigError
from knowrec.models.base import MODELS
from knowrec.models.gradient import TorchRecommender
from knowrec.params import POSITIVE_INT, Constraint, Flag, OneOf
from knowrec.train.optim import RowAdam


class Loss(StrEnum):
    BPR = "bpr"
    SOFTMAX = "softmax"


@MODELS.component("bpr", aliases=("bprmf", "bpr-mf", "mf"))
class BPR(TorchRecommender):
    """User and item embeddings scored by dot product, trained with the pairwise BPR loss and L2.

    ``loss="softmax"`` trains the same factors with a full softmax cross-entropy over all items instead.
    ``sparse=True`` looks the batch's rows up with row-sparse gradients and trains them with ``RowAdam``
    (SparseAdam's lazy moments: only the rows a batch touches move), so a step costs the batch, not the tables —
    what keeps an epoch near-linear in the interactions at 10⁶ users and beyond; dense Adam updates every row at
    every step.
    """

    citation = "Rendle et al. BPR: Bayesian Personalized Ranking from Implicit Feedback. UAI 2009."
    constraints: ClassVar[dict[str, Constraint]] = {"neg": POSITIVE_INT, "loss": OneOf.enum(Loss), "sparse": Flag()}

    def __init__(self, *, dim: int = 64, epochs: int = 300, batch_size: int = 2048, lr: float = 1e-3,
                 reg: float = 1e-2, neg: int = 1, loss: str = "bpr", sparse: bool = False, seed: int = 2020) -> None:
        super().__init__(dim=dim, epochs=epochs, batch_size=batch_size, lr=lr, reg=reg, seed=seed)
        self.neg = neg
        self.loss = loss
        self.sparse = sparse

    def _build(self, data: Dataset) -> nn.Module:
        self._loss_kind = Loss(self.loss)  # checked against the choices in check_params
        self._users, self._items = data.users, data.items
        self._sampler = NegativeSampler(data.users, data.items, data.n_items)
        module = nn.Module()
        sparse = self.sparse
        if sparse and self._loss_kind is Loss.SOFTMAX:
            raise ConfigError("sparse=true needs loss=bpr: a full softmax touches every item row at every step")
        module.user = nn.Embedding(data.n_users, self.dim, sparse=sparse)
        module.item = nn.Embedding(data.n_items, self.dim, sparse=sparse)
        nn.init.xavier_normal_(module.user.weight)
        nn.init.xavier_normal_(module.item.weight)
        return module

    def _optimizer(self) -> torch.optim.Optimizer:
        if self.sparse:
            return RowAdam(list(self.module_.parameters()), lr=self.lr)
        return super()._optimizer()

    def _n_batches(self) -> int:
        return -(-len(self._users) // self.batch_size)

    def _batches(self, rng: np.random.Generator) -> Iterator[tuple[torch.Tensor, ...]]:
        """Shuffled (user, item) pairs with ``neg`` negatives each, drawn for the whole epoch at once."""
        order = rng.permutation(len(self._users))
        u, i = self._users[order], self._items[order]
        neg = self._sampler.sample(u, rng, self.neg)
        for s in range(0, len(u), self.batch_size):
            yield (torch.from_numpy(u[s:s + self.batch_size]), torch.from_numpy(i[s:s + self.batch_size]),
                   torch.from_numpy(neg[s:s + self.batch_size]))

    def _ego(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Layer-0 user and item vectors: the ID embeddings (models built on this one enrich them)."""
        return self.module_.user.weight, self.module_.item.weight

    def _propagate(self, users: torch.Tensor, items: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Turn layer-0 vectors into the vectors that are scored (identity for plain factorisation)."""
        return users, items

    def _factors(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self._propagate(*self._ego())

    def _loss(self, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        users, pos, neg = batch
        if self.sparse:
            return self._sparse_loss(users, pos, neg)
        ego_u, ego_i = self._ego()
        all_u, all_i = self._propagate(ego_u, ego_i)
        # index_select, not indexing: its gradient is an index_add, several times faster on CPU
        u = all_u.index_select(0, users)
        if self._loss_kind is Loss.SOFTMAX:
            main = nn.functional.cross_entropy(u @ all_i.T, pos)
        else:
            pos_score = (u * all_i.index_select(0, pos)).sum(-1, keepdim=True)
            neg_vecs = all_i.index_select(0, neg.reshape(-1)).view(*neg.shape, -1)
            neg_score = (u.unsqueeze(1) * neg_vecs).sum(-1)  # not einsum: it becomes a slow batched matmul
            main = -nn.functional.logsigmoid(pos_score - neg_score).mean()
        batch_u = ego_u.index_select(0, users)
        batch_i = ego_i.index_select(0, torch.cat([pos, neg.reshape(-1)]))
        l2 = (batch_u.pow(2).sum() + batch_i.pow(2).sum()) / (2 * len(users))
        return main + self.reg * l2

    def _sparse_loss(self, users: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
        """The BPR loss and L2 of the batch's rows, looked up through the embeddings (row-sparse gradients)."""
        u = self.module_.user(users)
        p = self.module_.item(pos)
        n = self.module_.item(neg)
        pos_score = (u * p).sum(-1, keepdim=True)
        neg_score = (u.unsqueeze(1) * n).sum(-1)
        main = -nn.functional.logsigmoid(pos_score - neg_score).mean()
        l2 = (u.pow(2).sum() + p.pow(2).sum() + n.pow(2).sum()) / (2 * len(users))
        return main + self.reg * l2
