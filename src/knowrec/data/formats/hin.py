"""The HIN-Datasets Yelp files (``user_business.dat``, ``business_category.dat``, ``business_city.dat``,
``user_compliment.dat``, ``user_user.dat``): tab-separated integer ids with no header.

They load through the same import as a user's own files (``import_dataset``): ratings as interactions,
categories and cities as the item KG, the friend list as the social graph; compliments become a user field.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from knowrec.data.dataset import Dataset
from knowrec.data.formats.delimited import read_table
from knowrec.data.formats.registry import Format, add_format
from knowrec.data.formats.table import import_dataset
from knowrec.errors import DataError

FILES = ("user_business.dat", "business_category.dat", "business_city.dat", "user_compliment.dat", "user_user.dat")


def _read(folder: Path, name: str, columns: tuple[str, str]) -> pd.DataFrame:
    frame, _ = read_table(folder / name, sep="\t", header=False)
    if frame.shape[1] < 2:
        raise DataError(f"expected at least two tab-separated columns, found {frame.shape[1]}",
                        path=folder / name, line=1)
    return frame.iloc[:, :2].set_axis(list(columns), axis=1).apply(lambda c: c.str.strip())


def _grouped(frame: pd.DataFrame, key: str, value: str) -> pd.Series:
    return frame.groupby(key, sort=False)[value].agg("|".join)


def load_hin_yelp(folder: str | Path, name: str = "yelp-hin") -> Dataset:
    """Read the Yelp files of HIN-Datasets (ids stay the files' integers; rows ``import_dataset`` drops are
    logged by it with the file named)."""
    folder = Path(folder)
    ratings, _ = read_table(folder / "user_business.dat", sep="\t", header=False)
    ratings = ratings.set_axis(["user_id", "item_id", "rating"][: ratings.shape[1]], axis=1)
    category = _read(folder, "business_category.dat", ("item_id", "category"))
    city = _read(folder, "business_city.dat", ("item_id", "city"))
    items = pd.concat([_grouped(category, "item_id", "category"), _grouped(city, "item_id", "city")], axis=1)
    items = items.fillna("").rename_axis("item_id").reset_index()
    friends = _read(folder, "user_user.dat", ("source", "target"))
    data, _ = import_dataset(ratings, user_col="user_id", item_col="item_id", weight_col="rating", name=name,
                             items=items, attr_cols=("category", "city"), attr_sep="|", social=friends,
                             social_cols=("source", "target"), social_header=True)
    compliments = _read(folder, "user_compliment.dat", ("user_id", "compliment"))
    per_user = compliments.groupby("user_id", sort=False)["compliment"].agg(list)
    table = pd.DataFrame({"compliments": per_user.reindex(data.user_ids.astype(str))}).reset_index(drop=True)
    data.user_table = table.assign(compliments=[v if isinstance(v, list) else [] for v in table["compliments"]])
    data.field_types["compliments"] = "token_seq"
    return data


add_format(Format("hin-yelp", ", ".join(FILES), lambda p: all((p / f).is_file() for f in FILES), load_hin_yelp))
