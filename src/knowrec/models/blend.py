"""A blend of finished runs: each user's scores from two or more trained models, standardised per user and
mixed with weights chosen on validation — say the item–item EASE with the knowledge-using hybrid."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import torch

from knowrec.data.dataset import Dataset
from knowrec.errors import ConfigError
from knowrec.models.base import MODELS, Recommender
from knowrec.params import Constraint, Numbers, Text, split_numbers
from knowrec.train.callbacks import Callback


@MODELS.component("blend", aliases=("ensemble",))
class Blend(Recommender):
    """``runs``: comma-separated run folders (or saved model folders) trained on the same split; the trainer
    validates every mix of ``weight_grid`` values (the first model's weight is 1) and keeps the best. Scores are
    z-scored per user over the items, so models on different scales mix evenly."""

    citation = "score-level blending of recommenders, as in the Netflix Prize ensembles (Koren 2009)"
    whole_grid = True  # with three runs the grid has 64 mixes: patience must not stop it halfway
    constraints: ClassVar[dict[str, Constraint]] = {"runs": Text(required=True), "weight_grid": Numbers(0.0)}

    def __init__(self, *, runs: str = "runs/ease,runs/hybrid", weight_grid: Any = (0.0, 0.25, 0.5, 0.75, 1.0,
                                                                                    1.5, 2.0, 3.0)) -> None:
        self.runs = runs
        self.weight_grid = weight_grid

    def _members(self) -> list[Recommender]:
        members = []
        for raw in str(self.runs).split(","):
            folder = Path(raw.strip())
            folder = folder / "model" if (folder / "model").is_dir() else folder
            members.append(Recommender.load(folder))
        if len(members) < 2:
            raise ConfigError(f"blend needs at least two runs, got {self.runs!r}")
        return members

    def fit(self, data: Dataset, *, callbacks: Sequence[Callback] = (), show_progress: bool = True) -> Self:
        for _ in self.fit_steps(data, show_progress=show_progress):
            break  # a bare fit takes the first mix: equal weights when the grid holds 1
        for cb in callbacks:
            cb.on_fit_end(self)
        return self

    def fit_steps(self, data: Dataset, *, show_progress: bool = True) -> Iterator[dict[str, float]]:
        """One step per mix of weights (the first model fixed at 1), equal weights first."""
        self._check_inputs(data)
        self.members_ = self._members()
        for m in self.members_:
            if m.n_items_ != data.n_items or m.n_users_ != data.n_users:
                raise ConfigError(f"blend: a member was trained on {m.n_users_} users × {m.n_items_} items, the "
                                  f"data has {data.n_users} × {data.n_items}: train every run on the same dataset")
        grid = sorted(set(split_numbers(self.weight_grid)), key=lambda w: (w != 1.0, w))
        for rest in itertools.product(grid, repeat=len(self.members_) - 1):
            self.weights_ = torch.tensor([1.0, *rest])
            yield {f"weight_{i}": w for i, w in enumerate(rest, start=1)}

    def _score(self, users: torch.Tensor) -> torch.Tensor:
        total = torch.zeros(len(users), self.n_items_)
        for weight, member in zip(self.weights_.tolist(), self.members_, strict=True):
            if weight:
                total += weight * _standardise(member.score(users.numpy()).float())
        return total

    def _state(self) -> dict[str, torch.Tensor]:
        return {"weights": self.weights_}

    def _load_extra(self, folder: Path) -> None:
        self.members_ = self._members()


def _standardise(scores: torch.Tensor) -> torch.Tensor:
    """Each row's finite scores z-scored over the row; masked (non-finite) items far below every other."""
    finite = torch.isfinite(scores)
    s = torch.where(finite, scores, torch.nan)
    centred = s - s.nanmean(1, keepdim=True)
    std = (centred ** 2).nanmean(1, keepdim=True).sqrt().clamp(min=1e-8)
    return torch.where(finite, centred / std, -1e4)
