"""EASE, the closed-form item–item model, alone or over interactions stacked with side information.

With ``sources="id"`` it is Steck's EASE: ``B = argmin ‖X − XB‖² + λ‖B‖²`` with ``diag(B) = 0``, solved by one
matrix inverse. With ``kg`` and/or ``text`` it is fitted on ``X`` stacked with rows of side information (Jeunen,
Van Balen & Goethals, RecSys 2020): a row per KG entity that items share (its items set to 1) and a row per item's
text neighbourhood (its nearest items by language-model similarity). Items that share facts or text are then tied
even where no one interacted with both — and an item without a single interaction can still be recommended.
With ``social``, a user's friends speak for them too: the items scored from are the user's own plus, weighted by
``social_weight``, the mean of their friends' (friends' behaviour as a source, as social regularisation does).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp
import torch

from knowrec.data.dataset import Dataset
from knowrec.errors import MissingInputError
from knowrec.kg.prepare import item_facts, item_graph
from knowrec.models.base import MODELS, Recommender
from knowrec.params import (
    NON_NEGATIVE,
    POSITIVE_INT,
    Choice,
    Constraint,
    Dimension,
    Flag,
    Float,
    Int,
    Numbers,
    SubsetOf,
    Text,
    split_names,
    split_numbers,
)
from knowrec.text import DEFAULT_TEXT_MODEL, TextEncoder, item_texts
from knowrec.train.callbacks import Callback

logger = logging.getLogger(__name__)
SOURCES = ("id", "kg", "text", "social")
#: Catalogues up to this size are solved in float64; larger ones in float32 (half the time and memory).
FLOAT64_ITEMS = 2_000


@MODELS.component("ease", aliases=("ease-r",))
class EASE(Recommender):
    """Closed-form item–item weights; ``l2_path`` is the regularisation path the trainer validates (the best
    value is kept, as ``l2_``), ``l2`` what a bare ``fit`` uses. ``kg_weight`` and ``text_weight`` scale the side
    rows against the interactions."""

    citation = ("Steck. Embarrassingly shallow autoencoders for sparse data. WWW 2019; Jeunen, Van Balen, Goethals. "
                "Closed-form models for collaborative filtering with side-information. RecSys 2020 (LBR).")
    constraints: ClassVar[dict[str, Constraint]] = {
        "l2": NON_NEGATIVE, "l2_path": Numbers(0.0), "sources": SubsetOf(SOURCES), "kg_weight": NON_NEGATIVE,
        "kg_idf": Flag(), "text_weight": NON_NEGATIVE, "text_neighbours": POSITIVE_INT,
        "text_model": Text(required=True), "text_template": Text(), "social_weight": NON_NEGATIVE,
        "social_path": Numbers(0.0),
    }
    #: λ is not searched: the trainer already picks it from ``l2_path`` on validation.
    search_space: ClassVar[dict[str, Dimension]] = {
        "kg_weight": Float(0.01, 10.0, log=True), "kg_idf": Choice((True, False)),
        "text_weight": Float(0.01, 10.0, log=True), "text_neighbours": Int(5, 100, log=True),
    }

    def __init__(self, *, l2: float = 500.0, l2_path: Any = (20, 50, 100, 200, 500, 1000, 2000, 5000),
                 sources: Any = "id", kg_weight: float = 1.0, kg_idf: bool = True, text_weight: float = 1.0,
                 text_neighbours: int = 20, text_model: str = DEFAULT_TEXT_MODEL, text_template: str = "",
                 social_weight: float = 0.5, social_path: Any = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0)) -> None:
        self.l2 = l2
        self.l2_path = l2_path
        self.sources = sources
        self.kg_weight = kg_weight
        self.kg_idf = kg_idf
        self.text_weight = text_weight
        self.text_neighbours = text_neighbours
        self.text_model = text_model
        self.text_template = text_template
        self.social_weight = social_weight
        self.social_path = social_path

    def fit(self, data: Dataset, *, callbacks: Sequence[Callback] = (), show_progress: bool = True) -> Self:
        gram = self._gram(data, show_progress)
        self._solve(gram, float(self.l2))
        self.social_weight_ = torch.tensor(float(self.social_weight) if self._social(data) else 0.0)
        for cb in callbacks:
            cb.on_fit_end(self)
        return self

    def fit_steps(self, data: Dataset, *, show_progress: bool = True) -> Iterator[dict[str, float]]:
        """One step per value of ``l2_path`` (ascending), or just ``l2`` when the path is empty; with the social
        source, one per value of ``social_path`` at each (they only change how a user is scored: no new solve)."""
        gram = self._gram(data, show_progress)
        social = self._social(data)
        weights = (sorted(split_numbers(self.social_path)) or [float(self.social_weight)]) if social else [0.0]
        for l2 in sorted(split_numbers(self.l2_path)) or [float(self.l2)]:
            self._solve(gram, l2)
            for w in weights:
                self.social_weight_ = torch.tensor(w)
                yield {"l2": l2} | ({"social_weight": w} if social else {})

    def _social(self, data: Dataset) -> bool:
        """Whether friends' items join the user's (``social`` asked for, and the data has a social graph); keeps
        ``friends_seen_``, each user's mean over friends of their training items."""
        if "social" not in (split_names(self.sources) or []):
            return False
        if data.social is None or data.social.n_links == 0:
            logger.warning("dataset %r has no social graph: EASE goes on without friends' items", data.name)
            return False
        friends = data.social.matrix(data.n_users)
        friends.data[:] = 1.0
        mean = sp.diags(1.0 / np.maximum(np.asarray(friends.sum(axis=1)).ravel(), 1.0)) @ friends
        self.friends_seen_ = (mean @ self.seen_).astype(np.float32).tocsr()
        return True

    def _gram(self, data: Dataset, show_progress: bool) -> torch.Tensor:
        """``Zᵀ Z`` for the stacked matrix ``Z`` = interactions over the weighted side rows, dense."""
        self._check_inputs(data)
        wanted = split_names(self.sources) or []
        n = data.n_items
        gram = sp.csr_matrix((n, n), dtype=np.float64)
        if "id" in wanted:
            x = self.seen_.astype(np.float64)
            gram = gram + (x.T @ x)
        if "kg" in wanted and data.kg is None:
            logger.warning("dataset %r has no knowledge graph: EASE goes on without the kg rows", data.name)
        elif "kg" in wanted:
            rows = kg_rows(data, idf=self.kg_idf)
            gram = gram + self.kg_weight ** 2 * (rows.T @ rows)
        texts = item_texts(data, self.text_template or None) if "text" in wanted else None
        if "text" in wanted and texts is None:
            logger.warning("dataset %r has no item text: EASE goes on without the text rows", data.name)
        elif texts is not None:
            vectors = torch.from_numpy(TextEncoder(self.text_model).encode(texts, show_progress=show_progress))
            rows = neighbour_rows(vectors, self.text_neighbours)
            gram = gram + self.text_weight ** 2 * (rows.T @ rows)
        if gram.nnz == 0:
            raise MissingInputError(f"EASE with sources={self.sources!r} has nothing to fit on dataset {data.name!r}")
        dtype = torch.float64 if n <= FLOAT64_ITEMS else torch.float32
        return torch.from_numpy(gram.toarray()).to(dtype)

    def _solve(self, gram: torch.Tensor, l2: float) -> None:
        """``B = I − P·diag(1/diag(P))`` with ``P = (G + λI)⁻¹``; items with no row at all keep a zero column."""
        g = gram.clone()
        g.diagonal().add_(l2 if l2 > 0 else 1e-6)
        p = torch.cholesky_inverse(torch.linalg.cholesky(g))
        weights = p / (-p.diagonal()).unsqueeze(0)
        weights.fill_diagonal_(0.0)
        self.weights_ = weights.to(torch.float32)
        self.l2_ = torch.tensor(float(l2))

    def _score(self, users: torch.Tensor) -> torch.Tensor:
        seen = self.seen_[users.numpy()]
        w = float(getattr(self, "social_weight_", 0.0))
        if w:
            seen = seen + w * self.friends_seen_[users.numpy()]
        if seen.nnz > 0.02 * seen.shape[0] * seen.shape[1]:  # dense rows: one dense product is faster
            return torch.from_numpy(seen.toarray().astype(np.float32)) @ self.weights_
        # sparse rows (a large catalogue): a product over the items each user has, not over every item
        seen = seen.astype(np.float32).tocoo()
        rows = torch.sparse_coo_tensor(torch.from_numpy(np.stack([seen.row, seen.col]).astype(np.int64)),
                                       torch.from_numpy(seen.data), seen.shape, check_invariants=True)
        return torch.sparse.mm(rows, self.weights_)

    def _state(self) -> dict[str, torch.Tensor]:
        # the social weight is always part of the state: restoring the best step must restore its weight, 0 too
        state = {"weights": self.weights_, "l2": self.l2_,
                 "social_weight": getattr(self, "social_weight_", torch.tensor(0.0)).clone()}
        if float(state["social_weight"]):
            f = self.friends_seen_.tocoo()
            state |= {"friends_rows": torch.from_numpy(f.row.astype(np.int64)),
                      "friends_cols": torch.from_numpy(f.col.astype(np.int64)),
                      "friends_values": torch.from_numpy(f.data)}
        return state

    def _set_state(self, state: dict[str, torch.Tensor]) -> None:
        if "friends_rows" in state:
            self.friends_seen_ = sp.csr_matrix(
                (state.pop("friends_values").numpy(), (state.pop("friends_rows").numpy(),
                                                        state.pop("friends_cols").numpy())),
                shape=(self.n_users_, self.n_items_))
        super()._set_state(state)


