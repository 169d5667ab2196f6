"""Vector indexes: exact top-K, approximate faiss indexes close to it, exclusions, growth."""

from __future__ import annotations

import numpy as np
import pytest

from knowrec.errors import ConfigError
from knowrec.serve import build_index


def clustered(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(size=(20, 16))
    return (centres[rng.integers(0, 20, n)] + 0.5 * rng.normal(size=(n, 16))).astype(np.float32)


def test_exact_top_k_and_exclusions() -> None:
    items, queries = clustered(500, 0), clustered(7, 1)
    index = build_index("exact", items)
    idx, scores = index.search(queries, 5)
    expected = np.argsort(-(queries @ items.T), axis=1)[:, :5]
    assert (idx == expected).all() and np.allclose(scores, np.take_along_axis(queries @ items.T, idx, 1), atol=1e-4)
    banned = [expected[r, :2] for r in range(7)]
    idx, _ = index.search(queries, 5, banned)
    assert (idx == np.argsort(-(queries @ items.T), axis=1)[:, 2:7]).all()
    # k is capped at the catalogue; what exclusions leave short is padded with -1 / -inf
    idx, scores = build_index("exact", items[:3]).search(queries[:1], 5, [np.array([0])])
    assert idx.shape == (1, 3) and set(idx[0, :2]) == {1, 2} and idx[0, 2] == -1 and np.isinf(scores[0, 2])


@pytest.mark.parametrize(("kind", "options"), [("hnsw", {}), ("ivf", {"nlist": 16, "nprobe": 4})])
def test_approximate_indexes_find_the_exact_neighbours(kind: str, options: dict) -> None:
    items, queries = clustered(4000, 0), clustered(100, 1)
    exact, _ = build_index("exact", items).search(queries, 10)
    index = build_index(kind, items, **options)
    found, _ = index.search(queries, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, exact, strict=True)])
    assert recall >= 0.95
    index.add(queries[:3] * 10)  # each query's own direction, long: its best match once added
    assert len(index) == 4003
    top, _ = index.search(queries[:3], 1)
    assert top[:, 0].tolist() == [4000, 4001, 4002]


def test_ivf_is_exact_until_it_has_enough_vectors_to_cluster() -> None:
    index = build_index("ivf", clustered(50, 0), nlist=8)
    queries = clustered(5, 1)
    exact, _ = build_index("exact", clustered(50, 0)).search(queries, 3)
    assert (index.search(queries, 3)[0] == exact).all()


def test_bad_kind_and_shape() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'hnsw'"):
        build_index("hnws", clustered(10, 0))
    with pytest.raises(ConfigError, match="shape"):
        build_index("exact", clustered(10, 0)).add(np.zeros((2, 3), dtype=np.float32))
