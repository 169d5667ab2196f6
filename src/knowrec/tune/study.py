"""Hyper-parameter search on Optuna: the model's declared search space (or one given), the validation metric as
the only objective, trials pruned on the validation curve, a study that resumes, and several processes — or
machines — on one shared Optuna storage working on one study. The test set is read once, by retraining the best
trial's configuration into ``OUT/best`` (the same seed gives the same model), and reported apart.

A tune folder holds ``tune.json`` (what is searched), ``study.db`` (the Optuna storage, unless ``storage`` names
another), ``trials.csv``, ``best.yaml`` (a config ``knowrec train --config`` takes) and ``best/`` (a run folder).
"""

from __future__ import annotations

import fcntl
import logging
import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import torch
import yaml

from knowrec._io import atomic_path, read_json, write_json
from knowrec.config import RunConfig
from knowrec.errors import ConfigError, MissingDependencyError, ModelFitError
from knowrec.experiment import build_model, pipeline, prepare, train
from knowrec.models import MODELS
from knowrec.params import Choice, Dimension, Float, Int
from knowrec.progress import say
from knowrec.train.callbacks import Callback
from knowrec.train.tracking import Tracker

logger = logging.getLogger(__name__)
TUNE_FILE, STUDY_FILE, TRIALS_FILE, BEST_CONFIG, BEST_RUN = "tune.json", "study.db", "trials.csv", "best.yaml", "best"
#: The study attribute that numbers the processes that have joined it (each seeds its sampler apart).
WORKERS = "workers"


class Pruner(StrEnum):
    """How unpromising trials are stopped on their validation curve."""

    MEDIAN = "median"
    HALVING = "halving"
    NONE = "none"


@dataclass
class TuneResult:
    """A finished search: the study, the best trial's number, value and parameters, and its run (test scored)."""

    study: Any
    best_number: int
    best_value: float
    best_params: dict[str, Any]
    best_run: Any = None
    trials: list[dict[str, Any]] = field(default_factory=list)


def _optuna() -> Any:
    try:
        import optuna
    except ImportError as exc:
        raise MissingDependencyError("knowrec tune needs optuna: pip install 'knowrec[tune]'") from exc
    return optuna


def search_space(model: str, space: Mapping[str, Dimension] | None = None) -> dict[str, Dimension]:
    """The model's declared space, updated by ``space`` (``{"lr": Float(…)}``); every name must be a parameter."""
    cls = MODELS.get(model)
    out = cls.param_space() | dict(space or {})
    unknown = sorted(set(out) - set(cls.param_names()))
    if unknown:
        raise ConfigError(f"model {model!r} has no parameter {unknown[0]!r} to search")
    if not out:
        raise ConfigError(f"model {model!r} declares no search space: give one (--space name=spec)")
    return out


def _suggest(trial: Any, name: str, dim: Dimension) -> Any:
    if isinstance(dim, Float):
        return trial.suggest_float(name, dim.low, dim.high, log=dim.log)
    if isinstance(dim, Int):
        return trial.suggest_int(name, dim.low, dim.high, log=dim.log)
    return trial.suggest_categorical(name, list(dim.values))


def _inside(value: Any, dim: Dimension) -> bool:
    if isinstance(dim, Choice):
        return value in dim.values
    return isinstance(value, int | float) and not isinstance(value, bool) and dim.low <= value <= dim.high


class _Report(Callback):
    """Reports each epoch's validation metric to the trial and stops the trial when the pruner says so."""

    def __init__(self, trial: Any, metric: str) -> None:
        self.trial, self.key = trial, f"valid_{metric}"

    def on_epoch_end(self, model: Any, epoch: int, logs: dict[str, float]) -> None:
        if self.key in logs:
            self.trial.report(logs[self.key], epoch)
            if self.trial.should_prune():
                raise _optuna().TrialPruned(f"pruned at epoch {epoch + 1} ({self.key} {logs[self.key]:.4f})")


