"""Explanations: KG paths from the history to a recommended item, and the fallback without a path."""

from __future__ import annotations

import numpy as np

from knowrec.data import Dataset
from knowrec.explain import Explainer
from knowrec.models import Hybrid


def test_paths_through_shared_genres(tiny: Dataset) -> None:
    model = Hybrid(epochs=10, batch_size=64, lr=0.02).fit(tiny, show_progress=False)
    explainer = Explainer(model, tiny, limit=2)
    items, _ = model.recommend(tiny.user_index("u0"), k=3)
    for item in items:
        exp = explainer.explain("u0", tiny.item_ids[item])
        assert exp.kind == "kg" and 1 <= len(exp.reasons) <= 2
        for reason in exp.reasons:
            assert "genres" in reason.text and reason.hops == 2
            assert reason.via in set(tiny.item_ids[model.seen_[0].indices])
        assert [r.support for r in exp.reasons] == sorted((r.support for r in exp.reasons), reverse=True)
        assert str(exp).startswith(f"{tiny.item_titles()[item]} for user u0")
        assert set(exp.sources) == {"id", "kg", "text", "popularity"} and "score" in str(exp)


def test_without_a_graph_the_closest_history_items_explain(tiny: Dataset) -> None:
    bare = Dataset.from_ids("bare", tiny.user_ids[tiny.users], tiny.item_ids[tiny.items], item_table=tiny.item_table)
    model = Hybrid(epochs=5, batch_size=64, lr=0.02, sources="id").fit(bare, show_progress=False)
    exp = Explainer(model, bare).explain("u3", bare.item_ids[np.int64(5)])
    assert exp.kind == "similar" and len(exp.reasons) == 3 and "which you interacted with" in exp.reasons[0].text
