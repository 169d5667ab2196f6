"""RecBole atomic files: the real ml-100k, and every kind of malformed input named by file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowrec.data import load_recbole
from knowrec.errors import DataError

HEADER = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"


def write(folder: Path, name: str, text: str | bytes) -> Path:
    path = folder / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path




def _err(tmp_path: Path, inter: str | bytes, **files: str) -> DataError:
    write(tmp_path, "x.inter", inter)
    for suffix, text in files.items():
        write(tmp_path, f"x.{suffix}", text)
    with pytest.raises(DataError) as info:
        load_recbole(tmp_path, "x")
    return info.value


def test_missing_column(tmp_path: Path) -> None:
    e = _err(tmp_path, "user_id:token\trating:float\n1\t3\n")
    assert e.path.endswith("x.inter") and e.line == 1 and e.field == "item_id"


def test_duplicate_column(tmp_path: Path) -> None:
    e = _err(tmp_path, "user_id:token\titem_id:token\titem_id:token\n1\t2\t3\n")
    assert e.line == 1 and e.field.startswith("item_id") and "twice" in str(e)


def test_bad_header_type(tmp_path: Path) -> None:
    e = _err(tmp_path, "user_id:token\titem_id:tokn\n1\t2\n")
    assert e.line == 1 and e.field == "item_id:tokn"


def test_bad_number_names_line_and_field(tmp_path: Path) -> None:
    e = _err(tmp_path, HEADER + "1\t2\t4\t100\n1\t3\tfive\t101\n")
    assert (e.line, e.field) == (3, "rating") and "'five'" in str(e)
    assert str(e).startswith(str(tmp_path / "x.inter") + ":3")


def test_ragged_row(tmp_path: Path) -> None:
    e = _err(tmp_path, HEADER + "1\t2\t4\t100\n1\t3\t4\n")
    assert e.line == 3 and "expected 4 fields" in str(e)


def test_empty_file(tmp_path: Path) -> None:
    e = _err(tmp_path, "")
    assert "empty" in str(e) and e.path.endswith("x.inter")


def test_empty_id(tmp_path: Path) -> None:
    e = _err(tmp_path, HEADER + "1\t2\t4\t100\n\t3\t4\t5\n")
    assert (e.line, e.field) == (3, "user_id")


def test_bad_encoding(tmp_path: Path) -> None:
    e = _err(tmp_path, (HEADER + "1\t2\t4\t100\n1\tCaf").encode() + b"\xe9\t4\t101\n")
    assert e.line == 3 and "utf-8" in str(e) and "latin-1" in str(e)


def test_unknown_item_in_link(tmp_path: Path) -> None:
    e = _err(tmp_path, HEADER + "1\t2\t4\t100\n",
             kg="head_id:token\trelation_id:token\ttail_id:token\nm.1\tr\tm.2\n",
             link="item_id:token\tentity_id:token\n2\tm.1\n99\tm.2\n")
    assert e.path.endswith("x.link") and (e.line, e.field) == (3, "item_id") and "'99'" in str(e)


def test_duplicate_item_row(tmp_path: Path) -> None:
    e = _err(tmp_path, HEADER + "1\t2\t4\t100\n", item="item_id:token\ttitle:token_seq\n2\tA\n2\tB\n")
    assert e.path.endswith("x.item") and (e.line, e.field) == (3, "item_id")
