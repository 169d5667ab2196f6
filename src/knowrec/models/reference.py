"""Reference rows that carry no information: every item the same score, or a seeded random score. Beside a
cold-start table they show what ranking by chance gives, so a model's margin over it can be read."""

from __future__ import annotations

from typing import ClassVar

import torch

from knowrec.models.base import MODELS, StatelessRecommender
from knowrec.params import Constraint, Interval
from knowrec.random import pair_uniform


class _Uninformed(StatelessRecommender):
    """Learns nothing: ``fit`` only records the catalogue's size."""


@MODELS.component("constant", aliases=("same-score",))
class Constant(_Uninformed):
    """Gives every item the same score: with ties broken fairly it ranks like chance."""

    citation = "a reference row (no model)"

    def __init__(self) -> None:
        pass

    def _score(self, users: torch.Tensor) -> torch.Tensor:
        return torch.zeros(len(users), self.n_items_)


@MODELS.component("random", aliases=("random-scores",))
class RandomScores(_Uninformed):
    """A seeded uniform score per (user, item), the same whatever the batch."""

    citation = "a reference row (no model)"
    constraints: ClassVar[dict[str, Constraint]] = {"seed": Interval(0, None, integer=True)}

    def __init__(self, *, seed: int = 2020) -> None:
        self.seed = seed

    def _score(self, users: torch.Tensor) -> torch.Tensor:
        return pair_uniform(users, self.n_items_, self.seed)
