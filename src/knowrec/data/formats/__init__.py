"""Dataset formats: knowrec's own saved form, RecBole atomic files, KGAT, RippleNet, LETTER-style Amazon files and
HIN-Datasets' Yelp
(each registered in ``FORMATS`` with how it recognises a folder), plain tables to import, and the delimited-text
reader they share."""

from __future__ import annotations

from pathlib import Path

from knowrec.data.dataset import Dataset
from knowrec.data.formats import hin, kgat, letter, recbole, ripplenet
from knowrec.data.formats.registry import FORMATS, Format, add_format
from knowrec.errors import DataError

add_format(Format("knowrec", "meta.json", lambda p: (p / "meta.json").is_file(), Dataset.load, order=0))


def detect(path: Path) -> Format:
    """The first registered format (by ``order``) that recognises the folder ``path``."""
    formats = sorted((f for _, f in FORMATS), key=lambda f: f.order)
    found = next((f for f in formats if f.recognises(path)), None)
    if found is None:
        expected = ", ".join(f"{f.holds} ({f.name})" for f in formats)
        raise DataError(f"not a dataset folder: expected {expected}", path=path)
    return found


def load_folder(path: str | Path) -> Dataset:
    """Load a dataset folder in whichever registered format it is."""
    path = Path(path)
    return detect(path).load(path)


__all__ = ["FORMATS", "Format", "add_format", "detect", "hin", "kgat", "letter", "load_folder", "recbole", "ripplenet"]
