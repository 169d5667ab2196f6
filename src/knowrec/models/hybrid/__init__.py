"""Hybrid: one vector per item from its ID, its knowledge-graph facts and its text, trained by full softmax.

An item's vector mixes up to three sources — an ID embedding, the relation-modulated mean of its KG
neighbours' entity embeddings, and a projection of its language-model text vector — with fixed weights or a
learned per-item gate. A user is a global popularity vector plus their ID embedding, an aggregate (mean or
attention) of the vectors of the items in their history and a projection of their own text. Scores are dot
products over a temperature, trained with softmax cross-entropy over all items (or a sampled softmax with
logQ correction). Source dropout hides the ID part of a share of items and users in every batch, so the
fused vector stays good without it: items and users never seen in training are scored from their text,
facts and history alone (``add_items``, ``user_vectors``).

The package: ``options`` (enums, valid values), ``inputs`` (what is read from a dataset), ``network`` (the
trainable parts and forward math), ``losses``, ``coldstart`` (serving without retraining, attribution),
``model`` (the estimator).
"""

from knowrec.models.hybrid.model import Hybrid
from knowrec.models.hybrid.network import HybridInputs, HybridNet
from knowrec.models.hybrid.options import Aggregation, Fusion, SoftmaxLoss, Source, parse_sources

__all__ = ["Aggregation", "Fusion", "Hybrid", "HybridInputs", "HybridNet", "SoftmaxLoss", "Source", "parse_sources"]
