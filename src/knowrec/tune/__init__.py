"""Tuning stage: hyper-parameter search on Optuna over each model's declared search space (``knowrec tune``)."""

from knowrec.tune.study import Pruner, TuneResult, best_trials, format_param, search_space, tune

__all__ = ["Pruner", "TuneResult", "best_trials", "format_param", "search_space", "tune"]
