"""KGAT/LightGCN format: ``train.txt``/``test.txt`` adjacency lists and ``kg_final.txt`` triples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from knowrec.data.dataset import TEST, TRAIN, Dataset
from knowrec.data.formats.delimited import read_table, read_text, to_numbers
from knowrec.data.formats.registry import Format, add_format
from knowrec.data.triples import KnowledgeGraph
from knowrec.errors import DataError


def read_adjacency(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read lines ``user item item …`` into flat (user, item) integer arrays (a user with no item is skipped)."""
    text = read_text(path)
    rows = [line.split() for line in text.split("\n")]
    lens = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
    flat = pd.Series([tok for r in rows for tok in r], dtype=object)
    nums = pd.to_numeric(flat, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.isnan(nums) | (nums < 0) | (nums != np.floor(nums))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        line = int(np.searchsorted(np.cumsum(lens), k, side="right")) + 1
        field = "user" if k == int(np.cumsum(lens)[line - 1] - lens[line - 1]) else "item"
        raise DataError(f"expected a non-negative integer id, got {flat.iloc[k]!r}", path=path, line=line, field=field)
    nums = nums.astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    has = lens > 0
    users = np.repeat(nums[starts[has]], lens[has] - 1)
    is_item = np.ones(len(nums), dtype=bool)
    is_item[starts[has]] = False
    return users, nums[is_item]


def read_int_columns(path: str | Path, names: tuple[str, ...] = ("head", "relation", "tail")) -> np.ndarray:
    """Read whitespace- or tab-separated integer columns (``head relation tail`` by default) as an (n, k) array."""
    frame, line_no = read_table(path, sep=None, header=False, names=names)
    return np.stack([to_numbers(frame[c], path, line_no, c, integer=True) for c in names], axis=1)


def kg_from_int_triples(triples: np.ndarray, n_items: int, path: str | Path) -> KnowledgeGraph:
    """A KG whose entities ``0..n_items-1`` are the items themselves (the KGAT/RippleNet convention)."""
    n_entities = int(max(triples[:, [0, 2]].max() + 1, n_items)) if len(triples) else n_items
    n_relations = int(triples[:, 1].max() + 1) if len(triples) else 0
    if len(triples) and triples.min() < 0:
        raise DataError("negative id in triples", path=path)
    return KnowledgeGraph(
        entity_ids=np.arange(n_entities).astype(str),
        relation_ids=np.arange(n_relations).astype(str),
        heads=triples[:, 0], relations=triples[:, 1], tails=triples[:, 2],
        item_entities=np.arange(n_items),
    )


def load_kgat(directory: str | Path, name: str | None = None) -> Dataset:
    """Load ``train.txt`` + ``test.txt`` (the split is kept as ``Dataset.parts``) and ``kg_final.txt`` if present."""
    directory = Path(directory)
    tr_u, tr_i = read_adjacency(directory / "train.txt")
    te_u, te_i = read_adjacency(directory / "test.txt")
    users = np.concatenate([tr_u, te_u])
    items = np.concatenate([tr_i, te_i])
    parts = np.concatenate([np.full(len(tr_u), TRAIN), np.full(len(te_u), TEST)]).astype(np.int8)
    n_users, n_items = int(users.max()) + 1, int(items.max()) + 1
    item_list = directory / "item_list.txt"
    if item_list.is_file():  # lists every item, including those never interacted with
        n_items = max(n_items, len(read_text(item_list).strip().split("\n")) - 1)
    data = Dataset(name=name or directory.name, user_ids=np.arange(n_users).astype(str),
                   item_ids=np.arange(n_items).astype(str), users=users, items=items, parts=parts)
    kg_path = directory / "kg_final.txt"
    if kg_path.is_file():
        data.kg = kg_from_int_triples(read_int_columns(kg_path), n_items, kg_path)
    return data


add_format(Format("kgat", "train.txt + test.txt", lambda p: (p / "train.txt").is_file() and (p / "test.txt").is_file(),
                  load_kgat, order=20))
