"""How a gradient model's epochs are run: the ``Backend`` hook, the loop of one process on one device, and
distributed data-parallel training on torch's own engine (``torch.distributed`` + DDP, launched by ``torchrun``).

A model trained by gradient (``knowrec.models.TorchModel``) says *what* to train — its module, optimiser,
batches, loss, and what to recompute after an epoch (the ``Trainable`` protocol below); a backend says *how*
the epochs run and *where* (``device``: ``auto`` | ``cpu`` | ``cuda[:N]`` | ``mps``). Every model trains on every
backend unchanged.

Randomness of epoch ``e`` is derived from ``(seed, e)`` alone, so a run resumed from a checkpoint gives the
result of an uninterrupted one, and every rank of a distributed run draws the same batches.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar, Protocol

import numpy as np
import torch
from torch import nn

from knowrec.devices import autocast, creating_on, resolve_device, to_device
from knowrec.errors import ConfigError, ModelFitError
from knowrec.memory import reuse_freed_blocks
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
    def to(self, device: torch.device | str) -> Any: ...


class Backend:
    """Runs a ``Trainable``'s epochs: builds its module and optimiser, then trains, calling ``callbacks``."""

    name: ClassVar[str] = ""

    def fit(self, model: Trainable, data: Any, *, callbacks: Sequence[Callback] = (), show_progress: bool = True,
            resume: dict[str, Any] | None = None) -> None:
        raise NotImplementedError


BACKENDS: Registry[type[Backend]] = Registry("training backend")


class _Loss(nn.Module):
    """A model's loss as a module's forward, over the model's module: what DDP wraps (our models compute their
    loss from their parameters directly, not through ``forward``)."""

    def __init__(self, model: Trainable) -> None:
        super().__init__()
        self.inner = model.module_
        self._model = [model]  # in a list: not a submodule, not a second owner of the parameters

    def forward(self, batch: Any) -> torch.Tensor:
        return self._model[0]._loss(batch)


@BACKENDS.component("local")
class LocalBackend(Backend):
    """The loop of one process on one ``device``: mini-batches seeded per epoch, the mean loss checked for
    divergence, mixed precision when ``amp`` (float16 with loss scaling on CUDA, bfloat16 on the CPU).

    The model's module, its precomputed tensors and each batch are moved to the device; what ``_refresh``
    computes (the vectors it scores with) stays there, so validation scores on the device too.
    """

    def __init__(self, device: str | torch.device = "auto", amp: bool = False) -> None:
        self.device = device
        self.amp = amp

    # --- what the distributed loop changes ----------------------------------------------------------------
    rank: int = 0
    world: int = 1

    def _device(self) -> torch.device:
        return resolve_device(self.device)

    def _wrap(self, model: Trainable, device: torch.device) -> nn.Module:
        return _Loss(model)

    def _resume_state(self, resume: dict[str, Any] | None) -> dict[str, Any] | None:
        return resume

    def _shard(self, batch: Any) -> tuple[Any, float]:
        """This process's part of a batch, and the weight of its loss (0: nothing of it here)."""
        return batch, 1.0

    def _mean_loss(self, total: float, count: int) -> float:
        return total / max(count, 1)

    def _agree(self, stop: bool) -> bool:
        return stop

    # --- the loop -----------------------------------------------------------------------------------------
    def fit(self, model: Trainable, data: Any, *, callbacks: Sequence[Callback] = (), show_progress: bool = True,
            resume: dict[str, Any] | None = None) -> None:
        device = self._device()
        if self.rank:  # a rank above 0 of a distributed run: rank 0 alone validates, checkpoints and reports
            callbacks, show_progress = (), False
        model._progress = show_progress  # for the slow parts of _prepare/_build (encoding text, say)
        model.device_ = device  # where it trains, and where _build encodes text
        model._prepare(data)
        torch.manual_seed(model.seed)
        model.module_ = model._build(data)
        model.to(device)  # the module and every tensor the model precomputed for its loss
        loss_of = self._wrap(model, device)
        model.optimizer_ = model._optimizer()
        scaler = torch.amp.GradScaler(device.type, enabled=self.amp and device.type == "cuda")
        start = 0
        resume = self._resume_state(resume)
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
            # tensors the loss creates (masks, ranges) are made on the device; each batch's blocks are reused
            with creating_on(device), reuse_freed_blocks():
                for batch in batches:
                    part, weight = self._shard(batch)
                    with autocast(device, self.amp):
                        loss = loss_of(to_device(part, device, non_blocking=True))
                    model.optimizer_.zero_grad(set_to_none=True)
                    scaler.scale(loss * weight if weight != 1.0 else loss).backward()
                    scaler.step(model.optimizer_)
                    scaler.update()
                    total += float(loss.detach()) * weight
                    count += weight > 0
            mean_loss = self._mean_loss(total, count)
            if not math.isfinite(mean_loss):
                raise ModelFitError(f"{type(model).__name__} diverged at epoch {epoch + 1} (loss {mean_loss}); "
                                    f"lower lr (now {model.lr}) or raise reg (now {model.reg})")
            model.epoch_ = epoch
            model.module_.eval()
            with torch.no_grad(), creating_on(device):
                model._refresh()
            logs = {"loss": mean_loss, "seconds": time.perf_counter() - t0}
            for cb in callbacks:
                cb.on_epoch_end(model, epoch, logs)
            if self._agree(model.stop_training_):
                model.stop_training_ = True
                break
        for cb in callbacks:
            cb.on_fit_end(model)
        model.to(device)  # the best epoch's state, restored by a callback, beside the rest


