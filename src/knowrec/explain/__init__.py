"""Explanations stage: why a fitted model recommends an item — the most specific knowledge-graph paths from the
user's history, in words and with names, or the closest history items and what that closeness rests on, and the
score split by source — for the CLI, the service and Python alike."""

from knowrec.explain.explainer import Explainer, Explanation, Reason

__all__ = ["Explainer", "Explanation", "Reason"]
