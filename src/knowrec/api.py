"""``pipeline()``: load data, split, build the model, train with early stopping, evaluate, save."""

from __future__ import annotations

import contextlib
import inspect
import logging
import resource
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from knowrec._io import read_json, write_json
from knowrec.config import RunConfig
from knowrec.data.dataset import Dataset
from knowrec.data.hub import load_dataset
from knowrec.data.split import Split
from knowrec.data.split import split as make_split
from knowrec.errors import ConfigError, did_you_mean
from knowrec.evaluate.ctr import CTREvaluator
from knowrec.evaluate.evaluator import Evaluator
from knowrec.models.base import MODELS, Recommender
from knowrec.results import RunResult
from knowrec.train.callbacks import Checkpointer
from knowrec.train.trainer import Trainer

if TYPE_CHECKING:
    from knowrec.serve import RecommenderService

logger = logging.getLogger(__name__)


def build_model(config: RunConfig) -> Recommender:
    """The configured model; its ``seed`` follows the run's seed unless set explicitly."""
    cls = MODELS.get(config.model)
    params = dict(config.model_params)
    if "seed" in cls.param_names():
        params.setdefault("seed", config.seed)
    unknown = sorted(set(params) - set(cls.param_names()))
    if unknown:
        raise ConfigError(f"model {config.model!r} has no parameter {unknown[0]!r}."
                          + did_you_mean(unknown[0], cls.param_names()))
    model = cls(**_coerce(cls, params))
    model.check_params()
    return model


def _coerce(cls: type[Recommender], params: dict[str, Any]) -> dict[str, Any]:
    """Numbers that arrived as text (YAML reads ``1e-3`` as a string) become the type of the default."""
    defaults = {p.name: p.default for p in inspect.signature(cls.__init__).parameters.values()}
    out = dict(params)
    for key, value in params.items():
        default = defaults.get(key)
        if isinstance(value, str) and isinstance(default, (int, float)) and not isinstance(default, bool):
            with contextlib.suppress(ValueError):  # not a number: check_params names the range it misses
                out[key] = type(default)(float(value)) if isinstance(default, int) else float(value)
        elif isinstance(value, int) and isinstance(default, float) and not isinstance(value, bool):
            out[key] = float(value)
    return out


def pipeline(config: RunConfig | None = None, *, out: str | Path | None = None, show_progress: bool = True,
             resume: bool = True, overwrite: bool = False, **settings: Any) -> RunResult:
    """Run one experiment end to end and return its ``RunResult`` (saved into ``out`` when given).

    ``settings`` override fields of ``config`` (``pipeline(dataset="ml-100k", model="bpr", seed=7)``).
    An ``out`` folder holding an interrupted run of the same config is resumed from its checkpoint.
    """
    config = RunConfig.build(**{**(config or RunConfig()).model_dump(), **settings})
    if Path(config.dataset).is_dir():  # a folder: keep it absolute so the run can be reloaded from anywhere
        config = config.model_copy(update={"dataset": str(Path(config.dataset).resolve())})
    torch.set_num_threads(config.threads)
    model = build_model(config)  # every setting is checked before anything is read or written
    data = load_dataset(config.dataset, show_progress=show_progress)
    if config.min_rating is not None or config.user_core or config.item_core:
        data = data.filter(min_rating=config.min_rating, user_core=config.user_core, item_core=config.item_core)
    split = make_split(data, config.split, seed=config.seed, ratios=config.ratios, cold_share=config.cold_share)
    _check_split(split, config, data)
    evaluator = Evaluator(data, split, ks=config.ks)
    folder = None if out is None else Path(out)
    if folder is not None:
        _prepare_folder(folder, config, overwrite=overwrite, resume=resume)
    ctr = None if data.negatives is None else CTREvaluator(data, split)

    def validate(m: Recommender) -> dict[str, float]:
        valid = evaluator.evaluate(m, "valid", candidates=split.candidates("valid")).metrics
        return valid | ({} if ctr is None else ctr.validate(m))

    trainer = Trainer(
        validate=validate,
        metric=config.valid_metric, patience=config.patience, eval_every=config.eval_every,
        folder=folder, show_progress=show_progress,
    )
    trained = trainer.fit(model, split.train(data), resume=resume)
    shown = {"show_progress": show_progress}
    valid = evaluator.evaluate(model, "valid", candidates=split.candidates("valid"), **shown)
    test = evaluator.evaluate(model, "test", candidates=split.candidates("test"), **shown)
    # a cold-item split ranks the held-out items among themselves (CLCRec/Heater), and over all items too
    test_all = None if split.candidates("test") is None else evaluator.evaluate(model, "test", **shown).metrics
    if ctr is not None:  # the CTR protocol of RippleNet-style data: AUC and F1 as well
        scores = ctr.evaluate(model)
        valid.metrics.update(scores["valid"])
        test.metrics.update(scores["test"])
    result = RunResult(
        config=config, model=model, split=split, valid=valid, test=test,
        train=trained, peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        data_fingerprint=data.fingerprint(), data=data, test_all_items=test_all,
    )
    if folder is not None:
        result.save(folder)
        Checkpointer.discard(folder)
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


def service(run: str | Path, *, index: str = "exact", index_options: dict[str, Any] | None = None,
            state: str | Path | None = None, explain: bool = True, fresh: int = 2) -> RecommenderService:
    """A ``RecommenderService`` for the model of a finished run folder, over its dataset; live items and
    interactions go to ``state`` (``RUN/live.sqlite`` by default) and are replayed from it."""
    from knowrec.serve import Explainer, LiveState, RecommenderService
    from knowrec.serve.live import run_state

    path, marks = run_state(run, state)
    live = LiveState(path, marks=marks)  # checked first: a damaged state stops the start at once
    result = RunResult.load(run)
    data = load_dataset(result.config.dataset, show_progress=False)
    explainer = Explainer(result.model, data) if explain else None
    return RecommenderService(result.model, data, index=index, index_options=index_options, state=live,
                              explainer=explainer, fresh=fresh)
