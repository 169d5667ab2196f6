"""The Dataset model: save/load, filters, look-ups."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from knowrec.data import Dataset
from knowrec.errors import UnknownNameError


def test_save_load_round_trip(tiny: Dataset, tmp_path: Path) -> None:
    tiny.save(tmp_path / "d")
    back = Dataset.load(tmp_path / "d")
    assert back.fingerprint() == tiny.fingerprint()
    assert back.item_table.loc[0, "genres"] == tiny.item_table.loc[0, "genres"]
    assert back.kg.n_triples == tiny.kg.n_triples
    assert (back.kg.entity_ids == tiny.kg.entity_ids).all()
    assert back.field_types == tiny.field_types
    assert not list(tmp_path.glob(".*tmp"))  # no temporary left behind


def test_filters() -> None:
    users = ["a"] * 3 + ["b"] * 2 + ["c"]
    items = ["x", "y", "z", "x", "y", "x"]
    d = Dataset.from_ids("f", users, items, ratings=np.array([5, 4, 1, 5, 2, 3.0]))
    assert d.filter(min_rating=3).n_interactions == 4
    core = d.filter(user_core=2, item_core=2)
    assert set(core.user_ids) == {"a", "b"} and set(core.item_ids) == {"x", "y"}
    assert core.n_interactions == 4


def test_lookup(tiny: Dataset) -> None:
    assert tiny.user_index("u3") == 3
    assert list(tiny.item_index(["i0", "i1"])) == [tiny.item_index("i0"), tiny.item_index("i1")]
    with pytest.raises(UnknownNameError, match="'nobody'"):
        tiny.user_index("nobody")


def test_summary(tiny: Dataset) -> None:
    info = tiny.summary()
    assert info["users"] == 50 and info["items"] == 40 and "kg_item_coverage" in info