def tune(config: RunConfig, out: str | Path, *, trials: int = 50, space: Mapping[str, Dimension] | None = None,
         storage: str | None = None, study_name: str | None = None, timeout: float | None = None,
         pruner: Pruner | str = Pruner.MEDIAN, prune_after: int = 20,
         tracker: Callable[[int], Tracker | None] | None = None, show_progress: bool = True) -> TuneResult:
    """Search ``config.model``'s parameters for the best ``config.valid_metric`` on the validation part.

    ``trials`` counts the whole study (every process on ``storage`` together); re-running with the same ``out``
    resumes it. The model's defaults are the first trial, so the best is never worse than them. No trial is pruned
    before ``prune_after`` epochs (a low learning rate starts slowly, not badly). ``tracker(n)``
    gives trial ``n`` its tracker. Returns when the study has its trials (or ``timeout`` seconds are up); the
    process that sees it complete retrains the best trial into ``out/best`` with the test part scored.
    """
    optuna = _optuna()
    out = Path(out)
    torch.set_num_threads(config.threads)
    dims = search_space(config.model, space)
    settings = {"config": config.model_dump(mode="json"), "space": {k: str(v) for k, v in dims.items()},
                "study": study_name or out.name, "storage": storage or f"sqlite:///{(out / STUDY_FILE).resolve()}"}
    _check_folder(out, settings)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = _open_study(settings["study"], settings["storage"], seed=config.seed,
                        pruner=_pruner(pruner, prune_after))
    defaults = {k: v for k, v in MODELS.get(config.model).param_defaults().items() if k in dims}
    fixed = {k: v for k, v in config.model_params.items() if k in dims}
    first = defaults | fixed  # what a plain `knowrec train` would use: the baseline every trial must beat
    if all(_inside(first[k], dims[k]) for k in first):
        study.enqueue_trial(first, skip_if_exists=True)
    prepared = prepare(config, show_progress=False)
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)

    def objective(trial: Any) -> float:
        params = {name: _suggest(trial, name, dim) for name, dim in dims.items()}
        trial_config = RunConfig.build(**config.model_dump() | {"model_params": config.model_params | params})
        model = build_model(trial_config)
        callbacks: list[Callback] = [_Report(trial, config.valid_metric)]
        run_tracker = tracker(trial.number) if tracker is not None else None
        if run_tracker is not None:
            run_tracker.start(f"{settings['study']}-trial-{trial.number}", trial_config.model_dump(mode="json"))
            callbacks.append(run_tracker)
        result = train(model, prepared, trial_config, show_progress=False, callbacks=callbacks)
        trial.set_user_attr("best_epoch", result.best_epoch)
        trial.set_user_attr("seconds", round(result.train_seconds, 2))
        if run_tracker is not None:
            run_tracker.finish({"valid": {config.valid_metric: result.best_score}})
        return float(result.best_score)

    def report(study: Any, trial: Any) -> None:
        shown = " ".join(f"{k}={format_param(v)}" for k, v in trial.params.items())
        value = "" if trial.value is None else f"{config.valid_metric} {trial.value:.4f}"
        try:
            best = f" · best {study.best_value:.4f} (trial {study.best_trial.number})"
        except ValueError:
            best = ""
        if show_progress:
            say(f"trial {trial.number} {trial.state.name.lower()} · {value} · {shown}{best}".replace(" ·  ·", " ·"))
        _write_trials(study, out / TRIALS_FILE)

    study.optimize(objective, timeout=timeout, catch=(ModelFitError,), gc_after_trial=True,
                   callbacks=[optuna.study.MaxTrialsCallback(trials, states=states), report],
                   n_trials=max(0, trials - _finished(study, states)))
    result = TuneResult(study, study.best_trial.number, float(study.best_value), dict(study.best_trial.params),
                        trials=_rows(study))
    _write_trials(study, out / TRIALS_FILE)
    best_config = RunConfig.build(**config.model_dump() | {"model_params": config.model_params | result.best_params})
    with atomic_path(out / BEST_CONFIG) as tmp:
        tmp.write_text(yaml.safe_dump(best_config.model_dump(mode="json"), sort_keys=False))
    if _finished(study, states) >= trials:
        result.best_run = _best_run(best_config, out, show_progress)
        if result.best_run is not None:
            valid = result.best_run.valid.metrics[config.valid_metric]
            if not math.isclose(valid, result.best_value, abs_tol=1e-6):
                logger.warning("the best trial scored %.6f on validation, its retrained run %.6f: training is not "
                               "deterministic here (a pruned or interrupted trial?)", result.best_value, valid)
    return result


