"""Scores produced outside knowrec (LightFM, implicit, RecBole, your own model), read so that the ``Evaluator``
judges them with the same metric code, masks and tie-breaking as knowrec's own models.

Three layouts, over the users and items of an exported split (``knowrec data split … --format knowrec``):
``.npy`` — a ``users × items`` matrix in the order of ``users.tsv``/``items.tsv``; ``.npz`` — ``users`` (indices)
and ``scores`` (one row per listed user); ``.tsv``/``.csv`` — top-k lists, ``user_id``, ``item_id`` and ``score``
(or ``rank``, 1 = best) per row, original ids. Items missing from a list are not ranked (no hit below the list).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from knowrec.data.dataset import Dataset
from knowrec.errors import DataError


class ExternalScores:
    """A score source with the model interface the evaluator needs: ``score(users)``."""

    def __init__(self, rows: np.ndarray, scores: Any, n_items: int, *, lists: bool = False) -> None:
        self.n_items_ = n_items
        self.lists = lists  # top-k lists: an item not listed is not ranked at all (no hit past the list)
        self._row_of = np.full(int(rows.max(initial=-1)) + 1, -1, dtype=np.int64)
        self._row_of[rows] = np.arange(len(rows))
        self._scores = scores

    def score(self, users: Any) -> torch.Tensor:
        users = np.atleast_1d(np.asarray(users, dtype=np.int64))
        rows = np.where(users < len(self._row_of), self._row_of[np.minimum(users, len(self._row_of) - 1)], -1)
        if (rows < 0).any():
            raise DataError(f"the scores hold no row for user index {int(users[rows < 0][0])}, which has held-out "
                            f"interactions to rank")
        block = self._scores[rows]
        block = block.toarray() if hasattr(block, "toarray") else np.asarray(block)
        scores = torch.from_numpy(np.ascontiguousarray(block, dtype=np.float32))
        return scores.masked_fill(scores == 0, -torch.inf) if self.lists else scores


def load_scores(path: str | Path, data: Dataset) -> ExternalScores:
    """Read a score file (see the module's docstring) for ``data``; a wrong shape, an unknown id or a
    non-finite score is a ``DataError`` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise DataError("no such score file", path=path)
    if path.suffix == ".npy":
        matrix = np.load(path, mmap_mode="r", allow_pickle=False)
        _check_matrix(matrix, data.n_users, data, path)
        return ExternalScores(np.arange(data.n_users), matrix, data.n_items)
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            if not {"users", "scores"} <= set(z.files):
                raise DataError(f"an .npz of scores holds 'users' and 'scores' (found {', '.join(z.files)})",
                                path=path)
            users, matrix = z["users"].astype(np.int64), z["scores"]
        _check_matrix(matrix, len(users), data, path)
        if len(users) and (users.min() < 0 or users.max() >= data.n_users):
            raise DataError(f"user index out of range [0, {data.n_users})", path=path, field="users")
        return ExternalScores(users, matrix, data.n_items)
    if path.suffix in (".tsv", ".csv"):
        return _top_lists(path, data)
    raise DataError("scores must be .npy (a matrix), .npz (users + scores) or .tsv/.csv (top-k lists)", path=path)


def _check_matrix(matrix: np.ndarray, n_rows: int, data: Dataset, path: Path) -> None:
    if matrix.ndim != 2 or matrix.shape != (n_rows, data.n_items):
        raise DataError(f"score matrix has shape {matrix.shape}, expected ({n_rows}, {data.n_items}) "
                        f"(users × items of the exported split)", path=path)
    if not np.isfinite(matrix).all():
        raise DataError("score matrix holds NaN or infinite values", path=path)


def _top_lists(path: Path, data: Dataset) -> ExternalScores:
    import scipy.sparse as sp

    frame = pd.read_csv(path, sep="\t" if path.suffix == ".tsv" else ",", dtype={"user_id": str, "item_id": str})
    value = "score" if "score" in frame.columns else "rank" if "rank" in frame.columns else None
    if not {"user_id", "item_id"} <= set(frame.columns) or value is None:
        raise DataError(f"top-k lists need columns user_id, item_id and score or rank (found "
                        f"{', '.join(frame.columns)})", path=path)
    numbers = pd.to_numeric(frame[value], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(numbers)
    if bad.any():
        raise DataError(f"{value} is not a finite number", path=path, line=int(np.flatnonzero(bad)[0]) + 2,
                        field=value)
    users, items = data.user_index(frame["user_id"]), data.item_index(frame["item_id"])
    if frame.duplicated(["user_id", "item_id"]).any():
        line = int(np.flatnonzero(frame.duplicated(["user_id", "item_id"]).to_numpy())[0]) + 2
        raise DataError("an item is listed twice for one user", path=path, line=line, field="item_id")
    # listed items get a positive score in list order; the others stay 0 and are left out of the ranking
    order = np.lexsort((numbers if value == "rank" else -numbers, users))
    position = np.arange(len(order)) - np.searchsorted(users[order], users[order])
    ranked = np.empty(len(order))
    ranked[order] = position
    rows = np.unique(users)
    row_of = np.searchsorted(rows, users)
    matrix = sp.csr_matrix((1.0 / (1.0 + ranked), (row_of, items)), shape=(len(rows), data.n_items))
    return ExternalScores(rows, matrix, data.n_items, lists=True)
