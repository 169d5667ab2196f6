"""An exported split read back, and another library's scores judged by knowrec's metric code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from knowrec.data import Dataset, split
from knowrec.data.exchange import export_split, open_split
from knowrec.errors import DataError, UnknownNameError
from knowrec.evaluate import Evaluator
from knowrec.evaluate.external import load_scores
from knowrec.experiment import evaluate_scores
from knowrec.models import MODELS


@pytest.fixture
def exported(tiny: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Dataset, Path]:
    folder = tmp_path / "data"
    tiny.save(folder)
    from knowrec.data import load_dataset

    data = load_dataset(folder)
    out = tmp_path / "split"
    export_split(data, split(data, seed=5), out, dataset=str(folder))
    return data, out


def test_export_holds_indices_ids_and_facts(exported: tuple[Dataset, Path]) -> None:
    data, out = exported
    train = pd.read_csv(out / "train.tsv", sep="\t", dtype={"user_id": str, "item_id": str})
    assert (data.item_ids[train["item"]] == train["item_id"].to_numpy()).all()
    items = pd.read_csv(out / "items.tsv", sep="\t", dtype={"item_id": str})
    assert list(items["item_id"]) == list(data.item_ids)
    assert (pd.read_csv(out / "item_features.tsv", sep="\t")["feature"].str.startswith("genres=")).all()
    back, s, manifest = open_split(out)
    assert back.fingerprint() == manifest["fingerprint"] and s.counts() == manifest["counts"]


def test_a_matrix_scores_exactly_like_the_model(exported: tuple[Dataset, Path], tmp_path: Path) -> None:
    data, out = exported
    _, s, _ = open_split(out)
    model = MODELS.get("itemknn")(k=10).fit(s.train(data), show_progress=False)
    np.save(tmp_path / "scores.npy", model.score(np.arange(data.n_users)).numpy())
    ours = Evaluator(data, s).evaluate(model, "test").metrics
    theirs = evaluate_scores(out, tmp_path / "scores.npy", out=tmp_path / "judged")["test"].metrics
    assert theirs == pytest.approx(ours)
    assert (tmp_path / "judged" / "per_user_test.npz").is_file()


def test_top_k_lists_rank_in_list_order(exported: tuple[Dataset, Path], tmp_path: Path) -> None:
    data, out = exported
    _, s, _ = open_split(out)
    model = MODELS.get("pop")().fit(s.train(data), show_progress=False)
    ids, _ = model.recommend(np.arange(data.n_users), k=20)
    frame = pd.DataFrame({"user_id": np.repeat(data.user_ids, 20), "item_id": data.item_ids[ids.ravel()],
                          "rank": np.tile(np.arange(1, 21), data.n_users)})
    frame.to_csv(tmp_path / "top.tsv", sep="\t", index=False)
    judged = evaluate_scores(out, tmp_path / "top.tsv", ks=(10,))["test"].metrics
    # the lists exclude training items only; valid items in them are masked away, so only compare bounds
    assert 0 < judged["recall@10"] <= 1 and judged["coverage@10"] <= 20 / data.n_items + 1e-9


def test_bad_score_files_name_the_problem(exported: tuple[Dataset, Path], tmp_path: Path) -> None:
    data, _ = exported
    np.save(tmp_path / "wrong.npy", np.zeros((3, 3), np.float32))
    with pytest.raises(DataError, match=r"shape \(3, 3\)"):
        load_scores(tmp_path / "wrong.npy", data)
    bad = np.zeros((data.n_users, data.n_items), np.float32)
    bad[0, 0] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    with pytest.raises(DataError, match="NaN"):
        load_scores(tmp_path / "nan.npy", data)
    pd.DataFrame({"user_id": ["nobody"], "item_id": [data.item_ids[0]], "score": [1.0]}).to_csv(
        tmp_path / "top.tsv", sep="\t", index=False)
    with pytest.raises(UnknownNameError, match="nobody"):
        load_scores(tmp_path / "top.tsv", data)
    pd.DataFrame({"user_id": [data.user_ids[0]], "item_id": [data.item_ids[0]], "score": ["x"]}).to_csv(
        tmp_path / "top2.tsv", sep="\t", index=False)
    with pytest.raises(DataError, match=r"top2.tsv:2, field .score."):
        load_scores(tmp_path / "top2.tsv", data)
    with pytest.raises(DataError, match="not an exported split"):
        open_split(tmp_path)
