"""In-memory path search: the same shortest paths as the graph store's Cypher, and live item additions."""

from __future__ import annotations

import pytest

from knowrec.data import Dataset
from knowrec.errors import ConfigError
from knowrec.kg.paths import PathFinder
from knowrec.kg.store.base import graph_frames


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


def test_the_store_holds_users_and_friendships() -> None:
    from tests.conftest import make_tiny, make_tiny_social

    from knowrec.kg.store import open_store

    data = make_tiny_social()
    with open_store(":memory:") as store:
        counts = store.load(data, social=True)
        u = f"user:{data.user_ids[data.social.src[0]]}"
        near = store.neighbors(u, limit=1000)
        assert {"friend", "interacted"} <= set(near["relation"])
        item = near[near["relation"] == "interacted"]["neighbor"].iloc[0]
        assert "genres" in set(store.neighbors(item)["relation"])  # user → item → genre
        stats = store.stats()
        assert stats["facts"] == counts["facts"] and stats["top_relations"]["friend"] == data.social.n_links
    with pytest.raises(Exception, match="no social graph"):
        graph_frames(make_tiny(), social=True)
