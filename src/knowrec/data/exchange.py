"""A split exported for other libraries, and read back to score what they produce with knowrec's metrics.

The folder holds ``split.json`` (the dataset, its fingerprint, the split's settings), ``split.npz`` (the labels),
``users.tsv``/``items.tsv`` (index → original id: the row and column order of a score matrix),
``train.tsv``/``valid.tsv``/``test.tsv`` (``user``, ``item`` indices and original ids), ``item_features.tsv``
(each item's KG facts, ``item``→``feature``, the knowledge a peer such as LightFM may use) and, for a cold-item
split, ``cold_valid.txt``/``cold_test.txt`` (the candidate items).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from knowrec._io import atomic_path, read_json, write_json
from knowrec.data.builtin import load_dataset
from knowrec.data.dataset import Dataset
from knowrec.data.split import Split
from knowrec.errors import DataError

MANIFEST = "split.json"
FORMAT = "knowrec-split/1"


def export_split(data: Dataset, split: Split, out: str | Path, *, dataset: str) -> list[Path]:
    """Write ``split`` of ``data`` (loaded as ``dataset``: a built-in name or a folder) into the folder ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []

    def tsv(name: str, frame: pd.DataFrame) -> None:
        with atomic_path(out / name) as tmp:
            frame.to_csv(tmp, sep="\t", index=False)
        written.append(out / name)

    tsv("users.tsv", pd.DataFrame({"user": np.arange(data.n_users), "user_id": data.user_ids}))
    tsv("items.tsv", pd.DataFrame({"item": np.arange(data.n_items), "item_id": data.item_ids}))
    for code, part in enumerate(("train", "valid", "test")):
        rows = split.parts == code
        tsv(f"{part}.tsv", pd.DataFrame({"user": data.users[rows], "item": data.items[rows],
                                         "user_id": data.user_ids[data.users[rows]],
                                         "item_id": data.item_ids[data.items[rows]]}))
    if data.kg is not None:
        kg = data.kg
        entity_item = np.full(kg.n_entities, -1, dtype=np.int64)
        linked = np.flatnonzero(kg.item_entities >= 0)
        entity_item[kg.item_entities[linked]] = linked
        item = entity_item[kg.heads]
        keep = item >= 0
        feature = kg.relation_ids[kg.relations[keep]].astype(str) + "=" + kg.entity_ids[kg.tails[keep]].astype(str)
        tsv("item_features.tsv", pd.DataFrame({"item": item[keep], "feature": feature}).drop_duplicates())
    for name in ("cold_valid", "cold_test"):
        cold = getattr(split, name)
        if cold is not None:
            with atomic_path(out / f"{name}.txt") as tmp:
                np.savetxt(tmp, cold, fmt="%d")
            written.append(out / f"{name}.txt")
    split.save(out / "split.npz")
    written.append(out / "split.npz")
    write_json(out / MANIFEST, {"format": FORMAT, "dataset": dataset, "name": data.name,
                                "fingerprint": data.fingerprint(), "kind": str(split.kind), "seed": split.seed,
                                "params": split.params, "users": data.n_users, "items": data.n_items,
                                "counts": split.counts()})
    written.append(out / MANIFEST)
    return written


def open_split(folder: str | Path) -> tuple[Dataset, Split, dict[str, Any]]:
    """The dataset and split of an exported folder, checking that the dataset is still the one exported."""
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        raise DataError(f"not an exported split (no {MANIFEST}); write one with `knowrec data split … --format "
                        f"knowrec`", path=folder)
    manifest = read_json(path)
    if manifest.get("format") != FORMAT:
        raise DataError(f"unknown split format {manifest.get('format')!r} (expected {FORMAT})", path=path)
    data = load_dataset(manifest["dataset"], show_progress=False)
    if data.fingerprint() != manifest["fingerprint"]:
        raise DataError(f"dataset {manifest['dataset']!r} is no longer the one this split was exported from "
                        f"(fingerprint {data.fingerprint()} ≠ {manifest['fingerprint']})", path=path)
    return data, Split.load(folder / "split.npz"), manifest
