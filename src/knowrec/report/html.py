"""``knowrec report``: runs and tune folders on one self-contained HTML page (no network needed to open it).

Sections: the metrics table; training curves; the paired-significance matrix of the test metric; coverage,
diversity and novelty; per-source ablation bars and score shares for hybrid runs; cold-start panels where runs
ranked cold items; and for each tune folder its optimisation history, parameter importances and best trials.
Plots are Plotly figures (plotly.js is inlined once), each kept as a section of the page.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from knowrec._io import atomic_path, read_json
from knowrec._version import __version__
from knowrec.errors import ConfigError, MissingDependencyError
from knowrec.evaluate import compare_per_user
from knowrec.results import RunResult, load_per_user
from knowrec.tune.study import TUNE_FILE, format_param

METRICS = ("ndcg@10", "recall@10", "ndcg@20", "recall@20", "mrr@10", "auc", "f1")
BEYOND = ("coverage@10", "diversity@10", "novelty@10")


@dataclass
class Section:
    """A part of the page: an id for the contents list, a title, a line of explanation, and its HTML."""

    id: str
    title: str
    lead: str
    body: list[str] = field(default_factory=list)


@dataclass
class RunInfo:
    label: str
    folder: Path
    metrics: dict[str, Any]
    config: dict[str, Any]
    history: list[dict[str, float]]


def _plotly() -> Any:
    try:
        import plotly.graph_objects as go
    except ImportError as exc:
        raise MissingDependencyError("knowrec report needs plotly: pip install 'knowrec[report]'") from exc
    return go


def read_runs(folders: Sequence[Path]) -> list[RunInfo]:
    runs, labels = [], set()
    for folder in folders:
        if not (folder / RunResult.METRICS).is_file():
            raise ConfigError(f"{folder} is not a finished run (no {RunResult.METRICS}) nor a tune folder "
                              f"(no {TUNE_FILE})")
        label = folder.name if folder.name not in labels else str(folder)
        labels.add(label)
        history = folder / "history.json"
        runs.append(RunInfo(label, folder, read_json(folder / RunResult.METRICS),
                            read_json(folder / RunResult.CONFIG), read_json(history) if history.is_file() else []))
    return runs


class Page:
    """Collects figures; the first one carries plotly.js, the rest refer to it."""

    def __init__(self) -> None:
        self.sections: list[Section] = []
        self._js = True

    def figure(self, fig: Any, height: int = 420) -> str:
        fig.update_layout(height=height, margin={"l": 60, "r": 30, "t": 50, "b": 50}, template="plotly_white")
        out = fig.to_html(full_html=False, include_plotlyjs="inline" if self._js else False,
                          config={"displaylogo": False, "responsive": True})
        self._js = False
        return f'<div class="figure">{out}</div>'

    def render(self, title: str) -> str:
        nav = "".join(f'<li><a href="#{s.id}">{html.escape(s.title)}</a></li>' for s in self.sections)
        parts = "".join(f'<section id="{s.id}"><h2>{html.escape(s.title)}</h2><p class="lead">{html.escape(s.lead)}'
                        f'</p>{"".join(s.body)}</section>' for s in self.sections)
        return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
                f"<style>{CSS}</style></head><body><header><h1>{html.escape(title)}</h1><p>knowrec {__version__}"
                f"</p><nav><ul>{nav}</ul></nav></header><main>{parts}</main></body></html>")


def table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return "–" if not math.isfinite(v) else f"{v:.4f}" if abs(v) < 10 else f"{v:,.1f}"
        return "–" if v is None else html.escape(str(v))

    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f'<table class="metrics"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def build_report(paths: Sequence[str | Path], out: str | Path, *, title: str = "knowrec report",
                 metric: str = "ndcg@10", attribution: bool = True) -> Path:
    """Write the report of the run folders and tune folders in ``paths`` to ``out`` (one HTML file)."""
    go = _plotly()
    paths = [Path(p) for p in paths]
    tunes = [p for p in paths if (p / TUNE_FILE).is_file()]
    runs = read_runs([p for p in paths if p not in tunes])
    page = Page()
    if runs:
        _metrics_section(page, runs, metric)
        _curves_section(page, go, runs)
        _significance_section(page, go, runs, metric)
        _beyond_section(page, go, runs)
        _hybrid_section(page, go, runs, metric, attribution)
        _cold_section(page, go, runs)
    for folder in tunes:
        _tune_section(page, go, folder)
    if not page.sections:
        raise ConfigError("nothing to report: give run folders (knowrec train --out) or tune folders (knowrec tune)")
    out = Path(out)
    with atomic_path(out) as tmp:
        tmp.write_text(page.render(title), encoding="utf-8")
    return out


# --- sections -------------------------------------------------------------------------------------------
def _protocol(run: RunInfo) -> tuple[str, str, int, str]:
    """What makes two runs' test users and items the same: the dataset, the split and its seed and ratios."""
    c = run.config
    return str(c.get("dataset")), str(c.get("split")), int(c.get("seed", 0)), str(c.get("ratios"))


