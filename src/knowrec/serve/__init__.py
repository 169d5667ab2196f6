"""Serving stage: explanations of recommendations (the HTTP service will live here too)."""

from knowrec.serve.explain import Explainer, Explanation, Reason

__all__ = ["Explainer", "Explanation", "Reason"]
