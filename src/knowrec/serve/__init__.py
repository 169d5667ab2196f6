"""Serving stage: vector retrieval, the live service (reads, live writes and their state file) and its HTTP
app (``knowrec serve``); ``open_service`` serves a run folder."""

from knowrec.serve.factory import open_service
from knowrec.serve.index import INDEXES, VectorIndex, build_index
from knowrec.serve.live import LiveItem, LiveState
from knowrec.serve.service import Recommendation, RecommenderService

__all__ = ["INDEXES", "LiveItem", "LiveState", "Recommendation", "RecommenderService", "VectorIndex", "build_index",
           "open_service"]