def _protocol_label(run: RunInfo) -> str:
    dataset, split, seed, _ = _protocol(run)
    return f"{Path(dataset).name}, {split} split, seed {seed}"


def _protocols(runs: list[RunInfo]) -> dict[tuple[str, str, int, str], list[RunInfo]]:
    groups: dict[tuple[str, str, int, str], list[RunInfo]] = {}
    for r in runs:
        groups.setdefault(_protocol(r), []).append(r)
    return groups


def _metrics_section(page: Page, runs: list[RunInfo], metric: str) -> None:
    shown = [m for m in METRICS if any(m in r.metrics["test"] for r in runs)]
    rows = [(r.label, r.metrics["model"], Path(str(r.metrics["dataset"])).name, r.metrics["split"],
             *(r.metrics["test"].get(m) for m in shown), r.metrics.get("best_epoch"),
             r.metrics.get("time_to_best_seconds"), r.metrics.get("peak_rss_mb")) for r in runs]
    bests = []
    for group in _protocols(runs).values():
        best = max(group, key=lambda r: r.metrics["test"].get(metric, -1))
        bests.append(f"{best.label} ({best.metrics['test'].get(metric, float('nan')):.4f}, "
                     f"{_protocol_label(best)})")
    page.sections.append(Section("metrics", "Metrics", f"Test part of each run; the best {metric} under each "
                                 f"protocol: {'; '.join(bests)}.",
                                 [table(["run", "model", "dataset", "split", *shown, "best epoch", "s to best",
                                         "peak MB"], rows)]))


def _curves_section(page: Page, go: Any, runs: list[RunInfo]) -> None:
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("training loss", "validation metric"))
    drawn = False
    for r in runs:
        if len(r.history) < 2:
            continue
        metric = f"valid_{r.config.get('valid_metric', 'ndcg@10')}"
        epochs = [row["epoch"] for row in r.history]
        fig.add_trace(go.Scatter(x=epochs, y=[row.get("loss") for row in r.history], name=f"{r.label} loss",
                                 mode="lines", legendgroup=r.label), row=1, col=1)
        fig.add_trace(go.Scatter(x=epochs, y=[row.get(metric) for row in r.history], mode="lines+markers",
                                 name=f"{r.label} {metric.removeprefix('valid_')}", legendgroup=r.label), row=1, col=2)
        drawn = True
    if drawn:
        fig.update_xaxes(title_text="epoch")
        page.sections.append(Section("curves", "Training curves", "Loss and validation metric per epoch; training "
                                     "stopped early when the validation metric stopped improving.",
                                     [page.figure(fig)]))