def _best_run(config: RunConfig, out: Path, show_progress: bool) -> Any:
    """Retrain the best configuration into ``out/best`` with the test part scored, once (a lock keeps two
    finishing processes from training it side by side)."""
    from knowrec.results import RunResult

    with open(out / ".best.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        folder = out / BEST_RUN
        if (folder / RunResult.METRICS).is_file():
            done = RunResult.load(folder)
            if done.config == config:
                return done
        return pipeline(config, out=folder, overwrite=True, show_progress=show_progress)


def _finished(study: Any, states: tuple[Any, ...]) -> int:
    return len(study.get_trials(deepcopy=False, states=states))


def _open_study(name: str, url: str, *, seed: int, pruner: Any) -> Any:
    """Create the study, or join it: processes that start together must not create the storage's tables or the
    study twice — on SQLite a file lock beside the database serialises them (and their numbering), elsewhere the
    loser retries. The first process samples with ``seed``, the ``n``-th to join with a seed of its own;
    ``constant_liar`` keeps TPE off the points other processes are training."""
    optuna = _optuna()

    def create() -> Any:
        study = optuna.create_study(study_name=name, storage=_storage(url), direction="maximize",
                                    load_if_exists=True, pruner=pruner)
        # each process that joins is numbered and seeds its sampler apart: with one seed, processes started
        # together proposed the same configurations (TPE's random start-up trials above all), each trained twice
        joined = int(study.user_attrs.get(WORKERS, 0))
        study.set_user_attr(WORKERS, joined + 1)
        study.sampler = optuna.samplers.TPESampler(seed=seed + 1_000_003 * joined, constant_liar=True)
        return study

    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_name(path.name + ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            return create()
    for attempt in range(4):
        try:
            return create()
        except Exception:  # another process created the tables or the study meanwhile (SQLAlchemy's errors)
            time.sleep(1 + attempt)
    return create()


def _storage(url: str) -> Any:
    """An Optuna storage: SQLite waits for other processes' writes instead of failing, and every storage keeps a
    heartbeat so the trials of a killed process are failed and retried, not left running for ever."""
    optuna = _optuna()
    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else None
    with warnings.catch_warnings():  # the heartbeat is marked experimental in Optuna; it is what resume needs
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=2)
        return optuna.storages.RDBStorage(url, engine_kwargs=engine, heartbeat_interval=30, grace_period=120,
                                          heartbeat_stale_trial_callback=retry)


def _pruner(kind: Pruner | str, after: int) -> Any:
    """Median: stop a trial below the median of earlier trials at the same epoch; halving: successive halving
    with ``after`` epochs as the first rung."""
    optuna = _optuna()
    kind = Pruner(kind)
    if kind is Pruner.MEDIAN:
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=after)
    if kind is Pruner.HALVING:
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=max(1, after))
    return optuna.pruners.NopPruner()


def _check_folder(out: Path, settings: dict[str, Any]) -> None:
    """A tune folder searches one thing: re-running with other settings is an error, not a silent mix."""
    path = out / TUNE_FILE
    if path.is_file():
        previous = read_json(path)
        if previous != settings:
            changed = sorted(k for k in settings if previous.get(k) != settings[k])
            raise ConfigError(f"{out} holds a search with other settings ({', '.join(changed)} differ); use another "
                              "--out to search something else")
    else:
        out.mkdir(parents=True, exist_ok=True)
        write_json(path, settings)


def _rows(study: Any) -> list[dict[str, Any]]:
    return [{"number": t.number, "state": t.state.name.lower(), "value": t.value, **t.params,
             "best_epoch": t.user_attrs.get("best_epoch"), "seconds": t.user_attrs.get("seconds")}
            for t in study.get_trials(deepcopy=False)]


def _write_trials(study: Any, path: Path) -> None:
    import pandas as pd

    with atomic_path(path) as tmp:
        pd.DataFrame(_rows(study)).to_csv(tmp, index=False)


def format_param(value: Any) -> Any:
    """A searched value as people write it: 0.000357 and 5.2e-05, not 0.0004 and 0.0000."""
    return f"{value:.3g}" if isinstance(value, float) else value


def best_trials(study: Any, n: int = 5) -> Sequence[Any]:
    """The ``n`` best finished trials, best first."""
    optuna = _optuna()
    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))  # pruned: partial values
    return sorted(done, key=lambda t: -t.value)[:n]
