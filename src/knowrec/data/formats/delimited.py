"""Reading delimited text files (CSV, TSV, MovieLens `::`) with errors that name the file, line and field."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from knowrec.errors import DataError

#: Multi-character separators (MovieLens '::') are replaced by this before parsing.
_UNIT_SEP = "\x1f"


def read_text(path: str | Path, encoding: str = "utf-8") -> str:
    """Decode a whole file; an undecodable byte is reported with its line and a hint."""
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", path=path)
    raw = path.read_bytes()
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise DataError(
            f"byte 0x{raw[e.start]:02x} is not valid {encoding}; pass the file's encoding (e.g. encoding='latin-1')",
            path=path, line=line,
        ) from None
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    if not text.strip():
        raise DataError("file is empty", path=path)
    return text


def read_table(
    path: str | Path,
    *,
    sep: str | None = "\t",
    header: bool = True,
    names: Sequence[str] | None = None,
    encoding: str = "utf-8",
    quoted: bool = False,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Read a delimited file into string columns, checking every line has the same number of fields.

    Returns the frame and, per row, its 1-based line number in the file (blank lines are skipped).
    ``sep=None`` picks a tab when the first line has one, else a space.
    With ``header`` the first line names the columns; otherwise ``names`` does (or 0, 1, … positions).
    """
    path = Path(path)
    text = read_text(path, encoding)
    if sep is None:
        sep = "\t" if "\t" in text.split("\n", 1)[0] else " "
    if len(sep) > 1:
        text = text.replace(sep, _UNIT_SEP)
        sep = _UNIT_SEP
    lines = np.array(text.split("\n"), dtype=object)
    line_no = np.flatnonzero(pd.Series(lines).str.strip().str.len().to_numpy() > 0) + 1
    if not quoted:
        n_fields = pd.Series(lines[line_no - 1]).str.count(re.escape(sep)).to_numpy() + 1
        expected = len(names) if names is not None and not header else n_fields[0]
        bad = np.flatnonzero(n_fields != expected)
        if len(bad):
            i = bad[0]
            raise DataError(
                f"expected {expected} fields separated by {sep!r}, found {n_fields[i]}", path=path,
                line=int(line_no[i]),
            )
    try:
        frame = pd.read_csv(
            io.StringIO(text), sep=sep, header=None, dtype=str, keep_default_na=False, na_filter=False,
            quoting=csv.QUOTE_MINIMAL if quoted else csv.QUOTE_NONE, skip_blank_lines=True, engine="c",
        )
    except pd.errors.ParserError as e:
        m = re.search(r"line (\d+)", str(e))
        raise DataError(f"cannot parse: {e}", path=path, line=int(m.group(1)) if m else None) from None
    if len(frame) != len(line_no):  # quoted fields spanning lines: fall back to row order
        line_no = np.arange(1, len(frame) + 1)
    if header:
        columns = [str(c).strip() for c in frame.iloc[0]]
        frame = frame.iloc[1:].reset_index(drop=True)
        line_no = line_no[1:]
    else:
        columns = list(names) if names is not None else [str(i) for i in range(frame.shape[1])]
        if len(columns) != frame.shape[1]:
            raise DataError(f"expected {len(columns)} fields, found {frame.shape[1]}", path=path,
                            line=int(line_no[0]))
    dup = pd.Index(columns)[pd.Index(columns).duplicated()]
    if len(dup):
        raise DataError("column appears twice in the header", path=path, line=1, field=str(dup[0]))
    frame.columns = columns
    return frame, line_no


def require_columns(frame: pd.DataFrame, wanted: Sequence[str], path: str | Path, *, line: int = 1) -> None:
    """Raise ``DataError`` naming the first wanted column the file lacks."""
    for col in wanted:
        if col not in frame.columns:
            raise DataError(f"missing column (the file has: {', '.join(map(str, frame.columns))})",
                            path=path, line=line, field=col)


def to_numbers(values: pd.Series, path: str | Path, line_no: np.ndarray, field: str, *,
               integer: bool = False, allow_empty: bool = False) -> np.ndarray:
    """Parse a string column as numbers; the first bad value is reported with its line."""
    stripped = values.str.strip()
    nums = pd.to_numeric(stripped, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.isnan(nums) & ~((stripped == "").to_numpy() & allow_empty)
    if integer:
        bad |= ~np.isnan(nums) & (nums != np.floor(nums))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        kind = "an integer" if integer else "a number"
        raise DataError(f"expected {kind}, got {values.iloc[i]!r}", path=path, line=int(line_no[i]), field=field)
    return nums.astype(np.int64) if integer else nums


def require_values(values: pd.Series, path: str | Path, line_no: np.ndarray, field: str) -> np.ndarray:
    """Return the column as stripped strings, raising on the first empty value."""
    stripped = values.str.strip()
    empty = (stripped == "").to_numpy()
    if empty.any():
        i = int(np.flatnonzero(empty)[0])
        raise DataError("empty value", path=path, line=int(line_no[i]), field=field)
    return stripped.to_numpy(dtype=object)