def _significance_section(page: Page, go: Any, runs: list[RunInfo], metric: str) -> None:
    if len(runs) < 2:
        return
    per_user = {r.label: load_per_user(r.folder, "test") for r in runs}
    labels = [r.label for r in runs]
    n = len(labels)
    p = np.full((n, n), np.nan)
    diff = np.zeros((n, n))
    protocol = {r.label: _protocol(r) for r in runs}
    for i, j in combinations(range(n), 2):
        if protocol[labels[i]] != protocol[labels[j]]:  # paired tests compare the same users on the same split
            continue
        found = {c.metric: c for c in compare_per_user(per_user[labels[i]], per_user[labels[j]])}.get(metric)
        if found is not None:
            p[i, j] = p[j, i] = found.p_ttest
            diff[i, j], diff[j, i] = -found.diff, found.diff
    text = [["" if i == j or np.isnan(p[i, j]) else f"{diff[i, j]:+.4f}<br>p={p[i, j]:.2g}" for j in range(n)]
            for i in range(n)]
    fig = go.Figure(go.Heatmap(z=np.log10(np.clip(p, 1e-300, 1)), x=labels, y=labels, text=text,
                               texttemplate="%{text}", colorscale="Viridis", zmin=-10, zmax=0,
                               colorbar={"title": "log10 p"}))
    fig.update_layout(title=f"row − column, test {metric}: paired t-test over users")
    page.sections.append(Section("significance", "Paired significance", f"Each cell: the row run's mean test {metric} "
                                 "minus the column run's, and the p-value of a paired t-test over the users both "
                                 "evaluated (dark: significant); runs on different data, splits or seeds are not "
                                 "compared (blank).", [page.figure(fig, 120 + 60 * n)]))


def _beyond_section(page: Page, go: Any, runs: list[RunInfo]) -> None:
    shown = [m for m in BEYOND if any(m in r.metrics["test"] for r in runs)]
    if not shown:
        return
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=len(shown), subplot_titles=shown)
    for k, m in enumerate(shown, start=1):
        fig.add_trace(go.Bar(x=[r.label for r in runs], y=[r.metrics["test"].get(m) for r in runs], name=m,
                             showlegend=False), row=1, col=k)
    page.sections.append(Section("beyond", "Coverage, diversity, novelty", "Share of the catalogue shown in top-10s, "
                                 "mean pairwise distance within a list, mean self-information of the items shown.",
                                 [page.figure(fig, 380)]))


def _hybrid_section(page: Page, go: Any, runs: list[RunInfo], metric: str, attribution: bool) -> None:
    hybrids = [r for r in runs if r.metrics["model"] == "hybrid"]
    if not hybrids:
        return
    body = []

    def sources(r: RunInfo) -> str:
        value = r.metrics["params"].get("sources", "id,kg,text")
        return value if isinstance(value, str) else ",".join(value)

    fig = go.Figure(go.Bar(x=[f"{r.label} ({sources(r)})" for r in hybrids],
                           y=[r.metrics["test"].get(metric) for r in hybrids], marker_color="#4c78a8"))
    fig.update_layout(title=f"test {metric} by the sources each hybrid run uses", yaxis_title=metric)
    body.append(page.figure(fig, 360))
    if attribution:
        shares = {r.label: _score_shares(r.folder) for r in hybrids}
        parts = sorted({k for s in shares.values() for k in s})
        fig = go.Figure([go.Bar(name=part, x=list(shares), y=[shares[run].get(part, 0.0) for run in shares])
                         for part in parts])
        fig.update_layout(barmode="relative", title="mean share of a top-10 score by source",
                          yaxis_title="score")
        body.append(page.figure(fig, 360))
    page.sections.append(Section("hybrid", "Hybrid runs: sources", "Per-source ablations (runs with fewer sources) "
                                 "and how much of each recommended item's score each source gave.", body))


