"""Top-K retrieval by inner product over item vectors: exact (one matrix product) or an approximate faiss index.

Every index keeps items in the order they were added (position = item index), grows with ``add`` and answers
``search(queries, k, exclude=...)``. Excluded items (a user's history) are filtered after an over-fetch, so an
approximate index still returns ``k`` items when it can.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from knowrec.errors import ConfigError, MissingDependencyError, did_you_mean
from knowrec.registry import Registry


class VectorIndex(ABC):
    """Inner-product top-K over a growing set of item vectors (float32, one row per item)."""

    name: ClassVar[str] = ""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(self, vectors: np.ndarray) -> None:
        """Append items; their indices continue from the current size."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ConfigError(f"expected vectors of shape (n, {self.dim}), got {vectors.shape}")
        self._add(vectors)
        self.size += len(vectors)

    @abstractmethod
    def _add(self, vectors: np.ndarray) -> None: ...

    @abstractmethod
    def _search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` indices and scores per query; index -1 where fewer than ``k`` were found."""

    def search(self, queries: np.ndarray, k: int,
               exclude: Sequence[np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` item indices and scores for each query row, leaving out each row's ``exclude`` items.

        Rows with fewer than ``k`` results are padded with index -1 and score -inf.
        """
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = max(0, min(k, self.size))
        exclude = exclude if exclude is not None else [np.zeros(0, dtype=np.int64)] * len(queries)
        fetch = min(self.size, k + max((len(e) for e in exclude), default=0))
        idx, scores = self._search(queries, fetch) if fetch else (np.zeros((len(queries), 0), np.int64),
                                                                     np.zeros((len(queries), 0), np.float32))
        out_idx = np.full((len(queries), k), -1, dtype=np.int64)
        out_scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        for row, banned in enumerate(exclude):  # one vectorised filter per query (a handful per request)
            keep = (idx[row] >= 0) & ~np.isin(idx[row], banned)
            found = idx[row][keep][:k]
            out_idx[row, :len(found)] = found
            out_scores[row, :len(found)] = scores[row][keep][:k]
        return out_idx, out_scores


INDEXES: Registry[type[VectorIndex]] = Registry("index")


@INDEXES.component("exact")
class ExactIndex(VectorIndex):
    """Exact search: one matrix product and a top-K (torch). Best up to a few hundred thousand items."""

    def __init__(self, dim: int) -> None:
        super().__init__(dim)
        self._vectors = torch.zeros(0, dim)

    @property
    def vectors(self) -> np.ndarray:
        """The stored rows, in index order."""
        return self._vectors.numpy()

    def _add(self, vectors: np.ndarray) -> None:
        self._vectors = torch.cat([self._vectors, torch.from_numpy(vectors.copy())])

    def _search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        scores, idx = torch.topk(torch.from_numpy(queries) @ self._vectors.T, k, dim=1)
        return idx.numpy(), scores.numpy()


def _faiss() -> Any:
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - a dependency of knowrec
        raise MissingDependencyError("approximate indexes need faiss: pip install faiss-cpu") from exc
    return faiss


@INDEXES.component("hnsw")
class HNSWIndex(VectorIndex):
    """faiss HNSW graph (inner product): ``m`` links per node, ``ef_construction`` and ``ef_search`` beams."""

    def __init__(self, dim: int, *, m: int = 32, ef_construction: int = 80, ef_search: int = 64) -> None:
        super().__init__(dim)
        faiss = _faiss()
        self._index = faiss.IndexHNSWFlat(dim, m, faiss.METRIC_INNER_PRODUCT)
        self._index.hnsw.efConstruction = ef_construction
        self.ef_search = ef_search

    def _add(self, vectors: np.ndarray) -> None:
        self._index.add(vectors)

    def _search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        params = _faiss().SearchParametersHNSW(efSearch=max(self.ef_search, k))
        scores, idx = self._index.search(queries, k, params=params)
        return idx, scores


@INDEXES.component("ivf")
class IVFIndex(VectorIndex):
    """faiss inverted lists (inner product): k-means into ``nlist`` cells, ``nprobe`` cells searched.

    The cells are learned from the first vectors added (at least ``nlist`` of them); until then, and for
    catalogues too small to cluster, search is exact.
    """

    def __init__(self, dim: int, *, nlist: int = 0, nprobe: int = 16) -> None:
        super().__init__(dim)
        self.nlist = nlist
        self.nprobe = nprobe
        self._index: Any = None
        self._exact: ExactIndex | None = ExactIndex(dim)  # until there are enough vectors to cluster

    def _add(self, vectors: np.ndarray) -> None:
        if self._exact is not None:
            self._exact.add(vectors)
            pending = self._exact.vectors
            nlist = self.nlist or max(1, int(4 * np.sqrt(len(pending))))
            if len(pending) < 39 * nlist:  # faiss wants ~39 training points per cell
                return
            faiss = _faiss()
            self._index = faiss.IndexIVFFlat(faiss.IndexFlatIP(self.dim), self.dim, nlist,
                                             faiss.METRIC_INNER_PRODUCT)
            self._index.train(pending)
            vectors, self._exact = pending, None
        self._index.add(vectors)

    def _search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if self._exact is not None:
            return self._exact._search(queries, k)
        params = _faiss().SearchParametersIVF(nprobe=self.nprobe)
        scores, idx = self._index.search(queries, k, params=params)
        return idx, scores


def build_index(kind: str, vectors: np.ndarray, **options: Any) -> VectorIndex:
    """An index of ``kind`` (``exact``, ``hnsw`` or ``ivf``: ``INDEXES``) holding ``vectors``."""
    if kind not in INDEXES:  # a setting (--index), so a ConfigError as before, not an unknown-id lookup
        raise ConfigError(f"unknown index {kind!r}." + did_you_mean(kind, INDEXES.names()))
    index = INDEXES.get(kind)(vectors.shape[1], **options)
    index.add(vectors)
    return index
