"""Training events: a model's ``fit`` calls these hooks; trackers, early stopping and checkpoints are callbacks."""

from __future__ import annotations

from typing import Any


class Callback:
    """No-op hooks; override the ones you need. Set ``model.stop_training_ = True`` to stop after an epoch."""

    def on_fit_start(self, model: Any) -> None:
        """Called once before the first epoch (also when resuming)."""

    def on_epoch_end(self, model: Any, epoch: int, logs: dict[str, float]) -> None:
        """Called after each epoch with ``logs`` such as ``{"loss": …, "seconds": …}``; may add entries."""

    def on_fit_end(self, model: Any) -> None:
        """Called once after the last epoch."""
