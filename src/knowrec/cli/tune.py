"""``knowrec tune``: hyper-parameter search with Optuna, on one machine or several sharing a storage."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from knowrec.cli._common import console, friendly_errors, table


@friendly_errors
def tune_cmd(
    out: Annotated[Path, typer.Option(help="Tune folder: the study, trials.csv, best.yaml, best/ (a run).")],
    dataset: Annotated[str | None, typer.Option(help="Built-in dataset name or folder.",
                                                show_default="ml-100k")] = None,
    model: Annotated[str | None, typer.Option(help="Model to tune (see `knowrec models`).",
                                              show_default="lightgcn")] = None,
    config: Annotated[Path | None, typer.Option(help="YAML/JSON/TOML file of settings.")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Fix a setting or model parameter: key=value.")] \
        = None,
    trials: Annotated[int, typer.Option(help="Trials in the whole study (all processes together).")] = 50,
    space: Annotated[list[str] | None, typer.Option(
        help="Search a parameter: name=float:LOW:HIGH[:log] | int:LOW:HIGH[:log] | choice:A,B (repeatable; "
             "replaces the model's own space for that name).")] = None,
    space_file: Annotated[Path | None, typer.Option(help="YAML mapping of parameter → spec, as --space.")] = None,
    storage: Annotated[str | None, typer.Option(
        help="Optuna storage URL shared by several processes or machines (default: OUT/study.db).")] = None,
    study: Annotated[str | None, typer.Option(help="Study name in the storage (default: OUT's name).")] = None,
    timeout: Annotated[float | None, typer.Option(help="Stop starting trials after this many seconds.")] = None,
    pruner: Annotated[str, typer.Option(help="median, halving (successive halving) or none.")] = "median",
    prune_after: Annotated[int, typer.Option(help="No trial is pruned before this many epochs.")] = 20,
    tracker: Annotated[str, typer.Option(help="tensorboard, mlflow or none: one tracked run per trial.")] = "none",
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI (default: local mlruns/).")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the split, the models and the sampler.",
                                             show_default="2020")] = None,
    quiet: Annotated[bool, typer.Option(help="No line per trial.")] = False,
) -> None:
    """Search a model's hyper-parameters for the best validation metric; the test part is scored once, for the
    best configuration, which is written as OUT/best.yaml (for `knowrec train --config`) and trained into OUT/best.
    """
    import yaml

    from knowrec.config import RunConfig
    from knowrec.errors import ConfigError
    from knowrec.params import parse_space
    from knowrec.train.tracking import make_tracker
    from knowrec.tune import best_trials, format_param, tune

    direct = {k: v for k, v in {"dataset": dataset, "model": model, "seed": seed}.items() if v is not None}
    cfg = RunConfig.resolve(file=config, settings=direct, overrides=set_ or [])
    dims = {}
    if space_file is not None:
        loaded = yaml.safe_load(space_file.read_text()) if space_file.is_file() else None
        if not isinstance(loaded, dict):
            raise ConfigError(f"--space-file {space_file} must hold a mapping of parameter → spec")
        dims |= parse_space(loaded)
    dims |= parse_space(space or [])

    def trial_tracker(number: int) -> object:
        return make_tracker(tracker, tracking_uri=tracking_uri, logdir=out / "tensorboard" / f"trial-{number}",
                            experiment=f"knowrec-tune-{study or out.name}")

    result = tune(cfg, out, trials=trials, space=dims, storage=storage, study_name=study, timeout=timeout,
                  pruner=pruner, prune_after=prune_after, tracker=None if tracker == "none" else trial_tracker,
                  show_progress=not quiet)
    metric = cfg.valid_metric
    names = list(result.best_params)
    console.print(table(f"Best trials of {result.study.study_name} ({cfg.model} on {cfg.dataset}, validation {metric})",
                        ["trial", f"valid {metric}", *names, "best epoch"],
                        ((t.number, t.value, *(format_param(t.params.get(n)) for n in names),
                          t.user_attrs.get("best_epoch")) for t in best_trials(result.study))))
    console.print(f"best: trial {result.best_number}, valid {metric} {result.best_value:.4f}; config in "
                  f"{out / 'best.yaml'}")
    if result.best_run is not None:
        test = result.best_run.test.metrics
        console.print(f"test part, scored once for the best configuration ({out / 'best'}): "
                      + " · ".join(f"{k} {test[k]:.4f}" for k in (metric, "recall@20") if k in test))
    else:
        console.print("the study has not got all its trials yet: the best configuration is not tested; run again "
                      "to go on")
