"""What a fitted hybrid model does without retraining: vectors of users it never saw (from their history and
profile text), new items embedded from their text and facts, and each score split by source."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from knowrec.errors import NotSupportedError
from knowrec.models.hybrid.network import HybridNet
from knowrec.models.hybrid.options import Source
from knowrec.models.lightgcn import sparse_csr
from knowrec.text import TextEncoder
from knowrec.text.templates import render_items


class ColdStart:
    """The hybrid model's serving-time methods, mixed into ``Hybrid`` after its bases: they use its fitted state,
    ``check_is_fitted`` and ``_net``."""

    # provided by Hybrid
    dim: int
    temperature: float
    text_model: str
    text_template: str
    sources_: list[str]
    n_users_: int
    n_items_: int
    seen_: sp.csr_matrix
    item_factors_: torch.Tensor
    item_parts_: torch.Tensor
    item_bias_: torch.Tensor
    user_factors_: torch.Tensor
    entity_ids_: np.ndarray
    relation_ids_: np.ndarray

    # --- users ------------------------------------------------------------------------------------------
    def user_vectors(self, histories: Sequence[Iterable[int]], texts: Sequence[str] | None = None, *,
                     users: Sequence[int] | None = None, profiles: np.ndarray | None = None) -> torch.Tensor:
        """Scored vectors of users from their item histories and/or profile texts, with no retraining.

        ``users`` (indices of known users, one per history) adds their ID embeddings: a known user's vector
        then follows new interactions. Without it the users are treated as never seen. ``profiles`` (from
        ``encode_profiles``) stand in for ``texts`` already encoded.
        """
        self.check_is_fitted()
        net = self._net()
        histories = [np.asarray(list(h), dtype=np.int64) for h in histories]
        cols = np.concatenate([np.zeros(0, dtype=np.int64), *histories])
        if len(cols) and (cols.min() < 0 or cols.max() >= self.n_items_):
            raise IndexError(f"history item index out of range [0, {self.n_items_})")
        rows = np.repeat(np.arange(len(histories)), [len(h) for h in histories])
        history = sparse_csr(rows, cols, np.ones(len(cols), dtype=np.float32), (len(histories), self.n_items_))
        known = None if users is None else torch.as_tensor(np.asarray(users, dtype=np.int64))
        if profiles is None and texts is not None:
            profiles = self.encode_profiles(texts)
        with torch.no_grad():
            weighted, total = net.aggregate(history, self.item_factors_)
            text = None if profiles is None or not hasattr(net, "user_text_proj") else torch.from_numpy(profiles)
            use_id = None if known is None else torch.ones(len(known))
            return net.scale(net.users_from(weighted, total, known, use_id, text), self.temperature)

    def encode_profiles(self, texts: Sequence[str]) -> np.ndarray | None:
        """Profile texts encoded by the language model, for ``user_vectors(profiles=…)`` (``None`` if the model
        has no user-text part): the slow half of scoring a user from their text, which changes nothing."""
        if not hasattr(self._net(), "user_text_proj"):
            return None
        return self._encoder(self.text_model).encode(list(texts), show_progress=False)

    def load_encoders(self) -> None:
        """Load the language model now, so the first item or profile text to encode does not wait for it (a
        service calls this at start)."""
        if Source.TEXT in self.sources_:
            self._item_encoder().load()
        if hasattr(self._net(), "user_text_proj"):
            self._encoder(self.text_model).load()

    # --- items ------------------------------------------------------------------------------------------
    def add_items(self, table: pd.DataFrame, facts: Iterable[tuple[Any, str, str]] = (), *,
                  show_progress: bool = False) -> np.ndarray:
        """Embed new items from their fields (``table``, one row each) and KG ``facts``; return their indices.

        ``facts`` are ``(row key of table, relation name, entity name)``; facts naming an entity or relation
        the model never saw are skipped (they carry no learned vector). The items are recommendable at once,
        with the catalogue's mean popularity prior.
        """
        if len(table) == 0:
            return np.array([], dtype=np.int64)
        return self.append_items(*self.embed_items(table, facts, show_progress=show_progress))

    def embed_items(self, table: pd.DataFrame, facts: Iterable[tuple[Any, str, str]] = (), *,
                    show_progress: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """The scored vectors and per-source parts of new items (as ``add_items`` takes them), without adding
        them: the slow half of ``add_items`` (text encoding), which leaves the model as it is."""
        self.check_is_fitted()
        net = self._net()
        n_new = len(table)
        vectors, present = [], []
        with torch.no_grad():
            for name in self.sources_:
                if name == Source.ID:
                    vectors.append(torch.zeros(n_new, self.dim))
                    present.append(torch.zeros(n_new))
                elif name == Source.KG:
                    kg_vec, has_kg = self._fact_vectors(net, table, facts)
                    vectors.append(kg_vec)
                    present.append(has_kg)
                else:
                    texts = render_items(table, self.text_template or None)
                    encoded = self._item_encoder().encode(texts, show_progress=show_progress)
                    vectors.append(net.text_proj(torch.from_numpy(encoded)))
                    present.append(torch.tensor([bool(t.strip()) for t in texts], dtype=torch.float32))
            return net.normalised(net.fuse(torch.stack(vectors, 1), torch.stack(present, 1), torch.zeros(n_new)))

    def append_items(self, vectors: torch.Tensor, parts: torch.Tensor) -> np.ndarray:
        """Add items embedded by ``embed_items`` to the catalogue; return their indices."""
        self.check_is_fitted()
        n_new = len(vectors)
        start = self.n_items_
        self.item_factors_ = torch.cat([self.item_factors_, vectors])
        self.item_parts_ = torch.cat([self.item_parts_, parts])
        # a new item has no interactions because it is new, not because people pass it over: it gets the
        # catalogue's mean popularity prior, not the lowest one
        self.item_bias_ = torch.cat([self.item_bias_, self.item_bias_.mean().expand(n_new)])
        self.n_items_ += n_new
        self.seen_ = sp.csr_matrix((self.seen_.data, self.seen_.indices, self.seen_.indptr),
                                   shape=(self.n_users_, self.n_items_))
        return np.arange(start, self.n_items_)

    def _fact_vectors(self, net: HybridNet, table: pd.DataFrame,
                      facts: Iterable[tuple[Any, str, str]]) -> tuple[torch.Tensor, torch.Tensor]:
        rows = {key: i for i, key in enumerate(table.index)}
        entity = {str(e): i for i, e in enumerate(self.entity_ids_)}
        relation = {str(r): i for i, r in enumerate(self.relation_ids_)}
        triples = [(rows[k], relation[str(r)], entity[str(e)]) for k, r, e in facts
                   if k in rows and str(r) in relation and str(e) in entity]
        if not triples:
            return torch.zeros(len(table), self.dim), torch.zeros(len(table))
        it, rt, tt = (torch.tensor(c) for c in zip(*triples, strict=True))
        return net.kg_vectors(it, rt, tt, len(table))

    # --- encoders ---------------------------------------------------------------------------------------
    def _item_encoder(self) -> TextEncoder:
        """The encoder of item text: the fine-tuned language model where there is one (never cached on disk:
        its folder may be retrained), else the pretrained one."""
        lm = getattr(self, "_lm", None)
        if lm is not None:
            encoder = TextEncoder(self.text_model, cache=False, device=self._encode_device())
            encoder.model_ = lm
            return encoder
        tuned = getattr(self, "tuned_lm_", None)
        return self._encoder(tuned or self.text_model)

    def _encoder(self, model: str) -> TextEncoder:
        """One loaded encoder per model name, kept for the model's lifetime. A service encodes a few texts per
        request, so it skips the on-disk cache (reading and rewriting it would cost more than encoding) and
        leaves nothing shared to change: requests may encode side by side."""
        encoders = self.__dict__.setdefault("_encoders", {})
        if model not in encoders:
            encoders[model] = TextEncoder(model, cache=False, device=self._encode_device())
        return encoders[model]

    def _encode_device(self) -> Any:
        """Where new text is encoded: the device the model trained on or was put on (a service's ``--device``)."""
        return getattr(self, "device_", "auto")

    # --- why --------------------------------------------------------------------------------------------
    def attribution(self, users: Any, items: Any, *, vectors: torch.Tensor | None = None) -> dict[str, np.ndarray]:
        """How much of each (user, item) score each source gave: the user vector's dot product with the
        item's ID, KG and text parts, plus the popularity prior. The values sum to the score.

        ``vectors`` (from ``user_vectors``) stand in for the users' trained vectors; ``users`` is then ignored.
        """
        self.check_is_fitted()
        if getattr(self, "item_parts_", None) is None:
            raise NotSupportedError("this model was saved without per-source item parts; retrain it to attribute")
        items = torch.as_tensor(np.atleast_1d(items), dtype=torch.long)
        if vectors is None:
            vectors = self.user_factors_[torch.as_tensor(np.atleast_1d(users), dtype=torch.long)]
        shares = (self.item_parts_[items] * vectors.unsqueeze(1)).sum(-1)
        out = {name: shares[:, j].numpy() for j, name in enumerate(self.sources_)}
        return out | {"popularity": self.item_bias_[items].numpy()}
