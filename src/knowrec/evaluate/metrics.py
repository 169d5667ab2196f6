"""Ranking metrics with RecBole's definitions, computed for a batch of users at once.

Given ``hits`` (users × K, True where the item at that rank is a held-out positive) and each user's
number of positives: Recall@k = hits/positives, Precision@k = hits/k, Hit@k = any hit,
MRR@k = 1/rank of the first hit, NDCG@k = DCG@k / IDCG@min(positives, k) with gain 1/log2(rank + 1).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from knowrec.registry import Registry

UserMetric = Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]
#: Per-user metrics: ``fn(hits, n_pos, k) -> (users,)`` tensor.
USER_METRICS: Registry[UserMetric] = Registry("metric")


def _ranks(k: int) -> torch.Tensor:
    return torch.arange(1, k + 1, dtype=torch.float64)


@USER_METRICS.register("recall")
def recall(hits: torch.Tensor, n_pos: torch.Tensor, k: int) -> torch.Tensor:
    return hits[:, :k].sum(1) / n_pos


@USER_METRICS.register("precision")
def precision(hits: torch.Tensor, n_pos: torch.Tensor, k: int) -> torch.Tensor:
    return hits[:, :k].sum(1).double() / k


@USER_METRICS.register("hit")
def hit(hits: torch.Tensor, n_pos: torch.Tensor, k: int) -> torch.Tensor:
    return hits[:, :k].any(1).double()


@USER_METRICS.register("mrr")
def mrr(hits: torch.Tensor, n_pos: torch.Tensor, k: int) -> torch.Tensor:
    h = hits[:, :k]
    first = h & (h.cumsum(1) == 1)
    return (first.double() / _ranks(k)).sum(1)


@USER_METRICS.register("ndcg")
def ndcg(hits: torch.Tensor, n_pos: torch.Tensor, k: int) -> torch.Tensor:
    gains = 1.0 / torch.log2(_ranks(k) + 1)
    dcg = (hits[:, :k].double() * gains).sum(1)
    ideal = torch.cumsum(gains, 0)[(n_pos.clamp(max=k) - 1).long()]
    return dcg / ideal


def novelty(top: torch.Tensor, popularity: torch.Tensor, n_users: int) -> torch.Tensor:
    """Mean self-information ``-log2(p_i)`` of each user's list, ``p_i`` = share of users with item ``i``."""
    p = (popularity.double() / max(n_users, 1)).clamp(min=1.0 / max(n_users, 1))
    return (-torch.log2(p))[top].mean(1)


def intra_list_diversity(top: torch.Tensor, item_vectors: torch.Tensor) -> torch.Tensor:
    """Mean pairwise cosine distance between the items of each user's list (0 for lists of one)."""
    v = torch.nn.functional.normalize(item_vectors[top].double(), dim=-1)
    k = top.shape[1]
    if k < 2:
        return torch.zeros(len(top), dtype=torch.float64)
    sims = v @ v.transpose(1, 2)
    off_diag = sims.sum((1, 2)) - sims.diagonal(dim1=1, dim2=2).sum(1)
    return 1.0 - off_diag / (k * (k - 1))
