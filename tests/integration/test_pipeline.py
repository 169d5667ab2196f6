"""``pipeline()`` and ``RunResult`` as a library user calls them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from knowrec.api import pipeline
from knowrec.results import RunResult


def test_pipeline_save_load_and_resume(tmp_path: Path, data_dir: Path) -> None:
    result = pipeline(dataset="ml-100k", model="lightgcn", model_params={"epochs": 3}, out=tmp_path / "r",
                      show_progress=False, seed=11)
    again = RunResult.load(tmp_path / "r")
    assert again.metrics()["test"] == result.metrics()["test"]
    assert np.array_equal(again.test.per_user["ndcg@10"], result.test.per_user["ndcg@10"])
    recs = again.recommend(result.data, "196", k=5)
    assert len(recs) == 5 and "title" in recs.columns
    seen = set(result.data.item_ids[result.split.train(result.data).items[
        result.split.train(result.data).users == result.data.user_index("196")]])
    assert not seen & set(recs["item_id"])


def test_same_seed_same_result(tmp_path: Path, data_dir: Path) -> None:
    kw = {"dataset": "ml-100k", "model": "bpr", "model_params": {"epochs": 2}, "show_progress": False}
    a, b = pipeline(**kw), pipeline(**kw)
    assert a.metrics()["test"] == b.metrics()["test"]


def test_interrupted_run_with_other_config_is_refused(tmp_path: Path, data_dir: Path) -> None:
    import json

    import pytest

    from knowrec.config import RunConfig
    from knowrec.errors import ConfigError

    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(RunConfig(model="bpr", seed=1).model_dump(mode="json")))
    with pytest.raises(ConfigError, match="different config"):
        pipeline(dataset="ml-100k", model="bpr", seed=2, out=folder, show_progress=False)


def test_cold_item_split_ranks_cold_items_and_all_items(tmp_path: Path, data_dir: Path) -> None:
    """ml-100k cold-item split: the hybrid scores items it never saw from text + KG, the ID-only model cannot."""
    kw = {"dataset": "ml-100k", "split": "cold-item", "show_progress": False}
    hybrid = pipeline(model="hybrid", model_params={"epochs": 4, "sources": "kg,text"}, out=tmp_path / "h", **kw)
    metrics = RunResult.load(tmp_path / "h").metrics()
    assert set(metrics) >= {"test", "test_all_items"}
    cold = set(hybrid.split.cold_test.tolist())
    top = hybrid.model.recommend(np.arange(5), k=5, candidates=hybrid.split.cold_test)[0]
    assert set(top.ravel().tolist()) <= cold
    bpr = pipeline(model="bpr", model_params={"epochs": 4}, **kw)
    assert hybrid.test.metrics["recall@20"] > bpr.test.metrics["recall@20"] + 0.05
