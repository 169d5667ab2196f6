"""Knowledge-graph paths between items in memory, weighed by how specific they are, at serving latency.

A Cypher path query costs ~10–20 ms in the embedded store (parsing and planning included); explaining ten
recommendations that way takes ~200 ms. ``PathFinder`` holds the store's graph as a sparse adjacency matrix and
weighs every path of up to 3 facts from a history item to the target: a path is as specific as its busiest
intermediate entity, ``log(items / items linked to it)`` — a shared director says more than a shared language —
and a third fact costs a discount. Paths through relations of another domain than the target's (a film
relation reached through a person who also acts, on a music catalogue) are left out. 1- and 2-fact paths are
found for every source in one sparse slice; 3-fact ones only for the first few sources that have no better one.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from knowrec.errors import ConfigError
from knowrec.kg.store.base import ITEM_PREFIX, KGPath

#: A 3-fact path weighs this share of its busiest entity's specificity: a longer chain is a weaker reason.
HOP_DISCOUNT = 0.7
#: An entity linked to more than this share of the items is a hub: a reason through it is labelled weak.
HUB_SHARE = 0.10


@dataclass(frozen=True)
class WeightedPath:
    """A path's entity ids (``nodes``) with its ``weight`` (specificity in nats), the share of items linked to its
    busiest intermediate entity (``hub_share``; 0 for a direct fact), its ``key`` entity (the one next to the
    target) and how many of the searched sources reach the target through that key (``shared``, the source
    itself included). ``path`` (relations, directions, names) is built when asked for: most candidates of an
    explanation are never shown."""

    nodes: tuple[str, ...]
    weight: float
    hub_share: float
    key: str
    shared: int = 1
    make: Callable[[], KGPath] | None = field(default=None, compare=False, repr=False)

    @property
    def path(self) -> KGPath:
        return self.make()

    @property
    def weak(self) -> bool:
        return self.hub_share > HUB_SHARE


class PathFinder:
    """Item-to-item paths over an in-memory copy of a graph (``GraphStore.frames()`` or ``graph_frames(data)``);
    ``with_items`` gives a copy that mirrors a store that gained items while serving.

    A finder is never changed after it is built, so a service can build the next one beside requests that
    still read the current one and swap them in a single assignment.
    """

    def __init__(self, entities: pd.DataFrame, facts: pd.DataFrame) -> None:
        ids = entities["id"].astype(str).tolist()
        node = {e: i for i, e in enumerate(ids)}
        index = pd.Index(ids)
        self._set(ids, entities["name"].astype(str).tolist(), node,
                  {item: node[e] for e, item in zip(ids, entities["item"].astype(str), strict=True) if item},
                  index.get_indexer(facts["from"].astype(str)).astype(np.int64),
                  index.get_indexer(facts["to"].astype(str)).astype(np.int64), facts["relation"].astype(str).tolist())

    def _set(self, ids: list[str], names: list[str], node: dict[str, int], item_node: dict[str, int],
             heads: np.ndarray, tails: np.ndarray, relations: list[str]) -> None:
        """Hold the graph and build its symmetric adjacency; each entry holds 1 + the index of one fact joining
        the pair — one whose head is an item where there is one, so relations read from the item's side."""
        self._ids, self._names, self._node, self._item_node = ids, names, node, item_node
        self._heads, self._tails, self._relations = heads, tails, relations
        n = len(ids)
        is_item = np.zeros(n, dtype=bool)
        is_item[list(item_node.values())] = True
        # Ties between equally specific entities are broken by their ids, not their positions, so the paths do
        # not depend on the order the entities were read in (a store's rows or the dataset's).
        self._rank = np.empty(n, dtype=np.int64)
        self._rank[np.argsort(np.asarray(ids, dtype=object), kind="stable")] = np.arange(n)
        rows = np.concatenate([heads, tails])
        cols = np.concatenate([tails, heads])
        fact = np.tile(np.arange(len(heads)), 2)
        key = rows * n + cols
        order = np.lexsort((~is_item[heads[fact]], key))  # per pair, an item-headed fact first
        first = order[np.concatenate([[True], key[order][1:] != key[order][:-1]])] if len(key) else order
        self._adj = sp.csr_matrix((fact[first] + 1, (rows[first], cols[first])), shape=(n, n))
        self._n_items = max(int(is_item.sum()), 1)
        linked = np.asarray(sp.csr_matrix((np.ones(len(first)), (rows[first], cols[first])), shape=(n, n))
                            @ is_item.astype(np.float64)).ravel()
        self._hub = linked / self._n_items
        self._spec = np.log(self._n_items / np.maximum(linked, 1.0))
        domains, self._fact_domain = _domains(relations)
        self._node_domain = _node_domains(rows[first], self._fact_domain[fact[first]], n, len(domains))

    @property
    def n_entities(self) -> int:
        return len(self._ids)

    def items_linked(self, entity: str) -> int:
        """How many items the entity is linked to by a fact (0 for an unknown entity)."""
        n = self._node.get(str(entity))
        return 0 if n is None else round(self._hub[n] * self._n_items)

    def item_id(self, entity: str) -> str | None:
        """The item an entity stands for, ``None`` for other entities."""
        return self._item_of().get(str(entity))

    def _item_of(self) -> dict[str, str]:
        if not hasattr(self, "_item_by_entity"):
            self._item_by_entity = {self._ids[n]: item for item, n in self._item_node.items()}
        return self._item_by_entity

    def random_path(self, sources: Sequence[str], target: str, hops: int, rng: np.random.Generator,
                    *, avoid: Sequence[str] = ()) -> KGPath | None:
        """A path of exactly ``hops`` facts from a random one of ``sources`` to ``target`` (the same domain rule
        as ``best_paths``; never ``avoid``): the chance baseline an explanation's evidence is compared with."""
        t = self._item_node.get(str(target))
        if t is None:
            return None
        domain = self._node_domain[t]
        near_t, _ = self._neighbours(t, domain)
        nodes = [self._item_node[str(s)] for s in sources if self._item_node.get(str(s)) not in (None, t)]
        for s in rng.permutation(np.asarray(nodes, dtype=np.int64)).tolist():
            if hops == 1:
                options = [[s, t]] if s in set(near_t.tolist()) else []
            elif hops == 2:
                near_s, _ = self._neighbours(s, domain)
                options = [[s, int(m), t] for m in np.intersect1d(near_s, near_t)]
            else:
                near_s, _ = self._neighbours(s, domain)
                if not len(near_s) or not len(near_t):
                    continue
                sub = self._adj[near_s][:, near_t].tocoo()
                a, b = near_s[sub.row], near_t[sub.col]
                ok = (a != t) & (b != s) & (a != b) & self._allowed(sub.data - 1, domain)
                options = [[s, int(x), int(y), t] for x, y in zip(a[ok], b[ok], strict=True)]
            options = [o for o in options if [self._ids[n] for n in o] != list(avoid)]
            if options:
                return self._path(options[int(rng.integers(len(options)))])
        return None

    def with_items(self, items: Sequence[tuple[str, Sequence[tuple[str, str]], str | None]]) -> PathFinder:
        """A copy that mirrors ``GraphStore.add_item`` for each ``(item id, (relation, entity) facts, name)``: the
        item's node (``item:<id>`` if new) and its facts, creating unknown entities; built in one pass."""
        ids, names, node, item_node = list(self._ids), list(self._names), dict(self._node), dict(self._item_node)

        def node_of(entity: str, name: str) -> int:
            if entity not in node:
                node[entity] = len(ids)
                ids.append(entity)
                names.append(name)
            return node[entity]

        heads, tails, relations = [], [], []
        for item_id, facts, name in items:
            if str(item_id) not in item_node:
                item_node[str(item_id)] = node_of(f"{ITEM_PREFIX}{item_id}", name or str(item_id))
            for relation, tail in facts:
                heads.append(item_node[str(item_id)])
                tails.append(node_of(str(tail), str(tail)))
                relations.append(str(relation))
        copy = PathFinder.__new__(PathFinder)
        copy._set(ids, names, node, item_node, np.concatenate([self._heads, np.asarray(heads, dtype=np.int64)]),
                  np.concatenate([self._tails, np.asarray(tails, dtype=np.int64)]), self._relations + relations)
        return copy

    def best_paths(self, sources: Sequence[str], target: str, *, max_hops: int = 3,
                   deep: int = 5) -> dict[str, WeightedPath]:
        """For each source item with a path of at most ``max_hops`` facts to ``target``, its most specific one.

        Paths of 3 facts are searched only while fewer than ``deep`` sources have a path of 1–2 facts avoiding
        hubs, and then for the first ``deep`` sources (callers pass the most relevant first) without one. Items
        without a node are left out.
        """
        if not 1 <= max_hops <= 3:
            raise ConfigError(f"max_hops must be between 1 and 3, got {max_hops}")
        t = self._item_node.get(str(target))
        if t is None:
            return {}
        known = [(str(s), self._item_node[str(s)]) for s in sources if self._item_node.get(str(s)) not in (None, t)]
        if not known:
            return {}
        names, nodes = (list(c) for c in zip(*known, strict=True))
        nodes = np.asarray(nodes, dtype=np.int64)
        domain = self._node_domain[t]
        near_t, t_facts = self._neighbours(t, domain)
        out = self._short_paths(names, nodes, t, near_t, t_facts, domain, max_hops)
        if max_hops >= 3 and sum(not p.weak for p in out.values()) < deep:
            todo = [i for i, name in enumerate(names) if name not in out or out[name].weak][:deep]
            for i in todo:
                found = self._three_hops(int(nodes[i]), t, near_t, t_facts, domain)
                if found is not None and (names[i] not in out or not found.weak
                                          or found.weight > out[names[i]].weight):
                    out[names[i]] = found
        return out

    def _neighbours(self, node: int, domain: int) -> tuple[np.ndarray, np.ndarray]:
        """The node's neighbours reached by facts of ``domain`` (or of none), and those facts."""
        lo, hi = self._adj.indptr[node], self._adj.indptr[node + 1]
        near, facts = self._adj.indices[lo:hi], self._adj.data[lo:hi] - 1
        ok = self._allowed(facts, domain)
        return near[ok], facts[ok]

    def _allowed(self, facts: np.ndarray, domain: int) -> np.ndarray:
        d = self._fact_domain[facts]
        return (d == 0) | (d == domain) | (domain == 0)

    def _short_paths(self, names: list[str], nodes: np.ndarray, t: int, near_t: np.ndarray, t_facts: np.ndarray,
                     domain: int, max_hops: int) -> dict[str, WeightedPath]:
        """1- and 2-fact paths of every source at once: direct facts, then paths through the target's
        neighbours."""
        out: dict[str, WeightedPath] = {}
        at = {int(n): k for k, n in enumerate(near_t)}
        for i in np.flatnonzero(np.isin(nodes, near_t)):  # a fact joining the two items: as specific as it gets
            s = int(nodes[i])
            out[names[i]] = self._weighted([s, t], [int(t_facts[at[s]])], float(np.log(self._n_items)), 0.0, "")
        if max_hops < 2 or not len(near_t):
            return out
        self._two_hops(out, names, nodes, t, near_t, t_facts, np.arange(len(near_t)), domain)
        return out

    def _two_hops(self, out: dict[str, WeightedPath], names: list[str], nodes: np.ndarray, t: int,
                  near_t: np.ndarray, t_facts: np.ndarray, picked: np.ndarray, domain: int) -> None:
        """Into ``out``, the best path through the picked target neighbours of each source that has none yet:
        their neighbours gathered from the adjacency's arrays in one pass, kept where they are sources."""
        indptr, indices, data = self._adj.indptr, self._adj.indices, self._adj.data
        mids_of = near_t[picked]
        lens = indptr[mids_of + 1] - indptr[mids_of]
        cols = np.repeat(picked, lens)
        flat = np.arange(lens.sum()) - np.repeat(np.cumsum(lens) - lens, lens) + np.repeat(indptr[mids_of], lens)
        order = np.argsort(nodes, kind="stable")
        pos = np.searchsorted(nodes[order], indices[flat])
        hit = (pos < len(nodes)) & (nodes[order][np.minimum(pos, len(nodes) - 1)] == indices[flat])
        rows, cols, facts = order[pos[hit]], cols[hit], data[flat[hit]] - 1
        ok = self._allowed(facts, domain) & (near_t[cols] != nodes[rows])
        rows, cols, facts = rows[ok], cols[ok], facts[ok]
        mids = near_t[cols]
        shared = np.bincount(cols, minlength=len(near_t))
        best = np.lexsort((self._rank[mids], -self._spec[mids], rows))
        first = best[np.concatenate([[True], rows[best][1:] != rows[best][:-1]])] if len(best) else best
        for r, c, f in zip(rows[first].tolist(), cols[first].tolist(), facts[first].tolist(), strict=True):
            if names[r] in out:
                continue
            mid = int(near_t[c])
            out[names[r]] = self._weighted([int(nodes[r]), mid, t], [f, int(t_facts[c])], float(self._spec[mid]),
                                           float(self._hub[mid]), self._ids[mid], int(shared[c]))

    def _weighted(self, nodes: list[int], facts: list[int], weight: float, hub: float, key: str,
                  shared: int = 1) -> WeightedPath:
        return WeightedPath(tuple(self._ids[n] for n in nodes), weight, hub, key, shared,
                            lambda: self._path(nodes, facts))

    def _three_hops(self, s: int, t: int, near_t: np.ndarray, t_facts: np.ndarray,
                    domain: int) -> WeightedPath | None:
        """The most specific path ``s - a - b - t``: its weight is its busier entity's, discounted."""
        near_s, s_facts = self._neighbours(s, domain)
        if not len(near_s) or not len(near_t):
            return None
        sub = self._adj[near_s][:, near_t].tocoo()
        a, b = near_s[sub.row], near_t[sub.col]
        ok = (a != t) & (b != s) & (a != b) & self._allowed(sub.data - 1, domain)
        if not ok.any():
            return None
        rows, cols, facts, a, b = sub.row[ok], sub.col[ok], sub.data[ok] - 1, a[ok], b[ok]
        weakest = np.minimum(self._spec[a], self._spec[b])
        best = np.lexsort((self._rank[b], self._rank[a], -weakest))[0]
        return self._weighted([s, int(a[best]), int(b[best]), t],
                              [int(s_facts[rows[best]]), int(facts[best]), int(t_facts[cols[best]])],
                              float(weakest[best] * HOP_DISCOUNT), float(max(self._hub[a[best]], self._hub[b[best]])),
                              self._ids[int(b[best])])

    def _path(self, nodes: list[int], facts: list[int] | None = None) -> KGPath:
        """The path through ``nodes``; ``facts`` (one per step) where the caller knows them, else looked up."""
        if facts is None:
            facts = [int(self._adj[u, v]) - 1 for u, v in itertools.pairwise(nodes)]
        return KGPath(tuple(self._ids[n] for n in nodes), tuple(self._relations[f] for f in facts),
                      tuple(int(self._heads[f]) == u for f, u in zip(facts, nodes, strict=False)),
                      tuple(self._names[n] for n in nodes))


def relation_domain(relation: str) -> str:
    """The domain of a Freebase-style relation (``film`` of ``film.film.directed_by``); '' for plain names."""
    return relation.split(".", 1)[0] if relation.count(".") >= 2 else ""


def _domains(relations: list[str]) -> tuple[list[str], np.ndarray]:
    """The domains present (index 0 is 'none') and each fact's domain code."""
    codes, uniques = pd.factorize(pd.Series([relation_domain(r) for r in relations], dtype=object))
    names = [""] + [u for u in uniques if u]
    remap = np.asarray([names.index(u) for u in uniques], dtype=np.int64)
    return names, remap[codes] if len(codes) else np.zeros(0, dtype=np.int64)


def _node_domains(rows: np.ndarray, fact_domains: np.ndarray, n: int, n_domains: int) -> np.ndarray:
    """Each node's domain: the commonest among its facts that have one (0 where none has)."""
    counts = np.zeros((n, n_domains), dtype=np.int64)
    np.add.at(counts, (rows, fact_domains), 1)
    counts[:, 0] = 0
    return np.where(counts.max(1) > 0, counts.argmax(1), 0)
