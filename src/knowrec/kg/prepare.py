"""KG preparation: cleaning with a report, inverse relations, relation filters, degree caps, and the
collaborative knowledge graph (users + items + entities, with ``interact`` as a relation, as in KGAT)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from knowrec.data.dataset import Dataset
from knowrec.data.triples import KnowledgeGraph, facts_from

logger = logging.getLogger(__name__)
INVERSE_SUFFIX = "~inv"
INTERACT, INTERACTED_BY = "interact", "interact" + INVERSE_SUFFIX


@dataclass
class KGReport:
    """What ``clean`` found and did: counts per problem, and the relations it dropped."""

    triples_in: int = 0
    triples_out: int = 0
    problems: dict[str, int] = field(default_factory=dict)
    dropped_relations: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        found = ", ".join(f"{n} {what}" for what, n in self.problems.items() if n) or "no problems"
        return f"KG: {self.triples_in} triples in, {self.triples_out} kept ({found})"


def _rebuild(kg: KnowledgeGraph, keep: np.ndarray) -> KnowledgeGraph:
    return KnowledgeGraph(kg.entity_ids, kg.relation_ids, kg.heads[keep], kg.relations[keep], kg.tails[keep],
                          kg.item_entities)


def clean(kg: KnowledgeGraph, *, min_relation_count: int = 2) -> tuple[KnowledgeGraph, KGReport]:
    """Drop self-loops, duplicate triples and relations with fewer than ``min_relation_count`` triples.

    Out-of-range entity or relation indices cannot reach here: ``KnowledgeGraph`` rejects them when built,
    and the readers report unknown ids with file and line.
    """
    report = KGReport(triples_in=kg.n_triples)
    keep = kg.heads != kg.tails
    report.problems["self-loops"] = int((~keep).sum())
    key = (kg.heads * kg.n_relations + kg.relations) * kg.n_entities + kg.tails
    first = np.zeros(kg.n_triples, dtype=bool)
    first[np.unique(key, return_index=True)[1]] = True
    report.problems["duplicate triples"] = int((keep & ~first).sum())
    keep &= first
    counts = np.bincount(kg.relations[keep], minlength=kg.n_relations)
    rare = np.flatnonzero((counts > 0) & (counts < min_relation_count))
    report.dropped_relations = [str(kg.relation_ids[r]) for r in rare]
    report.problems[f"triples of relations with < {min_relation_count} triples"] = int(
        np.isin(kg.relations[keep], rare).sum())
    keep &= ~np.isin(kg.relations, rare)
    report.triples_out = int(keep.sum())
    if report.triples_out < report.triples_in:
        logger.warning("%s", report)
    return _rebuild(kg, keep), report


def filter_relations(kg: KnowledgeGraph, *, keep: Sequence[str] | None = None,
                     drop: Sequence[str] = ()) -> KnowledgeGraph:
    """Keep only the relations named in ``keep`` (all if None), minus those in ``drop``."""
    names = kg.relation_ids.astype(str)
    allowed = np.ones(kg.n_relations, dtype=bool) if keep is None else np.isin(names, list(keep))
    allowed &= ~np.isin(names, list(drop))
    return _rebuild(kg, allowed[kg.relations])


def add_inverse(kg: KnowledgeGraph) -> KnowledgeGraph:
    """Add ``(t, r~inv, h)`` for every ``(h, r, t)``; relation ``r~inv`` gets index ``r + n_relations``."""
    names = np.concatenate([kg.relation_ids, np.array([f"{r}{INVERSE_SUFFIX}" for r in kg.relation_ids],
                                                      dtype=object)])
    return KnowledgeGraph(kg.entity_ids, names, np.concatenate([kg.heads, kg.tails]),
                          np.concatenate([kg.relations, kg.relations + kg.n_relations]),
                          np.concatenate([kg.tails, kg.heads]), kg.item_entities)


def shared_tails(kg: KnowledgeGraph, min_heads: int = 2) -> KnowledgeGraph:
    """Keep facts whose tail is pointed to by at least ``min_heads`` facts: a tail reached from a single head
    (an actor of one film) passes nothing between items."""
    shared = np.bincount(kg.tails, minlength=kg.n_entities) >= min_heads
    return _rebuild(kg, shared[kg.tails])


def item_graph(kg: KnowledgeGraph, *, max_degree: int = 0, seed: int = 0) -> tuple[KnowledgeGraph, KGReport]:
    """The graph items are embedded from: cleaned (with its report), inverse relations added, only tails that
    at least two facts share (an unshared tail would act as a free per-item vector), hubs capped at
    ``max_degree`` facts (0: no cap)."""
    kg, report = clean(kg)
    kg = shared_tails(add_inverse(kg))
    if max_degree:
        kg = cap_degree(kg, max_degree, seed=seed)
    return kg, report


def item_links(kg: KnowledgeGraph) -> tuple[torch.Tensor, torch.Tensor]:
    """The linked items and their entities, as two index tensors."""
    linked = np.flatnonzero(kg.item_entities >= 0)
    return torch.from_numpy(linked), torch.from_numpy(kg.item_entities[linked])


def cap_degree(kg: KnowledgeGraph, max_degree: int, *, seed: int = 0) -> KnowledgeGraph:
    """Keep at most ``max_degree`` random triples per head entity (tames hubs such as genres or countries)."""
    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.random(kg.n_triples), kg.heads))
    deg = np.bincount(kg.heads, minlength=kg.n_entities)
    start = np.concatenate([[0], np.cumsum(deg)[:-1]])
    rank = np.arange(kg.n_triples) - start[kg.heads[order]]
    keep = np.zeros(kg.n_triples, dtype=bool)
    keep[order[rank < max_degree]] = True
    return _rebuild(kg, keep)


@dataclass(frozen=True)
class CollaborativeKG:
    """Users, items and entities as one graph: node ``u`` is user ``u``; item ``i`` is node ``item_nodes[i]``.

    ``edge_index`` (2, E) and ``edge_type`` (E) hold every edge, relation 0 being ``interact`` (user → item)
    and 1 its inverse; KG relation ``r`` is ``2 + r``. ``n_cf_edges`` is the number of user–item edges, which
    come first (both directions).
    """

    n_users: int
    n_nodes: int
    item_nodes: torch.Tensor
    edge_index: torch.Tensor
    edge_type: torch.Tensor
    relation_names: tuple[str, ...]
    n_cf_edges: int

    @property
    def n_relations(self) -> int:
        return len(self.relation_names)

    def adjacency(self, relations: str = "all") -> torch.Tensor:
        """A sparse COO adjacency (values = relation index + 1) of ``all``, ``cf`` or ``kg`` edges."""
        pick = {"all": slice(None), "cf": slice(0, self.n_cf_edges), "kg": slice(self.n_cf_edges, None)}[relations]
        return torch.sparse_coo_tensor(self.edge_index[:, pick], (self.edge_type[pick] + 1).float(),
                                       (self.n_nodes, self.n_nodes), check_invariants=True).coalesce()


def collaborative_kg(train: Dataset, kg: KnowledgeGraph | None = None, *, inverse: bool = True) -> CollaborativeKG:
    """Build the collaborative KG of ``train``'s interactions and ``kg`` (default ``train.kg``).

    Items linked to an entity share that entity's node; unlinked items get a node of their own.
    """
    kg = kg if kg is not None else train.kg
    n_users = train.n_users
    n_entities = 0 if kg is None else kg.n_entities
    item_entities = np.full(train.n_items, -1) if kg is None else kg.item_entities
    unlinked = np.flatnonzero(item_entities < 0)
    item_nodes = np.where(item_entities >= 0, n_users + item_entities, 0)
    item_nodes[unlinked] = n_users + n_entities + np.arange(len(unlinked))
    n_nodes = n_users + n_entities + len(unlinked)
    keys = np.unique(train.users.astype(np.int64) * train.n_items + train.items)
    u, i = keys // train.n_items, item_nodes[keys % train.n_items]
    heads, tails, types = [u, i], [i, u], [np.zeros(len(u)), np.ones(len(u))]
    names = [INTERACT, INTERACTED_BY]
    if kg is not None and kg.n_triples:
        g = add_inverse(kg) if inverse else kg
        heads.append(n_users + g.heads)
        tails.append(n_users + g.tails)
        types.append(2 + g.relations)
        names += [str(r) for r in g.relation_ids]
    return CollaborativeKG(
        n_users=n_users, n_nodes=int(n_nodes), item_nodes=torch.from_numpy(item_nodes.astype(np.int64)),
        edge_index=torch.from_numpy(np.stack([np.concatenate(heads), np.concatenate(tails)]).astype(np.int64)),
        edge_type=torch.from_numpy(np.concatenate(types).astype(np.int64)), relation_names=tuple(names),
        n_cf_edges=2 * len(u),
    )


def item_facts(kg: KnowledgeGraph) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every fact whose head is an item's entity, as ``(item, relation, tail)`` index arrays."""
    items, entities = (t.numpy() for t in item_links(kg))
    counts, facts = facts_from(kg, entities)
    return np.repeat(items, counts), kg.relations[facts], kg.tails[facts]