def _score_shares(folder: Path, users: int = 200, k: int = 10) -> dict[str, float]:
    """The mean of each source's part of the top-``k`` scores of up to ``users`` users of a hybrid run."""
    from knowrec.experiment import open_run

    model = open_run(folder).model
    chosen = np.arange(min(users, model.n_users_))
    items, _ = model.recommend(chosen, k=k)
    parts = model.attribution(np.repeat(chosen, items.shape[1]), items.ravel())
    return {name: float(np.mean(values)) for name, values in parts.items()}


def _cold_section(page: Page, go: Any, runs: list[RunInfo]) -> None:
    cold = [r for r in runs if "test_all_items" in r.metrics]
    if not cold:
        return
    shown = [m for m in ("ndcg@10", "recall@20") if m in cold[0].metrics["test"]]
    fig = go.Figure()
    for m in shown:
        fig.add_trace(go.Bar(name=f"{m} among cold items", x=[r.label for r in cold],
                             y=[r.metrics["test"][m] for r in cold]))
        fig.add_trace(go.Bar(name=f"{m} among all items", x=[r.label for r in cold],
                             y=[r.metrics["test_all_items"][m] for r in cold]))
    fig.update_layout(barmode="group", title="items held out of training, ranked among themselves and among all")
    page.sections.append(Section("cold", "Cold start", "Runs on a cold-item split: how well items with no "
                                 "interaction are ranked among the held-out items and among the whole catalogue.",
                                 [page.figure(fig, 380)]))


def _tune_section(page: Page, go: Any, folder: Path) -> None:
    import optuna
    from optuna.visualization import plot_optimization_history, plot_param_importances

    settings = read_json(folder / TUNE_FILE)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=settings["study"], storage=settings["storage"])
    done = [t for t in study.trials if t.state.name == "COMPLETE"]  # a pruned trial's value is a partial one
    metric = settings["config"].get("valid_metric", "ndcg@10")
    body = []
    if done:
        history = plot_optimization_history(study, target_name=f"valid {metric}")
        body.append(page.figure(history, 380))
    if len(done) >= 3 and len(done[0].params) > 1:
        importances = plot_param_importances(study, target_name=f"valid {metric}")
        body.append(page.figure(importances, 320))
    rows = sorted(done, key=lambda t: -t.value)[:10]
    names = sorted({n for t in rows for n in t.params})
    body.append(table(["trial", f"valid {metric}", *names, "best epoch"],
                      [(t.number, t.value, *(format_param(t.params.get(n)) for n in names),
                        t.user_attrs.get("best_epoch")) for t in rows]))
    best = folder / "best" / RunResult.METRICS
    lead = (f"{settings['config']['model']} on {Path(str(settings['config']['dataset'])).name}: {len(study.trials)} "
            f"trials ({len(done)} complete, {sum(t.state.name == 'PRUNED' for t in study.trials)} pruned), the "
            f"validation {metric} the only objective")
    if best.is_file():
        test = read_json(best)["test"]
        lead += f"; the best configuration scored {test.get(metric, float('nan')):.4f} on the test part, read once"
    page.sections.append(Section(f"tune-{folder.name}", f"Tuning: {folder.name}", lead + ".", body))


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#1f3a5f;color:#fff;padding:16px 32px}header h1{margin:0 0 4px}header p{margin:0;opacity:.8}
nav ul{list-style:none;padding:0;margin:8px 0 0;display:flex;flex-wrap:wrap;gap:16px}nav a{color:#cfe3ff}
main{padding:8px 32px 48px}section{background:#fff;border:1px solid #e3e3e3;border-radius:6px;margin:20px 0;
padding:12px 20px}h2{margin:8px 0}.lead{color:#555;margin-top:0}
table.metrics{border-collapse:collapse;font-size:14px;margin:8px 0}table.metrics th,table.metrics td{
border-bottom:1px solid #eee;padding:4px 10px;text-align:right}table.metrics th:first-child,
table.metrics td:first-child{text-align:left}table.metrics thead th{background:#f2f5f9}
"""
