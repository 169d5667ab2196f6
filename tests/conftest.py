"""Shared fixtures: a tiny synthetic dataset with clusters and a KG, and the real data folder."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from knowrec.data import Dataset, ImportReport, attribute_kg
from knowrec.data.social import build_social

torch.set_num_threads(1)


@pytest.fixture(scope="session", autouse=True)
def _cache_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Text vectors and downloads go to a throwaway cache, shared by the session's tests."""
    os.environ["KNOWREC_CACHE_DIR"] = str(tmp_path_factory.mktemp("knowrec-cache"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """``$KNOWREC_DATA_DIR``; the README's test command sets it to ../shared/data."""
    value = os.environ.get("KNOWREC_DATA_DIR")
    if not value or not Path(value, "ml-100k").is_dir():
        pytest.fail("set KNOWREC_DATA_DIR to the folder holding ml-100k/ (see README: the test command sets it)")
    return Path(value)


def make_tiny(n_users: int = 50, n_items: int = 40, seed: int = 0) -> Dataset:
    """Two taste clusters: users 0..24 mostly like items 0..19, the rest items 20..39; genres follow clusters."""
    rng = np.random.default_rng(seed)
    users, items = [], []
    for u in range(n_users):
        group = 0 if u < n_users // 2 else 1
        liked = rng.choice(np.arange(group * n_items // 2, (group + 1) * n_items // 2), size=8, replace=False)
        other = rng.choice(n_items, size=2, replace=False)
        for i in np.unique(np.concatenate([liked, other])):
            users.append(f"u{u}")
            items.append(f"i{i}")
    n = len(users)
    table = pd.DataFrame({
        "title": [f"Item {i}" for i in range(n_items)],
        "genres": [["drama"] if i < n_items // 2 else ["comedy", "family"] for i in range(n_items)],
    }, index=[f"i{i}" for i in range(n_items)])
    data = Dataset.from_ids("tiny", np.array(users), np.array(items), ratings=rng.integers(1, 6, n).astype(float),
                            timestamps=np.arange(n, dtype=float), item_table=table,
                            field_types={"title": "text", "genres": "token_seq"})
    data.kg = attribute_kg(data, ["genres"])
    return data


def make_tiny_social(seed: int = 0) -> Dataset:
    """The tiny clustered dataset with friendships mostly inside each taste cluster."""
    data = make_tiny(seed=seed)
    rng = np.random.default_rng(seed)
    src, dst = [], []
    for u in range(data.n_users):
        group = np.arange(25) if u < 25 else np.arange(25, 50)
        for v in rng.choice(group, size=6, replace=False):
            if v != u:
                src.append(f"u{u}")
                dst.append(f"u{v}")
    data.social = build_social(data.user_ids, np.array(src), np.array(dst), report=ImportReport(),
                               path="<links>", line_no=np.arange(1, len(src) + 1))
    return data


@pytest.fixture
def tiny() -> Dataset:
    return make_tiny()


@pytest.fixture(scope="session")
def tiny_hybrid_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A hybrid model fitted on the tiny dataset, saved once per session (services load their own copy)."""
    from knowrec.models import Hybrid

    folder = tmp_path_factory.mktemp("tiny-hybrid") / "model"
    Hybrid(epochs=40, batch_size=64, lr=0.02).fit(make_tiny(), show_progress=False).save(folder)
    return folder


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str:
    """Debian's Chromium (``scripts/test.sh`` installs it; Playwright's own download cannot work offline)."""
    import shutil

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Debian's chromium is needed (apt-get install chromium; scripts/test.sh installs it)"
    return chromium


def artifacts_dir() -> Path:
    """Where screenshots are kept: ``$KNOWREC_ARTIFACTS`` (default ``test-artifacts/``)."""
    folder = Path(os.environ.get("KNOWREC_ARTIFACTS", "test-artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder
