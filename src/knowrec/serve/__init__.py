"""Serving stage: explanations, vector retrieval, the live service and its HTTP app (``knowrec serve``)."""

from knowrec.serve.explain import Explainer, Explanation, Reason
from knowrec.serve.index import INDEXES, VectorIndex, build_index
from knowrec.serve.live import LiveItem, LiveState
from knowrec.serve.service import Recommendation, RecommenderService

__all__ = ["INDEXES", "Explainer", "Explanation", "LiveItem", "LiveState", "Reason", "Recommendation",
           "RecommenderService", "VectorIndex", "build_index"]