def distributed_env() -> tuple[int, int, int]:
    """``(rank, local rank, world size)`` of this process as ``torchrun`` set them; ``(0, 0, 1)`` outside it."""
    env = os.environ
    return int(env.get("RANK", 0)), int(env.get("LOCAL_RANK", 0)), int(env.get("WORLD_SIZE", 1))


def is_worker() -> bool:
    """Whether this process is a rank other than 0 of a distributed run (it trains, and leaves evaluating,
    checkpoints and the run folder to rank 0)."""
    return distributed_env()[0] > 0


@BACKENDS.component("ddp", aliases=("torchrun",))
class DistributedBackend(LocalBackend):
    """Data-parallel training on ``torch.distributed`` (gloo on the CPU, NCCL on GPUs), one process per rank as
    ``torchrun`` starts them, on one machine or several.

    Every rank builds the same model from the same seed and draws the same batches; rank ``r`` of ``W`` trains
    on rows ``r, r+W, …`` of each, and DDP averages the gradients, so ``batch_size`` is the global batch and
    the steps are those of one process. Rank 0 alone runs the callbacks (validation, checkpoints, the epoch
    log); its decision to stop and the state to resume from are broadcast to the others.
    """

    def _device(self) -> torch.device:
        import torch.distributed as dist

        _, local, world = distributed_env()
        if world < 2 and not dist.is_initialized():
            raise ConfigError("the ddp backend runs under torchrun (torchrun --nproc-per-node N -m knowrec train …, "
                              "or knowrec train --nproc N); this process has WORLD_SIZE "
                              f"{os.environ.get('WORLD_SIZE', 'unset')}")
        device = resolve_device(self.device)
        if device.type == "cuda":  # one GPU per process on each machine, by local rank
            device = resolve_device(f"cuda:{local}")
            torch.cuda.set_device(device)
        elif device.type != "cpu":
            raise ConfigError(f"distributed training runs on CUDA (NCCL) or the CPU (gloo), not {device.type!r}")
        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        self.rank, self.world, self._on = dist.get_rank(), dist.get_world_size(), device
        return device

    def _wrap(self, model: Trainable, device: torch.device) -> nn.Module:
        from torch.nn.parallel import DistributedDataParallel

        # some parameters see no gradient in some steps (a source dropped out, an unused user text layer)
        return DistributedDataParallel(_Loss(model), device_ids=[device] if device.type == "cuda" else None,
                                       find_unused_parameters=True)

    def _resume_state(self, resume: dict[str, Any] | None) -> dict[str, Any] | None:
        import torch.distributed as dist

        box = [resume if self.rank == 0 else None]  # only rank 0 reads the run folder
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def _shard(self, batch: Any) -> tuple[Any, float]:
        rows = len(batch[0])
        if rows <= self.rank:  # a last batch smaller than the world: this rank adds a zero gradient
            return batch, 0.0
        return tuple(t[self.rank::self.world] for t in batch), 1.0

    def _mean_loss(self, total: float, count: int) -> float:
        import torch.distributed as dist

        both = torch.tensor([total, float(count)], dtype=torch.float64, device=self._on)  # NCCL: on the GPU
        dist.all_reduce(both)
        return float(both[0] / both[1].clamp_min(1))

    def _agree(self, stop: bool) -> bool:
        import torch.distributed as dist

        flag = torch.tensor([int(stop)], device=self._on)
        dist.broadcast(flag, src=0)
        return bool(flag.item())


def resolve_backend(backend: Backend | str | None, *, device: str = "auto", amp: bool = False) -> Backend:
    """A backend from an instance, a registered name, or ``None``: ``ddp`` under ``torchrun`` (``WORLD_SIZE`` above
    1), else the local loop; ``device`` and ``amp`` configure a backend given by name."""
    if isinstance(backend, Backend):
        return backend
    if backend is None:
        backend = "ddp" if distributed_env()[2] > 1 else "local"
    return BACKENDS.get(backend)(device=device, amp=amp)
