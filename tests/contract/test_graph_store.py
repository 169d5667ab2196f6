"""One contract for every graph-store backend available: LadybugDB always; Neo4j when KNOWREC_NEO4J_URI is set."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from knowrec.data import Dataset
from knowrec.errors import ConfigError, UnknownNameError
from knowrec.kg.store import NEO4J_URI_ENV, GraphStore, open_store

BACKENDS = ["ladybug", "neo4j"]


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path: Path) -> Iterator[GraphStore]:
    if request.param == "neo4j":
        uri = os.environ.get(NEO4J_URI_ENV)
        if not uri:
            pytest.skip("Neo4j: set KNOWREC_NEO4J_URI (and KNOWREC_NEO4J_USER/PASSWORD) to run against a server")
        s = open_store(uri)
    else:
        s = open_store(tmp_path / "kg.lbug")
    yield s
    s.close()


def test_load_export_round_trip(store: GraphStore, tiny: Dataset) -> None:
    counts = store.load(tiny)
    assert counts["facts"] == tiny.kg.n_triples
    kg = store.export(tiny.item_ids)
    assert kg.n_triples == tiny.kg.n_triples and kg.n_linked_items == tiny.n_items
    original = {(tiny.kg.entity_ids[h], tiny.kg.relation_ids[r], tiny.kg.entity_ids[t])
                for h, r, t in zip(tiny.kg.heads, tiny.kg.relations, tiny.kg.tails, strict=True)}
    back = {(kg.entity_ids[h], kg.relation_ids[r], kg.entity_ids[t])
            for h, r, t in zip(kg.heads, kg.relations, kg.tails, strict=True)}
    assert back == original
    same = kg.entity_ids[kg.item_entities] == tiny.kg.entity_ids[tiny.kg.item_entities]
    assert same.all()
    store.load(tiny)  # loading again replaces, it does not duplicate
    assert store.stats()["facts"] == tiny.kg.n_triples


def test_neighbors_and_paths(store: GraphStore, tiny: Dataset) -> None:
    store.load(tiny)
    head = store.item_entity("i0")
    nb = store.neighbors(head)
    assert set(nb["neighbor"]) == {"genres:drama"} and nb["forward"].all()
    assert store.neighbors("genres:drama", relation="genres")["forward"].eq(False).all()
    assert store.neighbors(head, relation="nope").empty
    paths = store.paths(["i0", "i1"], "i2", max_hops=2)
    assert paths and all(p.hops == 2 and p.nodes[1] == "genres:drama" for p in paths)
    assert str(paths[0]).endswith("-[genres]-> genres:drama <-[genres]- Item 2")  # items shown by title
    assert paths[0].forward == (True, False)
    assert not store.paths(["i0"], "i30", max_hops=2)  # drama and comedy films share nothing
    with pytest.raises(ConfigError):
        store.paths(["i0"], "i2", max_hops=9)
    with pytest.raises(UnknownNameError):
        store.item_entity("no-such-item")


def test_add_item_is_queryable_at_once(store: GraphStore, tiny: Dataset) -> None:
    store.load(tiny)
    entity = store.add_item("new", [("genres", "genres:comedy"), ("director", "person:ada")])
    assert entity == "item:new" and store.item_entity("new") == "item:new"
    assert {str(p.nodes[1]) for p in store.paths(["i30"], "new", max_hops=2)} == {"genres:comedy"}
    store.add_item("new", [("director", "person:bob")])  # extends the same item
    assert set(store.neighbors("item:new")["neighbor"]) == {"genres:comedy", "person:ada", "person:bob"}
    kg = store.export([*tiny.item_ids, "new"])
    assert kg.item_entities[-1] >= 0 and kg.n_triples == tiny.kg.n_triples + 3
