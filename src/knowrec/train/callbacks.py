"""Training events and the trainer's callbacks: early stopping, the epoch log, checkpoints and the progress bar.

A model's ``fit`` (through its training backend) calls the ``Callback`` hooks; trackers, early stopping and
checkpoints are callbacks.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from knowrec._io import atomic_path, write_json
from knowrec.errors import ConfigError, did_you_mean
from knowrec.progress import duration, is_terminal, say

Validator = Callable[[Any], dict[str, float]]


class Callback:
    """No-op hooks; override the ones you need. Set ``model.stop_training_ = True`` to stop after an epoch."""

    def on_fit_start(self, model: Any) -> None:
        """Called once before the first epoch (also when resuming)."""

    def on_epoch_end(self, model: Any, epoch: int, logs: dict[str, float]) -> None:
        """Called after each epoch with ``logs`` such as ``{"loss": …, "seconds": …}``; may add entries."""

    def on_fit_end(self, model: Any) -> None:
        """Called once after the last epoch."""


class EarlyStopping(Callback):
    """Validates every ``eval_every`` epochs, keeps the best weights, stops after ``patience`` evaluations
    without improvement and restores the best weights at the end."""

    def __init__(self, validate: Validator, metric: str, *, patience: int = 10, eval_every: int = 1) -> None:
        self.validate = validate
        self.metric = metric
        self.patience = patience
        self.eval_every = eval_every
        self.best_score = -float("inf")
        self.best_epoch: int | None = None
        self.best_state: dict[str, torch.Tensor] | None = None
        self.bad_evals = 0
        self.improved = False
        self.clock = 0.0
        self.time_to_best = 0.0

    def on_epoch_end(self, model: Any, epoch: int, logs: dict[str, float]) -> None:
        self.improved = False
        self.clock += logs.get("seconds", 0.0)
        last = epoch + 1 >= getattr(model, "epochs", epoch + 1)
        if (epoch + 1) % self.eval_every and not last:
            return
        t0 = time.perf_counter()
        scores = self.validate(model)
        if self.metric not in scores:
            raise ConfigError(f"validation metric {self.metric!r} is not computed." + did_you_mean(self.metric, scores))
        self.clock += time.perf_counter() - t0
        logs.update({f"valid_{k}": v for k, v in scores.items()})
        score = scores[self.metric]
        if score > self.best_score:
            self.best_score, self.best_epoch, self.bad_evals, self.improved = score, epoch, 0, True
            self.best_state = {k: v.detach().clone() for k, v in model._state().items()}
            self.time_to_best = self.clock
        else:
            self.bad_evals += 1
            if self.bad_evals >= self.patience:
                model.stop_training_ = True

    def on_fit_end(self, model: Any) -> None:
        if self.best_state is not None:
            model._set_state(self.best_state)

    def state_dict(self) -> dict[str, Any]:
        return {"best_score": self.best_score, "best_epoch": self.best_epoch, "bad_evals": self.bad_evals,
                "best_state": self.best_state, "clock": self.clock, "time_to_best": self.time_to_best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            setattr(self, key, value)


class EpochLog(Callback):
    """Collects one row per epoch (loss, seconds, validation metrics); writes CSV and JSON when given a folder."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder
        self.rows: list[dict[str, float]] = []

    def on_epoch_end(self, model: Any, epoch: int, logs: dict[str, float]) -> None:
        self.rows.append({"epoch": epoch + 1, **logs})
        if self.folder is not None:
            self.write(self.folder)

    def write(self, folder: Path) -> None:
        write_json(folder / "history.json", self.rows)
        fields = list(dict.fromkeys(k for row in self.rows for k in row))
        with atomic_path(folder / "history.csv") as tmp, open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(self.rows)


class Checkpointer(Callback):
    """After every epoch writes ``checkpoint.pt`` (model, optimizer, trainer state) atomically, and the best
    model so far to ``best/`` whenever early stopping reports an improvement."""

    FILE = "checkpoint.pt"

    def __init__(self, folder: Path, early: EarlyStopping | None, history: EpochLog) -> None:
        self.folder = folder
        self.early = early
        self.history = history

    def on_epoch_end(self, model: Any, epoch: int, logs: dict[str, float]) -> None:
        if self.early is not None and self.early.improved:
            model.save(self.folder / "best")
        if not hasattr(model, "training_state"):
            return
        state = {"model": model.training_state(), "history": self.history.rows,
                 "early": None if self.early is None else self.early.state_dict()}
        with atomic_path(self.folder / self.FILE) as tmp:
            torch.save(state, tmp)

    @classmethod
    def discard(cls, folder: Path) -> None:
        """Remove the checkpoint and ``best/`` once a run has finished and saved its final model."""
        import shutil

        (folder / cls.FILE).unlink(missing_ok=True)
        shutil.rmtree(folder / "best", ignore_errors=True)

    @classmethod
    def exists(cls, folder: Path) -> bool:
        """Whether ``folder`` holds a checkpoint to resume from."""
        return (folder / cls.FILE).is_file()

    @classmethod
    def read(cls, folder: Path) -> dict[str, Any] | None:
        path = folder / cls.FILE
        return torch.load(path, weights_only=True, map_location="cpu") if path.is_file() else None


class ProgressBar(Callback):
    """Training as it goes: epoch, loss, validation metric, best so far, seconds per epoch and the time left at
    the epoch cap — as a bar in a terminal, as one plain line per epoch in a log or a pipe."""

    def __init__(self, metric: str, early: EarlyStopping | None) -> None:
        self.metric = metric
        self.early = early
        self.bar: Any = None
        self.seconds: list[float] = []

    def on_fit_start(self, model: Any) -> None:
        self.total = getattr(model, "epochs", 1)
        self.start = getattr(model, "epoch_", -1) + 1
        self.label = getattr(model, "name", "") or type(model).__name__
        if is_terminal():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.total, initial=self.start, desc=self.label, unit="epoch")
        elif self.start:
            say(f"{self.label}: resumed at epoch {self.start + 1}")

    def on_epoch_end(self, model: Any, epoch: int, logs: dict[str, float]) -> None:
        self.seconds.append(logs.get("seconds", 0.0))
        per_epoch = sum(self.seconds) / len(self.seconds)
        post = {"loss": f"{logs.get('loss', 0.0):.4f}"}
        if f"valid_{self.metric}" in logs:
            post[self.metric] = f"{logs[f'valid_{self.metric}']:.4f}"
        if self.early is not None and self.early.best_epoch is not None:
            post["best"] = f"{self.early.best_score:.4f}@{self.early.best_epoch + 1}"
        post["s/epoch"] = f"{per_epoch:.2f}"
        post["left at cap"] = duration(per_epoch * (self.total - epoch - 1))
        if self.bar is not None:
            self.bar.set_postfix(post, refresh=False)
            self.bar.update(1)
        else:
            say(f"{self.label} epoch {epoch + 1}/{self.total} · " + " · ".join(f"{k} {v}" for k, v in post.items()))

    def on_fit_end(self, model: Any) -> None:
        if self.bar is not None:
            self.bar.close()
