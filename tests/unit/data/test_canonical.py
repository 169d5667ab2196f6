"""Indices carry nothing from the interactions: loaded datasets number users and items by a hash of their ids."""

from __future__ import annotations

import numpy as np

from knowrec.data import Dataset


def test_canonical_order_ignores_first_appearance(tiny: Dataset) -> None:
    flipped = tiny.subset(np.arange(tiny.n_interactions)[::-1])
    rebuilt = Dataset.from_ids("tiny", flipped.user_ids[flipped.users], flipped.item_ids[flipped.items],
                               item_table=None)
    a, b = tiny.canonical(), rebuilt.canonical()
    assert list(a.item_ids) == list(b.item_ids) and list(a.user_ids) == list(b.user_ids)
    assert list(tiny.item_ids) != list(a.item_ids)  # first appearance was not the hash order


def test_canonical_is_idempotent_and_keeps_everything(tiny: Dataset) -> None:
    c = tiny.canonical()
    again = c.canonical()
    assert list(again.item_ids) == list(c.item_ids) and np.array_equal(again.items, c.items)
    pairs = set(zip(tiny.user_ids[tiny.users], tiny.item_ids[tiny.items], strict=True))
    assert pairs == set(zip(c.user_ids[c.users], c.item_ids[c.items], strict=True))
    # tables and KG links follow their items
    pos = {item: i for i, item in enumerate(c.item_ids)}
    for j, item in enumerate(tiny.item_ids):
        assert c.item_table.iloc[pos[item]]["title"] == tiny.item_table.iloc[j]["title"]
        assert c.kg.item_entities[pos[item]] == tiny.kg.item_entities[j]
