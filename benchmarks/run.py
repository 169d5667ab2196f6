"""Benchmark: train several models on one dataset under one protocol; print a table, write JSON and a plot.

Each model trains in its own process (``knowrec train``), so time and peak memory are its own.

    python benchmarks/run.py --dataset ml-100k --models pop,itemknn,bpr,lightgcn,ease,kgnet,kease,hybrid
    python benchmarks/run.py --dataset ml-100k --name ml-100k-ablation --models ease,lightgcn \
        --run "kg=kease sources=kg" --run "id+kg=kease sources=id,kg"     # labelled variants: ablations
    python benchmarks/run.py --dataset ml-100k --name ml-100k-cold-item --set split=cold-item \
        --models constant,random,content,kease --seeds 2020,2021,2022     # mean ± sd over cold splits
    python benchmarks/run.py … --peers      # add implicit ALS and LightFM from benchmarks/peers.py (same name)
    python benchmarks/run.py … --reuse --run "ease+hybrid=blend runs={runs}/ease,{runs}/hybrid"
        # blend finished runs ({runs}: this benchmark's run folder of each seed), the mix chosen on validation

Every row gets a paired t-test p-value of its per-user test NDCG@10 against the best row and against
``--reference`` (the best knowledge-free row, say); over several seeds the largest p of the seeds is shown. On a
cold-item split the table also shows the ranking over all items. Rows marked ``knowledge`` use the KG or text.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from knowrec._io import save_figure, write_json
from knowrec.evaluate import compare_per_user
from knowrec.results import RunResult, load_per_user

RESULTS = Path(__file__).parent / "results"
COLUMNS = ("ndcg@10", "recall@10", "hit@10", "ndcg@20", "recall@20", "coverage@10", "diversity@10", "auc", "f1")
PER_USER_TEST = RunResult.PER_USER.format(part="test")
#: Models whose scores read the KG or item text (a hybrid or EASE with ``sources=id`` reads neither).
KNOWLEDGE = {"kgnet", "cke", "content", "hybrid", "kease", "shared-facts", "ppr-facts"}


def parse_run(spec: str) -> tuple[str, str, list[str]]:
    """``"label=model key=value …"`` (or a bare model name) → label, model and ``--set`` arguments."""
    head, *settings = spec.split()
    label, _, model = head.partition("=")
    return label, model or label, [f"--set={kv}" for kv in settings]


def uses_knowledge(model: str, params: dict[str, Any]) -> bool:
    """Whether ``model`` with these parameters reads the KG or item text (a blend: whether one of its runs does)."""
    if model == "blend" and "runs" in params:
        return any(run_uses_knowledge(Path(r)) for r in str(params["runs"]).split(","))
    if float(params.get("social_weight", 0) or 0) > 0:  # friendships in the graph are knowledge of the users
        return True
    sources = params.get("sources")
    if sources is not None:
        names = sources if isinstance(sources, list) else str(sources).replace(" ", "").split(",")
        return list(names) != ["id"]
    return model in KNOWLEDGE


def run_uses_knowledge(folder: Path) -> bool:
    """Whether a finished run's model read the KG or item text, from the run's own settings (not its label)."""
    config = json.loads((folder / "config.json").read_text())
    return uses_knowledge(config["model"], config["model_params"])


def train(dataset: str, model: str, out: Path, extra: list[str], *, reuse: bool = False) -> dict:
    """Train in a process of its own; with ``reuse``, read a finished run already in ``out`` instead (one made
    by this same command, whose table is being rebuilt with more rows)."""
    if reuse and (out / "metrics.json").is_file():
        return json.loads((out / "metrics.json").read_text()) | {"reused": True}
    cmd = [sys.executable, "-m", "knowrec", "train", "--dataset", dataset, "--model", model, "--out", str(out),
           "--overwrite", "--quiet", *extra]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    metrics = json.loads((out / "metrics.json").read_text())
    metrics["wall_seconds"] = round(time.perf_counter() - t0, 2)
    return metrics


def peer_rows(name: str, seed: int) -> dict[str, dict]:
    """Rows of ``benchmarks/peers.py`` for this benchmark name and seed (none if it was not run)."""
    path = RESULTS / f"{name}-peers.json"
    if not path.is_file():
        return {}
    found = json.loads(path.read_text())["seeds"].get(str(seed), {})
    return {f"peer:{key}": {**row, "peer": True, "time_to_best_seconds": row["fit_seconds"],
                            "train_seconds": row["grid_seconds"], "epochs_run": 1, "best_epoch": "–",
                            "peak_rss_mb": float("nan"), "settings": [json.dumps(row["params"])]}
            for key, row in found.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--models", default="pop,itemknn,bpr,lightgcn,ease,kgnet")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--run", action="append", default=[],
                        help='a labelled variant: "label=model key=value ..." (repeatable)')
    parser.add_argument("--set", action="append", default=[], help="key=value passed to every run (e.g. split=loo)")
    parser.add_argument("--seeds", default="2020", help="seeds, comma-separated: each a split of its own")
    parser.add_argument("--reference", help="the row every other is tested against as well (default: the best "
                        "knowledge-free row)")
    parser.add_argument("--peers", action="store_true", help="add the rows of benchmarks/peers.py (same --name)")
    parser.add_argument("--name", help="result file name (default: the dataset)")
    parser.add_argument("--few", type=int, default=0, help="also show test NDCG@10 over the users with at most this "
                        "many training interactions (on a friend task: training friends)")
    parser.add_argument("--reuse", action="store_true", help="read runs already finished in the results folder "
                        "instead of training them again (to add --peers rows to a table)")
    args = parser.parse_args()

    name = args.name or args.dataset
    seeds = [int(s) for s in args.seeds.split(",")]
    specs = [parse_run(m) for m in args.models.split(",") if m] + [parse_run(r) for r in args.run]
    by_seed: dict[int, dict[str, dict]] = {}
    folders: dict[int, dict[str, Path]] = {}
    for seed in seeds:
        runs_dir = args.out / "runs" / name / (f"seed-{seed}" if len(seeds) > 1 else "")
        rows, where = by_seed.setdefault(seed, {}), folders.setdefault(seed, {})
        for label, model, spec_settings in specs:
            print(f"training {label} on {args.dataset} (seed {seed}) …", flush=True)
            settings = [kv.replace("{runs}", str(runs_dir)) for kv in spec_settings]  # this seed's run folders
            extra = [*settings, *(f"--set={kv}" for kv in args.set), f"--seed={seed}"]
            rows[label] = train(args.dataset, model, runs_dir / label, extra, reuse=args.reuse)
            rows[label]["settings"] = [kv.removeprefix("--set=") for kv in settings]
            given = dict(kv.removeprefix("--set=").split("=", 1) for kv in settings)
            rows[label]["knowledge"] = uses_knowledge(model, given)
            where[label] = runs_dir / label
        if args.peers:
            for label, row in peer_rows(name, seed).items():
                rows[label] = {**row, "knowledge": "lightfm" in label}
                where[label] = RESULTS / row["run"]
        add_p_values(rows, where, args.reference)
        if args.few:
            add_few(rows, where, args.few)

    first = by_seed[seeds[0]]
    best = max(first, key=lambda m: mean_of(by_seed, m, "test", "ndcg@10"))
    config = json.loads((folders[seeds[0]][next(iter(s[0] for s in specs))] / "config.json").read_text())
    seeds_text = f"seed {seeds[0]}" if len(seeds) == 1 else f"mean ± sd over seeds {', '.join(map(str, seeds))}"
    protocol = (f"{config['split']} split {config['ratios']}, {seeds_text}, full ranking, ties broken at random, "
                f"early stopping on {config['valid_metric']}")
    columns = [c for c in COLUMNS if c in first[best]["test"]]
    all_items = [c for c in ("ndcg@10", "recall@20") if "test_all_items" in first[best]]
    title = f"{args.dataset}: {protocol} — test set" + (" (cold items ranked among cold items)" if all_items else "")
    table = Table(title=title, title_justify="left")
    few = [f"ndcg@10 ≤{args.few} train"] if args.few else []
    for col in ("model", "K", *columns, *(f"all items {c}" for c in all_items), *few, "p vs best", "p vs reference",
                "s to best", "s/epoch", "peak MB"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for m, r in first.items():
        s_epoch = "–" if r.get("peer") else f"{r['train_seconds'] / max(r['epochs_run'], 1):.3f}"
        table.add_row(m, "✓" if r.get("knowledge") else "",
                      *(cell(by_seed, m, "test", c) for c in columns),
                      *(cell(by_seed, m, "test_all_items", c) for c in all_items),
                      *(cell(by_seed, m, "test_few", "ndcg@10") for _ in few),
                      *(p_cell(by_seed, m, key) for key in ("p_vs_best_ndcg@10", "p_vs_reference_ndcg@10")),
                      f"{np.mean([by_seed[s][m]['time_to_best_seconds'] for s in seeds]):.1f}", s_epoch,
                      "–" if r["peak_rss_mb"] != r["peak_rss_mb"] else f"{r['peak_rss_mb']:.0f}")
    Console(width=220).print(table)

    result = {"dataset": args.dataset, "protocol": protocol, "threads": config["threads"], "seeds": seeds,
              "cpu_count": os.cpu_count(), "runs": first,
              "by_seed": {str(s): rows for s, rows in by_seed.items()} if len(seeds) > 1 else None}
    write_json(args.out / f"{name}.json", result)
    plot(by_seed, args.out / f"{name}.png", name)
    print(f"wrote {args.out / (name + '.json')} and {args.out / (name + '.png')}")


def add_p_values(rows: dict[str, dict], where: dict[str, Path], reference: str | None) -> None:
    """Paired t-tests over users of test NDCG@10: each row against the best and against the reference (by
    default the best row that uses no knowledge)."""
    best = max(rows, key=lambda m: rows[m]["test"]["ndcg@10"])
    plain = [m for m in rows if not rows[m].get("knowledge") and not m.startswith(("constant", "random"))]
    reference = reference or (max(plain, key=lambda m: rows[m]["test"]["ndcg@10"]) if plain else None)
    per_user = {m: load_per_user(where[m], "test") for m in rows if (where[m] / PER_USER_TEST).is_file()}
    for m in sorted(set(rows) - set(per_user)):  # a peer's row read from an earlier run of peers.py
        print(f"{m}: its per-user figures are not here (run benchmarks/peers.py again): no p-values for it")
    for m in rows:
        rows[m]["reference"] = reference
        for key, other in (("p_vs_best_ndcg@10", best), ("p_vs_reference_ndcg@10", reference)):
            rows[m][key] = None
            if other is not None and other != m and {m, other} <= set(per_user):
                cmp = {c.metric: c for c in compare_per_user(per_user[other], per_user[m])}
                rows[m][key] = cmp["ndcg@10"].p_ttest


def add_few(rows: dict[str, dict], where: dict[str, Path], few: int) -> None:
    """Each knowrec row's test NDCG@10 over the users with at most ``few`` training interactions (read off the
    saved model's training matrix), as ``row["test_few"]``; peers' rows have no saved model and get none."""
    from safetensors.numpy import load_file

    for m, row in rows.items():
        weights = where[m] / "model" / "weights.safetensors"
        if row.get("peer") or not weights.is_file():
            continue
        n_train = np.diff(load_file(weights)["seen_indptr"])
        per_user = load_per_user(where[m], "test")
        chosen = n_train[per_user["users"]] <= few
        row["test_few"] = {"ndcg@10": float(per_user["ndcg@10"][chosen].mean()), "users": int(chosen.sum()),
                           "at_most": few}


def mean_of(by_seed: dict[int, dict[str, dict]], m: str, part: str, metric: str) -> float:
    return float(np.mean([rows[m][part][metric] for rows in by_seed.values()]))


def cell(by_seed: dict[int, dict[str, dict]], m: str, part: str, metric: str) -> str:
    values = [rows[m][part][metric] for rows in by_seed.values() if metric in rows[m].get(part, {})]
    if not values:
        return "–"
    return f"{values[0]:.4f}" if len(values) == 1 else f"{np.mean(values):.4f} ± {np.std(values, ddof=1):.4f}"


def p_cell(by_seed: dict[int, dict[str, dict]], m: str, key: str) -> str:
    values = [rows[m][key] for rows in by_seed.values() if rows[m].get(key) is not None]
    return "–" if not values else f"{max(values):.3g}"


def plot(by_seed: dict[int, dict[str, dict]], path: Path, dataset: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    first = next(iter(by_seed.values()))
    models = list(first)
    metrics = ("ndcg@10", "recall@10", "ndcg@20", "recall@20")
    x = np.arange(len(models))
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(max(11, len(models) * 1.1), 4.5),
                                  gridspec_kw={"width_ratios": [3, 1.4]})
    for i, metric in enumerate(metrics):
        means = [mean_of(by_seed, m, "test", metric) for m in models]
        sds = [np.std([rows[m]["test"][metric] for rows in by_seed.values()]) for m in models]
        ax.bar(x + (i - 1.5) * 0.2, means, 0.2, yerr=sds if len(by_seed) > 1 else None, label=metric)
    ax.set_xticks(x, models, rotation=30, ha="right")
    ax.set_ylabel("test")
    ax.legend(ncols=2, fontsize=8)
    ax.set_title(f"Accuracy on {dataset}")
    ax2.bar(x, [np.mean([rows[m]["time_to_best_seconds"] for rows in by_seed.values()]) for m in models],
            color="tab:grey")
    ax2.set_xticks(x, models, rotation=30, ha="right")
    ax2.set_ylabel("seconds to best (1 thread)")
    ax2.set_title("Training time")
    fig.tight_layout()
    save_figure(fig, path)


if __name__ == "__main__":
    main()
