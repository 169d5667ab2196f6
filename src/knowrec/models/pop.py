"""Most-popular baseline."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

import numpy as np
import torch

from knowrec.data.dataset import Dataset
from knowrec.models.base import MODELS, Recommender
from knowrec.train.callbacks import Callback


@MODELS.component("pop", aliases=("popularity", "most-popular"))
class Pop(Recommender):
    """Ranks items by their number of training interactions, the same list for every user."""

    citation = "RecBole's Pop baseline (Zhao et al., RecBole, CIKM 2021)"

    def __init__(self) -> None:
        pass

    def fit(self, data: Dataset, *, callbacks: Sequence[Callback] = (), show_progress: bool = True) -> Self:
        self._check_inputs(data)
        counts = np.bincount(data.items, minlength=data.n_items).astype(np.float32)
        self.popularity_ = torch.from_numpy(counts)
        for cb in callbacks:
            cb.on_fit_end(self)
        return self

    def _score(self, users: torch.Tensor) -> torch.Tensor:
        return self.popularity_.expand(len(users), -1)

    def _state(self) -> dict[str, torch.Tensor]:
        return {"popularity": self.popularity_}
