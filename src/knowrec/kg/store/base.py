"""The graph-store interface: bulk load, neighbours, paths between items, live item additions, export.

Entities are nodes ``Entity(id, item)`` — ``item`` holds the item id an entity stands for ('' otherwise) —
and facts are edges ``Fact(relation, head)`` (``head`` keeps each edge's direction when paths are walked
either way). Every backend speaks the Cypher in ``knowrec.kg.store.cypher``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from knowrec.data.dataset import Dataset
from knowrec.data.triples import KnowledgeGraph
from knowrec.errors import ConfigError, DataError, UnknownNameError
from knowrec.kg.store import cypher

ITEM_PREFIX = "item:"
USER_PREFIX = "user:"
#: Relations of the social layer a store may hold beside the KG: who befriended whom, who interacted with what.
FRIEND, INTERACTED = "friend", "interacted"


@dataclass(frozen=True)
class KGPath:
    """A walk through the graph: ``nodes[0] -relations[0]- nodes[1] …``; ``forward[k]`` is True when the
    k-th fact points from ``nodes[k]`` to ``nodes[k+1]``."""

    nodes: tuple[str, ...]
    relations: tuple[str, ...]
    forward: tuple[bool, ...]
    names: tuple[str, ...] = ()

    @property
    def hops(self) -> int:
        return len(self.relations)

    def __str__(self) -> str:
        shown = self.names or self.nodes
        parts = [shown[0]]
        for rel, fwd, node in zip(self.relations, self.forward, shown[1:], strict=True):
            parts.append(f" -[{rel}]-> " if fwd else f" <-[{rel}]- ")
            parts.append(node)
        return "".join(parts)


def graph_frames(data: Dataset, *, social: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Entity rows (``id``, ``item``, ``name``) and fact rows (``from``, ``to``, ``relation``, ``head``).

    Items without a linked entity get one named ``item:<id>`` so that every item is a node; an item's
    entity is named by the item's title where the dataset has titles, other entities by the label the KG gives
    them (``KnowledgeGraph.entity_names``) or else their id. With
    ``social``, users join as ``user:<id>`` nodes with their ``friend`` links and ``interacted`` edges to items,
    so a path can run user → friend → item → category.
    """
    kg = data.kg
    if kg is None:
        raise DataError(f"dataset {data.name!r} has no knowledge graph to load")
    names = kg.entity_ids.astype(str)
    item_of = np.full(kg.n_entities, "", dtype=object)
    linked = np.flatnonzero(kg.item_entities >= 0)
    item_of[kg.item_entities[linked]] = data.item_ids[linked].astype(str)
    unlinked = np.flatnonzero(kg.item_entities < 0)
    titles = np.asarray(data.item_titles() or data.item_ids.astype(str), dtype=object)
    shown = names.astype(object).copy()
    if kg.entity_names is not None:  # labels the data gives (an --entity-names table, attribute values)
        named = kg.entity_names.astype(str) != ""
        shown[named] = kg.entity_names[named]
    shown[kg.item_entities[linked]] = titles[linked]
    entities = pd.DataFrame({
        "id": np.concatenate([names, ITEM_PREFIX + data.item_ids[unlinked].astype(str)]),
        "item": np.concatenate([item_of, data.item_ids[unlinked]]).astype(str),
        "name": np.concatenate([shown, titles[unlinked]]).astype(str),
    })
    heads = names[kg.heads]
    facts = pd.DataFrame({"from": heads, "to": names[kg.tails],
                          "relation": kg.relation_ids[kg.relations].astype(str), "head": heads})
    if social:
        item_nodes = np.where(kg.item_entities >= 0, names[np.maximum(kg.item_entities, 0)],
                              ITEM_PREFIX + data.item_ids.astype(str)).astype(object)
        users, links = _social_frames(data, item_nodes)
        entities, facts = pd.concat([entities, users], ignore_index=True), pd.concat([facts, links], ignore_index=True)
    return entities, facts


