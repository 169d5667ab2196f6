"""Paired significance tests between two runs' per-user metrics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Comparison:
    metric: str
    users: int
    mean_a: float
    mean_b: float
    p_ttest: float
    p_wilcoxon: float

    @property
    def diff(self) -> float:
        return self.mean_b - self.mean_a


def compare_per_user(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> list[Comparison]:
    """Paired t-test and Wilcoxon signed-rank test per metric, over the users both runs evaluated."""
    from scipy import stats

    common, ia, ib = np.intersect1d(a["users"], b["users"], return_indices=True)
    out = []
    for metric in sorted(set(a) & set(b) - {"users"}):
        x, y = a[metric][ia].astype(np.float64), b[metric][ib].astype(np.float64)
        same = np.allclose(x, y)
        p_t = 1.0 if same else float(stats.ttest_rel(x, y).pvalue)
        p_w = 1.0 if same else float(stats.wilcoxon(x, y, zero_method="zsplit").pvalue)
        out.append(Comparison(metric, len(common), float(x.mean()), float(y.mean()), p_t, p_w))
    return out
