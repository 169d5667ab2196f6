"""The foundation's accuracy bar on ml-100k under RecBole's protocol (issue 2's "done means").

Not a timing test: it checks that BPR-MF and LightGCN with their default settings reach NDCG@10 ≥ 0.29 and
that LightGCN stays above BPR-MF, so a change that quietly hurts accuracy fails here. Slow (about a minute):
run with ``bash scripts/test.sh -m slow``; ``benchmarks/snapshot.py`` checks every model to four decimals.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from knowrec.experiment import pipeline


@pytest.mark.slow
def test_bpr_and_lightgcn_reach_the_bar(data_dir: Path) -> None:
    bpr = pipeline(dataset="ml-100k", model="bpr", show_progress=False).metrics()["test"]
    lightgcn = pipeline(dataset="ml-100k", model="lightgcn", show_progress=False).metrics()["test"]
    pop = pipeline(dataset="ml-100k", model="pop", show_progress=False).metrics()["test"]
    assert bpr["ndcg@10"] >= 0.29
    assert lightgcn["ndcg@10"] >= 0.29
    assert lightgcn["ndcg@10"] > bpr["ndcg@10"]
    assert 0.08 < pop["ndcg@10"] < 0.15
