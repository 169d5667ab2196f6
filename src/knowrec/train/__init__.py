"""Training stage: how gradient models' epochs run (backends), the callbacks (early stopping, epoch log,
checkpoints, progress), the optimiser for row-sparse gradients and the ``Trainer`` that wires them with
validation and resume."""

from knowrec.train.backend import (
    BACKENDS,
    Backend,
    DistributedBackend,
    LocalBackend,
    Trainable,
    distributed_env,
    is_worker,
    resolve_backend,
)
from knowrec.train.callbacks import Callback, Checkpointer, EarlyStopping, EpochLog, ProgressBar
from knowrec.train.optim import RowAdam
from knowrec.train.trainer import Trainer, TrainResult

__all__ = ["BACKENDS", "Backend", "Callback", "Checkpointer", "DistributedBackend", "EarlyStopping", "EpochLog",
           "LocalBackend", "ProgressBar", "RowAdam", "TrainResult", "Trainable", "Trainer", "distributed_env",
           "is_worker", "resolve_backend"]
