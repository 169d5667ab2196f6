"""Shared CLI helpers: the console, tables and turning knowrec errors into one readable line."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from knowrec.errors import KnowrecError

console = Console(soft_wrap=True)  # messages keep their lines (paths stay whole); tables still fit
err_console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(fn: F) -> F:
    """Print a ``KnowrecError`` as one red line and exit 1 (``KNOWREC_DEBUG=1`` shows the traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except KnowrecError as e:
            if os.environ.get("KNOWREC_DEBUG"):
                raise
            err_console.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    """A Rich table; long words fold onto the next line instead of being cut at narrow terminals."""
    t = Table(title=title, title_justify="left")
    for i, col in enumerate(columns):
        t.add_column(col, justify="left" if i == 0 else "right" if _numeric_col(col) else "left", overflow="fold")
    for row in rows:
        t.add_row(*(fmt(v) for v in row))
    return t


def _numeric_col(name: str) -> bool:
    return name.lower() not in {"model", "item_id", "title", "name", "description", "field", "value", "metric",
                                "source", "class", "requires", "dataset", "why", "reason", "example", "parameter",
                                "default", "valid values", "citation", "parameters", "tuned over"}


def p_value(p: float) -> str:
    """A p-value as people read them: 0.0312, and small ones as 2e-15 rather than 0.0000."""
    return f"{p:.4f}" if p >= 1e-3 else f"{p:.2g}"


def fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "" if value is None else escape(str(value))


def setup_logging(verbose: bool) -> None:
    from rich.logging import RichHandler

    handler = RichHandler(console=err_console, show_path=False)
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, handlers=[handler], format="%(message)s")
