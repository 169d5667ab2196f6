"""Splits: RecBole's per-user counts, determinism, cold splits, leave-one-out, temporal order."""

from __future__ import annotations

import numpy as np
import pytest

from knowrec.data import Dataset, split
from knowrec.data.dataset import TEST, TRAIN, VALID
from knowrec.errors import ConfigError, DataError


def recbole_counts(tot: int, ratios: list[float]) -> list[int]:
    """RecBole 1.2's ``_calcu_split_ids``, written out as the reference."""
    cnt = [int(ratios[i] * tot) for i in range(len(ratios))]
    cnt[0] = tot - sum(cnt[1:])
    for i in range(1, len(ratios)):
        if cnt[0] <= 1:
            break
        if 0 < ratios[-i] * tot < 1:
            cnt[-i] += 1
            cnt[0] -= 1
    return cnt


@pytest.mark.parametrize("ratios", [(0.8, 0.1, 0.1), (0.7, 0.2, 0.1)])
def test_ratio_counts_match_recbole(ratios: tuple[float, float, float]) -> None:
    sizes = np.arange(1, 60)
    users = np.repeat(np.arange(len(sizes)), sizes)
    data = Dataset.from_ids("r", users, np.arange(len(users)))
    s = split(data, ratios=ratios, seed=1)
    for u, n in enumerate(sizes):
        got = [int(((s.parts == c) & (data.users == u)).sum()) for c in (TRAIN, VALID, TEST)]
        assert got == recbole_counts(int(n), list(ratios)), n


def test_same_seed_same_bytes(tiny: Dataset) -> None:
    for kind in ("random", "loo", "cold-item", "cold-user", "temporal"):
        a, b = split(tiny, kind, seed=3), split(tiny, kind, seed=3)
        assert a.parts.tobytes() == b.parts.tobytes()
    assert split(tiny, seed=3).parts.tobytes() != split(tiny, seed=4).parts.tobytes()


def test_temporal_puts_latest_last(tiny: Dataset) -> None:
    s = split(tiny, "temporal")
    for u in range(tiny.n_users):
        mine = tiny.users == u
        train_t = tiny.timestamps[mine & (s.parts == TRAIN)]
        test_t = tiny.timestamps[mine & (s.parts == TEST)]
        if len(test_t):
            assert train_t.max() < test_t.min()


def test_leave_one_out(tiny: Dataset) -> None:
    s = split(tiny, "loo")
    assert (np.bincount(tiny.users[s.parts == TEST]) == 1).all()
    assert (np.bincount(tiny.users[s.parts == VALID]) == 1).all()


def test_cold_item_split(tiny: Dataset) -> None:
    s = split(tiny, "cold-item", cold_share=0.2)
    cold = np.concatenate([s.cold_valid, s.cold_test])
    assert len(cold) == 8 and not np.isin(tiny.items[s.parts == TRAIN], cold).any()
    assert np.isin(tiny.items[s.parts == TEST], s.cold_test).all()
    assert not np.intersect1d(s.cold_valid, s.cold_test).size


def test_cold_user_split(tiny: Dataset) -> None:
    s = split(tiny, "cold-user", cold_share=0.2)
    assert not np.isin(tiny.users[s.parts == TRAIN], np.concatenate([s.cold_valid, s.cold_test])).any()


def test_given_split_carves_validation(tiny: Dataset) -> None:
    tiny.parts = np.where(np.arange(tiny.n_interactions) % 5 == 0, TEST, TRAIN).astype(np.int8)
    s = split(tiny, "given")
    assert ((s.parts == TEST) == (tiny.parts == TEST)).all() and (s.parts == VALID).sum() > 0


def test_bad_requests(tiny: Dataset) -> None:
    with pytest.raises(ConfigError, match="unknown split"):
        split(tiny, "sideways")
    with pytest.raises(DataError, match="no split of its own"):
        split(tiny, "given")
    tiny.timestamps = None
    with pytest.raises(DataError, match="timestamps"):
        split(tiny, "temporal")


def test_save_load(tiny: Dataset, tmp_path) -> None:
    s = split(tiny, "cold-item")
    s.save(tmp_path / "s.npz")
    from knowrec.data import Split

    back = Split.load(tmp_path / "s.npz")
    assert back.parts.tobytes() == s.parts.tobytes() and (back.cold_test == s.cold_test).all()
