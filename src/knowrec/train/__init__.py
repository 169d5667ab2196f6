"""Train stage: the shared trainer and its callbacks."""

from knowrec.train.callbacks import Checkpointer, EarlyStopping, History, ProgressBar
from knowrec.train.trainer import Trainer, TrainResult

__all__ = ["Checkpointer", "EarlyStopping", "History", "ProgressBar", "TrainResult", "Trainer"]
