"""Error types: each subclasses ``KnowrecError`` and the built-in a caller would expect."""

from __future__ import annotations

from pathlib import Path


class KnowrecError(Exception):
    """Base class of every error knowrec raises on purpose."""


class ConfigError(KnowrecError, ValueError):
    """A setting is unknown, misspelt or out of range."""


class DataError(KnowrecError, ValueError):
    """Input data is malformed; the message names the file, line and field where known."""

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = None if path is None else str(path)
        self.line = line
        self.field = field
        where = []
        if path is not None:
            where.append(str(path) if line is None else f"{path}:{line}")
        if field is not None:
            where.append(f"field '{field}'")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class DatasetNotFoundError(KnowrecError, FileNotFoundError):
    """A dataset is neither on disk nor downloadable; the message says what to set."""


class UnknownNameError(KnowrecError, LookupError):
    """A name (model, dataset, user, item, metric) is not known; the message lists close matches."""


class ConflictError(KnowrecError, ValueError):
    """Something with this name exists already (adding an item twice, say)."""


class NotFittedError(KnowrecError, ValueError, AttributeError):
    """A model was used before ``fit``."""


class ModelFitError(KnowrecError, RuntimeError):
    """Training diverged (NaN or infinite loss)."""


class NotSupportedError(KnowrecError, NotImplementedError):
    """The model or format does not offer this capability."""


def did_you_mean(name: str, choices: list[str] | tuple[str, ...] | set[str]) -> str:
    """Return a ' Did you mean ...?' hint listing close matches of ``name``, or the full choice list."""
    import difflib

    ordered = sorted(choices)
    close = difflib.get_close_matches(name, ordered, n=3, cutoff=0.5)
    if close:
        return " Did you mean " + " or ".join(repr(c) for c in close) + "?"
    shown = ", ".join(ordered[:20]) + (" …" if len(ordered) > 20 else "")
    return f" Known: {shown}."


class MissingInputError(KnowrecError, ValueError):
    """A model needs an input the dataset lacks (a knowledge graph, item text)."""


class MissingDependencyError(KnowrecError, ImportError):
    """An optional dependency is not installed; the message names what to install."""


class StateError(KnowrecError, RuntimeError):
    """A live state file is damaged, emptied or behind what it had acknowledged; the message names the way out."""
