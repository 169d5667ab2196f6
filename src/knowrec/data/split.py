"""Splits: per-user ratio (random or temporal), leave-one-out, cold-item, cold-user and the data's own split.

A split is one int8 label per interaction (0 train, 1 valid, 2 test), fully determined by the data and seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np

from knowrec._io import atomic_path
from knowrec.data.dataset import TEST, TRAIN, VALID, Dataset
from knowrec.data.social import FRIENDS, pair_keys
from knowrec.errors import ConfigError, DataError


class SplitKind(StrEnum):
    RANDOM = "random"
    TEMPORAL = "temporal"
    LEAVE_ONE_OUT = "loo"
    COLD_ITEM = "cold-item"
    COLD_USER = "cold-user"
    GIVEN = "given"
    ROWS = "rows"


@dataclass(frozen=True, eq=False)
class Split:
    """Part labels per interaction plus, for cold splits, the cold users or items of valid and test."""

    kind: SplitKind
    seed: int
    parts: np.ndarray
    params: dict[str, Any] = field(default_factory=dict)
    cold_valid: np.ndarray | None = None
    cold_test: np.ndarray | None = None

    def indices(self, part: int) -> np.ndarray:
        return np.flatnonzero(self.parts == part)

    def candidates(self, part: str) -> np.ndarray | None:
        """The items ``part`` ("valid"/"test") is ranked among: its cold items on a cold-item split (the
        protocol of cold-start papers), else ``None`` for all items."""
        if self.kind is not SplitKind.COLD_ITEM:
            return None
        return {"valid": self.cold_valid, "test": self.cold_test}[part]

    def train(self, data: Dataset) -> Dataset:
        """The training interactions over the full catalogue."""
        return data.subset(self.parts == TRAIN)

    def counts(self) -> dict[str, int]:
        return {name: int((self.parts == code).sum()) for code, name in enumerate(("train", "valid", "test"))}

    def save(self, path: str | Path) -> None:
        arrays = {"parts": self.parts, "seed": np.array(self.seed), "kind": np.array(str(self.kind))}
        for name in ("cold_valid", "cold_test"):
            if getattr(self, name) is not None:
                arrays[name] = getattr(self, name)
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> Split:
        with np.load(path, allow_pickle=False) as z:
            return cls(SplitKind(str(z["kind"])), int(z["seed"]), z["parts"],
                       cold_valid=z["cold_valid"] if "cold_valid" in z.files else None,
                       cold_test=z["cold_test"] if "cold_test" in z.files else None)


def split(
    data: Dataset,
    kind: SplitKind | str = SplitKind.RANDOM,
    *,
    seed: int = 2020,
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
    cold_share: float = 0.2,
) -> Split:
    """Split ``data`` (see ``SplitKind``); the same data and seed give the same labels, byte for byte.

    ``random``/``temporal``: per user, RecBole's 8:1:1 counts (valid and test get ``floor(r·n)``, raised
    to 1 when ``0 < r·n < 1``); ``loo``: last item to test, second last to valid; ``cold-item``/``cold-user``:
    ``cold_share`` of the items/users lose all training interactions, divided between valid and test;
    ``given``: the data's own train/test labels, with a random ``ratios[1]`` share of each user's training
    interactions moved to validation; ``rows``: every interaction on its own, by ``ratios`` (RippleNet's
    CTR protocol uses 6:2:2). On a friend task (``Dataset.task == "friends"``) only ``random`` applies, by pair:
    each friendship goes, in both its directions, to one part, cut 8:1:1 among the pairs of one of its two
    users drawn at random — so no held-out friendship is seen through its reverse edge.
    """
    try:
        kind = SplitKind(kind)
    except ValueError:
        raise ConfigError(f"unknown split {kind!r}; choose one of {', '.join(k.value for k in SplitKind)}") from None
    r = np.asarray(ratios, dtype=np.float64)
    if len(r) != 3 or (r < 0).any() or r.sum() <= 0:
        raise ConfigError(f"ratios must be three non-negative numbers, got {ratios}")
    r = r / r.sum()
    rng = np.random.default_rng(seed)
    n = data.n_interactions
    params: dict[str, Any] = {"ratios": r.tolist()}
    if data.task == FRIENDS:
        if kind is not SplitKind.RANDOM:
            raise ConfigError(f"a friend task splits its friendships at random (split=random), not {kind.value!r}")
        return Split(kind, seed, _pair_parts(data, r, rng), params | {"by": "pair"})
    if kind in (SplitKind.RANDOM, SplitKind.TEMPORAL):
        if kind is SplitKind.TEMPORAL and data.timestamps is None:
            raise DataError(f"dataset {data.name!r} has no timestamps for a temporal split", field="timestamp")
        key = rng.permutation(n) if kind is SplitKind.RANDOM else data.timestamps
        parts = _ratio_parts(data.users, key, r)
        return Split(kind, seed, parts, params)
    if kind is SplitKind.ROWS:
        return Split(kind, seed, row_parts(n, r, rng), params)
    if kind is SplitKind.LEAVE_ONE_OUT:
        key = data.timestamps if data.timestamps is not None else rng.permutation(n)
        order, rank, size = _rank_within(data.users, key)
        from_end = size[data.users[order]] - rank
        parts = np.full(n, TRAIN, dtype=np.int8)
        parts[order[(from_end == 1) & (size[data.users[order]] >= 2)]] = TEST
        parts[order[(from_end == 2) & (size[data.users[order]] >= 3)]] = VALID
        return Split(kind, seed, parts, {})
    if kind in (SplitKind.COLD_ITEM, SplitKind.COLD_USER):
        if not 0 < cold_share < 1:
            raise ConfigError(f"cold_share must be in (0, 1), got {cold_share}")
        owner = data.items if kind is SplitKind.COLD_ITEM else data.users
        present = np.unique(owner)
        cold = rng.permutation(present)[: round(cold_share * len(present))]
        n_valid = round(len(cold) * r[1] / max(r[1] + r[2], 1e-12))
        cold_valid, cold_test = np.sort(cold[:n_valid]), np.sort(cold[n_valid:])
        parts = np.full(n, TRAIN, dtype=np.int8)
        parts[np.isin(owner, cold_valid)] = VALID
        parts[np.isin(owner, cold_test)] = TEST
        return Split(kind, seed, parts, {"cold_share": cold_share, **params}, cold_valid, cold_test)
    if data.parts is None:
        raise DataError(f"dataset {data.name!r} has no split of its own; use random, temporal or loo")
    parts = data.parts.astype(np.int8).copy()
    train = np.flatnonzero(parts == TRAIN)
    valid_share = r[1] / max(r[0] + r[1], 1e-12)
    sub = _ratio_parts(data.users[train], rng.permutation(len(train)), np.array([1 - valid_share, 0, valid_share]))
    parts[train[sub == TEST]] = VALID
    return Split(kind, seed, parts, params)


def _pair_parts(data: Dataset, r: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Part labels by unordered pair: a random endpoint owns each pair; each owner's pairs are cut by ``r``."""
    keys, first, inverse = np.unique(pair_keys(data.users, data.items, data.n_users), return_index=True,
                                     return_inverse=True)
    owner = np.where(rng.random(len(keys)) < 0.5, data.users[first], data.items[first])
    return _ratio_parts(owner, rng.permutation(len(keys)), r)[inverse]


