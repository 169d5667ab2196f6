"""LETTER-style Amazon files load through the import path: time order, text fields, brand and category facts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowrec.data import load_dataset
from knowrec.errors import DataError
from knowrec.text import item_texts


def write(folder: Path, inter: object, items: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Shop.inter.json").write_text(json.dumps(inter))
    (folder / "Shop.item.json").write_text(json.dumps(items))
    return folder


def test_categories_split_on_a_comma_without_space(tmp_path: Path) -> None:
    items = {
        "0": {"title": "Tape.", "description": "Strong &amp; thin.", "brand": "3M",
              "categories": "Industrial & Scientific,Tapes, Adhesives & Sealants,Tapes"},
        "1": {"title": "Glue", "description": "", "brand": "Acme, Inc.", "categories": "Industrial & Scientific"},
        "2": {"title": "Pen", "description": "..", "brand": "", "categories": ""},
    }
    data = load_dataset(write(tmp_path / "shop", {"7": [0, 1], "8": [2, 0, 1]}, items))
    assert data.n_users == 2 and data.n_items == 3 and data.n_interactions == 5
    cats = data.item_table["categories"][data.item_index("0")]
    assert cats == ["Industrial & Scientific", "Tapes, Adhesives & Sealants", "Tapes"]
    assert data.item_table["brand"][data.item_index("1")] == ["Acme, Inc."]
    # the position in a user's sequence is the time: user 8 bought item 2 first
    u8 = data.user_index("8")
    order = data.item_ids[data.items[data.users == u8][data.timestamps[data.users == u8].argsort()]]
    assert list(order) == ["2", "0", "1"]
    assert set(data.kg.relation_ids) == {"brand", "categories"}
    text = item_texts(data)[data.item_index("0")]
    assert text.startswith("Tape. Brand: 3M. Categories: Industrial & Scientific, Tapes, Adhesives & Sealants")
    assert "Strong & thin." in text and "categories:" not in text  # facts an item field states are not repeated
    assert "Description" not in item_texts(data)[data.item_index("2")]


def test_bad_files_are_named(tmp_path: Path) -> None:
    folder = write(tmp_path / "bad", {"7": []}, {"0": {"title": "x"}})
    with pytest.raises(DataError, match=r"Shop\.inter\.json"):
        load_dataset(folder)
    (folder / "Shop.inter.json").write_text("{not json")
    with pytest.raises(DataError, match="cannot read JSON"):
        load_dataset(folder)
