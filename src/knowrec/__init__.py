"""knowrec: knowledge-enhanced recommendation."""

__version__ = "0.1.0"
