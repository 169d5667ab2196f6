"""RowAdam: SparseAdam's update, computed on gathered rows (the sparse BPR's optimiser at scale)."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from knowrec.train import RowAdam


def _tables(seed: int) -> tuple[nn.Embedding, nn.Embedding]:
    torch.manual_seed(seed)
    a = nn.Embedding(50, 8, sparse=True)
    b = nn.Embedding(50, 8, sparse=True)
    b.load_state_dict(a.state_dict())
    return a, b


def _step(table: nn.Embedding, opt: torch.optim.Optimizer, rows: torch.Tensor, target: torch.Tensor) -> None:
    opt.zero_grad()
    ((table(rows) - target) ** 2).sum().backward()
    opt.step()


def test_rowadam_matches_sparseadam_step_for_step() -> None:
    ours, theirs = _tables(0)
    opt_ours, opt_theirs = RowAdam(ours.parameters(), lr=0.05), torch.optim.SparseAdam(theirs.parameters(), lr=0.05)
    gen = torch.Generator().manual_seed(1)
    touched = set()
    for _ in range(20):
        rows = torch.randint(0, 30, (16,), generator=gen)  # repeated rows in a batch; rows 30-49 never touched
        touched |= set(rows.tolist())
        target = torch.randn(16, 8, generator=gen)
        _step(ours, opt_ours, rows, target)
        _step(theirs, opt_theirs, rows, target)
    torch.testing.assert_close(ours.weight, theirs.weight, rtol=1e-5, atol=1e-6)
    for key in ("exp_avg", "exp_avg_sq"):
        torch.testing.assert_close(opt_ours.state[ours.weight][key], opt_theirs.state[theirs.weight][key],
                                   rtol=1e-5, atol=1e-7)
    assert opt_ours.state[ours.weight]["step"] == opt_theirs.state[theirs.weight]["step"] == 20
    untouched = sorted(set(range(50)) - touched)
    assert not opt_ours.state[ours.weight]["exp_avg"][untouched].any()


def test_a_sparseadam_checkpoint_resumes_in_rowadam() -> None:
    ours, theirs = _tables(2)
    opt_theirs = torch.optim.SparseAdam(theirs.parameters(), lr=0.05)
    rows, target = torch.tensor([1, 4, 4, 7]), torch.ones(4, 8)
    _step(theirs, opt_theirs, rows, target)
    ours.load_state_dict(theirs.state_dict())
    opt_ours = RowAdam(ours.parameters(), lr=0.05)
    opt_ours.load_state_dict(copy.deepcopy(opt_theirs.state_dict()))  # as read back from a checkpoint file
    _step(ours, opt_ours, rows, target)
    _step(theirs, opt_theirs, rows, target)
    torch.testing.assert_close(ours.weight, theirs.weight, rtol=1e-5, atol=1e-6)


def test_dense_gradients_are_refused_with_a_pointer_to_adam() -> None:
    table = nn.Embedding(5, 2)
    opt = RowAdam(table.parameters())
    table(torch.tensor([0])).sum().backward()
    with pytest.raises(RuntimeError, match="row-sparse gradients"):
        opt.step()
