"""RippleNet/MCCLK format: ``ratings_final`` (user, item, label with sampled negatives) and ``kg_final.txt``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from knowrec.data.dataset import Dataset
from knowrec.data.formats.delimited import read_table, require_values
from knowrec.data.formats.kgat import kg_from_int_triples, read_int_columns
from knowrec.data.formats.registry import Format, add_format
from knowrec.errors import DataError


def read_ratings_final(path: str | Path) -> np.ndarray:
    """Read ``ratings_final.txt`` (tab-separated) or ``.npy`` into an (n, 3) int array of user, item, label."""
    path = Path(path)
    if path.suffix == ".npy":
        arr = np.load(path, allow_pickle=False)
        if arr.ndim != 2 or arr.shape[1] != 3:
            raise DataError(f"expected an (n, 3) array, got shape {arr.shape}", path=path)
        return arr.astype(np.int64)
    return read_int_columns(path, ("user", "item", "label"))


def load_ripplenet(directory: str | Path, name: str | None = None, *, item_index: str | Path | None = None) -> Dataset:
    """Load positives as interactions and keep the sampled negatives (label 0) for the CTR protocol.

    ``item_index`` (``item_index2entity_id_rehashed.txt``: ``original_id<TAB>index``) restores original item ids.
    """
    directory = Path(directory)
    ratings_path = next((p for p in (directory / "ratings_final.txt", directory / "ratings_final.npy") if p.is_file()),
                        directory / "ratings_final.txt")
    ratings = read_ratings_final(ratings_path)
    labels = ratings[:, 2]
    if not np.isin(labels, (0, 1)).all():
        bad = int(np.flatnonzero(~np.isin(labels, (0, 1)))[0])
        raise DataError(f"label must be 0 or 1, got {labels[bad]}", path=ratings_path, line=bad + 1, field="label")
    n_users = int(ratings[:, 0].max()) + 1
    n_items = int(ratings[:, 1].max()) + 1
    item_ids = np.arange(n_items).astype(str).astype(object)
    if item_index is not None:
        frame, line_no = read_table(item_index, sep="\t", header=False, names=["original", "index"])
        originals = require_values(frame["original"], item_index, line_no, "original")
        index = frame["index"].astype(int).to_numpy()
        n_items = max(n_items, int(index.max()) + 1)
        item_ids = np.arange(n_items).astype(str).astype(object)
        item_ids[index] = originals
    pos = labels == 1
    data = Dataset(
        name=name or directory.name,
        user_ids=np.arange(n_users).astype(str),
        item_ids=item_ids,
        users=ratings[pos, 0],
        items=ratings[pos, 1],
        negatives=ratings[~pos, :2],
    )
    kg_path = directory / "kg_final.txt"
    if kg_path.is_file():
        data.kg = kg_from_int_triples(read_int_columns(kg_path), n_items, kg_path)
    return data


add_format(Format("ripplenet", "ratings_final.txt",
                  lambda p: any((p / f"ratings_final{s}").is_file() for s in (".txt", ".npy")), load_ripplenet,
                  order=30))
