"""A blend of finished models: per-user standardised scores, the mix chosen on validation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from knowrec.data import Dataset, split
from knowrec.errors import ConfigError
from knowrec.evaluate import Evaluator
from knowrec.models import MODELS, Blend
from knowrec.train import Trainer


def test_the_mix_is_chosen_on_validation(tiny: Dataset, tmp_path: Path) -> None:
    s = split(tiny, seed=1)
    train = s.train(tiny)
    MODELS.get("pop")().fit(train, show_progress=False).save(tmp_path / "pop")
    knn = MODELS.get("itemknn")(k=10).fit(train, show_progress=False)
    knn.save(tmp_path / "knn")
    evaluator = Evaluator(tiny, s, ks=[5])
    blend = Blend(runs=f"{tmp_path / 'knn'},{tmp_path / 'pop'}", weight_grid="0,0.5,1")
    result = Trainer(validate=lambda m: evaluator.evaluate(m, "valid").metrics, metric="ndcg@5",
                     show_progress=False).fit(blend, train)
    assert [row["weight_1"] for row in result.history] == [1.0, 0.0, 0.5]
    best = int(np.argmax([row["valid_ndcg@5"] for row in result.history]))
    assert float(blend.weights_[1]) == result.history[best]["weight_1"]
    blend.weights_ = torch.tensor([1.0, 0.0])  # the second model weighted 0: the first model's ranking
    assert (blend.recommend(np.arange(10), k=5)[0] == knn.recommend(np.arange(10), k=5)[0]).all()


def test_patience_does_not_cut_the_grid_short(tiny: Dataset, tmp_path: Path) -> None:
    s = split(tiny, seed=1)
    train = s.train(tiny)
    for name in ("pop", "itemknn", "bpr"):
        MODELS.get(name)().fit(train, show_progress=False).save(tmp_path / name)
    evaluator = Evaluator(tiny, s, ks=[5])
    blend = Blend(runs=",".join(str(tmp_path / n) for n in ("pop", "itemknn", "bpr")), weight_grid="0,0.5,1,2")
    result = Trainer(validate=lambda m: evaluator.evaluate(m, "valid").metrics, metric="ndcg@5", patience=2,
                     show_progress=False).fit(blend, train)
    assert len(result.history) == 16  # every mix of the two other weights, though patience is 2
    best = max(result.history, key=lambda row: row["valid_ndcg@5"])
    assert blend.weights_.tolist() == [1.0, best["weight_1"], best["weight_2"]]


def test_members_must_share_the_catalogue(tiny: Dataset, tmp_path: Path) -> None:
    MODELS.get("pop")().fit(tiny, show_progress=False).save(tmp_path / "a")
    other = tiny.subset(tiny.items < 30).compact()
    MODELS.get("pop")().fit(other, show_progress=False).save(tmp_path / "b")
    with pytest.raises(ConfigError, match="same dataset"):
        Blend(runs=f"{tmp_path / 'a'},{tmp_path / 'b'}").fit(tiny, show_progress=False)
    with pytest.raises(ConfigError, match="at least two"):
        Blend(runs=str(tmp_path / "a")).fit(tiny, show_progress=False)
