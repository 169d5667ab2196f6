"""The fresh-items policy: a new item has no interactions, so a model with a popularity prior ranks it below
well-liked items however well it matches a user. Up to ``n`` of the last places of a list go to items added
while serving that are among the user's top ``k`` by taste alone (the score without the prior)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from knowrec.serve.index import VectorIndex


def with_fresh(index: VectorIndex, query: np.ndarray, idx: np.ndarray, scores: np.ndarray, k: int,
               exclude: list[np.ndarray] | None, live: set[int], n: int,
               rows: Callable[[np.ndarray], np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The list ``idx``/``scores`` (by full score) with up to ``n`` of its last places given to ``live`` items in
    the top ``k`` by taste (``query`` without its prior column); returns indices, scores, and which are fresh.
    ``rows`` gives the index rows of items, to score the picked ones in full."""
    new = np.zeros(len(idx), dtype=bool)
    if not live or not n:
        return idx, scores, new
    taste, _ = index.search(np.concatenate([query[:-1], [0.0]]), k, exclude)
    listed = set(idx.tolist())
    picks = [int(i) for i in taste[0] if int(i) in live and int(i) not in listed][:n]
    if not picks:
        return idx, scores, new
    keep = min(len(idx), k - len(picks))
    picked = np.asarray(picks, dtype=np.int64)
    return (np.concatenate([idx[:keep], picked]), np.concatenate([scores[:keep], rows(picked) @ query]),
            np.concatenate([new[:keep], np.ones(len(picked), dtype=bool)]))
