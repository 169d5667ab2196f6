"""The knowledge graph held by a dataset: triples over entities plus the item → entity links."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from knowrec.errors import DataError


@dataclass(eq=False)
class KnowledgeGraph:
    """Integer-coded triples (head, relation, tail) and each item's entity (-1 when unlinked).

    ``entity_ids`` and ``relation_ids`` map indices back to the original names (Freebase ids, ``genre:Comedy``…);
    ``entity_names`` holds labels for people where the data gives them ('' elsewhere; ``None``: none at all).
    """

    entity_ids: np.ndarray
    relation_ids: np.ndarray
    heads: np.ndarray
    relations: np.ndarray
    tails: np.ndarray
    item_entities: np.ndarray
    entity_names: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.entity_ids = np.asarray(self.entity_ids, dtype=object)
        if self.entity_names is not None:
            self.entity_names = np.asarray(self.entity_names, dtype=object)
        self.relation_ids = np.asarray(self.relation_ids, dtype=object)
        for name in ("heads", "relations", "tails", "item_entities"):
            setattr(self, name, np.asarray(getattr(self, name), dtype=np.int64))
        self.validate()

    @property
    def n_entities(self) -> int:
        return len(self.entity_ids)

    @property
    def n_relations(self) -> int:
        return len(self.relation_ids)

    @property
    def n_triples(self) -> int:
        return len(self.heads)

    @property
    def n_linked_items(self) -> int:
        return int((self.item_entities >= 0).sum())

    def validate(self) -> None:
        """Check that every index is in range; raises ``DataError`` naming the offending part."""
        if not (len(self.heads) == len(self.relations) == len(self.tails)):
            raise DataError("heads, relations and tails differ in length")
        for name, arr, bound in (
            ("head", self.heads, self.n_entities),
            ("tail", self.tails, self.n_entities),
            ("relation", self.relations, self.n_relations),
        ):
            if len(arr) and (arr.min() < 0 or arr.max() >= bound):
                raise DataError(f"{name} index out of range [0, {bound})", field=name)
        if len(self.item_entities) and self.item_entities.max() >= self.n_entities:
            raise DataError("item linked to an entity index out of range", field="entity_id")
        if self.entity_names is not None and len(self.entity_names) != self.n_entities:
            raise DataError("entity names differ in length from the entities", field="entity_names")

    def items_with_facts(self) -> np.ndarray:
        """Per item, whether its entity takes part in any fact (an item linked to a bare entity has none)."""
        used = np.zeros(self.n_entities, dtype=bool)
        used[self.heads] = True
        used[self.tails] = True
        return (self.item_entities >= 0) & used[np.maximum(self.item_entities, 0)]

    def relation_counts(self) -> dict[str, int]:
        counts = np.bincount(self.relations, minlength=self.n_relations)
        return {str(self.relation_ids[r]): int(c) for r, c in enumerate(counts)}

    def with_items(self, item_index: np.ndarray) -> KnowledgeGraph:
        """The same graph with items re-indexed: new item ``j`` is old item ``item_index[j]``."""
        return KnowledgeGraph(
            self.entity_ids, self.relation_ids, self.heads, self.relations, self.tails,
            self.item_entities[item_index], self.entity_names,
        )


def facts_from(kg: KnowledgeGraph, entities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every fact whose head is one of ``entities`` (repeats allowed): how many per entity, and the facts' indices
    grouped in the order of ``entities``."""
    order = np.argsort(kg.heads, kind="stable")
    lo = np.searchsorted(kg.heads[order], entities, side="left")
    counts = np.searchsorted(kg.heads[order], entities, side="right") - lo
    starts = np.repeat(lo - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    return counts, order[starts + np.arange(counts.sum())]


def encode_triples(
    heads: np.ndarray,
    relations: np.ndarray,
    tails: np.ndarray,
    linked_items: np.ndarray,
    linked_entities: np.ndarray,
    n_items: int,
) -> KnowledgeGraph:
    """Build a ``KnowledgeGraph`` from original-id triples and links (``linked_items`` are item indices)."""
    entity_codes, entity_ids = _factorize(np.concatenate([np.asarray(linked_entities, dtype=object),
                                                          np.asarray(heads, dtype=object),
                                                          np.asarray(tails, dtype=object)]))
    n_links, n_triples = len(linked_entities), len(heads)
    rel_codes, relation_ids = _factorize(np.asarray(relations, dtype=object))
    item_entities = np.full(n_items, -1, dtype=np.int64)
    item_entities[np.asarray(linked_items, dtype=np.int64)] = entity_codes[:n_links]
    return KnowledgeGraph(
        entity_ids=entity_ids,
        relation_ids=relation_ids,
        heads=entity_codes[n_links : n_links + n_triples],
        relations=rel_codes,
        tails=entity_codes[n_links + n_triples :],
        item_entities=item_entities,
    )


def field_facts(cells: Any, relation: str, heads: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(head, relation, "<relation>:<value>")`` for each value of a table column (``cells``: a Series of
    scalars or lists, indexed by row) — how a field's values become KG facts; ``heads[row]`` names each row."""
    import pandas as pd

    cells = cells.map(lambda v: v if isinstance(v, list) else ([] if pd.isna(v) else [v]))
    exploded = cells.explode().dropna()
    exploded = exploded[exploded.astype(str).str.len() > 0]
    idx = exploded.index.to_numpy(dtype=np.int64)
    return (heads[idx], np.full(len(idx), relation, dtype=object),
            (f"{relation}:" + exploded.astype(str)).to_numpy(dtype=object))


def _factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import pandas as pd

    codes, uniques = pd.factorize(pd.Series(values, dtype=object).astype(str), sort=False)
    return codes.astype(np.int64), np.asarray(uniques, dtype=object)
