"""An experiment, one run end to end: ``pipeline()`` loads data, splits, builds the model, trains it with early
stopping, evaluates and saves; ``open_run`` opens a finished run folder with its dataset, for everything that
reads one (evaluate, recommend, explain, serve)."""

from __future__ import annotations

import logging
import resource
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from knowrec._io import read_json, write_json
from knowrec.config import RunConfig
from knowrec.data.builtin import load_dataset
from knowrec.data.dataset import Dataset
from knowrec.data.exchange import open_split
from knowrec.data.social import FRIENDS, friend_dataset
from knowrec.data.split import Split
from knowrec.data.split import split as make_split
from knowrec.devices import resolve_device
from knowrec.errors import ConfigError, DataError
from knowrec.evaluate.ctr import CTREvaluator
from knowrec.evaluate.evaluator import EvalResult, Evaluator
from knowrec.evaluate.external import load_scores
from knowrec.models.base import MODELS, Estimator, Recommender
from knowrec.results import RunResult
from knowrec.train import Backend, Callback, Checkpointer, Trainer, TrainResult, is_worker, resolve_backend
from knowrec.train.tracking import Tracker

logger = logging.getLogger(__name__)


def build_model(config: RunConfig) -> Recommender:
    """The configured model (its parameters were checked by ``RunConfig.build``); its ``seed`` follows the run's
    seed unless set explicitly."""
    cls = MODELS.get(config.model)
    params = dict(config.model_params)
    if "seed" in cls.param_names():
        params.setdefault("seed", config.seed)
    model = cls(**params)
    model.check_params()
    return model


@dataclass
class Prepared:
    """What every model of one experiment is trained and judged on: the (filtered) dataset, its split, the
    evaluator, and the CTR evaluator for data with sampled negatives."""

    data: Dataset
    split: Split
    evaluator: Evaluator
    ctr: CTREvaluator | None

    def validate(self, model: Recommender) -> dict[str, float]:
        """Validation metrics (on a cold-item split, among the cold validation items): early stopping's input."""
        valid = self.evaluator.evaluate(model, "valid", candidates=self.split.candidates("valid")).metrics
        return valid | ({} if self.ctr is None else self.ctr.validate(model))


def load_task(config: RunConfig, *, show_progress: bool = True) -> Dataset:
    """The configured dataset as its task sees it: as loaded, or its friend task (users as items)."""
    data = load_dataset(config.dataset, show_progress=show_progress)
    return friend_dataset(data) if config.task == FRIENDS else data


def prepare(config: RunConfig, *, show_progress: bool = True) -> Prepared:
    """Load, filter and split the configured dataset, and say so at once if the split cannot be validated."""
    data = load_task(config, show_progress=show_progress)
    if config.min_rating is not None or config.user_core or config.item_core:
        data = data.filter(min_rating=config.min_rating, user_core=config.user_core, item_core=config.item_core)
    split = make_split(data, config.split, seed=config.seed, ratios=config.ratios, cold_share=config.cold_share)
    _check_split(split, config, data)
    if data.task == "items" and (warning := data.kg_warning()):
        logger.warning(warning)
    return Prepared(data, split, Evaluator(data, split, ks=config.ks),
                    None if data.negatives is None else CTREvaluator(data, split))


def train(model: Recommender, prepared: Prepared, config: RunConfig, *, folder: Path | None = None,
          show_progress: bool = True, resume: bool = True, backend: Backend | str | None = None,
          callbacks: Sequence[Callback] = ()) -> TrainResult:
    """Fit ``model`` on the training part with early stopping on the validation metric (checkpoints in
    ``folder``); ``callbacks`` see every epoch's logs, validation metrics included."""
    trainer = Trainer(validate=prepared.validate, metric=config.valid_metric, patience=config.patience,
                      eval_every=config.eval_every, folder=folder, show_progress=show_progress, backend=backend,
                      callbacks=callbacks)
    return trainer.fit(model, prepared.split.train(prepared.data), resume=resume)


def pipeline(config: RunConfig | None = None, *, out: str | Path | None = None, show_progress: bool = True,
             resume: bool = True, overwrite: bool = False, backend: Backend | str | None = None,
             tracker: Tracker | None = None, **settings: Any) -> RunResult | None:
    """Run one experiment end to end and return its ``RunResult`` (saved into ``out`` when given; ``None`` on the
    ranks above 0 of a distributed run, which only train).

    ``settings`` override fields of ``config`` (``pipeline(dataset="ml-100k", model="bpr", seed=7)``).
    An ``out`` folder holding an interrupted run of the same config is resumed from its checkpoint. Gradient
    models train on ``backend`` (``knowrec.train.BACKENDS``; under ``torchrun`` DDP, else the local loop) on the
    configured ``device``; a ``tracker``
    (``knowrec.train.tracking``) records the settings, every epoch and the final metrics.
    """
    if settings or config is None:
        config = RunConfig.resolve(base=config, settings=settings)
    torch.set_num_threads(config.threads)
    model = build_model(config)  # every setting is checked before anything is read or written
    resolve_device(config.device)  # a device that is not there is said before any data is read
    worker = is_worker()  # a rank > 0 of a distributed run trains only: rank 0 owns the folder and the figures
    show_progress = show_progress and not worker
    prepared = prepare(config, show_progress=show_progress)
    folder = None if out is None or worker else Path(out)
    if folder is not None:
        _prepare_folder(folder, config, overwrite=overwrite, resume=resume)
    if tracker is not None and not worker:
        tracker.start(folder.name if folder is not None else f"{config.model}-{config.dataset}",
                      config.model_dump(mode="json"), folder)
    trained = train(model, prepared, config, folder=folder, show_progress=show_progress, resume=resume,
                    backend=resolve_backend(backend, device=config.device, amp=config.amp),
                    callbacks=() if tracker is None or worker else (tracker,))
    if worker:
        return None
    parts = evaluate_run(model, prepared.data, prepared.split, prepared.evaluator, prepared.ctr,
                         show_progress=show_progress)
    if isinstance(model, Estimator):
        model.to("cpu")  # what is saved, served and handed back lives on the CPU
    result = RunResult(
        config=config, model=model, split=prepared.split, valid=parts["valid"], test=parts["test"],
        train=trained, peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        data_fingerprint=prepared.data.fingerprint(), data=prepared.data,
        test_all_items=parts["test_all_items"].metrics if "test_all_items" in parts else None,
    )
    if folder is not None:
        result.save(folder)
        Checkpointer.discard(folder)
    if tracker is not None:
        tracker.finish({part: r.metrics for part, r in parts.items()}, folder)
    return result


