"""What the hybrid model reads from a dataset before training: each item's KG facts (cleaned, with inverse
relations, hub degrees capped, only entities that items share), its text vector, and the users' profiles."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from knowrec.data.dataset import Dataset
from knowrec.kg.prepare import item_facts, item_graph
from knowrec.models.hybrid.network import HybridInputs, ItemFacts
from knowrec.models.hybrid.options import Source
from knowrec.text import TextEncoder, item_texts, user_texts


@dataclass
class KGInputs:
    """An item's facts as indices, and the entity and relation names they index (the model's KG vocabulary)."""

    facts: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
    entity_ids: np.ndarray
    relation_ids: np.ndarray
    report: dict = field(default_factory=dict)

    @property
    def sizes(self) -> dict[str, int]:
        return {"n_entities": len(self.entity_ids), "n_relations": len(self.relation_ids)}


def kg_inputs(data: Dataset, *, max_degree: int, seed: int) -> KGInputs:
    """The facts items are embedded from: a tail no other item shares would be a free per-item vector, so only
    shared ones; hubs capped at ``max_degree`` facts (0: no cap)."""
    kg, report = item_graph(data.kg, max_degree=max_degree, seed=seed)
    items, rels, tails = item_facts(kg)
    used, tails = np.unique(tails, return_inverse=True)  # only entities that items point to get vectors
    return KGInputs(tuple(torch.from_numpy(a) for a in (items, rels, tails)), kg.entity_ids[used], kg.relation_ids,
                    report)


@dataclass
class TextInputs:
    """Items' texts and their language-model vectors, and the users' profile vectors (``None`` without)."""

    texts: list[str]
    item_text: torch.Tensor
    user_text: torch.Tensor | None


def text_inputs(data: Dataset, *, model: str, template: str, user_text: bool,
                show_progress: bool, device: str | torch.device = "auto") -> TextInputs | None:
    """Encode each item's text (and each user's profile when ``user_text``); ``None`` if the data has no text."""
    texts = item_texts(data, template or None)
    if texts is None:
        return None
    encoder = TextEncoder(model, device=device)
    items = torch.from_numpy(encoder.encode(texts, show_progress=show_progress))
    profiles = user_texts(data) if user_text else None
    users = None if profiles is None else torch.from_numpy(encoder.encode(profiles, show_progress=show_progress))
    return TextInputs(texts, items, users)


def base_inputs(data: Dataset) -> HybridInputs:
    """Training popularity, and which items have an ID part (those with a training interaction)."""
    return counted_inputs(np.bincount(data.items, minlength=data.n_items))


def counted_inputs(counts: np.ndarray) -> HybridInputs:
    """Inputs from each item's training interactions: its popularity, and whether it has an ID part."""
    return HybridInputs(popularity=torch.from_numpy(counts.astype(np.float32)),
                        has={Source.ID: torch.from_numpy(counts > 0)})


def add_kg(inputs: HybridInputs, kg: KGInputs) -> None:
    """Give ``inputs`` the items' facts, and which items have any."""
    inputs.facts = kg.facts
    inputs.kg = ItemFacts.build(*kg.facts, len(inputs.popularity), len(kg.entity_ids))
    inputs.has[Source.KG] = inputs.kg.has


def add_text(inputs: HybridInputs, text: TextInputs) -> None:
    """Give ``inputs`` the items' and users' text vectors, and which items have a text."""
    inputs.item_text, inputs.user_text = text.item_text, text.user_text
    inputs.has[Source.TEXT] = torch.tensor([bool(t.strip()) for t in text.texts])
