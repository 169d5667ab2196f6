"""Training stage: how gradient models' epochs run (backends), the callbacks (early stopping, epoch log,
checkpoints, progress) and the ``Trainer`` that wires them with validation and resume."""

from knowrec.train.backend import BACKENDS, Backend, LocalBackend, Trainable, resolve_backend
from knowrec.train.callbacks import Callback, Checkpointer, EarlyStopping, EpochLog, ProgressBar
from knowrec.train.trainer import Trainer, TrainResult

__all__ = ["BACKENDS", "Backend", "Callback", "Checkpointer", "EarlyStopping", "EpochLog", "LocalBackend",
           "ProgressBar", "TrainResult", "Trainable", "Trainer", "resolve_backend"]
