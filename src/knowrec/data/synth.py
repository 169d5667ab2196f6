"""Synthetic datasets of any size: power-law item popularity and user activity, taste clusters that a model can
learn, and optionally a knowledge graph and item text that carry the clusters — for scaling runs and tests.

Every step is vectorised (no loop over interactions), so 10⁷ interactions take seconds. Item and user numbers
are a random permutation of popularity and activity ranks, so an index carries nothing about either.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from knowrec.data.dataset import Dataset
from knowrec.data.sampling import distinct
from knowrec.data.triples import KnowledgeGraph
from knowrec.errors import ConfigError

_WORDS = np.array(["amber", "basalt", "cedar", "delta", "ember", "fjord", "granite", "harbor", "iris",
                   "juniper", "kelp", "lumen", "marble", "nectar", "onyx", "prism", "quartz", "raven",
                   "sable", "tundra", "umber", "velvet", "willow", "xenon", "yarrow", "zephyr"])


def synthesize(users: int, items: int, interactions: int, *, seed: int = 0, clusters: int = 20,
               affinity: float = 0.7, alpha: float = 1.0, kg: bool = False, text: bool = False,
               name: str | None = None) -> Dataset:
    """``interactions`` distinct (user, item) pairs among ``users`` × ``items``.

    Item popularity follows a Zipf law with exponent ``alpha`` (user activity one with ``alpha / 2``); each user
    and item belongs to one of ``clusters`` tastes, and a user's interaction is drawn within their taste with
    probability ``affinity``, else from the whole catalogue. ``kg`` adds a ``genre`` fact (the item's taste, wrong
    for one item in five) and a ``maker`` fact (random) per item; ``text`` adds a title of taste words.
    """
    _check(users=users, items=items, interactions=interactions, clusters=clusters)
    if interactions > users * items:
        raise ConfigError(f"interactions={interactions:,} exceeds users × items = {users * items:,}")
    if not 0 <= affinity <= 1:
        raise ConfigError(f"affinity must lie in [0, 1], got {affinity}")
    rng = np.random.default_rng(seed)
    item_taste = rng.integers(clusters, size=items)
    user_taste = rng.integers(clusters, size=users)
    item_weight = _zipf(items, alpha, rng)
    user_weight = _zipf(users, alpha / 2, rng)
    # items of each taste, in one array sorted by taste, with their popularity's cumulative share within it
    by_taste = np.argsort(item_taste, kind="stable")
    starts = np.searchsorted(item_taste[by_taste], np.arange(clusters + 1))
    cum = np.cumsum(item_weight[by_taste])
    base = np.concatenate([[0.0], cum])[starts]  # cumulative weight before each taste's first item
    global_cum = np.cumsum(item_weight) / item_weight.sum()
    user_cum = np.cumsum(user_weight) / user_weight.sum()
    keys = np.empty(0, dtype=np.int64)
    while len(keys) < interactions:  # draw, keep distinct pairs, top up (popular pairs repeat)
        n = int((interactions - len(keys)) * 1.2) + 16
        u = np.minimum(np.searchsorted(user_cum, rng.random(n)), users - 1)
        t = user_taste[u]
        span = base[t + 1] - base[t]
        inside = (rng.random(n) < affinity) & (span > 0)
        pos = np.searchsorted(cum, base[t] + rng.random(n) * span)
        within = by_taste[np.minimum(pos, items - 1)]
        anywhere = np.minimum(np.searchsorted(global_cum, rng.random(n)), items - 1)
        i = np.where(inside, within, anywhere)
        keys = distinct(np.concatenate([keys, u.astype(np.int64) * items + i]))
    keys = rng.permutation(keys)[:interactions]
    u_idx, i_idx = np.divmod(keys, items)
    item_table = None
    if text:
        words = _WORDS[(item_taste[:, None] * 3 + np.arange(3)) % len(_WORDS)]
        titles = pd.Series(words[:, 0]) + " " + words[:, 1] + " " + words[:, 2] + " no. " + pd.Series(
            np.arange(items)).astype(str)
        item_table = pd.DataFrame({"title": titles.to_numpy(dtype=object)})
    return Dataset(
        name=name or f"synth-{users}u-{items}i-{interactions}n",
        user_ids=np.array([f"u{k}" for k in range(users)], dtype=object),
        item_ids=np.array([f"i{k}" for k in range(items)], dtype=object),
        users=u_idx, items=i_idx,
        timestamps=rng.permutation(interactions).astype(np.int64),
        item_table=item_table, field_types={"title": "text"} if text else {},
        kg=_kg(item_taste, clusters, rng) if kg else None,
    )


def _zipf(n: int, alpha: float, rng: np.random.Generator) -> np.ndarray:
    """Weights ``rank^-alpha`` laid out in a random order of the indices."""
    return rng.permutation(np.arange(1, n + 1, dtype=np.float64) ** -alpha)


def _kg(item_taste: np.ndarray, clusters: int, rng: np.random.Generator) -> KnowledgeGraph:
    """Item entities ``0..items-1``, then ``clusters`` genre and ``clusters`` maker entities."""
    items = len(item_taste)
    genre = np.where(rng.random(items) < 0.8, item_taste, rng.integers(clusters, size=items))
    maker = rng.integers(clusters, size=items)
    heads = np.concatenate([np.arange(items), np.arange(items)])
    tails = np.concatenate([items + genre, items + clusters + maker])
    entity_ids = np.concatenate([[f"i{k}" for k in range(items)], [f"genre:{g}" for g in range(clusters)],
                                 [f"maker:{m}" for m in range(clusters)]])
    return KnowledgeGraph(entity_ids=entity_ids, relation_ids=np.array(["genre", "maker"], dtype=object),
                          heads=heads, relations=np.repeat([0, 1], items), tails=tails,
                          item_entities=np.arange(items))


def _check(**sizes: int) -> None:
    for key, value in sizes.items():
        if int(value) < 1:
            raise ConfigError(f"{key} must be a positive integer, got {value}")
