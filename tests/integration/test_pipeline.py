"""``pipeline()`` and ``RunResult`` as a library user calls them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from knowrec.errors import ConfigError
from knowrec.experiment import pipeline
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
    (folder / "checkpoint.pt").write_bytes(b"")  # it got somewhere: there is something to resume
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


@pytest.mark.parametrize(("setting", "message"), [
    ({"dim": -5}, "bpr parameter dim must be an integer ≥ 1, got -5"),
    ({"dim": 0}, "bpr parameter dim must be an integer ≥ 1, got 0"),
    ({"epochs": 0}, "bpr parameter epochs must be an integer ≥ 1, got 0"),
    ({"epochs": -3}, "bpr parameter epochs must be an integer ≥ 1, got -3"),
    ({"lr": float("nan")}, "bpr parameter lr must be a finite number > 0, got nan"),
    ({"lr": -1.0}, "bpr parameter lr must be a finite number > 0, got -1.0"),
    ({"loss": "hinge"}, "bpr parameter loss must be one of bpr, softmax, got 'hinge'"),
    ({"dim": "big"}, "bpr parameter dim must be an integer ≥ 1, got 'big'"),
])
def test_item9_invalid_settings_fail_before_anything_is_written(tmp_path: Path, setting: dict, message: str) -> None:
    """Issue 10, item 9: every parameter's range is checked first; nothing is written; the corrected rerun runs."""
    folder = tmp_path / "r"
    data = _tiny_folder(tmp_path)
    with pytest.raises(ConfigError) as err:
        pipeline(dataset=str(data), model="bpr", model_params=setting, out=folder, show_progress=False)
    assert str(err.value) == message and not folder.exists()
    result = pipeline(dataset=str(data), model="bpr", model_params={"epochs": 2}, out=folder, show_progress=False)
    assert result.train.best_epoch is not None


def test_item9_every_model_parameter_has_a_declared_range() -> None:
    from knowrec.models import MODELS
    from knowrec.models.kge import KGE_MODELS

    for name, cls in [*MODELS, *KGE_MODELS]:
        undeclared = set(cls.param_names()) - set(cls.param_constraints())
        assert not undeclared, f"{name} declares no valid values for {sorted(undeclared)}"
        defaults = cls()
        defaults.check_params()  # the defaults are valid


def test_item9_a_run_stopped_before_its_first_checkpoint_does_not_block(tmp_path: Path) -> None:
    import json

    from knowrec.config import RunConfig

    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(RunConfig(model="bpr", seed=1).model_dump(mode="json")))
    (folder / ".checkpoint.pt.0123.tmp").write_bytes(b"half")  # left by a kill -9 (item 11)
    data = _tiny_folder(tmp_path)
    pipeline(dataset=str(data), model="bpr", model_params={"epochs": 2}, out=folder, show_progress=False)
    assert not list(folder.glob(".*.tmp")) and (folder / "metrics.json").is_file()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="holds no run"):  # never wipe a folder that is not a run
        pipeline(dataset=str(data), model="pop", out=tmp_path / "mine", overwrite=True, show_progress=False)


def test_item10_a_catalogue_smaller_than_the_largest_k(tmp_path: Path) -> None:
    """Issue 10, item 10: 16 items, ks up to 20: every k is computed (items past the catalogue are misses)."""
    from conftest import make_tiny

    small = make_tiny(n_users=30, n_items=16).compact()
    small.save(tmp_path / "small")
    for model, params in (("pop", {}), ("bpr", {"epochs": 2})):
        result = pipeline(dataset=str(tmp_path / "small"), model=model, model_params=params, show_progress=False,
                          ks=[5, 10, 20])
        test = result.test.metrics
        assert {"ndcg@20", "recall@20", "precision@20"} <= set(test)
        assert test["recall@20"] >= test["recall@10"] and test["precision@20"] <= test["precision@10"]


def test_item11_a_split_without_validation_interactions_says_so(tmp_path: Path) -> None:
    from knowrec.data import Dataset

    Dataset.from_ids("one", ["u1"], ["i1"]).save(tmp_path / "one")
    with pytest.raises(ConfigError, match="leaves no valid interactions"):
        pipeline(dataset=str(tmp_path / "one"), model="pop", out=tmp_path / "r", show_progress=False)
    assert not (tmp_path / "r").exists()


def test_item11_artifacts_respect_the_umask_and_curves_come_before_metrics(tmp_path: Path) -> None:
    import os

    old = os.umask(0o022)
    try:
        pipeline(dataset=str(_tiny_folder(tmp_path)), model="bpr", model_params={"epochs": 3}, out=tmp_path / "r",
                 show_progress=False)
    finally:
        os.umask(old)
    run = tmp_path / "r"
    for path in (run / "metrics.json", run / "curves.png", run / "model" / "params.json"):
        assert path.stat().st_mode & 0o777 == 0o644, path
    assert (run / "model").stat().st_mode & 0o777 == 0o755
    assert (run / "curves.png").stat().st_mtime_ns <= (run / "metrics.json").stat().st_mtime_ns


def _tiny_folder(tmp_path: Path) -> Path:
    from conftest import make_tiny

    folder = tmp_path / "tiny-data"
    if not folder.exists():
        make_tiny().save(folder)
    return folder
