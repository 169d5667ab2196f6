"""``RunResult``: what ``pipeline`` returns — model, split, metrics, per-user arrays, history — saved and reloaded."""

from __future__ import annotations

import logging
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from knowrec._io import read_json, write_json
from knowrec._version import __version__
from knowrec.config import RunConfig
from knowrec.data.dataset import Dataset
from knowrec.data.social import FRIENDS
from knowrec.data.split import Split
from knowrec.errors import ConfigError
from knowrec.evaluate.evaluator import EvalResult
from knowrec.models.base import Recommender
from knowrec.train.trainer import TrainResult

logger = logging.getLogger(__name__)


@dataclass
class RunResult:
    """A finished run. ``save`` writes ``metrics.json``, ``config.json``, ``meta.json``, per-user arrays,
    the split and the model; ``load`` reads them back."""

    METRICS: ClassVar[str] = "metrics.json"
    CONFIG: ClassVar[str] = "config.json"
    META: ClassVar[str] = "meta.json"
    SPLIT: ClassVar[str] = "split.npz"
    MODEL: ClassVar[str] = "model"
    PER_USER: ClassVar[str] = "per_user_{part}.npz"
    CURVES: ClassVar[str] = "curves.png"

    config: RunConfig
    model: Recommender
    split: Split
    valid: EvalResult
    test: EvalResult
    train: TrainResult
    peak_rss_mb: float
    data_fingerprint: str
    data: Dataset | None = field(default=None, repr=False)
    #: On a cold-item split ``test`` ranks the cold items only; this ranks them among all items.
    test_all_items: dict[str, float] | None = None

    def metrics(self) -> dict[str, Any]:
        """The content of ``metrics.json``."""
        return {
            "dataset": self.config.dataset,
            "model": self.config.model,
            "params": self.model.get_params(),
            "split": str(self.config.split),
            "seed": self.config.seed,
            "best_epoch": self.train.best_epoch,
            "epochs_run": len(self.train.history),
            "train_seconds": round(self.train.train_seconds, 3),
            "time_to_best_seconds": round(self.train.time_to_best, 3),
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "valid": self.valid.metrics,
            "test": self.test.metrics,
        } | ({} if self.test_all_items is None else {"test_all_items": self.test_all_items})

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.model.save(folder / self.MODEL)
        self.split.save(folder / self.SPLIT)
        for part, res in (("valid", self.valid), ("test", self.test)):
            res.save_per_user(folder / self.PER_USER.format(part=part))
        write_json(folder / self.CONFIG, self.config.model_dump(mode="json"))
        write_json(folder / self.META, {"knowrec_version": __version__, "git_sha": _git_sha(),
                                        "data_fingerprint": self.data_fingerprint,
                                        "resumed_from_epoch": self.train.resumed_from})
        if self.train.history and len(self.train.history) > 1:
            self.plot_curves(folder / self.CURVES)
        write_json(folder / self.METRICS, self.metrics())  # last: its presence marks the run finished
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> RunResult:
        folder = Path(folder)
        if not (folder / cls.METRICS).is_file():
            raise ConfigError(f"{folder} is not a finished run (no {cls.METRICS}); train with --out {folder}")
        metrics = read_json(folder / cls.METRICS)
        meta = read_json(folder / cls.META)
        if meta.get("knowrec_version") != __version__:
            logger.warning("run %s was written by knowrec %s, this is %s", folder, meta.get("knowrec_version"),
                           __version__)
        history = read_json(folder / "history.json") if (folder / "history.json").is_file() else []
        per_user = {part: load_per_user(folder, part) for part in ("valid", "test")}
        return cls(
            config=RunConfig.build(**read_json(folder / cls.CONFIG)),
            model=Recommender.load(folder / cls.MODEL),
            split=Split.load(folder / cls.SPLIT),
            valid=EvalResult(metrics["valid"], per_user["valid"].pop("users"), per_user["valid"]),
            test=EvalResult(metrics["test"], per_user["test"].pop("users"), per_user["test"]),
            train=TrainResult(metrics["best_epoch"], None, history, metrics["train_seconds"],
                              metrics["time_to_best_seconds"], meta.get("resumed_from_epoch")),
            peak_rss_mb=metrics["peak_rss_mb"],
            data_fingerprint=meta["data_fingerprint"],
            test_all_items=metrics.get("test_all_items"),
        )

    def recommend(self, data: Dataset, user_id: Any, k: int = 10, *, exclude_seen: bool = True) -> pd.DataFrame:
        """Top-``k`` for one original user id, as a table of original item ids (user ids, on a friend task),
        titles and scores."""
        user = data.user_index(user_id)
        items, scores = self.model.recommend(user, k, exclude_seen=exclude_seen)
        titles = data.item_titles()
        frame = pd.DataFrame({"rank": np.arange(1, len(items) + 1),
                              "user_id" if data.task == FRIENDS else "item_id": data.item_ids[items], "score": scores})
        if titles is not None:
            frame.insert(2, "title", [titles[i] for i in items])
        return frame[np.isfinite(frame["score"])]

    def plot_curves(self, path: str | Path) -> Path:
        """Plot the training loss and validation metric per epoch to a PNG."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from knowrec._io import save_figure

        hist = pd.DataFrame(self.train.history)
        metric = f"valid_{self.config.valid_metric}"
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.plot(hist["epoch"], hist["loss"], color="tab:blue", label="training loss")
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss", color="tab:blue")
        if metric in hist:
            ax2 = ax.twinx()
            valid = hist.dropna(subset=[metric])
            ax2.plot(valid["epoch"], valid[metric], color="tab:orange", marker=".", label=self.config.valid_metric)
            ax2.set_ylabel(f"validation {self.config.valid_metric}", color="tab:orange")
            if self.train.best_epoch:
                ax2.axvline(self.train.best_epoch, color="grey", linestyle="--", linewidth=1)
        ax.set_title(f"{self.config.model} on {self.config.dataset}")
        return save_figure(fig, path)


def load_per_user(folder: str | Path, part: str = "test") -> dict[str, np.ndarray]:
    with np.load(Path(folder) / RunResult.PER_USER.format(part=part), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _git_sha() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).parent)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None
