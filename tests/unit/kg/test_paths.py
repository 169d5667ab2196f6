"""In-memory path search: the same shortest paths as the graph store's Cypher, and live item additions."""

from __future__ import annotations

import numpy as np
import pytest

from knowrec.data import Dataset, load_dataset
from knowrec.errors import ConfigError
from knowrec.kg.paths import PathFinder
from knowrec.kg.store import open_store
from knowrec.kg.store.base import graph_frames


def test_shortest_paths_agree_with_the_store(data_dir: object) -> None:
    data = load_dataset("ml-100k", show_progress=False)
    store = open_store(":memory:")
    store.load(data)
    finder = PathFinder(*store.frames())
    rng = np.random.default_rng(0)
    ids = data.item_ids.astype(str)
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
                path = found[source]
                shortest = by_source[entity]
                # the same length as Cypher's shortest paths, and one of them
                assert path.hops == shortest[0].hops
                assert (path.nodes, path.relations, path.forward) in {(p.nodes, p.relations, p.forward)
                                                                      for p in shortest}
    store.close()


def test_most_specific_path_and_added_items(tiny: Dataset) -> None:
    entities, facts = graph_frames(tiny)
    finder = PathFinder(entities, facts)
    (path,) = finder.best_paths(["i1"], "i2").values()
    assert path.hops == 2 and path.relations == ("genres", "genres") and path.forward == (True, False)
    assert str(path) == "Item 1 -[genres]-> genres:drama <-[genres]- Item 2"
    assert finder.best_paths(["i1"], "new") == {}
    grown = finder.with_items([("new", [("genres", "genres:drama"), ("studio", "brand-new studio")], "New film")])
    assert finder.best_paths(["i1"], "new") == {}  # the finder a request may still read is left as it was
    (path,) = grown.best_paths(["i1", "unknown"], "new").values()
    assert path.names == ("Item 1", "genres:drama", "New film")
    assert finder.best_paths(["i1"], "i1") == {}
    with pytest.raises(ConfigError, match="max_hops"):
        finder.best_paths(["i1"], "i2", max_hops=4)
