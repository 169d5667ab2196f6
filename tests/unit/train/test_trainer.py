"""The shared trainer: early stopping, best-state restore, checkpoints and exact resume."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from knowrec.data import Dataset, split
from knowrec.evaluate import Evaluator
from knowrec.models import BPR
from knowrec.train import Callback, Trainer


class Interrupt(Callback):
    def __init__(self, at: int) -> None:
        self.at = at

    def on_epoch_end(self, model, epoch, logs) -> None:
        if epoch == self.at:
            raise KeyboardInterrupt


def _setup(tiny: Dataset):
    s = split(tiny, seed=0)
    ev = Evaluator(tiny, s, ks=[5])
    return s.train(tiny), (lambda m: ev.evaluate(m, "valid").metrics)


def test_resume_after_interruption_is_exact(tiny: Dataset, tmp_path: Path) -> None:
    train, validate = _setup(tiny)
    params = {"epochs": 8, "batch_size": 64, "lr": 0.01}
    full = BPR(**params)
    r_full = Trainer(validate=validate, metric="ndcg@5", patience=100, folder=tmp_path / "a",
                     show_progress=False).fit(full, train)
    broken = BPR(**params)
    with pytest.raises(KeyboardInterrupt):
        Trainer(validate=validate, metric="ndcg@5", patience=100, folder=tmp_path / "b", show_progress=False,
                callbacks=[Interrupt(4)]).fit(broken, train)
    assert (tmp_path / "b" / "checkpoint.pt").is_file()
    resumed = BPR(**params)
    r_res = Trainer(validate=validate, metric="ndcg@5", patience=100, folder=tmp_path / "b",
                    show_progress=False).fit(resumed, train)
    assert r_res.resumed_from == 5  # epoch index 4 was checkpointed before the interruption: go on at 5
    assert torch.equal(resumed.user_factors_, full.user_factors_)
    assert torch.equal(resumed.item_factors_, full.item_factors_)
    assert r_res.best_epoch == r_full.best_epoch and len(r_res.history) == len(r_full.history) == 8
    assert (tmp_path / "b" / "history.csv").read_text().count("\n") == 9


def test_early_stopping_restores_best(tiny: Dataset) -> None:
    train, _ = _setup(tiny)
    scores = iter([0.1, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0])
    seen = {}

    def fake_validate(m):
        seen[m.epoch_] = m.user_factors_.clone()
        return {"ndcg@5": next(scores)}

    model = BPR(epochs=50, batch_size=64, lr=0.01)
    result = Trainer(validate=fake_validate, metric="ndcg@5", patience=3, show_progress=False).fit(model, train)
    assert result.best_epoch == 2 and len(result.history) == 5
    assert torch.equal(model.user_factors_, seen[1])


def test_unknown_metric(tiny: Dataset) -> None:
    from knowrec.errors import ConfigError

    train, validate = _setup(tiny)
    with pytest.raises(ConfigError, match="ndcg@7"):
        Trainer(validate=validate, metric="ndcg@7", show_progress=False).fit(BPR(epochs=2), train)


def test_a_training_backend_is_a_hook(tiny: Dataset) -> None:
    """The loop lives in a backend (``local`` by default); another backend plugs in without the model knowing."""
    from knowrec.train import BACKENDS, LocalBackend, resolve_backend

    class Counting(LocalBackend):
        runs = 0

        def fit(self, model: object, data: object, **kwargs: object) -> None:
            Counting.runs += 1
            return super().fit(model, data, **kwargs)

    assert "local" in BACKENDS and isinstance(resolve_backend(None), LocalBackend)
    plain = BPR(epochs=3).fit(tiny, show_progress=False)
    hooked = BPR(epochs=3)
    Trainer(show_progress=False, backend=Counting()).fit(hooked, tiny)
    assert Counting.runs == 1
    assert torch.equal(plain.item_factors_, hooked.item_factors_)  # the same loop, the same result
