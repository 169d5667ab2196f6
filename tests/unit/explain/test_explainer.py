"""Explanations: specific KG paths in words, hubs flagged, labels instead of ids, and fallbacks that say what
they rest on."""

from __future__ import annotations

import numpy as np

from knowrec.data import Dataset
from knowrec.explain import Explainer
from knowrec.explain.explainer import describe
from knowrec.explain.labels import entity_label, relation_label, relation_noun
from knowrec.kg.paths import WeightedPath
from knowrec.kg.store.base import KGPath
from knowrec.models import Hybrid


def test_paths_through_shared_genres(tiny: Dataset) -> None:
    model = Hybrid(epochs=10, batch_size=64, lr=0.02).fit(tiny, show_progress=False)
    explainer = Explainer(model, tiny, limit=2)
    items, _ = model.recommend(tiny.user_index("u0"), k=3)
    history = set(tiny.item_ids[model.seen_[0].indices])
    for item in items:
        exp = explainer.explain("u0", tiny.item_ids[item])
        assert exp.kind == "kg" and 2 <= len(exp.reasons) <= 3
        *paths, closest = exp.reasons
        keys = [r.path.split(" ")[2] for r in paths]
        assert len(set(keys)) == len(keys)  # one reason per shared entity
        for reason in paths:
            assert reason.text.startswith("same genre (") and reason.hops == 2 and reason.basis == "kg"
            assert reason.via in history and reason.evidence >= 1
            # every genre of the tiny data holds half the items: a hub, said so
            assert reason.weak and "a weak reason" in reason.text and "50% of the items" in reason.text
        # hubs alone say little: the closest history item follows, with what its closeness rests on
        assert closest.basis in ("co-occurrence", "text") and closest.via in history
        assert str(exp).startswith(f"{tiny.item_titles()[item]} for user u0")
        assert set(exp.sources) == {"id", "kg", "text", "popularity"} and "score" in str(exp)


def test_without_a_graph_the_closest_history_items_say_what_they_rest_on(tiny: Dataset) -> None:
    bare = Dataset.from_ids("bare", tiny.user_ids[tiny.users], tiny.item_ids[tiny.items], item_table=tiny.item_table)
    model = Hybrid(epochs=5, batch_size=64, lr=0.02, sources="id").fit(bare, show_progress=False)
    exp = Explainer(model, bare).explain("u3", bare.item_ids[np.int64(5)])
    assert exp.kind == "similar" and len(exp.reasons) == 3 and "which you interacted with" in exp.reasons[0].text
    chosen_by = model.seen_.T.tocsr()
    for reason in exp.reasons:
        h = int(bare.item_index(reason.via))
        both = int((chosen_by[h] @ chosen_by[5].T).toarray()[0, 0])
        if both:
            assert reason.basis == "co-occurrence" and f"{both} " in reason.text and reason.evidence == 1 + both
        else:
            assert reason.basis == "similarity" and "vectors alone" in reason.text
    text_model = Hybrid(epochs=5, batch_size=64, lr=0.02, sources="id,text").fit(bare, show_progress=False)
    reason = Explainer(text_model, bare).explain("u3", bare.item_ids[np.int64(5)]).reasons[0]
    assert "their texts are" in reason.text and reason.basis in ("co-occurrence", "text")


def test_words_for_relations_and_entities() -> None:
    assert relation_noun("film.film.directed_by", True) == "director"
    assert relation_noun("film.director.film", False) == "director"  # the film is the tail: read the type
    assert relation_noun("film.film_genre.films_in_this_genre", False) == "genre"
    assert relation_noun("film.film.genre~inv", False) == "genre"
    assert relation_noun("brand", True) == "brand" and relation_noun("categories", True) == "category"
    assert relation_label("film.film.directed_by") == "directed by"
    assert entity_label("brand:3M", "brand:3M") == "3M" and entity_label("m.02h40lc", "m.02h40lc") == ""
    assert entity_label("category:17", "category:17") == "" and entity_label("m.0abc", "Joel Coen") == "Joel Coen"
    path = KGPath(("m.f1", "m.p", "m.f2"), ("film.film.actor", "film.film.directed_by"), (True, False),
                  ("Raising Arizona", "m.p", "Fargo"))
    text = describe(WeightedPath(path.nodes, 5.0, 0.002, "m.p", shared=3, make=lambda: path), "Raising Arizona")
    assert text == ("its director is the actor of Raising Arizona, which you interacted with; "
                    "2 more in your history share it")
    direct = KGPath(("m.f1", "m.f2"), ("film.film.sequel",), (True,), ("Star Wars", "Empire"))
    assert describe(WeightedPath(direct.nodes, 7.0, 0.0, "", make=lambda: direct), "Star Wars") == \
        "the sequel of Star Wars, which you interacted with"
