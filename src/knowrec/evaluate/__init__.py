"""Evaluate stage: full-ranking metrics, the evaluator and paired comparisons."""

from knowrec.evaluate.compare import Comparison, compare_per_user
from knowrec.evaluate.evaluator import DEFAULT_METRICS, EvalResult, Evaluator
from knowrec.evaluate.metrics import USER_METRICS

__all__ = ["DEFAULT_METRICS", "USER_METRICS", "Comparison", "EvalResult", "Evaluator", "compare_per_user"]
