"""How a gradient model's epochs are run: the ``Backend`` hook, and the local loop (one process).

A model trained by gradient (``knowrec.models.TorchModel``) says *what* to train — its module, optimiser,
batches, loss, and what to recompute after an epoch (the ``Trainable`` protocol below); a backend says *how*
the epochs run. ``local`` is the loop of one process on the CPU. Device-aware and distributed (``torchrun`` /
DDP) backends go beside it, registered in ``BACKENDS``, and every model trains on them unchanged.

Randomness of epoch ``e`` is derived from ``(seed, e)`` alone, so a run resumed from a checkpoint gives the
result of an uninterrupted one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar, Protocol

import numpy as np
import torch

from knowrec.errors import ModelFitError
from knowrec.progress import is_terminal, track
from knowrec.registry import Registry
from knowrec.train.callbacks import Callback


class Trainable(Protocol):
    """What a backend needs of a model: settings, the hooks it calls, and the state it sets."""

    seed: int
    epochs: int
    lr: float
    reg: float
    module_: torch.nn.Module
    optimizer_: torch.optim.Optimizer
    epoch_: int
    stop_training_: bool

    def _prepare(self, data: Any) -> None: ...
    def _build(self, data: Any) -> torch.nn.Module: ...
    def _optimizer(self) -> torch.optim.Optimizer: ...
    def _batches(self, rng: np.random.Generator) -> Iterator[Any]: ...
    def _n_batches(self) -> int: ...
    def _loss(self, batch: Any) -> torch.Tensor: ...
    def _refresh(self) -> None: ...


class Backend:
    """Runs a ``Trainable``'s epochs: builds its module and optimiser, then trains, calling ``callbacks``."""

    name: ClassVar[str] = ""

    def fit(self, model: Trainable, data: Any, *, callbacks: Sequence[Callback] = (), show_progress: bool = True,
            resume: dict[str, Any] | None = None) -> None:
        raise NotImplementedError


BACKENDS: Registry[type[Backend]] = Registry("training backend")


@BACKENDS.component("local")
class LocalBackend(Backend):
    """The loop of one process: mini-batches on the CPU, seeded per epoch, the mean loss checked for divergence."""

    def fit(self, model: Trainable, data: Any, *, callbacks: Sequence[Callback] = (), show_progress: bool = True,
            resume: dict[str, Any] | None = None) -> None:
        model._progress = show_progress  # for the slow parts of _prepare/_build (encoding text, say)
        model._prepare(data)
        torch.manual_seed(model.seed)
        model.module_ = model._build(data)
        model.optimizer_ = model._optimizer()
        start = 0
        if resume is not None:
            model.module_.load_state_dict(resume["module"])
            model.optimizer_.load_state_dict(resume["optimizer"])
            start = int(resume["epoch"]) + 1
        model.stop_training_ = False
        for cb in callbacks:
            cb.on_fit_start(model)
        for epoch in range(start, model.epochs):
            t0 = time.perf_counter()
            torch.manual_seed(model.seed * 1_000_003 + epoch)
            rng = np.random.default_rng([model.seed, epoch])
            model.module_.train()
            total, count = 0.0, 0
            batches = model._batches(rng)
            if show_progress and is_terminal():  # batches of an epoch: a bar in a terminal, nothing in a log
                batches = track(batches, total=model._n_batches(), desc=f"epoch {epoch + 1}", unit="batch")
            for batch in batches:
                loss = model._loss(batch)
                model.optimizer_.zero_grad(set_to_none=True)
                loss.backward()
                model.optimizer_.step()
                total += float(loss.detach())
                count += 1
            mean_loss = total / max(count, 1)
            if not math.isfinite(mean_loss):
                raise ModelFitError(f"{type(model).__name__} diverged at epoch {epoch + 1} (loss {mean_loss}); "
                                    f"lower lr (now {model.lr}) or raise reg (now {model.reg})")
            model.epoch_ = epoch
            model.module_.eval()
            with torch.no_grad():
                model._refresh()
            logs = {"loss": mean_loss, "seconds": time.perf_counter() - t0}
            for cb in callbacks:
                cb.on_epoch_end(model, epoch, logs)
            if model.stop_training_:
                break
        for cb in callbacks:
            cb.on_fit_end(model)


def resolve_backend(backend: Backend | str | None) -> Backend:
    """A backend instance from an instance, a registered name, or ``None`` for the local loop."""
    if isinstance(backend, Backend):
        return backend
    return BACKENDS.get(backend or "local")()
