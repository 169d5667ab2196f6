"""Content baseline: cosine between an item's language-model vector and the mean vector of the user's history."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Self

import numpy as np
import torch

from knowrec.data.dataset import Dataset
from knowrec.errors import MissingInputError
from knowrec.models.base import MODELS, FactorRecommender
from knowrec.params import Constraint, Text
from knowrec.text import DEFAULT_TEXT_MODEL, TextEncoder, item_texts
from knowrec.train.callbacks import Callback


@MODELS.component("content", aliases=("content-lm", "text"))
class Content(FactorRecommender):
    """Scores items by the cosine of their text vectors to the mean text vector of the user's history.

    Needs no training, so it scores cold items as well as warm ones: the baseline cold-start models beat.
    """

    requires = frozenset({"item_text"})
    citation = "Content-based filtering over sentence embeddings (Reimers & Gurevych, Sentence-BERT, 2019)."
    constraints: ClassVar[dict[str, Constraint]] = {"text_model": Text(required=True), "text_template": Text()}

    def __init__(self, *, text_model: str = DEFAULT_TEXT_MODEL, text_template: str = "") -> None:
        self.text_model = text_model
        self.text_template = text_template

    def fit(self, data: Dataset, *, callbacks: Sequence[Callback] = (), show_progress: bool = True) -> Self:
        self._check_inputs(data)
        texts = item_texts(data, self.text_template or None)
        if texts is None:
            raise MissingInputError(f"dataset {data.name!r} has no item text to encode")
        items = TextEncoder(self.text_model).encode(texts, show_progress=show_progress)
        history = self.seen_ @ items / np.maximum(np.diff(self.seen_.indptr), 1)[:, None]
        self.item_factors_ = torch.from_numpy(items)
        self.user_factors_ = torch.nn.functional.normalize(torch.from_numpy(np.asarray(history, dtype=np.float32)),
                                                           dim=1)
        for cb in callbacks:
            cb.on_fit_end(self)
        return self