def _social_frames(data: Dataset, item_nodes: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """User nodes, their friendships and their interactions (once per pair), for ``graph_frames``."""
    if data.social is None:
        raise DataError(f"dataset {data.name!r} has no social graph to load")
    user_nodes = (USER_PREFIX + data.user_ids.astype(str)).astype(object)
    pairs = np.unique(data.users * data.n_items + data.items)
    u, i = pairs // data.n_items, pairs % data.n_items
    s = data.social
    frm = np.concatenate([user_nodes[s.src], user_nodes[u]])
    links = pd.DataFrame({"from": frm, "to": np.concatenate([user_nodes[s.dst], item_nodes[i]]),
                          "relation": np.repeat([FRIEND, INTERACTED], [s.n_links, len(u)]), "head": frm})
    users = pd.DataFrame({"id": user_nodes, "item": "", "name": user_nodes})
    return users.astype(str), links.astype(str)


class GraphStore(ABC):
    """A knowledge graph kept in a graph database. Use as a context manager or call ``close``.

    Backends implement ``_df`` (run Cypher, return a DataFrame), ``clear``, ``_bulk_load`` and ``close``;
    every query is the shared Cypher of ``knowrec.kg.store.cypher`` in the backend's ``dialect``.
    """

    backend: ClassVar[str] = ""
    dialect: ClassVar[cypher.Dialect]

    @abstractmethod
    def _df(self, query: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
        """Run one Cypher statement and return its rows."""

    @abstractmethod
    def clear(self) -> None:
        """Remove every node and edge."""

    @abstractmethod
    def _bulk_load(self, entities: pd.DataFrame, facts: pd.DataFrame) -> None: ...

    @abstractmethod
    def close(self) -> None:
        """Release the connection."""

    def __enter__(self) -> GraphStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writing ----------------------------------------------------------------------------------------
    def load(self, data: Dataset, *, social: bool = False) -> dict[str, int]:
        """Replace the store's content with ``data``'s KG (entities, facts, item links) — with ``social``, its
        users, friendships and interactions too; returns counts."""
        entities, facts = graph_frames(data, social=social)
        self.clear()
        self._bulk_load(entities, facts)
        return {"entities": len(entities), "facts": len(facts)}

    def add_item(self, item_id: str, facts: Sequence[tuple[str, str]], *, entity: str | None = None,
                 name: str | None = None) -> str:
        """Add (or extend) an item with ``(relation, entity)`` facts, creating unknown tail entities.

        The item keeps its entity if it has one; otherwise ``entity`` or ``item:<id>`` names it. Returns it.
        """
        head = self._item_entity(item_id) or entity or f"{ITEM_PREFIX}{item_id}"
        self._df(cypher.MERGE_ENTITY, {"id": head, "item": str(item_id), "name": name or str(item_id)})
        if facts:
            rows = [{"relation": str(r), "tail": str(t)} for r, t in facts]
            self._df(cypher.ADD_FACTS, {"head": head, "facts": rows})
        return head

    # --- reading ----------------------------------------------------------------------------------------
    def _item_entity(self, item_id: str) -> str | None:
        found = self._df(cypher.ITEM_ENTITY, {"item": str(item_id)})
        return None if found.empty else str(found.iloc[0, 0])

    def item_entity(self, item_id: str) -> str:
        """The entity standing for an item; raises ``UnknownNameError`` for an unknown item."""
        found = self._item_entity(item_id)
        if found is None:
            raise UnknownNameError(f"unknown item {item_id!r} in the graph store")
        return found

    def neighbors(self, entity: str, *, relation: str | None = None, limit: int = 100) -> pd.DataFrame:
        """Facts touching ``entity``: columns ``relation``, ``neighbor``, ``forward`` (the fact points away)."""
        params = {"id": str(entity), "limit": int(limit)} | ({} if relation is None else {"relation": relation})
        return self._df(cypher.neighbors(relation is not None), params)

    def paths(self, sources: Sequence[str], target: str, *, max_hops: int = 3, limit: int = 10) -> list[KGPath]:
        """Shortest paths of up to ``max_hops`` facts from any of the items ``sources`` to the item ``target``."""
        if not 1 <= max_hops <= 5:
            raise ConfigError(f"max_hops must be between 1 and 5, got {max_hops}")
        frame = self._df(self.dialect.paths(max_hops), {"sources": [str(s) for s in sources],
                                                        "target": str(target), "limit": int(limit)})
        if frame.empty:
            return []
        rows = frame[["nodes", "relations", "heads", "names"]].itertuples(index=False, name=None)
        return [KGPath(tuple(nodes), tuple(rels), tuple(h == n for h, n in zip(heads, nodes[:-1], strict=True)),
                       tuple(names)) for nodes, rels, heads, names in rows]

    def frames(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Every entity (``id``, ``item``, ``name``) and fact (``from``, ``to``, ``relation``) in the store."""
        return self._df(cypher.ALL_ENTITIES), self._df(cypher.ALL_FACTS)

    def export(self, item_ids: Sequence[str] | np.ndarray) -> KnowledgeGraph:
        """The whole graph as integer-coded triples, with items indexed as in ``item_ids``."""
        entities, facts = self.frames()
        index = pd.Index(entities["id"].astype(str))
        heads = index.get_indexer(facts["from"].astype(str))
        tails = index.get_indexer(facts["to"].astype(str))
        rel_codes, relation_ids = pd.factorize(facts["relation"].astype(str), sort=True)
        item_entities = np.full(len(item_ids), -1, dtype=np.int64)
        linked = entities[entities["item"] != ""]
        pos = pd.Index(np.asarray(item_ids).astype(str)).get_indexer(linked["item"].astype(str))
        item_entities[pos[pos >= 0]] = index.get_indexer(linked["id"].astype(str))[pos >= 0]
        return KnowledgeGraph(index.to_numpy(dtype=object), np.asarray(relation_ids, dtype=object),
                              heads, rel_codes, tails, item_entities)

    def stats(self) -> dict[str, Any]:
        """Counts of entities, items, facts and the largest relations."""
        entities, facts = self.frames()
        per_relation = facts["relation"].value_counts()
        return {"backend": self.backend, "entities": len(entities), "items": int((entities["item"] != "").sum()),
                "facts": len(facts), "relations": len(per_relation),
                "top_relations": per_relation.head(10).to_dict()}


