"""KGAT and RippleNet formats, the built-in multi-source ml-1m-kg, and plain-file import."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from knowrec.data import import_dataset, load_kgat, load_ripplenet
from knowrec.data.dataset import TEST, TRAIN
from knowrec.errors import DataError


def test_kgat_small(tmp_path: Path) -> None:
    (tmp_path / "train.txt").write_text("0 0 1 2\n1 2 3\n")
    (tmp_path / "test.txt").write_text("0 3\n1 0\n")
    (tmp_path / "kg_final.txt").write_text("0 0 4\n1 0 4\n2 1 5\n")
    data = load_kgat(tmp_path, "toy")
    assert (data.n_users, data.n_items, data.n_interactions) == (2, 4, 7)
    assert (data.parts == TRAIN).sum() == 5 and (data.parts == TEST).sum() == 2
    assert data.kg.n_entities == 6 and list(data.kg.item_entities) == [0, 1, 2, 3]


def test_kgat_bad_token(tmp_path: Path) -> None:
    (tmp_path / "train.txt").write_text("0 0 1\n1 2 x\n")
    (tmp_path / "test.txt").write_text("0 3\n")
    with pytest.raises(DataError) as e:
        load_kgat(tmp_path)
    assert e.value.path.endswith("train.txt") and e.value.line == 2 and e.value.field == "item"


def test_ripplenet_small(tmp_path: Path) -> None:
    (tmp_path / "ratings_final.txt").write_text("0\t1\t1\n0\t2\t0\n1\t0\t1\n")
    (tmp_path / "kg_final.txt").write_text("0\t0\t3\n1\t0\t3\n")
    data = load_ripplenet(tmp_path)
    assert data.n_interactions == 2 and data.negatives.tolist() == [[0, 2]]
    (tmp_path / "ratings_final.txt").write_text("0\t1\t1\n0\t2\t7\n")
    with pytest.raises(DataError) as e:
        load_ripplenet(tmp_path)
    assert e.value.line == 2 and e.value.field == "label"






def test_import_reports_drops(tmp_path: Path) -> None:
    inter = tmp_path / "clicks.csv"
    inter.write_text("user,item,stars,when\n"
                     "a,x,5,2024-01-01\n"
                     "a,y,4,2024-01-02\n"
                     ",y,3,2024-01-03\n"
                     "b,x,oops,2024-01-04\n"
                     "b,y,2,2024-01-05\n"
                     "a,x,1,2024-02-01\n")
    items = tmp_path / "items.csv"
    items.write_text('id,name,genre\nx,"Film X, the sequel",Action|Drama\ny,Film Y,Comedy\nz,Film Z,Drama\n')
    data, report = import_dataset(inter, user_col="user", item_col="item", weight_col="stars", time_col="when",
                                  items=items, item_id_col="id", text_cols=["name"], attr_cols=["genre"], attr_sep="|")
    assert report.rows_read == 6 and report.kept == 3
    assert report.dropped == {"missing user id": 1, "weight is not a number": 1,
                              "duplicate (user, item) pair; the latest row is kept": 1}
    assert report.examples["missing user id"] == [f"{inter}:4"]
    assert data.ratings[(data.user_ids[data.users] == "a") & (data.item_ids[data.items] == "x")].tolist() == [1.0]
    assert data.n_items == 3  # z has no interactions but is in the catalogue (cold item)
    assert any("cold" in n for n in report.notes)
    rels = data.kg.relation_counts()
    assert rels == {"genre": 4}
    x = data.item_index("x")
    facts = {data.kg.entity_ids[t] for h, t in zip(data.kg.heads, data.kg.tails, strict=True)
             if h == data.kg.item_entities[x]}
    assert facts == {"genre:Action", "genre:Drama"}
    assert data.item_table.loc[x, "name"] == "Film X, the sequel"


def test_import_strict_and_kg_files(tmp_path: Path) -> None:
    inter = tmp_path / "inter.tsv"
    inter.write_text("u\ti\n1\t10\n2\t11\n")
    kg = tmp_path / "kg.tsv"
    kg.write_text("e10\tdirector\tp1\ne11\tdirector\tp1\ne11\tdirector\tp1\n")
    links = tmp_path / "links.tsv"
    links.write_text("10\te10\n11\te11\n99\te99\n")
    data, report = import_dataset(inter, user_col="u", item_col="i", kg=kg, links=links)
    assert report.dropped == {"duplicate triple": 1, "link to an unknown item": 1}
    assert data.kg.n_triples == 2 and data.kg.n_linked_items == 2
    with pytest.raises(DataError) as e:
        import_dataset(inter, user_col="u", item_col="i", kg=kg, links=links, strict=True)
    assert e.value.path.endswith("kg.tsv") and e.value.line == 3


def test_import_unknown_column(tmp_path: Path) -> None:
    inter = tmp_path / "inter.csv"
    inter.write_text("u,i\n1,2\n")
    with pytest.raises(DataError) as e:
        import_dataset(inter, user_col="user", item_col="i")
    assert e.value.field == "user" and "u, i" in str(e.value)


def test_import_parquet_by_position(tmp_path: Path) -> None:
    import pandas as pd

    pd.DataFrame({"a": ["u1", "u2"], "b": ["i1", "i1"], "t": [1.0, 2.0]}).to_parquet(tmp_path / "x.parquet")
    data, _ = import_dataset(tmp_path / "x.parquet", user_col=0, item_col=1, time_col="t")
    assert data.n_users == 2 and data.n_items == 1 and np.allclose(data.timestamps, [1.0, 2.0])




def test_item7_an_import_that_keeps_nothing_is_an_error(tmp_path: Path) -> None:
    """Issue 10, item 7: a header-only file (or one whose every row is dropped) writes nothing."""
    inter = tmp_path / "inter.csv"
    inter.write_text("user,item,rating\n")
    with pytest.raises(DataError, match=r"no interaction row kept of 0 read .*nothing was written") as e:
        import_dataset(inter, user_col="user", item_col="item")
    assert e.value.path == str(inter)
    inter.write_text("user,item,rating\n,x,1\na,y,oops\n")
    with pytest.raises(DataError, match="1 × missing user id; 1 × weight is not a number"):
        import_dataset(inter, user_col="user", item_col="item", weight_col="rating")


def test_item8_non_finite_and_out_of_range_values_are_dropped(tmp_path: Path) -> None:
    """Issue 10, item 8: inf, 1e400, a float32 overflow and absurd timestamps are bad rows, reported."""
    inter = tmp_path / "inter.csv"
    inter.write_text("user,item,rating,ts\n"
                     "a,x,inf,1\na,y,-inf,2\nb,x,1e400,3\nb,y,1e39,4\nc,x,4,inf\nc,y,4,1e20\n"
                     "d,x,3.5,1700000000000\nd,y,-2,-5\n")
    data, report = import_dataset(inter, user_col="user", item_col="item", weight_col="rating", time_col="ts")
    assert report.kept == 2 and data.ratings.tolist() == [3.5, -2.0]
    assert report.dropped == {"weight is infinite or beyond ±3.4e+38": 4, "timestamp is infinite or beyond ±2^53": 2}
    assert np.isfinite(data.ratings).all() and np.isfinite(data.timestamps).all()
    with pytest.raises(DataError) as e:
        import_dataset(inter, user_col="user", item_col="item", weight_col="rating", strict=True)
    assert e.value.line == 2 and e.value.field == "rating"


def test_item11_links_to_absent_entities_links_without_kg_and_strict_messages(tmp_path: Path) -> None:
    """Issue 10, item 11: a link to an entity not in the KG is dropped (not counted as coverage), ``links`` without
    ``kg`` is an error, and the strict error does not claim a row was kept."""
    from knowrec.errors import ConfigError

    inter = tmp_path / "inter.tsv"
    inter.write_text("u\ti\n1\t10\n2\t11\n2\t10\n2\t10\n")
    kg = tmp_path / "kg.tsv"
    kg.write_text("e10\tdirector\tp1\n")
    links = tmp_path / "links.tsv"
    links.write_text("10\te10\n11\tnowhere\n")
    data, report = import_dataset(inter, user_col="u", item_col="i", kg=kg, links=links)
    assert report.dropped["link to an entity that is not in the KG"] == 1
    assert data.kg.n_linked_items == 1 and data.summary()["kg_item_coverage"].startswith("1/2 items")
    with pytest.raises(ConfigError, match="pass the KG as well"):
        import_dataset(inter, user_col="u", item_col="i", links=links)
    with pytest.raises(DataError) as e:
        import_dataset(inter, user_col="u", item_col="i", strict=True)
    assert str(e.value).endswith("duplicate (user, item) pair") and e.value.line == 4  # the earlier one


def test_entity_names_label_the_graph_and_a_thin_kg_is_said(tmp_path: Path) -> None:
    """--entity-names: labels travel with the saved dataset into the graph frames; bad rows name file and line;
    a KG covering a fifth of the items gets a warning."""
    from knowrec.data.dataset import Dataset
    from knowrec.errors import ConfigError
    from knowrec.kg.store.base import graph_frames

    inter = tmp_path / "inter.tsv"
    inter.write_text("u\ti\n" + "".join(f"{u}\t{i}\n" for u in range(3) for i in range(10, 20)))
    kg = tmp_path / "kg.tsv"
    kg.write_text("e10\tdirector\tp1\ne11\tdirector\tp1\n")
    links = tmp_path / "links.tsv"
    links.write_text("10\te10\n11\te11\n")
    names = tmp_path / "names.tsv"
    names.write_text("p1\tJoel Coen\nnobody\tX\np1\tEthan Coen\ne10\t\n")
    data, report = import_dataset(inter, user_col="u", item_col="i", kg=kg, links=links, entity_names=names)
    assert report.dropped == {"name of an entity that is not in the KG": 1, "empty entity name": 1,
                              "entity named twice; the first name is kept": 1}
    assert "names.tsv:2" in " ".join(report.examples["name of an entity that is not in the KG"])
    data = Dataset.load(data.save(tmp_path / "ds"))
    entities, _ = graph_frames(data)
    assert entities.set_index("id").loc["p1", "name"] == "Joel Coen" and data.summary()["kg_named_entities"] == 1
    assert data.summary()["kg_item_coverage"].startswith("2/10 items with facts")
    assert "only 20% of the items" in data.kg_warning()
    with pytest.raises(ConfigError, match="entity names label the entities of a KG"):
        import_dataset(inter, user_col="u", item_col="i", entity_names=names)
