"""Item-based k-nearest-neighbours with cosine similarity."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp
import torch

from knowrec.data.dataset import Dataset
from knowrec.models.base import MODELS, Recommender
from knowrec.params import NON_NEGATIVE, POSITIVE_INT, Constraint, Dimension, Float, Int
from knowrec.train.callbacks import Callback


@MODELS.component("itemknn", aliases=("item-knn", "itemcf"))
class ItemKNN(Recommender):
    """Scores an item by the summed cosine similarity to the user's items, keeping ``k`` neighbours per item."""

    citation = "Sarwar et al. Item-based collaborative filtering recommendation algorithms. WWW 2001."
    constraints: ClassVar[dict[str, Constraint]] = {"k": POSITIVE_INT, "shrink": NON_NEGATIVE}
    search_space: ClassVar[dict[str, Dimension]] = {"k": Int(10, 1000, log=True), "shrink": Float(0.0, 100.0)}

    def __init__(self, *, k: int = 100, shrink: float = 0.0) -> None:
        self.k = k
        self.shrink = shrink

    def fit(self, data: Dataset, *, callbacks: Sequence[Callback] = (), show_progress: bool = True) -> Self:
        self._check_inputs(data)
        x = self.seen_.tocsc()
        co = (x.T @ x).tocoo()
        norms = np.sqrt(np.asarray(x.sum(axis=0)).ravel())
        sim = co.data / (norms[co.row] * norms[co.col] + self.shrink + 1e-12)
        off = co.row != co.col
        rows, cols, sim = co.row[off], co.col[off], sim[off]
        order = np.lexsort((-sim, cols))  # per target item (column), most similar first
        rows, cols, sim = rows[order], cols[order], sim[order]
        starts = np.searchsorted(cols, np.arange(data.n_items))
        rank = np.arange(len(cols)) - starts[cols]
        keep = rank < self.k
        self.similarity_ = sp.csr_matrix((sim[keep].astype(np.float32), (rows[keep], cols[keep])),
                                         shape=(data.n_items, data.n_items))
        for cb in callbacks:
            cb.on_fit_end(self)
        return self

    def _score(self, users: torch.Tensor) -> torch.Tensor:
        scores = self.seen_[users.numpy()] @ self.similarity_
        return torch.from_numpy(np.asarray(scores.todense(), dtype=np.float32))

    def similar_items(self, items: Any, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest neighbours kept for each item, by cosine similarity (excluding the item)."""
        self.check_is_fitted()
        single = np.ndim(items) == 0
        sims = torch.from_numpy(np.asarray(self.similarity_[:, np.atleast_1d(items)].T.todense(), dtype=np.float32))
        top, idx = torch.topk(sims, min(k, self.n_items_), dim=1)
        return (idx[0].numpy(), top[0].numpy()) if single else (idx.numpy(), top.numpy())

    def _state(self) -> dict[str, torch.Tensor]:
        s = self.similarity_.tocoo()
        return {"sim_rows": torch.from_numpy(s.row.astype(np.int64)),
                "sim_cols": torch.from_numpy(s.col.astype(np.int64)), "sim_values": torch.from_numpy(s.data)}

    def _set_state(self, state: dict[str, torch.Tensor]) -> None:
        self.similarity_ = sp.csr_matrix(
            (state["sim_values"].numpy(), (state["sim_rows"].numpy(), state["sim_cols"].numpy())),
            shape=(self.n_items_, self.n_items_))
