"""Full-ranking evaluation: every item scored, training (and for test, validation) items masked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
import torch

from knowrec.data.dataset import TEST, TRAIN, VALID, Dataset
from knowrec.data.social import FRIENDS
from knowrec.data.split import Split
from knowrec.errors import ConfigError
from knowrec.evaluate.metrics import USER_METRICS, intra_list_diversity, novelty
from knowrec.memory import pin_mmap_threshold
from knowrec.progress import track
from knowrec.random import pair_keys

DEFAULT_METRICS = ("recall", "ndcg", "hit", "mrr", "precision")
Part = Literal["valid", "test"]


@dataclass
class EvalResult:
    """Mean metrics (``{"ndcg@10": …}``) and, per evaluated user, each per-user metric."""

    metrics: dict[str, float]
    users: np.ndarray
    per_user: dict[str, np.ndarray] = field(default_factory=dict)

    def save_per_user(self, path: str | Path) -> None:
        from knowrec._io import atomic_path

        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, users=self.users, **self.per_user)


class Evaluator:
    """Evaluates any model with ``score(users)`` on a split of a dataset, batched over users in torch (on a friend
    task, users ranked for a user, themself excluded).

    ``evaluate(..., candidates=)`` restricts the ranking to some items (the cold items of a cold-item split).
    Users are scored ``batch_size`` at a time, fewer when a batch would hold more than ``max_cells`` scores, so
    memory is bounded whatever the numbers of users and items; batches are ranked on the device the model's
    scores come from (a GPU for a model trained on one), and the metrics come back to the CPU exactly.
    Tied scores are ordered by a seeded random key per (user, item) (``tie_seed``), so a tie carries no
    information — neither the items' numbering nor ``torch.topk``'s internal order — and a model that gives every
    item the same score ranks like a random one. Beyond the per-user metrics it reports catalogue coverage,
    novelty and intra-list diversity at each K;
    diversity uses 64-d item vectors from a truncated SVD of the training matrix, so it does not depend on
    the model being measured. Ranked among cold candidates only (none with a training interaction), novelty
    and diversity are left out: there is nothing to compute them from.
    """

    def __init__(self, data: Dataset, split: Split, *, ks: Sequence[int] = (10, 20),
                 metrics: Sequence[str] = DEFAULT_METRICS, batch_size: int = 1024, max_cells: int = 1 << 24,
                 tie_seed: int = 0) -> None:
        if not ks or min(ks) < 1:
            raise ConfigError(f"ks must be positive integers, got {list(ks)}")
        for m in metrics:
            USER_METRICS.get(m)
        self.ks = sorted(set(int(k) for k in ks))
        self.metrics = list(metrics)
        self.batch_size = batch_size
        self.max_cells = max_cells
        self.tie_seed = tie_seed
        self.n_users, self.n_items = data.n_users, data.n_items
        m = {code: _matrix(data, split.parts == code) for code in (TRAIN, VALID, TEST)}
        self._positives = {"valid": m[VALID], "test": m[TEST]}
        # a friend task ranks users for a user: the user themself is never a candidate
        me = sp.identity(data.n_users, format="csr") if data.task == FRIENDS else sp.csr_matrix(m[TRAIN].shape)
        self._masks = {"valid": (m[TRAIN] + me).tocsr(), "test": (m[TRAIN] + m[VALID] + me).tocsr()}
        self._popularity = torch.from_numpy(np.asarray(m[TRAIN].sum(0)).ravel())
        self._item_vectors = _svd_item_vectors(m[TRAIN])

    def evaluate(self, model: Any, part: Part = "test", *, candidates: np.ndarray | None = None,
                 show_progress: bool = False) -> EvalResult:
        """Rank all items (or only ``candidates``) for every user with a held-out positive in ``part``; return
        means and per-user arrays."""
        pin_mmap_threshold()  # the batches' large blocks go back to the system, not into a fragmented heap
        positives, mask = self._positives[part], self._masks[part]
        allowed = None if candidates is None else _item_mask(candidates, self.n_items)
        # novelty and diversity are read off the training interactions of the ranked items: cold candidates
        # have none (every one equally "novel", no vector to compare), so those figures would say nothing
        beyond = allowed is None or bool((self._popularity[allowed] > 0).any())
        n_pos_all = np.diff(positives.indptr)
        users = np.flatnonzero(n_pos_all > 0)
        kmax = min(max(self.ks), self.n_items)
        # one array per metric, filled batch by batch: no per-batch pieces pile up in the heap, no final concat
        arrays: dict[str, np.ndarray] = {}

        def put(name: str, values: torch.Tensor, at: slice) -> None:
            out = arrays.get(name)
            if out is None:
                out = arrays[name] = np.empty(len(users), dtype=values.numpy().dtype)
            out[at] = values.numpy()
        shown = torch.zeros(len(self.ks), self.n_items, dtype=torch.bool)  # coverage: flat in the number of users
        size = max(1, min(self.batch_size, self.max_cells // max(self.n_items, 1)))
        starts = range(0, len(users), size)
        for start in track(starts, total=len(starts), desc=f"evaluating {part} ({len(users):,} users)",
                           unit="batches", enabled=show_progress):
            batch = users[start:start + size]
            raw = model.score(batch).detach()
            scores = raw.to(torch.float32)
            scores = scores.clone() if scores is raw else scores  # the model's own tensor is never written
            on = scores.device
            rows, cols = mask[batch].nonzero()
            scores[torch.as_tensor(rows, dtype=torch.long, device=on),
                   torch.as_tensor(cols, dtype=torch.long, device=on)] = -torch.inf
            if allowed is not None:
                scores[:, ~allowed.to(on)] = -torch.inf
            values, top = top_k(scores, kmax, torch.from_numpy(batch).to(on), seed=self.tie_seed)
            del scores
            top, values = top.cpu(), values.cpu()  # k per user: the metrics are computed on the CPU
            pos = _gather_rows(positives, batch, top.numpy())
            hits = pos & torch.isfinite(values)  # fewer than k candidates: no hit past them
            hits = torch.nn.functional.pad(hits, (0, max(self.ks) - kmax))  # a catalogue smaller than k
            n_pos = torch.from_numpy(n_pos_all[batch]).double()
            at = slice(start, start + len(batch))
            for k in self.ks:
                for name in self.metrics:
                    put(f"{name}@{k}", USER_METRICS.get(name)(hits, n_pos, k), at)
                if beyond:
                    put(f"novelty@{k}", novelty(top[:, :k], self._popularity, self.n_users), at)
                    put(f"diversity@{k}", intra_list_diversity(top[:, :k], self._item_vectors), at)
            for row, k in enumerate(self.ks):
                shown[row, top[:, :k][torch.isfinite(values[:, :k])]] = True
        means = {name: float(vals.mean()) for name, vals in arrays.items()}
        if len(users):
            for row, k in enumerate(self.ks):
                means[f"coverage@{k}"] = int(shown[row].sum()) / self.n_items
        return EvalResult(metrics=dict(sorted(means.items())), users=users, per_user=arrays)


def top_k(scores: torch.Tensor, k: int, users: torch.Tensor, *, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``torch.topk`` with ties among finite scores ordered by ``pair_keys`` instead of by position.

    Only rows that hold a tie reaching into their top ``k`` are re-ranked (a stable sort of the scores laid out
    in key order), so models with distinct scores pay one ``topk`` (of ``k + 1``: a tie across the cut-off is the
    ``k``-th score equal to the next).
    """
    values, top = torch.topk(scores, min(k + 1, scores.shape[1]), dim=1)
    finite = torch.isfinite(values)
    ties = (values[:, 1:] == values[:, :-1]) & finite[:, 1:]
    rows = torch.nonzero(ties[:, :k].any(1)).flatten()
    values, top = values[:, :k], top[:, :k]
    if len(rows):
        order = torch.argsort(pair_keys(users[rows], scores.shape[1], seed), dim=1)
        laid_out = scores[rows].gather(1, order)
        ranked = torch.sort(laid_out, dim=1, descending=True, stable=True).indices[:, :k]
        top[rows] = order.gather(1, ranked)
        values[rows] = scores[rows].gather(1, top[rows])
    return values, top


