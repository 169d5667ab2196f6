"""ml-1m as assembled here: CoLaKG's implicit split, GroupLens titles, genres and users, CoLaKG's
LLM-written descriptions and MKR's knowledge graph, each in its own sub-folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from knowrec.data.dataset import Dataset
from knowrec.data.formats.delimited import read_table, require_values
from knowrec.data.formats.kgat import read_adjacency
from knowrec.data.triples import encode_triples


def load_ml1m_kg(folder: Path) -> Dataset:
    """ml-1m from CoLaKG's implicit split, GroupLens titles/genres/users, LLM descriptions and MKR's KG."""
    folder = Path(folder)
    maps = {}
    for kind in ("user", "item"):
        path = folder / "colakg" / f"{kind}_map.txt"
        frame, lines = read_table(path, sep=" ", header=False, names=["original", "index"])
        maps[kind] = pd.Series(require_values(frame["original"], path, lines, "original"),
                               index=frame["index"].astype(int).to_numpy()).sort_index().to_numpy(dtype=object)
    tr_u, tr_i = read_adjacency(folder / "colakg" / "train.txt")
    te_u, te_i = read_adjacency(folder / "colakg" / "test.txt")
    users = maps["user"][np.concatenate([tr_u, te_u])]
    items = maps["item"][np.concatenate([tr_i, te_i])]
    parts = np.concatenate([np.zeros(len(tr_u)), np.full(len(te_u), 2)]).astype(np.int8)

    movies, _ = read_table(folder / "grouplens" / "movies.dat", sep="::", header=False,
                           names=["item_id", "title", "genres"], encoding="latin-1")
    year = movies["title"].str.extract(r"\((\d{4})\)\s*$")[0].fillna("")
    descriptions = json.loads((folder / "colakg" / "llm_response_item.json").read_text(encoding="utf-8"))
    table = pd.DataFrame({
        "title": movies["title"].str.replace(r"\s*\(\d{4}\)\s*$", "", regex=True).to_numpy(),
        "release_year": year.to_numpy(),
        "genres": [g.split("|") for g in movies["genres"]],
        "description": [descriptions.get(i, "") for i in movies["item_id"]],
    }, index=pd.Index(movies["item_id"].to_numpy(dtype=object)))
    table = table[table.index.isin(pd.Index(maps["item"]))]
    people, _ = read_table(folder / "grouplens" / "users.dat", sep="::", header=False,
                           names=["user_id", "gender", "age", "occupation", "zip_code"], encoding="latin-1")
    user_table = people.set_index("user_id")
    data = Dataset.from_ids(
        "ml-1m-kg", users, items, parts=parts, item_table=table, user_table=user_table,
        field_types={"title": "text", "release_year": "token", "genres": "token_seq", "description": "text",
                     "gender": "token", "age": "token", "occupation": "token", "zip_code": "token"},
    )
    kg, _ = read_table(folder / "mkr-movie" / "kg.txt", sep="\t", header=False, names=["h", "r", "t"])
    link, _ = read_table(folder / "mkr-movie" / "item_index2entity_id.txt", sep="\t", header=False,
                                  names=["item", "entity"])
    pos = pd.Index(data.item_ids.astype(str)).get_indexer(link["item"].str.strip())
    ok = pos >= 0  # MKR links movies outside CoLaKG's item set: they are not part of this dataset
    data.kg = encode_triples(kg["h"].to_numpy(object), kg["r"].to_numpy(object), kg["t"].to_numpy(object),
                             pos[ok], link["entity"].str.strip().to_numpy(object)[ok], data.n_items)
    return data
