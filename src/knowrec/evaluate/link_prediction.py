"""Link prediction for KG embeddings: filtered MRR and Hits@K over heads and tails, with a random baseline."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from knowrec.data.triples import KnowledgeGraph


def split_triples(kg: KnowledgeGraph, *, ratios: tuple[float, float, float] = (0.9, 0.05, 0.05),
                  seed: int = 0) -> tuple[KnowledgeGraph, np.ndarray, np.ndarray]:
    """Hold out valid and test triples; a held-out triple whose entity or relation is unseen in training
    goes back to training (it could not be predicted)."""
    triples = np.stack([kg.heads, kg.relations, kg.tails], axis=1)
    order = np.random.default_rng(seed).permutation(len(triples))
    n_train = int(ratios[0] / sum(ratios) * len(triples))
    n_valid = int(ratios[1] / sum(ratios) * len(triples))
    train, valid, test = order[:n_train], order[n_train:n_train + n_valid], order[n_train + n_valid:]
    seen_e = np.zeros(kg.n_entities, dtype=bool)
    seen_e[triples[train][:, [0, 2]].ravel()] = True
    seen_r = np.zeros(kg.n_relations, dtype=bool)
    seen_r[triples[train][:, 1]] = True

    def ok(idx: np.ndarray) -> np.ndarray:
        t = triples[idx]
        return seen_e[t[:, 0]] & seen_e[t[:, 2]] & seen_r[t[:, 1]]

    back = np.concatenate([valid[~ok(valid)], test[~ok(test)]])
    train = np.concatenate([train, back])
    valid, test = valid[ok(valid)], test[ok(test)]
    t = triples[train]
    train_kg = KnowledgeGraph(kg.entity_ids, kg.relation_ids, t[:, 0], t[:, 1], t[:, 2], kg.item_entities)
    return train_kg, triples[valid], triples[test]


class _Known:
    """For each (entity, relation) query, the entities that complete a true triple (to filter ranks)."""

    def __init__(self, query: np.ndarray, rel: np.ndarray, answer: np.ndarray, n_relations: int) -> None:
        key = query.astype(np.int64) * n_relations + rel
        order = np.argsort(key, kind="stable")
        self.keys, self.answers, self.n_relations = key[order], answer[order], n_relations

    def lookup(self, query: np.ndarray, rel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row, answer) pairs for every known answer of each query row."""
        key = query.astype(np.int64) * self.n_relations + rel
        lo, hi = np.searchsorted(self.keys, key, "left"), np.searchsorted(self.keys, key, "right")
        counts = hi - lo
        rows = np.repeat(np.arange(len(key)), counts)
        pos = np.repeat(lo - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts) + np.arange(counts.sum())
        return rows, self.answers[pos]


def link_prediction(model: Any, triples: np.ndarray, known: np.ndarray, *, n_relations: int,
                    ks: Sequence[int] = (1, 3, 10), batch_size: int = 128) -> dict[str, float]:
    """Filtered ranking of the true tail (and head) among all entities, ties counted at their mean rank.

    ``known`` holds every true triple (train, valid and test); other true answers are removed before
    ranking. ``random_mrr`` is the MRR a uniformly random scorer would get on the same queries.
    """
    tails = _Known(known[:, 0], known[:, 1], known[:, 2], n_relations)
    heads = _Known(known[:, 2], known[:, 1], known[:, 0], n_relations)
    ranks, n_candidates = [], []
    for side, index in (("tail", tails), ("head", heads)):
        q_col, a_col = (0, 2) if side == "tail" else (2, 0)
        for s in range(0, len(triples), batch_size):
            batch = triples[s:s + batch_size]
            query, rel, answer = batch[:, q_col], batch[:, 1], batch[:, a_col]
            with torch.no_grad():
                dist = model.distance_all(torch.from_numpy(query), torch.from_numpy(rel), predict=side).double()
            target = dist[torch.arange(len(batch)), torch.from_numpy(answer)].clone()
            rows, others = index.lookup(query, rel)
            dist[torch.from_numpy(rows), torch.from_numpy(others)] = torch.inf
            less = (dist < target.unsqueeze(1)).sum(1)
            ties = (dist == target.unsqueeze(1)).sum(1)  # the target itself was set to inf: ties are others
            ranks.append((1 + less + ties / 2).numpy())
            n_candidates.append(dist.shape[1] - np.bincount(rows, minlength=len(batch)) + 1)
    r = np.concatenate(ranks)
    n = np.concatenate(n_candidates).astype(np.float64)
    harmonic = np.log(n) + 0.5772156649 + 1 / (2 * n)
    out = {"mrr": float((1 / r).mean()), "mr": float(r.mean()), "random_mrr": float((harmonic / n).mean())}
    out.update({f"hits@{k}": float((r <= k).mean()) for k in ks})
    return out
