"""The social graph (user–user links: friendships, follows, trust) and the friend-recommendation task built on it.

A friend task is a ``Dataset`` whose items are the users themselves (``task="friends"``): its interactions are
the links, in both directions for an undirected graph, and its item knowledge graph holds what is known about
each user — the items they interacted with, those items' facts reached through them (a business's category and
city), their own attributes. Every model, split, evaluator and command of the item task then works on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import scipy.sparse as sp

from knowrec.errors import DataError, MissingInputError

FRIENDS = "friends"
#: The relation from a user to each item they interacted with, in a friend task's knowledge graph.
INTERACTED = "interacted"


class DropReport(Protocol):
    """What a reader reports bad rows to (``ImportReport``): counts them, or raises in strict mode."""

    notes: list[str]

    def drop(self, reason: str, path: str | Path, line_no: np.ndarray, mask: np.ndarray, field: str, *,
             keeps: str = "") -> np.ndarray: ...


@dataclass(eq=False)
class SocialGraph:
    """User–user links as index arrays; an undirected graph keeps each pair once, with ``src < dst``."""

    src: np.ndarray
    dst: np.ndarray
    weights: np.ndarray | None = None
    directed: bool = False

    def __post_init__(self) -> None:
        self.src = np.asarray(self.src, dtype=np.int64)
        self.dst = np.asarray(self.dst, dtype=np.int64)
        if len(self.src) != len(self.dst):
            raise DataError("social graph: sources and targets differ in length")
        if self.weights is not None:
            self.weights = np.asarray(self.weights, dtype=np.float32)
            if len(self.weights) != len(self.src):
                raise DataError("social graph: weights and links differ in length")
        if not self.directed and (self.src > self.dst).any():
            raise DataError("an undirected social graph stores each pair once, with src < dst")

    @property
    def n_links(self) -> int:
        return len(self.src)

    def edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every directed edge ``(source, target, weight)``: both directions of an undirected pair."""
        w = np.ones(self.n_links, dtype=np.float32) if self.weights is None else self.weights
        if self.directed:
            return self.src, self.dst, w
        return (np.concatenate([self.src, self.dst]), np.concatenate([self.dst, self.src]), np.concatenate([w, w]))

    def matrix(self, n_users: int) -> sp.csr_matrix:
        """The user × user adjacency matrix (symmetric when undirected), weighted where weights are given."""
        src, dst, w = self.edges()
        return sp.csr_matrix((w, (src, dst)), shape=(n_users, n_users))

    def remapped(self, user_map: np.ndarray) -> SocialGraph:
        """The graph with users renumbered by ``user_map`` (old index → new, -1: dropped with their links)."""
        src, dst = user_map[self.src], user_map[self.dst]
        keep = (src >= 0) & (dst >= 0)
        src, dst = src[keep], dst[keep]
        if not self.directed:
            src, dst = np.minimum(src, dst), np.maximum(src, dst)
        return SocialGraph(src, dst, None if self.weights is None else self.weights[keep], self.directed)

    def degrees(self, n_users: int) -> np.ndarray:
        """Links per user (out-links for a directed graph)."""
        src, _, _ = self.edges()
        return np.bincount(src, minlength=n_users)

    def summary(self, n_users: int) -> dict[str, Any]:
        """Counts and the degree distribution, as ``knowrec data info`` shows them."""
        deg = self.degrees(n_users)
        linked = deg[deg > 0]
        quart = np.percentile(linked, [25, 50, 75]).tolist() if len(linked) else [0, 0, 0]
        return {
            "social_links": f"{self.n_links:,} {'directed' if self.directed else 'undirected'}"
                            + (" (weighted)" if self.weights is not None else ""),
            "users_with_links": f"{len(linked):,}/{n_users:,} ({len(linked) / max(n_users, 1):.1%})",
            "links_per_linked_user": (f"{linked.min()}–{linked.max()} (quartiles {quart[0]:g}, {quart[1]:g}, "
                                      f"{quart[2]:g}; mean {linked.mean():.1f}; ≤ 2: {(linked <= 2).mean():.1%})")
                                     if len(linked) else "–",
        }


