"""knowrec: knowledge-enhanced recommendation.

``knowrec.pipeline(...)`` runs an experiment end to end and returns a ``RunResult``; ``knowrec.load(path)``
reads a saved model. Both are imported on first use, so ``import knowrec`` stays cheap.
"""

from __future__ import annotations

from typing import Any

from knowrec._version import __version__ as __version__

__all__ = ["Dataset", "Recommender", "RunConfig", "RunResult", "load", "load_dataset", "pipeline"]

_LAZY = {
    "pipeline": ("knowrec.experiment", "pipeline"),
    "RunResult": ("knowrec.results", "RunResult"),
    "RunConfig": ("knowrec.config", "RunConfig"),
    "Recommender": ("knowrec.models", "Recommender"),
    "Dataset": ("knowrec.data", "Dataset"),
    "load_dataset": ("knowrec.data", "load_dataset"),
}


def load(path: str) -> Any:
    """Load a model saved with ``Recommender.save`` (the class is read from its ``params.json``)."""
    from knowrec.models import Recommender

    return Recommender.load(path)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'knowrec' has no attribute {name!r}")
