"""The synthetic generator: exact sizes, distinct pairs, a power law, learnable tastes, KG and text on request."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from knowrec.cli import app
from knowrec.data import Dataset, load_dataset
from knowrec.data.synth import synthesize
from knowrec.errors import ConfigError


def test_sizes_are_exact_and_pairs_distinct() -> None:
    data = synthesize(2_000, 500, 30_000, seed=3)
    assert (data.n_users, data.n_items, data.n_interactions) == (2_000, 500, 30_000)
    keys = data.users * data.n_items + data.items
    assert len(np.unique(keys)) == len(keys)
    assert sorted(data.timestamps.tolist()) == list(range(30_000))


def test_seeded() -> None:
    a, b, c = (synthesize(500, 200, 5_000, seed=s) for s in (1, 1, 2))
    assert np.array_equal(a.users, b.users) and np.array_equal(a.items, b.items)
    assert not np.array_equal(a.items, c.items)


def test_popularity_is_skewed_and_not_in_the_numbering() -> None:
    data = synthesize(5_000, 1_000, 50_000, seed=0)
    counts = np.bincount(data.items, minlength=data.n_items)
    top = np.sort(counts)[::-1]
    assert top[:100].sum() > 0.3 * counts.sum()  # a tenth of the items hold a large share
    # the index is a random permutation of the popularity rank: no correlation with it
    assert abs(np.corrcoef(np.arange(data.n_items), counts)[0, 1]) < 0.1


def test_tastes_make_interactions_cluster() -> None:
    data = synthesize(2_000, 400, 20_000, seed=0, kg=True, affinity=0.9)
    genre = np.full(data.n_items, -1)
    kg = data.kg
    is_genre = kg.relations == 0
    genre[kg.heads[is_genre]] = kg.tails[is_genre]
    # consecutive items of one user share a genre far more often than two random items (1 in 20)
    order = np.argsort(data.users, kind="stable")
    u, i = data.users[order], data.items[order]
    within = u[1:] == u[:-1]
    assert (genre[i[1:]] == genre[i[:-1]])[within].mean() > 0.4


def test_kg_and_text() -> None:
    data = synthesize(300, 100, 2_000, seed=0, kg=True, text=True)
    assert data.kg.n_triples == 200 and data.kg.n_linked_items == 100
    assert set(data.kg.relation_ids) == {"genre", "maker"}
    assert data.field_types == {"title": "text"} and data.item_table["title"].str.len().min() > 10


@pytest.mark.parametrize(("kwargs", "word"), [
    ({"users": 0}, "users"), ({"interactions": 10**9}, "exceeds"), ({"affinity": 1.5}, "affinity"),
])
def test_bad_sizes_name_the_parameter(kwargs: dict, word: str) -> None:
    args = {"users": 100, "items": 50, "interactions": 500} | kwargs
    with pytest.raises(ConfigError, match=word):
        synthesize(args.pop("users"), args.pop("items"), args.pop("interactions"), **args)


def test_cli_writes_a_loadable_dataset(tmp_path: Path) -> None:
    out = tmp_path / "syn"
    result = CliRunner().invoke(app, ["data", "synth", "--out", str(out), "--users", "400", "--items", "120",
                                      "--interactions", "3000", "--seed", "5", "--kg", "--text"])
    assert result.exit_code == 0, result.output
    data = load_dataset(str(out))
    assert isinstance(data, Dataset) and data.n_interactions == 3000 and data.kg is not None
    made = synthesize(400, 120, 3000, seed=5, kg=True, text=True)
    pairs = {*zip(made.user_ids[made.users], made.item_ids[made.items], strict=True)}
    assert {*zip(data.user_ids[data.users], data.item_ids[data.items], strict=True)} == pairs
    bad = CliRunner().invoke(app, ["data", "synth", "--out", str(tmp_path / "x"), "--items", "0"])
    assert bad.exit_code != 0 and "items must be a positive integer" in bad.output