def _gather_rows(matrix: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray) -> torch.Tensor:
    """``matrix[rows[i], cols[i, j]] > 0`` as a bool tensor the shape of ``cols``, without densifying the rows: each
    top-k column is looked up in its row's sorted indices."""
    sub = matrix[rows]
    sub.sort_indices()
    n = np.diff(sub.indptr)
    # one sorted key per stored entry, row-major: (row, column) → row * n_cols + column
    keys = np.repeat(np.arange(len(rows), dtype=np.int64), n) * matrix.shape[1] + sub.indices
    wanted = np.arange(len(rows), dtype=np.int64)[:, None] * matrix.shape[1] + cols.clip(min=0)
    at = np.searchsorted(keys, wanted).clip(max=max(len(keys) - 1, 0))
    found = (keys[at] == wanted) if len(keys) else np.zeros(cols.shape, dtype=bool)
    return torch.from_numpy(found & (cols >= 0))


def _item_mask(items: np.ndarray, n_items: int) -> torch.Tensor:
    mask = torch.zeros(n_items, dtype=torch.bool)
    mask[torch.as_tensor(np.asarray(items, dtype=np.int64))] = True
    return mask


def _matrix(data: Dataset, mask: np.ndarray) -> sp.csr_matrix:
    return data.subset(mask).matrix()


def _svd_item_vectors(train: sp.csr_matrix, dim: int = 64, seed: int = 0) -> torch.Tensor:
    x = train.T.tocoo()
    tensor = torch.sparse_coo_tensor(torch.from_numpy(np.stack([x.row, x.col]).astype(np.int64)),
                                     torch.from_numpy(x.data.astype(np.float32)), x.shape, check_invariants=True)
    q = max(1, min(dim, min(x.shape) - 1))
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        u, s, _ = torch.svd_lowrank(tensor, q=q, niter=2)
    return u * s
