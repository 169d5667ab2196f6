"""Serving a finished run folder: its model over its dataset, with explanations and its live state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from knowrec.experiment import open_run
from knowrec.explain import Explainer
from knowrec.serve.live import LiveState, run_state
from knowrec.serve.service import RecommenderService


def open_service(run: str | Path, *, index: str = "exact", index_options: dict[str, Any] | None = None,
                 state: str | Path | None = None, explain: bool = True, fresh: int = 2,
                 social_weight: float = 0.0, device: str = "auto") -> RecommenderService:
    """A ``RecommenderService`` for the model of a finished run folder, over its dataset; live items,
    interactions and friendships go to ``state`` (``RUN/live.sqlite`` by default) and are replayed from it; new
    text is encoded on ``device``."""
    path, marks = run_state(run, state)
    live = LiveState(path, marks=marks)  # checked first: a damaged state stops the start at once
    opened = open_run(run)
    explainer = Explainer(opened.model, opened.data) if explain else None
    return RecommenderService(opened.model, opened.data, index=index, index_options=index_options, state=live,
                              explainer=explainer, fresh=fresh, social_weight=social_weight, device=device)
