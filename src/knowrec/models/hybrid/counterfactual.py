"""Scores as if some evidence were not there — history items, or the KG facts joining items to entities — with
every trained weight kept: what an explanation's faithfulness is measured with."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import scipy.sparse as sp
import torch

from knowrec.data.dataset import Dataset
from knowrec.errors import DataError, NotSupportedError
from knowrec.models.hybrid.inputs import add_kg, add_text, counted_inputs, kg_inputs, text_inputs
from knowrec.models.hybrid.network import HybridInputs, HybridNet
from knowrec.models.hybrid.options import Source


class Counterfactual:
    """Mixed into ``Hybrid``: ``scores_without`` re-derives the affected item vectors and the user's vector."""

    # provided by Hybrid
    sources_: list[str]
    seen_: sp.csr_matrix
    item_factors_: torch.Tensor
    item_bias_: torch.Tensor
    entity_ids_: np.ndarray
    temperature: float
    max_degree: int
    seed: int
    text_model: str
    text_template: str
    user_text: bool

    def scores_without(self, train: Dataset, user: int, *, history: Iterable[int] = (),
                       facts: Iterable[tuple[int, str]] = ()) -> torch.Tensor:
        """Every item's score for ``user`` (index) as if the history items ``history`` and the facts joining item
        ``i`` to entity ``e`` (``facts``: ``(item index, entity id)`` pairs) were not there (``train``: the data
        the model was fitted on, or any with its catalogue and KG). Nothing is retrained: the KG parts of the
        items that lose facts, their fused vectors and the user's history aggregate are derived again with the
        trained weights."""
        self.check_is_fitted()
        net = self._net()
        inputs = self._what_if_inputs(train)
        items = self.item_factors_
        facts = list(facts)
        with torch.no_grad():
            if facts and Source.KG in self.sources_:
                items = self._without_facts(net, inputs, items, facts)
            dropped = np.asarray(list(history), dtype=np.int64)
            kept = np.setdiff1d(self.seen_[user].indices, dropped)
            vectors = items[torch.from_numpy(kept)]
            a = net.history_weights(vectors)
            weighted, total = (a.unsqueeze(1) * vectors).sum(0, keepdim=True), a.sum().reshape(1)
            text = None if inputs.user_text is None else inputs.user_text[user:user + 1]
            use_id = torch.ones(1) if len(self.seen_[user].indices) else torch.zeros(1)
            u = net.scale(net.users_from(weighted, total, torch.tensor([user]), use_id, text), self.temperature)
            return (u @ items.T).squeeze(0) + self.item_bias_

    def fact_support(self, data: Dataset, user_vector: torch.Tensor, item: int, entities: list[str]) -> np.ndarray:
        """For each entity, how much the item's score for the user (``user_vector``, scored) would fall if the
        item's facts joining it to that entity were gone — exactly, through the gate, for all entities at once;
        0 for entities the item has no fact with. What a faithful explanation names first."""
        net = self._net()
        inputs = self._what_if_inputs(data)
        out = np.zeros(len(entities))
        if Source.KG not in self.sources_ or not entities or item >= len(inputs.popularity):
            return out  # items added while serving have no training facts to take away
        it, rt, tt = inputs.facts
        if "_fact_rows" not in self.__dict__:  # each item's facts as one slice of a sorted order
            order = np.argsort(it.numpy(), kind="stable")
            self._fact_rows = (torch.from_numpy(order), np.searchsorted(it.numpy()[order], np.arange(len(
                inputs.popularity) + 1)))
        order, bounds = self._fact_rows
        own = order[bounds[item]:bounds[item + 1]]
        if not len(own):
            return out
        entity = self._entity_index()
        wanted = torch.tensor([entity.get(str(e), -1) for e in entities])
        with torch.no_grad():
            msg = net.relation.weight[rt[own]] * net.entity.weight[tt[own]]
            hit = (tt[own].unsqueeze(0) == wanted.unsqueeze(1)).float()  # (candidates, facts)
            left = (1 - hit).sum(1)
            kg = ((1 - hit) @ msg) / left.clamp_min(1).unsqueeze(1)
            without = _fused(net, inputs, torch.full((len(entities),), item), kg, (left > 0).float()) \
                @ user_vector.reshape(-1)
            base = self.item_factors_[item] @ user_vector.reshape(-1)
            support = (base - without).numpy()
        return np.where(hit.sum(1).numpy() > 0, support, 0.0)

    def _without_facts(self, net: HybridNet, inputs: HybridInputs, items: torch.Tensor,
                       facts: list[tuple[int, str]]) -> torch.Tensor:
        """The scored item vectors with the given (item, entity) facts taken out of the KG part."""
        it, rt, tt = inputs.facts
        entity = self._entity_index()
        drop = torch.zeros(len(it), dtype=torch.bool)
        for item, ent in facts:
            if str(ent) in entity:
                drop |= (it == int(item)) & (tt == entity[str(ent)])
        changed = torch.unique(it[drop])
        if not len(changed):
            return items
        keep = ~drop & torch.isin(it, changed)
        local = torch.searchsorted(changed, it[keep])
        kg, has_kg = net.kg_vectors(local, rt[keep], tt[keep], len(changed))
        out = items.clone()
        out[changed] = _fused(net, inputs, changed, kg, has_kg)
        return out

    def _entity_index(self) -> dict[str, int]:
        if "_entities_at" not in self.__dict__:
            self._entities_at = {str(e): i for i, e in enumerate(self.entity_ids_)}
        return self._entities_at

    def _what_if_inputs(self, data: Dataset) -> HybridInputs:
        """The training inputs: those of the fit in this process, else derived again — facts and texts from
        ``data`` (text vectors come from the on-disk cache; the KG is checked against the model's vocabulary),
        popularity from the model's training history (a repeated interaction counts once)."""
        inputs = getattr(self, "_inputs", None)
        if inputs is not None:
            return inputs
        if getattr(self, "tuned_lm_", None) is not None:
            raise NotSupportedError("scores_without needs the text vectors the model trained on; a model with a "
                                    "fine-tuned language model must be fitted in this process")
        counts = np.bincount(self.seen_.indices, minlength=self.seen_.shape[1])[: data.n_items]
        inputs = counted_inputs(counts)
        if Source.KG in self.sources_:
            kg = kg_inputs(data, max_degree=self.max_degree, seed=self.seed)
            if list(map(str, kg.entity_ids)) != list(map(str, self.entity_ids_)):
                raise DataError(f"the KG of {data.name!r} is not the one the model was trained on")
            add_kg(inputs, kg)
        if Source.TEXT in self.sources_:
            text = text_inputs(data, model=self.text_model, template=self.text_template, user_text=self.user_text,
                               show_progress=False)
            if text is not None:
                add_text(inputs, text)
        self._inputs = inputs
        return inputs


def _fused(net: HybridNet, inputs: HybridInputs, items: torch.Tensor, kg: torch.Tensor,
           has_kg: torch.Tensor) -> torch.Tensor:
    """The scored vectors of ``items`` with their KG parts replaced by ``kg`` (``has_kg``: which have any left),
    the other sources and the gate as trained."""
    keep_id = inputs.has[Source.ID][items].float()
    vectors, present = [], []
    for source in net.sources:
        if source is Source.ID:
            vectors.append(net.item_id.weight[items])
            present.append(keep_id)
        elif source is Source.KG:
            vectors.append(kg)
            present.append(has_kg)
        else:
            vectors.append(net.text_proj(inputs.item_text[items]))
            present.append(inputs.has[Source.TEXT][items].float())
    parts = net.fuse(torch.stack(vectors, 1), torch.stack(present, 1), torch.log1p(inputs.popularity[items]) * keep_id)
    return net.normalised(parts)[0]
