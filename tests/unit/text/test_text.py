"""Item/user texts from fields and the cached sentence-transformers encoder (the packaged MiniLM)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from knowrec.data import Dataset
from knowrec.data.triples import KnowledgeGraph
from knowrec.errors import ConfigError
from knowrec.text import DEFAULT_TEXT_MODEL, TextEncoder, item_texts, user_texts
from knowrec.text.templates import describe_item, describe_user, relation_label


def test_item_text_reads_title_year_and_genres() -> None:
    row = {"movie_title": ["L.A.", "Confidential"], "release_year": "1997", "class": ["Crime", "Mystery"],
           "zip_code": "x"}
    assert describe_item(row) == "L.A. Confidential (1997). Genres: Crime, Mystery."


def test_user_text_reads_demographics() -> None:
    assert describe_user({"age": "24", "gender": "M", "occupation": "technician", "zip_code": "8"}) == \
        "24-year-old male technician"


def test_template_and_its_errors(tiny: Dataset) -> None:
    texts = item_texts(tiny, "{title} / {genres}")
    assert texts[0] == "Item 0 / drama"
    with pytest.raises(ConfigError, match="unknown field 'plot'"):
        item_texts(tiny, "{plot}")


def test_readable_kg_facts_join_the_text_opaque_ids_do_not(tiny: Dataset) -> None:
    texts = item_texts(tiny)
    assert "genres" in texts[0].lower() and "drama" in texts[0]
    kg = KnowledgeGraph(np.array(["m.0abc", "m.0xyz"], dtype=object), np.array(["film.film.directed_by"]),
                        [0], [0], [1], [0])
    data = Dataset.from_ids("d", np.array(["u"]), np.array(["i"]))
    data.kg = kg
    assert item_texts(data) is None  # no fields and only Freebase ids: nothing readable
    assert relation_label("film.film.directed_by") == "directed by"


def test_no_user_fields_means_no_user_text(tiny: Dataset) -> None:
    assert user_texts(tiny) is None


def test_encoder_caches_by_text(tmp_path: Path) -> None:
    encoder = TextEncoder(cache_dir=tmp_path)
    texts = ["Toy Story (1995). Genres: Animation.", "Heat (1995). Genres: Crime.",
             "Toy Story (1995). Genres: Animation."]
    vectors = encoder.encode(texts, show_progress=False)
    assert vectors.shape == (3, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)
    assert np.allclose(vectors[0], vectors[2])
    assert vectors[0] @ vectors[1] < 0.99
    again = TextEncoder(cache_dir=tmp_path)
    again.load = lambda: pytest.fail("a cached text was encoded again")  # type: ignore[method-assign]
    assert np.allclose(again.encode(texts[:2], show_progress=False), vectors[:2])
    more = TextEncoder(cache_dir=tmp_path).encode(["Fargo (1996).", texts[0]], show_progress=False)
    assert np.allclose(more[1], vectors[0])


def test_similar_texts_are_closer(tmp_path: Path) -> None:
    v = TextEncoder(cache_dir=tmp_path).encode(["a space adventure film", "a science fiction movie in space",
                                                "a cookbook of italian pasta"], show_progress=False)
    assert v[0] @ v[1] > v[0] @ v[2]


def test_unknown_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot load text model"):
        TextEncoder(str(tmp_path / "no-such-model"), cache_dir=tmp_path).encode(["x"], show_progress=False)


def test_new_item_table_text() -> None:
    from knowrec.text.templates import render_items

    table = pd.DataFrame({"title": ["New Film"], "genres": [["Sci-Fi"]]})
    assert render_items(table) == ["New Film. Genres: Sci-Fi."]


def test_a_saved_lora_model_encodes_like_the_tuned_one(tmp_path: Path) -> None:
    """LoRA adapters are merged into the saved weights (a plain model that loads anywhere), and saving leaves
    the model being trained untouched."""
    from knowrec.text.finetune import FineTune, embed, save_lm, trainable_lm

    lm = trainable_lm(DEFAULT_TEXT_MODEL, FineTune.LORA)
    trainable = [n for n, p in lm.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    torch.manual_seed(0)
    for name, p in lm.named_parameters():
        if "lora_B" in name:  # as if trained: the adapters now change the output
            p.data.normal_(0, 0.5)
    texts = ["A film about a journey through space.", "A quiet family drama."]
    tuned = embed(lm.eval(), texts).detach()
    pretrained = torch.from_numpy(TextEncoder(cache=False).encode(texts, show_progress=False))
    assert (tuned * pretrained).sum(1).max() < 0.9
    save_lm(lm, tmp_path / "lm")
    assert [n for n, p in lm.named_parameters() if p.requires_grad] == trainable
    saved = TextEncoder(str(tmp_path / "lm"), cache=False, max_length=64)
    back = torch.from_numpy(saved.encode(texts, show_progress=False))
    assert torch.allclose(back, tuned, atol=1e-4)
