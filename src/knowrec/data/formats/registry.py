"""The format registry: each dataset format declares how it recognises a folder and how it loads one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from knowrec.data.dataset import Dataset
from knowrec.registry import Registry


@dataclass(frozen=True)
class Format:
    """A dataset format: what its folders hold (for messages), how to tell one, how to load it. Formats are
    tried in ``order`` (lowest first), so a more specific one can come before a looser one."""

    name: str
    holds: str
    recognises: Callable[[Path], bool]
    load: Callable[[Path], Dataset]
    order: int = 50


FORMATS: Registry[Format] = Registry("dataset format")


def add_format(fmt: Format) -> Format:
    """Register ``fmt`` under its name (a format module calls this once, at import)."""
    return FORMATS.register(fmt.name)(fmt)