def row_parts(n: int, r: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Part labels for ``n`` rows shuffled and cut by the ratios ``r``."""
    cuts = np.floor(np.cumsum(r)[:2] * n).astype(np.int64)
    parts = np.full(n, TEST, dtype=np.int8)
    order = rng.permutation(n)
    parts[order[: cuts[0]]] = TRAIN
    parts[order[cuts[0]: cuts[1]]] = VALID
    return parts


def _rank_within(users: np.ndarray, key: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Order interactions by (user, key, position); return the order, each one's rank and group sizes."""
    order = np.lexsort((np.arange(len(users)), key, users))
    size = np.bincount(users, minlength=int(users.max()) + 1 if len(users) else 0)
    start = np.concatenate([[0], np.cumsum(size)[:-1]])
    rank = np.arange(len(users)) - start[users[order]]
    return order, rank, size


def _ratio_parts(users: np.ndarray, key: np.ndarray, r: np.ndarray) -> np.ndarray:
    """RecBole's per-group ratio split (``_calcu_split_ids``), vectorised over users."""
    order, rank, size = _rank_within(users, key)
    n = size.astype(np.float64)
    cnt_v = np.floor(r[1] * n).astype(np.int64)
    cnt_t = np.floor(r[2] * n).astype(np.int64)
    cnt_0 = size - cnt_v - cnt_t
    for ratio, cnt in ((r[2], cnt_t), (r[1], cnt_v)):  # RecBole visits ratios from the last one
        bump = (cnt_0 > 1) & (ratio * n > 0) & (ratio * n < 1)
        cnt += bump
        cnt_0 -= bump
    u = users[order]
    parts = np.empty(len(users), dtype=np.int8)
    parts[order] = np.where(rank < cnt_0[u], TRAIN, np.where(rank < cnt_0[u] + cnt_v[u], VALID, TEST))
    return parts