def kg_rows(data: Dataset, *, idf: bool = True) -> sp.csr_matrix:
    """One row per KG entity that at least two items reach in one hop (either direction), over the items; with
    ``idf`` each row is weighted by ``log(items / items reaching it)``, so a hub every film shares (a language,
    a country) ties items less than a director does."""
    if data.kg is None:
        raise MissingInputError(f"dataset {data.name!r} has no knowledge graph")
    kg, _ = item_graph(data.kg)
    items, _, tails = item_facts(kg)
    m = sp.csr_matrix((np.ones(len(items)), (tails, items)), shape=(kg.n_entities, data.n_items))
    m.sum_duplicates()
    m.data[:] = 1.0
    m = m[np.flatnonzero(np.diff(m.indptr))]
    if idf:
        m = sp.diags(np.log(data.n_items / np.diff(m.indptr))) @ m
    return m.tocsr()


def neighbour_rows(vectors: torch.Tensor, k: int, *, batch: int = 2048) -> sp.csr_matrix:
    """Row ``i`` holds item ``i`` (1) and its ``k`` nearest items by cosine similarity (their positive
    similarities): each item's neighbourhood as a pseudo-user."""
    v = torch.nn.functional.normalize(vectors.float(), dim=1)
    n = len(v)
    k = min(k, n - 1)
    rows, cols, vals = [], [], []
    for start in range(0, n, batch):
        sims = v[start:start + batch] @ v.T
        idx = torch.arange(start, min(start + batch, n))
        sims[torch.arange(len(idx)), idx] = -torch.inf
        top, nb = torch.topk(sims, k, dim=1)
        rows += [idx.repeat_interleave(k), idx]
        cols += [nb.flatten(), idx]
        vals += [top.clamp(min=0).flatten(), torch.ones(len(idx))]
    return sp.csr_matrix((torch.cat(vals).double().numpy(), (torch.cat(rows).numpy(), torch.cat(cols).numpy())),
                         shape=(n, n))


@MODELS.component("kease", aliases=("ease-side", "ease-kg"))
class KnowledgeEASE(EASE):
    """EASE over the interactions stacked with KG-entity and text-neighbour rows: the knowledge-using EASE. Its
    weights default to what ``knowrec tune`` chose on amazon-scientific's validation part (24 trials, README);
    sources a dataset lacks are left out with a warning."""

    def __init__(self, *, l2: float = 500.0, l2_path: Any = (20, 50, 100, 200, 500, 1000, 2000, 5000),
                 sources: Any = "id,kg,text", kg_weight: float = 1.0, kg_idf: bool = False, text_weight: float = 0.025,
                 text_neighbours: int = 12, text_model: str = DEFAULT_TEXT_MODEL, text_template: str = "",
                 social_weight: float = 0.5, social_path: Any = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0)) -> None:
        super().__init__(l2=l2, l2_path=l2_path, sources=sources, kg_weight=kg_weight, kg_idf=kg_idf,
                         text_weight=text_weight, text_neighbours=text_neighbours, text_model=text_model,
                         text_template=text_template, social_weight=social_weight, social_path=social_path)
