"""The hybrid model's choices as enums, and what each of its parameters may be."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import torch

from knowrec.errors import ConfigError
from knowrec.params import (
    NON_NEGATIVE,
    NON_NEGATIVE_INT,
    POSITIVE,
    POSITIVE_INT,
    RATE,
    Constraint,
    Dimension,
    Flag,
    Float,
    Numbers,
    OneOf,
    SubsetOf,
    Text,
    split_names,
    split_numbers,
)
from knowrec.text.finetune import FineTune


class Source(StrEnum):
    """Where a part of an item's vector comes from."""

    ID = "id"
    KG = "kg"
    TEXT = "text"


class Fusion(StrEnum):
    """How the parts are mixed: fixed weights, or a learned per-item gate."""

    FIXED = "fixed"
    GATE = "gate"


class Aggregation(StrEnum):
    """How a user's history items are pooled: their mean, or attention."""

    MEAN = "mean"
    ATTENTION = "attention"


class SoftmaxLoss(StrEnum):
    """Softmax over all items, or over popularity-sampled ones with logQ correction."""

    FULL = "softmax"
    SAMPLED = "sampled"


ALL_SOURCES = (Source.ID, Source.KG, Source.TEXT)

CONSTRAINTS: dict[str, Constraint] = {
    "sources": SubsetOf.enum(Source), "weights": Numbers(0.0),
    "fusion": OneOf.enum(Fusion), "aggregation": OneOf.enum(Aggregation), "loss": OneOf.enum(SoftmaxLoss),
    "finetune": OneOf.enum(FineTune),
    "source_dropout": RATE, "history_dropout": RATE, "dropout": RATE, "align": NON_NEGATIVE,
    "temperature": POSITIVE, "lm_lr": POSITIVE, "n_samples": POSITIVE_INT, "lm_batch": POSITIVE_INT,
    "max_degree": NON_NEGATIVE_INT, "user_text": Flag(), "cosine": Flag(), "exclude_seen": Flag(),
    "text_model": Text(required=True), "text_template": Text(),
}


SEARCH_SPACE: dict[str, Dimension] = {
    "temperature": Float(0.05, 1.0, log=True), "dropout": Float(0.0, 0.5), "source_dropout": Float(0.0, 0.5),
    "lr": Float(1e-4, 1e-2, log=True), "reg": Float(1e-6, 1e-1, log=True),
}


def parse_sources(sources: Any) -> list[Source]:
    """``"id,kg,text"`` or ``[Source.ID, …]`` → the sources in their canonical order, checked."""
    names = split_names(sources)
    if not names or not set(names) <= set(Source):
        raise ConfigError(f"sources must be a non-empty subset of {', '.join(Source)}, got {sources!r}")
    return [s for s in Source if s in set(names)]


def fixed_weights(weights: Any, wanted: list[Source], used: list[str]) -> torch.Tensor:
    """The fixed fusion weights of the ``used`` sources: one given per ``wanted`` source, or all 1."""
    values = split_numbers(weights)
    if not values:
        return torch.ones(len(used))
    if len(values) != len(wanted) or min(values) < 0:
        raise ConfigError(f"weights needs one non-negative number per source ({', '.join(wanted)}), "
                          f"got {weights!r}")
    return torch.tensor([w for s, w in zip(wanted, values, strict=True) if str(s) in used])
