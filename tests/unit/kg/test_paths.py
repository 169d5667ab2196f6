"""In-memory path search: the most specific path of up to 3 facts, hubs flagged, other domains left out, and
live item additions."""

from __future__ import annotations

import pandas as pd
import pytest

from knowrec.data import Dataset
from knowrec.errors import ConfigError
from knowrec.kg.paths import PathFinder
from knowrec.kg.store.base import graph_frames


def test_most_specific_path_and_added_items(tiny: Dataset) -> None:
    entities, facts = graph_frames(tiny)
    finder = PathFinder(entities, facts)
    (found,) = finder.best_paths(["i1"], "i2").values()
    path = found.path
    assert path.hops == 2 and path.relations == ("genres", "genres") and path.forward == (True, False)
    assert str(path) == "Item 1 -[genres]-> genres:drama <-[genres]- Item 2"
    assert found.weak and found.hub_share == pytest.approx(0.5) and found.key == "genres:drama"
    assert finder.best_paths(["i1"], "new") == {}
    grown = finder.with_items([("new", [("genres", "genres:drama"), ("studio", "brand-new studio")], "New film")])
    assert finder.best_paths(["i1"], "new") == {}  # the finder a request may still read is left as it was
    (found,) = grown.best_paths(["i1", "unknown"], "new").values()
    assert found.path.names == ("Item 1", "genres:drama", "New film")
    assert finder.best_paths(["i1"], "i1") == {}
    with pytest.raises(ConfigError, match="max_hops"):
        finder.best_paths(["i1"], "i2", max_hops=4)


def _films(n: int = 40) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``n`` films in English; f0, f1 and f3 share a director; f2's actor is the director's brother; f4 reaches
    the director only through music relations."""
    ids = [f"f{i}" for i in range(n)] + ["english", "coen", "cage", "composer"]
    entities = pd.DataFrame({"id": ids, "item": ids[:n] + [""] * 4, "name": [*ids[:n], "English", "", "", ""]})
    rows = [(f"f{i}", "film.film.language", "english") for i in range(n)]
    rows += [("f0", "film.film.directed_by", "coen"), ("f1", "film.film.directed_by", "coen"),
             ("f2", "film.film.actor", "cage"), ("f3", "film.film.actor", "cage"),
             ("coen", "film.director.film", "f3"), ("cage", "film.person.sibling", "coen"),
             ("f4", "music.recording.artist", "composer"), ("composer", "music.artist.sibling", "coen")]
    facts = pd.DataFrame(rows, columns=["from", "relation", "to"]).assign(head=lambda f: f["from"])
    return entities, facts


def test_a_rare_entity_beats_a_hub_and_longer_paths_are_searched() -> None:
    finder = PathFinder(*_films())
    found = finder.best_paths(["f0", "f2", "f4", "f5"], "f1", max_hops=3)
    assert found["f0"].key == "coen" and found["f0"].path.hops == 2 and not found["f0"].weak
    # f2's only 2-fact path is the language everyone shares; the 3-fact one through the actor and director wins
    assert found["f2"].path.nodes == ("f2", "cage", "coen", "f1") and found["f2"].key == "coen"
    assert not found["f2"].weak and found["f2"].weight < found["f0"].weight  # a third fact is discounted
    assert found["f5"].weak and found["f5"].key == "english" and found["f5"].hub_share == 1.0
    # f4 reaches f1 only through music relations: not a reason for a film
    assert found["f4"].key == "english"
    assert finder.items_linked("english") == 40 and finder.items_linked("coen") == 3
    only_short = finder.best_paths(["f2"], "f1", max_hops=2)
    assert only_short["f2"].weak


def test_relations_are_read_from_the_items_side() -> None:
    """Where a pair has a fact each way, the path keeps the one whose head is the item."""
    entities, facts = _films()
    facts = pd.concat([facts, pd.DataFrame([("coen", "film.director.film", "f0")], columns=["from", "relation", "to"])
                       .assign(head="coen")], ignore_index=True)
    path = PathFinder(entities, facts).best_paths(["f0"], "f1")["f0"].path
    assert path.relations == ("film.film.directed_by", "film.film.directed_by") and path.forward == (True, False)
