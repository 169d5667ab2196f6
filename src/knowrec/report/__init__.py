"""Reporting stage: runs and tune folders on one self-contained HTML page (``knowrec report``)."""

from knowrec.report.html import build_report

__all__ = ["build_report"]
