"""The one data model: users, items, interactions, item/user fields and an optional knowledge graph."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from knowrec._io import atomic_dir, read_json, write_json
from knowrec.data.social import FRIENDS, SocialGraph
from knowrec.data.triples import KnowledgeGraph
from knowrec.errors import DataError, UnknownNameError

logger = logging.getLogger(__name__)

#: Field types, after RecBole's: a categorical id, a list of them, a number, free text.
FIELD_TYPES = ("token", "token_seq", "float", "text")
#: Values of ``Dataset.parts`` for a split that comes with the data (KGAT, CoLaKG files).
TRAIN, VALID, TEST = 0, 1, 2
TITLE_FIELDS = ("title", "movie_title", "name", "book_title")


#: Under this share of items with KG facts, ``data info`` and ``train`` warn that the knowledge is thin.
LOW_KG_COVERAGE = 0.5


@dataclass(eq=False)
class Dataset:
    """Users and items (original id ↔ contiguous index), interactions, fields and a knowledge graph.

    ``users``/``items`` hold one index per interaction; ``user_ids[u]``/``item_ids[i]`` give the original ids.
    ``item_table``/``user_table`` have one row per index; ``field_types`` gives each column's kind.
    ``parts`` carries a split that ships with the data (0 train, 1 valid, 2 test); ``negatives`` holds
    sampled negative (user, item) pairs where the source provides them (RippleNet's CTR protocol). ``social``
    holds user–user links where the data has them; ``task`` is ``"friends"`` for a dataset whose items are its
    users (``knowrec.data.social.friend_dataset``), else ``"items"``.
    """

    name: str
    user_ids: np.ndarray
    item_ids: np.ndarray
    users: np.ndarray
    items: np.ndarray
    ratings: np.ndarray | None = None
    timestamps: np.ndarray | None = None
    item_table: pd.DataFrame | None = None
    user_table: pd.DataFrame | None = None
    kg: KnowledgeGraph | None = None
    parts: np.ndarray | None = None
    negatives: np.ndarray | None = None
    field_types: dict[str, str] = field(default_factory=dict)
    social: SocialGraph | None = None
    task: str = "items"

    def __post_init__(self) -> None:
        self.user_ids = np.asarray(self.user_ids, dtype=object)
        self.item_ids = np.asarray(self.item_ids, dtype=object)
        self.users = np.asarray(self.users, dtype=np.int64)
        self.items = np.asarray(self.items, dtype=np.int64)
        if len(self.users) != len(self.items):
            raise DataError("users and items differ in length")
        for name in ("ratings", "timestamps", "parts"):
            arr = getattr(self, name)
            if arr is not None and len(arr) != len(self.users):
                raise DataError(f"{name} has {len(arr)} entries for {len(self.users)} interactions")
        if len(self.users) and (self.users.max() >= self.n_users or self.items.max() >= self.n_items):
            raise DataError("interaction index out of range of the user/item id maps")
        for table, n in ((self.item_table, self.n_items), (self.user_table, self.n_users)):
            if table is not None and len(table) != n:
                raise DataError(f"field table has {len(table)} rows, expected {n}")
        if self.social is not None and self.social.n_links and max(self.social.src.max(),
                                                                    self.social.dst.max()) >= self.n_users:
            raise DataError("social link index out of range of the user id map")
        if self.task not in ("items", FRIENDS):
            raise DataError(f"task must be 'items' or {FRIENDS!r}, got {self.task!r}")

    # --- sizes -----------------------------------------------------------------------------------------
    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def n_interactions(self) -> int:
        return len(self.users)

    @property
    def density(self) -> float:
        return self.n_interactions / max(1, self.n_users * self.n_items)

    # --- construction ----------------------------------------------------------------------------------
    @classmethod
    def from_ids(
        cls,
        name: str,
        users: Sequence[Any] | np.ndarray,
        items: Sequence[Any] | np.ndarray,
        *,
        ratings: np.ndarray | None = None,
        timestamps: np.ndarray | None = None,
        item_table: pd.DataFrame | None = None,
        user_table: pd.DataFrame | None = None,
        parts: np.ndarray | None = None,
        field_types: dict[str, str] | None = None,
    ) -> Dataset:
        """Build a dataset from original ids; tables are indexed by original id and may list extra ids.

        Indices follow first appearance: interactions first, then table rows that have none (cold items).
        """
        user_ids, user_codes = _index(users, None if user_table is None else user_table.index)
        item_ids, item_codes = _index(items, None if item_table is None else item_table.index)
        return cls(
            name=name,
            user_ids=user_ids,
            item_ids=item_ids,
            users=user_codes,
            items=item_codes,
            ratings=None if ratings is None else np.asarray(ratings, dtype=np.float32),
            timestamps=None if timestamps is None else np.asarray(timestamps, dtype=np.float64),
            item_table=_align(item_table, item_ids),
            user_table=_align(user_table, user_ids),
            parts=None if parts is None else np.asarray(parts, dtype=np.int8),
            field_types=dict(field_types or {}),
        )

    def subset(self, index: np.ndarray) -> Dataset:
        """The same catalogue with only the interactions at ``index`` (an index array or boolean mask)."""
        return replace(
            self, users=self.users[index], items=self.items[index], ratings=_take(self.ratings, index),
            timestamps=_take(self.timestamps, index), parts=_take(self.parts, index),
        )

    def filter(self, *, min_rating: float | None = None, user_core: int = 0, item_core: int = 0) -> Dataset:
        """RecBole's filters: drop interactions rated below ``min_rating``, then apply k-cores.

        The k-core step repeats until every remaining user has ``user_core`` and every item ``item_core``
        interactions; users and items left with none are removed from the catalogue and re-indexed.
        """
        keep = np.ones(self.n_interactions, dtype=bool)
        if min_rating is not None:
            if self.ratings is None:
                raise DataError(f"dataset {self.name!r} has no ratings to threshold", field="rating")
            keep &= self.ratings >= min_rating
        if user_core <= 0 and item_core <= 0:
            return self.subset(keep)
        while True:
            u_cnt = np.bincount(self.users[keep], minlength=self.n_users)
            i_cnt = np.bincount(self.items[keep], minlength=self.n_items)
            bad = (u_cnt[self.users] < user_core) | (i_cnt[self.items] < item_core)
            if not (bad & keep).any():
                break
            keep &= ~bad
        return self.subset(keep).compact()

    def compact(self) -> Dataset:
        """Drop users and items with no interaction and re-index the rest (order preserved)."""
        return self.reindexed(np.unique(self.users), np.unique(self.items))

    def canonical(self) -> Dataset:
        """Users and items numbered in the order of a fixed hash of their ids, so that an index carries nothing
        from the interactions (numbering by first appearance tracks popularity and time). Idempotent."""
        return self.reindexed(_hash_order(self.user_ids), _hash_order(self.item_ids))

    def reindexed(self, user_order: np.ndarray, item_order: np.ndarray) -> Dataset:
        """Keep the users ``user_order`` and items ``item_order`` (old indices, in their new order); interactions
        and sampled negatives of anyone left out are dropped."""
        u_map = np.full(self.n_users, -1, dtype=np.int64)
        u_map[user_order] = np.arange(len(user_order))
        i_map = np.full(self.n_items, -1, dtype=np.int64)
        i_map[item_order] = np.arange(len(item_order))
        keep = (u_map[self.users] >= 0) & (i_map[self.items] >= 0)
        data = self if keep.all() else self.subset(keep)
        negatives = self.negatives
        if negatives is not None:
            ok = (u_map[negatives[:, 0]] >= 0) & (i_map[negatives[:, 1]] >= 0)
            negatives = np.stack([u_map[negatives[ok, 0]], i_map[negatives[ok, 1]]], axis=1)
        if self.task == FRIENDS and not np.array_equal(user_order, item_order):
            raise DataError("a friend task's items are its users: renumber both alike")
        return replace(
            data,
            user_ids=self.user_ids[user_order],
            item_ids=self.item_ids[item_order],
            users=u_map[data.users],
            items=i_map[data.items],
            item_table=None if self.item_table is None else self.item_table.iloc[item_order].reset_index(drop=True),
            user_table=None if self.user_table is None else self.user_table.iloc[user_order].reset_index(drop=True),
            kg=None if self.kg is None else self.kg.with_items(item_order),
            negatives=negatives,
            social=None if self.social is None else self.social.remapped(u_map),
        )

    # --- look-ups --------------------------------------------------------------------------------------
    def user_index(self, ids: Any) -> np.ndarray:
        """Indices of original user ids; raises ``UnknownNameError`` naming the first unknown id."""
        return _lookup(self.user_ids, ids, "user")

    def item_index(self, ids: Any) -> np.ndarray:
        """Indices of original item ids; raises ``UnknownNameError`` naming the first unknown id."""
        return _lookup(self.item_ids, ids, "item")

    def item_titles(self) -> list[str] | None:
        """A display title per item (title plus year where present), or ``None`` when there is none."""
        return None if self.item_table is None else titles_of(self.item_table)

    def matrix(self) -> sp.csr_matrix:
        """The binary user × item matrix of the interactions (duplicates merged)."""
        data = np.ones(self.n_interactions, dtype=np.float32)
        m = sp.csr_matrix((data, (self.users, self.items)), shape=(self.n_users, self.n_items))
        m.sum_duplicates()
        m.data[:] = 1.0
        return m

    # --- summaries -------------------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """Counts, density and KG coverage, as shown by ``knowrec data info``."""
        u_cnt = np.bincount(self.users, minlength=self.n_users)
        i_cnt = np.bincount(self.items, minlength=self.n_items)
        info: dict[str, Any] = {
            "name": self.name,
            "users": self.n_users,
            "items": self.n_items,
            "interactions": self.n_interactions,
            "density": round(self.density, 6),
            "interactions_per_user": f"{u_cnt.min()}–{u_cnt.max()} (mean {u_cnt.mean():.1f})" if len(u_cnt) else "–",
            "items_without_interactions": int((i_cnt == 0).sum()),
            "ratings": self.ratings is not None,
            "timestamps": self.timestamps is not None,
            "item_fields": ", ".join(self.item_table.columns) if self.item_table is not None else "",
            "user_fields": ", ".join(self.user_table.columns) if self.user_table is not None else "",
            "given_split": self.parts is not None,
            "sampled_negatives": 0 if self.negatives is None else len(self.negatives),
        }
        if self.social is not None:
            info.update(self.social.summary(self.n_users))
        if self.kg is not None:
            linked = self.kg.items_with_facts()
            info.update(
                kg_triples=self.kg.n_triples,
                kg_entities=self.kg.n_entities,
                kg_relations=self.kg.n_relations,
                kg_item_coverage=f"{linked.sum()}/{self.n_items} items with facts "
                                 f"({linked.sum() / max(self.n_items, 1):.1%})",
                kg_interaction_coverage=f"{linked[self.items].sum() / max(self.n_interactions, 1):.1%}",
            )
            if self.kg.entity_names is not None:
                info["kg_named_entities"] = int((self.kg.entity_names.astype(str) != "").sum())
        return info

    def kg_warning(self) -> str | None:
        """A sentence when the KG covers under ``LOW_KG_COVERAGE`` of the items: most explanations will then be
        similarity reasons, and knowledge can help the model little."""
        if self.kg is None:
            return None
        share = float(self.kg.items_with_facts().mean()) if self.n_items else 0.0
        if share >= LOW_KG_COVERAGE:
            return None
        return (f"only {share:.0%} of the items of {self.name!r} have KG facts: recommendations of the others are "
                "explained by similar items (co-occurrence, text), not by the graph, and the KG can help little")

    def fingerprint(self) -> str:
        """A SHA-256 over ids and interactions: two datasets with the same fingerprint split identically."""
        h = hashlib.sha256()
        for arr in (self.users, self.items, self.ratings, self.timestamps, self.parts):
            h.update(b"-" if arr is None else np.ascontiguousarray(arr).tobytes())
        h.update("\x1f".join(map(str, self.user_ids)).encode())
        h.update("\x1f".join(map(str, self.item_ids)).encode())
        return h.hexdigest()[:16]

    # --- persistence -----------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the dataset as Parquet + npz + ``meta.json`` into ``path``, atomically."""
        path = Path(path)
        with atomic_dir(path) as tmp:
            inter = {"user": self.users, "item": self.items}
            for name in ("ratings", "timestamps", "parts"):
                if getattr(self, name) is not None:
                    inter[name] = getattr(self, name)
            pd.DataFrame(inter).to_parquet(tmp / "interactions.parquet", index=False)
            _table_frame(self.user_ids, self.user_table).to_parquet(tmp / "users.parquet", index=False)
            _table_frame(self.item_ids, self.item_table).to_parquet(tmp / "items.parquet", index=False)
            arrays: dict[str, np.ndarray] = {}
            if self.negatives is not None:
                arrays["negatives"] = self.negatives
            if self.kg is not None:
                arrays.update(
                    heads=self.kg.heads, relations=self.kg.relations, tails=self.kg.tails,
                    item_entities=self.kg.item_entities,
                    entity_ids=self.kg.entity_ids.astype(str), relation_ids=self.kg.relation_ids.astype(str),
                )
                if self.kg.entity_names is not None:
                    arrays["entity_names"] = self.kg.entity_names.astype(str)
            if self.social is not None:
                arrays.update(social_src=self.social.src, social_dst=self.social.dst)
                if self.social.weights is not None:
                    arrays["social_weights"] = self.social.weights
            np.savez(tmp / "arrays.npz", **arrays)
            write_json(tmp / "meta.json", {
                "format": "knowrec-dataset/1", "name": self.name, "field_types": self.field_types,
                "task": self.task, "social_directed": None if self.social is None else self.social.directed,
                "fingerprint": self.fingerprint(), "users": self.n_users, "items": self.n_items,
                "interactions": self.n_interactions,
            })
        return path

    @classmethod
    def load(cls, path: str | Path) -> Dataset:
        """Read a dataset written by ``save``."""
        path = Path(path)
        meta = read_json(path / "meta.json")
        inter = pd.read_parquet(path / "interactions.parquet")
        users = pd.read_parquet(path / "users.parquet")
        items = pd.read_parquet(path / "items.parquet")
        with np.load(path / "arrays.npz", allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        kg = None
        if "heads" in arrays:
            kg = KnowledgeGraph(
                arrays["entity_ids"].astype(object), arrays["relation_ids"].astype(object),
                arrays["heads"], arrays["relations"], arrays["tails"], arrays["item_entities"],
                arrays["entity_names"].astype(object) if "entity_names" in arrays else None,
            )
        social = None
        if "social_src" in arrays:
            social = SocialGraph(arrays["social_src"], arrays["social_dst"], arrays.get("social_weights"),
                                 bool(meta.get("social_directed")))
        return cls(
            name=meta["name"],
            user_ids=users["id"].to_numpy(dtype=object),
            item_ids=items["id"].to_numpy(dtype=object),
            users=inter["user"].to_numpy(),
            items=inter["item"].to_numpy(),
            ratings=inter["ratings"].to_numpy() if "ratings" in inter else None,
            timestamps=inter["timestamps"].to_numpy() if "timestamps" in inter else None,
            parts=inter["parts"].to_numpy() if "parts" in inter else None,
            item_table=_untable(items),
            user_table=_untable(users),
            kg=kg,
            negatives=arrays.get("negatives"),
            field_types=meta["field_types"],
            social=social,
            task=meta.get("task", "items"),
        )


def as_text(value: Any) -> str:
    """Render a field value for display: lists joined by spaces, missing values as ''."""
    if isinstance(value, list | tuple | np.ndarray):
        return " ".join(map(str, value))
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value)


def _take(arr: np.ndarray | None, index: np.ndarray) -> np.ndarray | None:
    return None if arr is None else arr[index]


def _hash_order(ids: np.ndarray) -> np.ndarray:
    """Indices that sort ``ids`` by pandas' fixed-key SipHash of their text (stable for equal hashes)."""
    return np.argsort(pd.util.hash_array(ids.astype(str).astype(object)), kind="stable")


def _index(ids: Sequence[Any] | np.ndarray, extra: pd.Index | None) -> tuple[np.ndarray, np.ndarray]:
    values = pd.Series(np.asarray(ids, dtype=object)).astype(str)
    if extra is not None:
        values = pd.concat([values, pd.Series(extra.astype(str))], ignore_index=True)
    codes, uniques = pd.factorize(values, sort=False)
    return np.asarray(uniques, dtype=object), codes[: len(ids)].astype(np.int64)


def _align(table: pd.DataFrame | None, ids: np.ndarray) -> pd.DataFrame | None:
    if table is None:
        return None
    table = table.copy()
    table.index = table.index.astype(str)
    return table.reindex(pd.Index(ids.astype(str))).reset_index(drop=True)


def _lookup(known: np.ndarray, ids: Any, kind: str) -> np.ndarray:
    scalar = np.ndim(ids) == 0
    wanted = pd.Index(np.atleast_1d(np.asarray(ids, dtype=object)).astype(str))
    pos = pd.Index(known.astype(str)).get_indexer(wanted)
    if (pos < 0).any():
        bad = wanted[int(np.flatnonzero(pos < 0)[0])]
        raise UnknownNameError(f"unknown {kind} id {bad!r} ({len(known)} {kind}s known)")
    return pos[0] if scalar else pos.astype(np.int64)


def _table_frame(ids: np.ndarray, table: pd.DataFrame | None) -> pd.DataFrame:
    frame = pd.DataFrame({"id": ids.astype(str)})
    if table is not None:
        frame = pd.concat([frame, table.reset_index(drop=True)], axis=1)
    return frame


def _untable(frame: pd.DataFrame) -> pd.DataFrame | None:
    table = frame.drop(columns=["id"])
    for col in table.columns:
        if table[col].dtype == object:  # Parquet gives list fields back as arrays
            table[col] = [list(v) if isinstance(v, np.ndarray) else v for v in table[col]]
    return table if len(table.columns) else None


def titles_of(table: pd.DataFrame) -> list[str] | None:
    """A display title per row of an item table (title plus year where present); ``None`` without a title field."""
    col = next((c for c in TITLE_FIELDS if c in table.columns), None)
    if col is None:
        return None
    titles = [as_text(v) for v in table[col]]
    year = next((c for c in ("release_year", "year") if c in table.columns), None)
    if year is not None:
        titles = [f"{t} ({as_text(y)})" if as_text(y) and as_text(y) not in t else t
                  for t, y in zip(titles, table[year], strict=True)]
    return titles
