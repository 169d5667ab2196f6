"""LETTER/LC-Rec-style Amazon files: ``<Name>.inter.json`` (each user's items in time order) and
``<Name>.item.json`` (title, description, brand, category path per item).

They load through the same import as a user's own catalogue (``import_dataset``): the position in a user's
sequence stands for the time, title and description are text, brand and category levels become KG facts.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pandas as pd

from knowrec.data.dataset import Dataset
from knowrec.data.formats.registry import Format, add_format
from knowrec.data.formats.table import import_dataset
from knowrec.errors import DataError

#: A comma not followed by a space: category names such as "Tapes, Adhesives & Sealants" hold ", " themselves.
CATEGORY_SEP = r",(?! )"


def _files(folder: Path) -> tuple[Path, Path] | None:
    inter = sorted(folder.glob("*.inter.json"))
    if len(inter) != 1:
        return None
    item = inter[0].with_name(inter[0].name.replace(".inter.json", ".item.json"))
    return (inter[0], item) if item.is_file() else None


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"cannot read JSON: {e}", path=path) from None
    if not isinstance(value, dict):
        raise DataError("expected a JSON object keyed by id", path=path)
    return value


def load_letter(folder: str | Path, name: str | None = None) -> Dataset:
    """Read a folder of LETTER-style files (``import_dataset`` reports what it drops, with the file named)."""
    folder = Path(folder)
    found = _files(folder)
    if found is None:
        raise DataError("expected one <name>.inter.json and its <name>.item.json", path=folder)
    inter_path, item_path = found
    sequences = _read_json(inter_path)
    lengths = np.array([len(v) if isinstance(v, list) else 0 for v in sequences.values()])
    if (lengths == 0).any():
        bad = list(sequences)[int(np.flatnonzero(lengths == 0)[0])]
        raise DataError("a user's value must be a non-empty list of item ids", path=inter_path, field=bad)
    interactions = pd.DataFrame({
        "user_id": np.repeat(np.array(list(sequences), dtype=object), lengths),
        "item_id": [str(i) for seq in sequences.values() for i in seq],
        "position": np.concatenate([np.arange(n) for n in lengths]) if len(lengths) else [],
    })
    records = _read_json(item_path)
    fields = ("title", "description", "brand", "categories")
    items = pd.DataFrame([{"item_id": k, **{f: html.unescape(str((v or {}).get(f) or "")) for f in fields}}
                          for k, v in records.items()])
    data, _ = import_dataset(interactions, user_col="user_id", item_col="item_id", time_col="position",
                             name=name or inter_path.name.removesuffix(".inter.json"), items=items,
                             text_cols=("title", "description"), attr_cols=("brand", "categories"),
                             attr_pattern=CATEGORY_SEP)
    return data


add_format(Format("letter", "<name>.inter.json + <name>.item.json", lambda p: _files(p) is not None, load_letter))