def build_social(user_ids: np.ndarray, src: np.ndarray, dst: np.ndarray, *, weights: np.ndarray | None = None,
                 directed: bool = False, report: DropReport, path: str | Path, line_no: np.ndarray,
                 fields: tuple[str, str] = ("source", "target")) -> SocialGraph:
    """Links from original user ids, bad rows reported: unknown users, self-links, repeated links (the first is
    kept); of an undirected graph, a row that is the reverse of another is the same friendship, merged quietly."""
    known = pd.Index(np.asarray(user_ids, dtype=object).astype(str))
    s = known.get_indexer(pd.Index(np.asarray(src, dtype=object).astype(str)))
    d = known.get_indexer(pd.Index(np.asarray(dst, dtype=object).astype(str)))
    keep = report.drop("link from an unknown user", path, line_no, s < 0, fields[0])
    keep &= report.drop("link to an unknown user", path, line_no, keep & (d < 0), fields[1])
    keep &= report.drop("self-link", path, line_no, keep & (s == d), fields[1])
    if weights is not None:
        keep &= report.drop("link weight is not a finite number", path, line_no, keep & ~np.isfinite(weights),
                            "weight")
    n = len(user_ids)
    key = s.astype(np.int64) * n + d
    first = np.zeros(len(s), dtype=bool)
    first[np.flatnonzero(keep)[np.unique(key[keep], return_index=True)[1]]] = True
    keep &= report.drop("duplicate link", path, line_no, keep & ~first, fields[1], keeps="the first is kept")
    s, d = s[keep], d[keep]
    w = None if weights is None else np.asarray(weights, dtype=np.float32)[keep]
    if not directed:
        lo, hi = np.minimum(s, d), np.maximum(s, d)
        _, once = np.unique(lo * n + hi, return_index=True)
        once = np.sort(once)
        if len(once) < len(s):
            report.notes.append(f"{len(s) - len(once):,} link rows were the reverse of another (one friendship "
                                f"each): merged")
        s, d, w = lo[once], hi[once], None if w is None else w[once]
    return SocialGraph(s, d, w, directed)


def friend_dataset(data: Any) -> Any:
    """The friend-recommendation task of ``data``: users as items, links as interactions, and an item KG of what
    is known about each user (``interacted`` items, the items' facts one hop on, the user's token fields)."""
    from knowrec.data.dataset import Dataset  # the dataset module imports this one for ``SocialGraph``

    if data.social is None or data.social.n_links == 0:
        raise MissingInputError(f"dataset {data.name!r} has no social graph: a friend task needs user–user links "
                                f"(knowrec data import … --social FILE)")
    src, dst, w = data.social.edges()
    friends = Dataset(
        name=f"{data.name}/{FRIENDS}", user_ids=data.user_ids, item_ids=data.user_ids, users=src, items=dst,
        ratings=None if data.social.weights is None else w, user_table=data.user_table,
        item_table=data.user_table, field_types=dict(data.field_types), social=data.social, task=FRIENDS,
    )
    friends.kg = user_facts(data)
    return friends


def user_facts(data: Any) -> Any:
    """A KG whose "items" are the users: (user, interacted, item), (user, interacted.<relation>, tail) for each fact
    of each item they interacted with (once per user), and (user, <field>, <field>:<value>) for token user fields."""
    from knowrec.data.triples import encode_triples, facts_from, field_facts

    user_ent = ("user:" + data.user_ids.astype(str)).astype(object)
    pairs = np.unique(data.users * data.n_items + data.items)
    users, items = pairs // data.n_items, pairs % data.n_items
    kg = data.kg
    item_ent = ("item:" + data.item_ids.astype(str)).astype(object)
    if kg is not None:
        item_ent = np.where(kg.item_entities >= 0, kg.entity_ids[np.maximum(kg.item_entities, 0)], item_ent)
    heads, rels, tails = [user_ent[users]], [np.full(len(users), INTERACTED, dtype=object)], [item_ent[items]]
    if kg is not None and kg.n_triples:
        ok = kg.item_entities[items] >= 0
        cnt, facts = facts_from(kg, kg.item_entities[items][ok])
        u = np.repeat(users[ok], cnt)
        key = np.unique((u * kg.n_relations + kg.relations[facts]) * kg.n_entities + kg.tails[facts])
        u, rest = key // (kg.n_relations * kg.n_entities), key % (kg.n_relations * kg.n_entities)
        heads.append(user_ent[u])
        rels.append(np.char.add(f"{INTERACTED}.", kg.relation_ids[rest // kg.n_entities].astype(str)).astype(object))
        tails.append(kg.entity_ids[rest % kg.n_entities])
    if data.user_table is not None:
        for col in data.user_table.columns:
            if data.field_types.get(col) not in ("token", "token_seq"):
                continue
            h, r, t = field_facts(data.user_table[col], col, user_ent)
            heads.append(h)
            rels.append(r)
            tails.append(t)
    return encode_triples(np.concatenate(heads), np.concatenate(rels), np.concatenate(tails),
                          np.arange(data.n_users), user_ent, data.n_users)


def pair_keys(users: np.ndarray, others: np.ndarray, n: int) -> np.ndarray:
    """One key per unordered pair: ``(u, v)`` and ``(v, u)`` share it, so a split keeps both in one part."""
    return np.minimum(users, others) * n + np.maximum(users, others)
