"""Seeded pseudo-random numbers per (user, item) pair, the same whatever the batch: fair tie-breaking in the
evaluator and the random-score reference model draw from here."""

from __future__ import annotations

import torch


def pair_keys(users: torch.Tensor, n_items: int, seed: int = 0) -> torch.Tensor:
    """A pseudo-random int64 for each user in ``users`` × each item index below ``n_items`` (SplitMix64's
    finaliser over the two indices and the seed; int64 products wrap around)."""
    items = torch.arange(n_items, dtype=torch.long, device=users.device)
    x = (users.long().view(-1, 1) + 1) * _GOLDEN + items * _ITEM + _signed(int(seed) * _SEED % (1 << 64))
    for shift, mult in ((30, _MIX1), (27, _MIX2)):
        x = (x ^ _shift_right(x, shift)) * mult
    return x ^ _shift_right(x, 31)


def pair_uniform(users: torch.Tensor, n_items: int, seed: int = 0) -> torch.Tensor:
    """Uniform floats in [0, 1) per (user, item), from the top 24 bits of ``pair_keys``."""
    return _shift_right(pair_keys(users, n_items, seed), 40).to(torch.float32) / float(1 << 24)


def _shift_right(x: torch.Tensor, s: int) -> torch.Tensor:
    """A logical (unsigned) right shift of int64 values: torch's ``>>`` is arithmetic."""
    return (x >> s) & ((1 << (64 - s)) - 1)


def _signed(c: int) -> int:
    return c - (1 << 64) if c >= 1 << 63 else c


_GOLDEN, _ITEM, _SEED, _MIX1, _MIX2 = map(_signed, (0x9E3779B97F4A7C15, 0x632BE59BD9B4E019, 0x2545F4914F6CDD1D,
                                                    0xBF58476D1CE4E5B9, 0x94D049BB133111EB))
