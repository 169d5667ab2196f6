"""Explanations stage: why a fitted model recommends an item — knowledge-graph paths from the user's history,
or the closest history items, and the score split by source — for the CLI, the service and Python alike."""

from knowrec.explain.explainer import Explainer, Explanation, Reason

__all__ = ["Explainer", "Explanation", "Reason"]