def _check_split(split: Split, config: RunConfig, data: Dataset) -> None:
    """Early stopping needs validation interactions and the final scores test ones: say so before training."""
    counts = split.counts()
    for part in ("valid", "test"):
        if counts[part] == 0:
            raise ConfigError(f"the {config.split} split of {data.name!r} ({data.n_interactions:,} interactions, "
                              f"{data.n_users:,} users) leaves no {part} interactions (ratios {list(config.ratios)}); "
                              "give more interactions per user or other ratios")


def _prepare_folder(folder: Path, config: RunConfig, *, overwrite: bool, resume: bool) -> None:
    cfg_path = folder / RunResult.CONFIG
    if (folder / RunResult.METRICS).exists() and not overwrite:
        raise ConfigError(f"{folder} already holds a finished run; pass overwrite=True (--overwrite) to replace it")
    if folder.is_dir() and any(folder.iterdir()) and not cfg_path.is_file():
        raise ConfigError(f"{folder} is not empty and holds no run (no {RunResult.CONFIG}); choose a new --out")
    # a run stopped before its first checkpoint has nothing to resume, so nothing to lose
    if cfg_path.is_file() and (overwrite or not resume or not Checkpointer.exists(folder)):
        shutil.rmtree(folder)
    if cfg_path.is_file() and resume:
        previous = RunConfig.build(**read_json(cfg_path))
        if previous != config:
            raise ConfigError(f"{folder} holds an interrupted run with a different config; use another --out or "
                              f"--overwrite")
    folder.mkdir(parents=True, exist_ok=True)
    for stale in [*folder.glob(".*.tmp"), *folder.glob(".*.old")]:  # what a killed run was writing
        shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
    write_json(cfg_path, config.model_dump(mode="json"))


def evaluate_run(model: Recommender, data: Dataset, split: Split, evaluator: Evaluator,
                 ctr: CTREvaluator | None = None, *, show_progress: bool = False) -> dict[str, EvalResult]:
    """A run's final figures: ``valid`` and ``test`` — on a cold-item split ranked among the cold items (the
    protocol of CLCRec/Heater), with ``test_all_items`` ranked over all items too — and, for data with sampled
    negatives (RippleNet's CTR protocol), AUC and F1 beside them."""
    shown = {"show_progress": show_progress}
    parts = {part: evaluator.evaluate(model, part, candidates=split.candidates(part), **shown)
             for part in ("valid", "test")}
    if split.candidates("test") is not None:
        parts["test_all_items"] = evaluator.evaluate(model, "test", **shown)
    if ctr is not None:
        for part, scores in ctr.evaluate(model).items():
            parts[part].metrics.update(scores)
    return parts


def evaluate_scores(split_folder: str | Path, scores: str | Path, *, ks: Sequence[int] = (10, 20),
                    out: str | Path | None = None, name: str = "scores") -> dict[str, EvalResult]:
    """Judge another library's scores on an exported split (``knowrec.data.exchange``) exactly as a run's model
    is judged; with ``out``, write ``metrics.json`` and the per-user figures in a run folder's layout."""
    data, split, manifest = open_split(split_folder)
    parts = evaluate_run(load_scores(scores, data), data, split, Evaluator(data, split, ks=ks))
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        for part in ("valid", "test"):
            parts[part].save_per_user(out / RunResult.PER_USER.format(part=part))
        write_json(out / "metrics.json", {"name": name, "scores": str(scores), "split": manifest,
                                          **{part: result.metrics for part, result in parts.items()}})
    return parts


@dataclass
class OpenRun:
    """A finished run folder, read back, and the dataset it was trained on."""

    folder: Path
    result: RunResult
    data: Dataset

    @property
    def model(self) -> Recommender:
        return self.result.model

    def evaluate(self, ks: Sequence[int] | None = None, *, show_progress: bool = False) -> dict[str, EvalResult]:
        """The run's model evaluated afresh on its split (``ks`` default: the run's)."""
        split = self.result.split
        evaluator = Evaluator(self.data, split, ks=list(ks or self.result.config.ks))
        ctr = None if self.data.negatives is None else CTREvaluator(self.data, split)
        return evaluate_run(self.model, self.data, split, evaluator, ctr, show_progress=show_progress)


def open_run(run: str | Path, *, show_progress: bool = False) -> OpenRun:
    """Open a finished run folder and load its dataset, checking it is the data the run was trained on."""
    result = RunResult.load(run)
    data = load_task(result.config, show_progress=show_progress)
    if data.fingerprint() != result.data_fingerprint:
        raise DataError(f"dataset {result.config.dataset!r} differs from the one run {run} was trained on "
                        f"(fingerprint {data.fingerprint()} ≠ {result.data_fingerprint})")
    return OpenRun(Path(run), result, data)
