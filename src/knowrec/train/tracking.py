"""Experiment trackers: a run's parameters, its per-epoch loss and validation metrics, its final metrics and its
folder, written where the tools of the trade read them — TensorBoard event files, or an MLflow tracking store
(a local SQLite file by default, no server needed; any tracking URI when given).

A tracker is a training callback with a beginning (``start``) and an end (``finish``). Both are optional
dependencies: ``pip install 'knowrec[track]'``.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any, ClassVar

from knowrec.errors import MissingDependencyError
from knowrec.registry import Registry
from knowrec.train.callbacks import Callback

TRACKERS: Registry[type[Tracker]] = Registry("tracker")


def _numbers(values: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in values.items()
            if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)}


def flat(params: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested settings as ``{"model_params.lr": "0.001", …}`` strings (what trackers take as parameters)."""
    out: dict[str, str] = {}
    for key, value in params.items():
        if isinstance(value, dict):
            out |= flat(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value if isinstance(value, str) else json.dumps(value, default=str)
    return out


class Tracker(Callback):
    """Receives a run's parameters, its epochs' logs (loss, ``valid_*`` metrics) and its final metrics."""

    name: ClassVar[str] = ""

    def start(self, run_name: str, params: dict[str, Any], folder: Path | None = None) -> None:
        """A run begins: its name, its settings, the folder it writes (if any)."""

    def log(self, metrics: dict[str, float], step: int | None = None) -> None:
        raise NotImplementedError

    def on_epoch_end(self, model: Any, epoch: int, logs: dict[str, float]) -> None:
        metrics = {("train/loss" if k == "loss" else f"valid/{k.removeprefix('valid_')}" if k.startswith("valid_")
                    else k): v for k, v in _numbers(logs).items()}
        self.log(metrics, step=epoch + 1)

    def finish(self, metrics: dict[str, dict[str, float]], folder: Path | None = None) -> None:
        """A run ends: its final metrics by part (``{"test": {"ndcg@10": …}}``) and its folder as an artifact."""


@TRACKERS.component("tensorboard", aliases=("tb",))
class TensorBoardTracker(Tracker):
    """TensorBoard event files (``torch.utils.tensorboard``) in ``logdir`` (default: ``RUN/tensorboard``)."""

    def __init__(self, logdir: str | Path | None = None) -> None:
        self.logdir = None if logdir is None else Path(logdir)
        self.writer: Any = None

    def start(self, run_name: str, params: dict[str, Any], folder: Path | None = None) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:
            raise MissingDependencyError("--tracker tensorboard needs tensorboard: pip install 'knowrec[track]'") \
                from exc
        logdir = self.logdir or (folder / "tensorboard" if folder is not None else Path("tensorboard") / run_name)
        self.writer = SummaryWriter(str(logdir))
        self.params = flat(params)
        self.writer.add_text("params", "\n".join(f"    {k} = {v}" for k, v in sorted(self.params.items())))

    def log(self, metrics: dict[str, float], step: int | None = None) -> None:
        for key, value in metrics.items():
            self.writer.add_scalar(key, value, step)

    def finish(self, metrics: dict[str, dict[str, float]], folder: Path | None = None) -> None:
        final = {f"{part}/{k}": v for part, values in metrics.items() for k, v in _numbers(values).items()}
        self.log(final)
        self.writer.add_hparams(self.params, {f"hparam/{k}": v for k, v in final.items()}, run_name=".")
        if folder is not None:
            self.writer.add_text("run folder", str(Path(folder).resolve()))
        self.writer.close()


@TRACKERS.component("mlflow")
class MLflowTracker(Tracker):
    """An MLflow run in ``experiment`` at ``tracking_uri`` (``--tracking-uri``, else ``$MLFLOW_TRACKING_URI``, else
    ``sqlite:///mlruns/mlflow.db`` with artifacts in ``mlruns/artifacts`` — local files, no server)."""

    DEFAULT_DIR = Path("mlruns")

    def __init__(self, tracking_uri: str | None = None, experiment: str = "knowrec") -> None:
        self.tracking_uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
        self.experiment = experiment
        self.client: Any = None

    def start(self, run_name: str, params: dict[str, Any], folder: Path | None = None) -> None:
        try:
            from mlflow.entities import Param
            from mlflow.tracking import MlflowClient
        except ImportError as exc:
            raise MissingDependencyError("--tracker mlflow needs mlflow: pip install 'knowrec[track]'") from exc
        if self.tracking_uri is None:
            self.DEFAULT_DIR.mkdir(parents=True, exist_ok=True)
            self.tracking_uri = f"sqlite:///{(self.DEFAULT_DIR / 'mlflow.db').resolve()}"
        artifacts = None  # a local SQLite store keeps its artifacts beside it, not in ./mlruns of whoever runs
        if self.tracking_uri.startswith("sqlite:///"):
            artifacts = (Path(self.tracking_uri.removeprefix("sqlite:///")).parent / "artifacts").resolve().as_uri()
        self.client = MlflowClient(tracking_uri=self.tracking_uri)
        found = self.client.get_experiment_by_name(self.experiment)
        experiment_id = found.experiment_id if found is not None else \
            self.client.create_experiment(self.experiment, artifact_location=artifacts)
        self.run_id = self.client.create_run(experiment_id, run_name=run_name).info.run_id
        values = [Param(k, v[:6000]) for k, v in sorted(flat(params).items())]
        for start in range(0, len(values), 100):  # MLflow takes at most 100 parameters per batch
            self.client.log_batch(self.run_id, params=values[start:start + 100])

    def log(self, metrics: dict[str, float], step: int | None = None) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(k.replace("@", "_"), v, now, step or 0)
                                                    for k, v in metrics.items()])

    def finish(self, metrics: dict[str, dict[str, float]], folder: Path | None = None) -> None:
        self.log({f"{part}/{k}": v for part, values in metrics.items() for k, v in _numbers(values).items()})
        if folder is not None:
            self.client.log_artifacts(self.run_id, str(folder))
        self.client.set_terminated(self.run_id)


def make_tracker(kind: str | None, *, tracking_uri: str | None = None, logdir: str | Path | None = None,
                 experiment: str = "knowrec") -> Tracker | None:
    """The tracker ``--tracker`` names (``tensorboard``, ``mlflow``; ``none`` or ``None``: no tracker)."""
    if kind is None or kind == "none":
        return None
    cls = TRACKERS.get(kind)
    if cls is MLflowTracker:
        return MLflowTracker(tracking_uri, experiment)
    return cls(logdir)
