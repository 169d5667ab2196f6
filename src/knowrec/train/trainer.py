"""One trainer for every model: seeded, early stopping on a validation metric, atomic checkpoints, resume."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from knowrec.train.backend import Backend
from knowrec.train.callbacks import Callback, Checkpointer, EarlyStopping, EpochLog, ProgressBar, Validator


@dataclass
class TrainResult:
    """What training produced: the best epoch (1-based) and its validation score, per-epoch rows, times."""

    best_epoch: int | None
    best_score: float | None
    history: list[dict[str, float]] = field(default_factory=list)
    train_seconds: float = 0.0
    time_to_best: float = 0.0
    resumed_from: int | None = None


class Trainer:
    """Fits a model with early stopping on ``metric`` (computed by ``validate``) and checkpoints in ``folder``.

    With a ``folder`` holding a checkpoint of an interrupted run, ``fit`` resumes it where it stopped;
    since each epoch's randomness depends only on the seed and the epoch, the result is the same as an
    uninterrupted run. Gradient models (those with ``training_state``) train on ``backend`` (the local loop by
    default); others are fitted in the steps their ``fit_steps`` yields (one, or one per value of a
    regularisation path), each validated as an epoch, and keep the best step.
    """

    def __init__(self, *, validate: Validator | None = None, metric: str = "ndcg@10", patience: int = 10,
                 eval_every: int = 1, folder: str | Path | None = None, show_progress: bool = True,
                 callbacks: Sequence[Callback] = (), backend: Backend | str | None = None) -> None:
        self.validate = validate
        self.metric = metric
        self.patience = patience
        self.eval_every = eval_every
        self.folder = None if folder is None else Path(folder)
        self.show_progress = show_progress
        self.callbacks = list(callbacks)
        self.backend = backend

    def fit(self, model: Any, data: Any, *, resume: bool = True) -> TrainResult:
        """Fit ``model`` on ``data`` (a dataset, or a knowledge graph for KG embeddings)."""
        early = None if self.validate is None else EarlyStopping(
            self.validate, self.metric, patience=self.patience, eval_every=self.eval_every)
        history = EpochLog(self.folder)
        cbs: list[Callback] = [c for c in (early, history) if c is not None]
        gradient = hasattr(model, "training_state")
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            if gradient:
                cbs.append(Checkpointer(self.folder, early, history))
        if self.show_progress and gradient:
            cbs.append(ProgressBar(self.metric, early))
        cbs += self.callbacks

        t0 = time.perf_counter()
        state = Checkpointer.read(self.folder) if (self.folder is not None and resume) else None
        resumed_from = None
        if gradient:
            if state is not None:
                history.rows = list(state["history"])
                if early is not None and state["early"] is not None:
                    early.load_state_dict(state["early"])
                resumed_from = int(state["model"]["epoch"]) + 1
                model.epoch_ = resumed_from - 1
            model.fit(data, callbacks=cbs, show_progress=self.show_progress,
                      resume=None if state is None else state["model"], backend=self.backend)
        else:
            model.stop_training_ = False
            step_start = time.perf_counter()
            for epoch, step in enumerate(model.fit_steps(data, show_progress=self.show_progress)):
                logs = {"loss": 0.0, **step, "seconds": time.perf_counter() - step_start}
                for cb in cbs:  # each step an "epoch": validated, the best one kept
                    cb.on_epoch_end(model, epoch, logs)
                if getattr(model, "stop_training_", False) and not getattr(model, "whole_grid", False):
                    break
                step_start = time.perf_counter()
            for cb in cbs:
                cb.on_fit_end(model)
        elapsed = time.perf_counter() - t0
        return TrainResult(
            best_epoch=None if early is None or early.best_epoch is None else early.best_epoch + 1,
            best_score=None if early is None or early.best_epoch is None else early.best_score,
            history=history.rows,
            train_seconds=early.clock if early is not None else elapsed,
            time_to_best=early.time_to_best if early is not None else elapsed,
            resumed_from=resumed_from,
        )
