"""Benchmark: train several models on one dataset under one protocol; print a table, write JSON and a plot.

Each model trains in its own process (``knowrec train``), so time and peak memory are its own.

    python benchmarks/run.py --dataset ml-100k --models pop,itemknn,bpr,lightgcn,kgnet
    python benchmarks/run.py --dataset book-crossing-kg --models pop,bpr,lightgcn,kgnet \
        --set split=rows --set "ratios=[0.6,0.2,0.2]" --set valid_metric=auc    # RippleNet's CTR protocol
    python benchmarks/run.py --dataset ml-100k --name ml-100k-ablation --models lightgcn,hybrid \
        --run "id=hybrid sources=id" --run "id+kg=hybrid sources=id,kg"    # labelled variants: ablations

Every row gets a paired t-test p-value of its per-user test NDCG@10 against the best row and against
``--reference`` (the best baseline, say). On a cold-item split the table also shows the ranking over all items.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from knowrec._io import save_figure, write_json
from knowrec.evaluate import compare_per_user
from knowrec.results import load_per_user

COLUMNS = ("ndcg@10", "recall@10", "hit@10", "mrr@10", "precision@10", "ndcg@20", "recall@20", "coverage@10",
           "novelty@10", "auc", "f1")


def parse_run(spec: str) -> tuple[str, str, list[str]]:
    """``"label=model key=value …"`` (or a bare model name) → label, model and ``--set`` arguments."""
    head, *settings = spec.split()
    label, _, model = head.partition("=")
    return label, model or label, [f"--set={kv}" for kv in settings]


def train(dataset: str, model: str, out: Path, extra: list[str]) -> dict:
    cmd = [sys.executable, "-m", "knowrec", "train", "--dataset", dataset, "--model", model, "--out", str(out),
           "--overwrite", "--quiet", *extra]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    metrics = json.loads((out / "metrics.json").read_text())
    metrics["wall_seconds"] = round(time.perf_counter() - t0, 2)
    return metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--models", default="pop,itemknn,bpr,lightgcn,kgnet")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--run", action="append", default=[],
                        help='a labelled variant: "label=model key=value ..." (repeatable)')
    parser.add_argument("--set", action="append", default=[], help="key=value passed to every run (e.g. seed=1)")
    parser.add_argument("--reference", help="the row every other is tested against as well (default: none)")
    parser.add_argument("--name", help="result file name (default: the dataset)")
    args = parser.parse_args()

    name = args.name or args.dataset
    runs_dir = args.out / "runs" / name
    specs = [parse_run(m) for m in args.models.split(",") if m] + [parse_run(r) for r in args.run]
    rows = {}
    for label, model, settings in specs:
        print(f"training {label} on {args.dataset} …", flush=True)
        rows[label] = train(args.dataset, model, runs_dir / label, [*settings, *(f"--set={kv}" for kv in args.set)])
        rows[label]["settings"] = [kv.removeprefix("--set=") for kv in settings]
    best = max(rows, key=lambda m: rows[m]["test"]["ndcg@10"])
    per_user = {m: load_per_user(runs_dir / m, "test") for m in rows}
    for m in rows:
        for key, other in (("p_vs_best_ndcg@10", best), ("p_vs_reference_ndcg@10", args.reference)):
            if other is not None and other != m:
                cmp = {c.metric: c for c in compare_per_user(per_user[other], per_user[m])}
                rows[m][key] = cmp["ndcg@10"].p_ttest
            else:
                rows[m][key] = None

    config = json.loads((runs_dir / best / "config.json").read_text())
    protocol = (f"{config['split']} split {config['ratios']}, seed {config['seed']}, full ranking, "
                f"early stopping on {config['valid_metric']}")
    columns = [c for c in COLUMNS if c in rows[best]["test"]]
    all_items = [c for c in ("ndcg@10", "recall@20") if "test_all_items" in rows[best]]
    title = f"{args.dataset}: {protocol} — test set" + (" (cold items ranked among cold items)" if all_items else "")
    table = Table(title=title, title_justify="left")
    reference = [f"p vs {args.reference}"] if args.reference else []
    for col in ("model", *columns, *(f"all items {c}" for c in all_items), "p vs best", *reference, "best epoch",
                "s to best", "s/epoch", "peak MB"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for m, r in rows.items():
        s_epoch = r["train_seconds"] / max(r["epochs_run"], 1)
        p_values = [r["p_vs_best_ndcg@10"]] + ([r["p_vs_reference_ndcg@10"]] if args.reference else [])
        table.add_row(m, *(f"{r['test'][c]:.4f}" for c in columns),
                      *(f"{r['test_all_items'][c]:.4f}" for c in all_items),
                      *("–" if p is None else f"{p:.3g}" for p in p_values),
                      str(r["best_epoch"]), f"{r['time_to_best_seconds']:.1f}", f"{s_epoch:.3f}",
                      f"{r['peak_rss_mb']:.0f}")
    Console(width=200).print(table)

    result = {"dataset": args.dataset, "protocol": protocol, "threads": config["threads"],
              "cpu_count": os.cpu_count(), "runs": rows}
    write_json(args.out / f"{name}.json", result)
    plot(rows, args.out / f"{name}.png", name)
    print(f"wrote {args.out / (name + '.json')} and {args.out / (name + '.png')}")


def plot(rows: dict, path: Path, dataset: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    models = list(rows)
    metrics = ("ndcg@10", "recall@10", "ndcg@20", "recall@20")
    x = np.arange(len(models))
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [3, 1.4]})
    for i, metric in enumerate(metrics):
        ax.bar(x + (i - 1.5) * 0.2, [rows[m]["test"][metric] for m in models], 0.2, label=metric)
    ax.set_xticks(x, models)
    ax.set_ylabel("test")
    ax.legend(ncols=2, fontsize=8)
    ax.set_title(f"Accuracy on {dataset}")
    ax2.bar(x, [rows[m]["time_to_best_seconds"] for m in models], color="tab:grey")
    ax2.set_xticks(x, models)
    ax2.set_ylabel("seconds to best epoch (1 thread)")
    ax2.set_title("Training time")
    save_figure(fig, path)


if __name__ == "__main__":
    main()
