"""KG preparation: cleaning report, inverse relations, filters, degree caps and the collaborative KG."""

from __future__ import annotations

import numpy as np
import torch

from knowrec.data import Dataset, KnowledgeGraph
from knowrec.kg.prepare import INTERACT, add_inverse, cap_degree, clean, collaborative_kg, filter_relations


def messy() -> KnowledgeGraph:
    # entities 0..4; relation 0 "a" (3 triples, one duplicated, one self-loop), relation 1 "lonely" (1 triple)
    return KnowledgeGraph(np.array(["e0", "e1", "e2", "e3", "e4"]), np.array(["a", "lonely"]),
                          heads=[0, 0, 1, 2, 3], relations=[0, 0, 0, 0, 1], tails=[1, 1, 1, 3, 4],
                          item_entities=[0, 2])


def test_clean_reports_and_drops() -> None:
    kg, report = clean(messy())
    assert report.problems == {"self-loops": 1, "duplicate triples": 1,
                               "triples of relations with < 2 triples": 1}
    assert report.dropped_relations == ["lonely"] and kg.n_triples == 2 and report.triples_out == 2
    assert "5 triples in, 2 kept" in str(report)


def test_inverse_filter_cap() -> None:
    kg = add_inverse(messy())
    assert kg.n_triples == 10 and kg.n_relations == 4 and kg.relation_ids[2] == "a~inv"
    assert (kg.heads[5:] == messy().tails).all()
    assert filter_relations(kg, keep=["a"]).n_triples == 4
    assert filter_relations(kg, drop=["lonely", "lonely~inv"]).n_triples == 8
    capped = cap_degree(kg, 1, seed=0)
    assert np.bincount(capped.heads).max() == 1


def test_collaborative_kg(tiny: Dataset) -> None:
    ckg = collaborative_kg(tiny)
    assert ckg.relation_names[0] == INTERACT and ckg.n_cf_edges == 2 * tiny.n_interactions
    assert ckg.n_nodes == tiny.n_users + tiny.kg.n_entities
    u, i = ckg.edge_index[:, 0]
    assert ckg.edge_type[0] == 0 and u < tiny.n_users <= i
    assert torch.equal(ckg.item_nodes, torch.as_tensor(tiny.n_users + tiny.kg.item_entities))
    adj = ckg.adjacency("kg")
    assert adj.shape == (ckg.n_nodes, ckg.n_nodes) and adj._nnz() == 2 * tiny.kg.n_triples
