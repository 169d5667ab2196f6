"""The built-in datasets as they are on disk (``$KNOWREC_DATA_DIR``): counts, formats, the knowledge graph in
the graph store and in the in-memory path index. Unit tests run on small data they make; these need the real files."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from knowrec.data import load_dataset, split
from knowrec.data.dataset import TEST
from knowrec.data.formats.recbole import export_recbole, load_recbole
from knowrec.errors import DatasetNotFoundError
from knowrec.kg.paths import PathFinder
from knowrec.kg.store import open_store
from knowrec.kg.store.base import graph_frames


def test_paths_agree_with_the_store(data_dir: object) -> None:
    """Every path the in-memory finder picks is a path of the store's graph, no shorter than Cypher's shortest,
    and a source has one exactly when Cypher finds one within 3 facts."""
    data = load_dataset("ml-100k", show_progress=False)
    store = open_store(":memory:")
    store.load(data)
    entities, facts = store.frames()
    finder = PathFinder(entities, facts)
    known = set(zip(facts["from"], facts["relation"], facts["to"], strict=True))
    rng = np.random.default_rng(0)
    ids = data.item_ids.astype(str)
    longer = 0
    for _ in range(15):
        target, *sources = rng.choice(ids, size=4, replace=False)
        found = finder.best_paths(sources, target, max_hops=3)
        cypher = store.paths(sources, target, max_hops=3, limit=1000)
        by_source: dict[str, list] = {}
        for path in cypher:
            by_source.setdefault(path.nodes[0], []).append(path)
        for source in sources:
            entity = store.item_entity(source)
            assert (source in found) == (entity in by_source), (source, target)
            if source in found:
                path = found[source].path
                assert path.nodes[0] == entity and path.nodes[-1] == store.item_entity(target)
                assert by_source[entity][0].hops <= path.hops <= 3
                longer += path.hops > by_source[entity][0].hops
                for (a, b), rel, fwd in zip(itertools.pairwise(path.nodes), path.relations, path.forward, strict=True):
                    assert ((a, rel, b) if fwd else (b, rel, a)) in known
    store.close()
    assert longer < 15 * 3  # most picks are shortest paths too; some trade a hop for a rarer entity


def test_ml100k_kg_in_the_graph_store(tmp_path: Path, data_dir: Path) -> None:
    store = open_store(tmp_path / "kg.lbug")
    data = load_dataset("ml-100k")
    assert store.load(data) == {"entities": 34_628 + 84, "facts": 91_631}
    stats = store.stats()
    assert stats["relations"] == 24 and stats["items"] == 1682
    star_wars = store.item_entity("50")
    directors = store.neighbors(star_wars, relation="film.film.directed_by")
    assert len(directors) == 1
    history = ["172", "181"]  # The Empire Strikes Back, Return of the Jedi
    paths = store.paths(history, "50", max_hops=3)
    assert paths and all(p.hops <= 3 for p in paths) and np.isin([p.nodes[-1] for p in paths], [star_wars]).all()


def test_data_dir_and_explicit_path(data_dir: Path) -> None:
    assert load_dataset("ml-100k").n_users == 943
    assert load_dataset(data_dir / "ml-100k").n_users == 943
    with pytest.raises(DatasetNotFoundError):
        load_dataset("/no/such/folder")


def test_ml100k_counts_and_kg(data_dir: Path) -> None:
    data = load_recbole(data_dir / "ml-100k", "ml-100k")
    assert (data.n_users, data.n_items, data.n_interactions) == (943, 1682, 100_000)
    assert data.kg is not None and data.kg.n_triples == 91_631 and data.kg.n_relations == 24
    assert data.kg.n_linked_items == 1598
    assert data.item_titles()[data.item_index("1")] == "Toy Story (1995)"
    assert data.item_table.loc[data.item_index("1"), "class"] == ["Animation", "Children's", "Comedy"]
    assert data.user_table.loc[data.user_index("1"), "occupation"] == "technician"
    assert data.ratings.sum() == pytest.approx(352_986)  # sum of u.data ratings


def test_export_round_trip(tmp_path: Path, data_dir: Path) -> None:
    data = load_recbole(data_dir / "ml-100k", "ml-100k")
    s = split(data, seed=7)
    export_recbole(data, s.parts, tmp_path / "a")
    export_recbole(data, s.parts, tmp_path / "b")
    for f in sorted((tmp_path / "a").iterdir()):
        assert f.read_bytes() == (tmp_path / "b" / f.name).read_bytes(), f.name
    train = (tmp_path / "a" / "ml-100k.train.inter")
    assert sum(1 for _ in train.open()) - 1 == s.counts()["train"]
    back = load_recbole(tmp_path / "a", "ml-100k.train")
    assert back.n_interactions == s.counts()["train"]
    (tmp_path / "a" / "ml-100k.train.inter").rename(tmp_path / "a" / "ml-100k.inter")
    whole = load_recbole(tmp_path / "a", "ml-100k")
    assert whole.kg.n_triples == data.kg.n_triples and whole.item_table.shape == data.item_table.shape
    assert np.isin(whole.item_ids, data.item_ids).all()


def test_book_crossing(data_dir: Path) -> None:
    data = load_dataset("book-crossing-kg")
    assert (data.n_users, data.n_items, data.n_interactions) == (17_860, 14_967, 69_873)
    assert len(data.negatives) == 69_873 and data.kg.n_triples == 151_500
    assert data.item_index("0002005018") >= 0  # ISBN restored from RippleNet's index


def test_amazon_scientific(data_dir: Path) -> None:
    """The counts of ../shared/data/README.md: the category path split on a comma not followed by a space."""
    data = load_dataset("amazon-scientific")
    assert (data.n_users, data.n_items, data.n_interactions) == (8317, 4344, 58_492)
    kg = data.kg
    relation = kg.relation_ids[kg.relations]
    assert (relation == "categories").sum() == 17_402 and (relation == "brand").sum() == 4_332
    assert len(np.unique(kg.tails[relation == "categories"])) == 917
    assert len(np.unique(kg.tails[relation == "brand"])) == 1_546
    assert "categories:Tapes, Adhesives & Sealants" in set(kg.entity_ids)
    first = data.user_index("1")
    seq = data.items[data.users == first][np.argsort(data.timestamps[data.users == first])]
    assert list(data.item_ids[seq]) == ["9", "10", "11", "12", "6"]


def test_yelp_hin(data_dir: Path) -> None:
    """The counts of ../shared/data/README.md: 158,590 friend rows are 79,295 friendships among 10,580 users."""
    data = load_dataset("yelp-hin")
    assert (data.n_users, data.n_items, data.n_interactions) == (16_239, 14_284, 198_397)
    assert data.social.n_links == 79_295 and not data.social.directed
    assert int((data.social.degrees(data.n_users) > 0).sum()) == 10_580
    relation = data.kg.relation_ids[data.kg.relations]
    assert (relation == "category").sum() == 40_009 and (relation == "city").sum() == 14_267
    assert sum(len(v) for v in data.user_table["compliments"]) == 76_875
    u2 = data.user_index("2")
    friends = data.social.matrix(data.n_users)[u2].indices
    assert {"56", "179"} <= set(data.user_ids[friends])
    assert data.ratings[(data.users == data.user_index("1")) & (data.items == data.item_index("8391"))] == [5.0]


def test_ml1m_kg(data_dir: Path) -> None:
    data = load_dataset("ml-1m-kg")
    assert (data.n_users, data.n_items, data.n_interactions) == (6040, 3260, 998_539)
    assert (data.parts == TEST).sum() == 197_321
    toy = data.item_index("1")
    assert data.item_titles()[toy] == "Toy Story (1995)"
    assert "John Lasseter" in data.item_table.loc[toy, "description"]
    assert data.kg.n_triples == 20_782 and data.kg.n_linked_items == 2077


def test_attribute_kg_extends_freebase_kg(data_dir: Path) -> None:
    from knowrec.data import attribute_kg

    data = load_dataset("ml-100k")
    kg = attribute_kg(data, {"class": "genre", "release_year": "year"})
    genre_triples = sum(len(g) for g in data.item_table["class"])
    assert kg.relation_counts()["genre"] == genre_triples
    assert kg.n_triples == data.kg.n_triples + genre_triples + int((data.item_table["release_year"] != "").sum())
    toy = data.item_index("1")
    assert kg.entity_ids[kg.item_entities[toy]] == data.kg.entity_ids[data.kg.item_entities[toy]]  # keeps its MID
    assert kg.n_linked_items == data.n_items  # unlinked films get an "item:<id>" entity


def test_the_path_index_is_the_same_from_the_store_or_the_dataset(data_dir: Path) -> None:
    """Ties between equally specific entities are broken by id, so the explanations do not depend on the order
    a graph store returns its rows in."""
    data = load_dataset("ml-100k", show_progress=False)
    store = open_store(":memory:")
    store.load(data)
    from_store, from_data = PathFinder(*store.frames()), PathFinder(*graph_frames(data))
    rng = np.random.default_rng(0)
    ids = data.item_ids.astype(str)
    for _ in range(500):
        target, *sources = rng.choice(ids, size=6, replace=False)
        a, b = from_store.best_paths(sources, target), from_data.best_paths(sources, target)
        assert {k: str(v.path) for k, v in a.items()} == {k: str(v.path) for k, v in b.items()}
    store.close()
