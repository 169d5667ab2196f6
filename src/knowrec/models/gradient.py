"""Models trained by gradient: what to train (module, optimiser, batches, loss, what to recompute after an
epoch), in the hooks a training backend (``knowrec.train``, the local loop by default) calls."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, ClassVar, Self

import numpy as np
import torch

from knowrec.data.dataset import Dataset
from knowrec.models.base import Estimator, FactorRecommender
from knowrec.params import NON_NEGATIVE, NON_NEGATIVE_INT, POSITIVE, POSITIVE_INT, Constraint, Dimension, Float
from knowrec.train.backend import Backend, resolve_backend
from knowrec.train.callbacks import Callback


class TorchModel(Estimator):
    """A model every gradient backend can train (recommenders and KG embeddings alike).

    Subclasses check their input in ``_prepare``, build the module in ``_build``, yield batches in ``_batches``,
    return the loss in ``_loss`` and update their learned tensors in ``_refresh``; ``_optimizer`` is Adam over
    ``_param_groups``.
    """

    constraints: ClassVar[dict[str, Constraint]] = {
        "dim": POSITIVE_INT, "epochs": POSITIVE_INT, "batch_size": POSITIVE_INT, "lr": POSITIVE,
        "reg": NON_NEGATIVE, "seed": NON_NEGATIVE_INT,
    }
    search_space: ClassVar[dict[str, Dimension]] = {"lr": Float(1e-4, 1e-2, log=True),
                                                    "reg": Float(1e-6, 1e-1, log=True)}

    def __init__(self, *, dim: int = 64, epochs: int = 300, batch_size: int = 2048, lr: float = 1e-3,
                 reg: float = 1e-4, seed: int = 2020) -> None:
        self.dim = dim
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.reg = reg
        self.seed = seed

    def fit(self, data: Any, *, callbacks: Sequence[Callback] = (), show_progress: bool = True,
            resume: dict[str, Any] | None = None, backend: Backend | str | None = None) -> Self:
        """Train for up to ``epochs`` epochs on ``backend`` (the local loop by default); ``resume`` is a
        ``training_state()`` to continue from."""
        resolve_backend(backend).fit(self, data, callbacks=callbacks, show_progress=show_progress, resume=resume)
        return self

    def training_state(self) -> dict[str, Any]:
        """Module and optimizer state after the last finished epoch, for checkpoints."""
        return {"module": self.module_.state_dict(), "optimizer": self.optimizer_.state_dict(),
                "epoch": self.epoch_}

    # --- the hooks a backend calls ---------------------------------------------------------------------
    def _prepare(self, data: Any) -> None:
        """Validate ``data`` and record what the model needs from it before building."""

    def _build(self, data: Any) -> torch.nn.Module:
        raise NotImplementedError

    def _param_groups(self) -> Any:
        """What the optimizer trains (override to give some parameters their own learning rate)."""
        return self.module_.parameters()

    def _optimizer(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self._param_groups(), lr=self.lr)

    def _batches(self, rng: np.random.Generator) -> Iterator[Any]:
        raise NotImplementedError

    def _n_batches(self) -> int:
        raise NotImplementedError

    def _loss(self, batch: Any) -> torch.Tensor:
        raise NotImplementedError

    def _refresh(self) -> None:
        """Recompute the learned tensors used for scoring after an epoch."""
        raise NotImplementedError


class TorchRecommender(TorchModel, FactorRecommender):
    """A recommender trained by gradient; ``_factors`` gives the user and item vectors it scores with."""

    def _prepare(self, data: Dataset) -> None:
        self._check_inputs(data)

    def _factors(self) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def _refresh(self) -> None:
        u, i = self._factors()
        u = u.detach().clone()
        # A user with no training interaction never received a gradient: instead of a random vector, give
        # them the mean user, whose scores follow what most users like (a popularity-like fallback).
        cold = torch.from_numpy(np.diff(self.seen_.indptr) == 0).to(u.device)
        if cold.any() and not cold.all():
            u[cold] = u[~cold].mean(0)
        self.user_factors_, self.item_factors_ = u, i.detach().clone()
