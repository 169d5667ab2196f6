"""Peers from other libraries on exactly knowrec's split, scored by knowrec's own metric code.

implicit's ALS and LightFM (with the same KG facts as item features that knowrec's knowledge models read) each
run in a virtual environment of their own, made on first use under ``--venvs``:

    python benchmarks/peers.py --dataset ml-100k
    python benchmarks/peers.py --dataset ml-1m-kg --split given --name ml-1m-kg
    python benchmarks/peers.py --dataset ml-100k --split cold-item --seeds 2020,2021,2022 --name ml-100k-cold-item

The split is exported with ``knowrec data split … --format knowrec``; each peer writes a score matrix for every
configuration of a small grid, ``knowrec.experiment.evaluate_scores`` judges it (masks, fair tie-breaking, the
metrics of every knowrec model), the configuration is chosen on **validation** and its test figures reported.
Rows go to ``benchmarks/results/<name>-peers.json`` and, in a run folder's layout, to
``benchmarks/results/runs/<name>/[seed-<seed>/]peer-<label>/`` — ``benchmarks/run.py --peers`` puts them into its table.
LightFM 1.17 only builds with ``pip==24.0`` and ``--no-use-pep517`` (lyst/lightfm#687).
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from knowrec._io import write_json
from knowrec.experiment import evaluate_scores

RESULTS = Path(__file__).parent / "results"
INSTALL = {
    "implicit": [["-m", "pip", "install", "-q", "implicit==0.7.3", "numpy", "scipy", "pandas", "threadpoolctl"]],
    "lightfm": [["-m", "pip", "install", "-q", "pip==24.0", "wheel", "setuptools", "numpy", "scipy", "pandas",
                 "threadpoolctl"],
                ["-m", "pip", "install", "-q", "--no-use-pep517", "--no-deps", "lightfm==1.17"]],
}
#: Fits one configuration in the peer's own environment; writes ``scores-<tag>.npz`` (users, scores) per
#: checkpoint (LightFM: after each of the listed epoch counts).
RUNNER = r"""
import json, sys, time
import numpy as np, pandas as pd, scipy.sparse as sp
from threadpoolctl import threadpool_limits
split, out, peer, cfg = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
n_users = len(pd.read_csv(f"{split}/users.tsv", sep="\t"))
n_items = len(pd.read_csv(f"{split}/items.tsv", sep="\t"))
train = pd.read_csv(f"{split}/train.tsv", sep="\t")
x = sp.csr_matrix((np.ones(len(train), np.float32), (train.user, train.item)), shape=(n_users, n_items))
x.data[:] = 1.0
held = pd.concat([pd.read_csv(f"{split}/{p}.tsv", sep="\t") for p in ("valid", "test")])
users = np.unique(held.user.to_numpy())
def save(tag, scores):
    np.savez(f"{out}/scores-{tag}.npz", users=users, scores=scores.astype(np.float32))
t0 = time.perf_counter()
with threadpool_limits(1):
    if peer == "als":
        from implicit.cpu.als import AlternatingLeastSquares
        m = AlternatingLeastSquares(factors=cfg["factors"], regularization=cfg["regularization"],
                                    alpha=cfg["alpha"], iterations=cfg["iterations"], random_state=2020,
                                    num_threads=1)
        m.fit(x, show_progress=False)
        save("final", m.user_factors[users] @ m.item_factors.T)
        times = {"final": time.perf_counter() - t0}
    else:
        from lightfm import LightFM
        feats = pd.read_csv(f"{split}/item_features.tsv", sep="\t")
        names = {f: j for j, f in enumerate(pd.unique(feats.feature))}
        warm = np.flatnonzero(np.asarray(x.sum(0)).ravel() > 0)  # an identity feature only where it is trained:
        rows = np.concatenate([warm, feats.item.to_numpy()])      # a cold item is its metadata alone
        cols = np.concatenate([warm, n_items + feats.feature.map(names).to_numpy()])
        f = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(n_items, n_items + len(names)))
        f = sp.diags(1.0 / np.asarray(f.sum(1)).ravel()) @ f   # LightFM's advice: rows summing to 1
        m = LightFM(no_components=cfg["components"], loss=cfg["loss"], learning_rate=cfg["lr"],
                    item_alpha=cfg["item_alpha"], random_state=2020)
        times, done = {}, 0
        for epochs in cfg["checkpoints"]:
            m.fit_partial(x, item_features=f, epochs=epochs - done, num_threads=1)
            done = epochs
            times[str(epochs)] = time.perf_counter() - t0
            item_bias, item_vec = m.get_item_representations(f)
            _, user_vec = m.get_user_representations()
            save(str(epochs), user_vec[users] @ item_vec.T + item_bias[None, :])
print("TIMES" + json.dumps(times))
"""
GRIDS = {
    "als": {"factors": [64, 128], "regularization": [0.1, 1.0, 10.0, 100.0], "alpha": [1.0, 10.0], "iterations": [30]},
    "lightfm": {"components": [64], "loss": ["warp"], "lr": [0.05], "item_alpha": [0.0],
                "checkpoints": [[5, 10, 20, 40]]},
}
LABELS = {"als": "implicit ALS", "lightfm": "LightFM (warp, KG facts as item features)"}
VENV_OF = {"als": "implicit", "lightfm": "lightfm"}


def venv(root: Path, name: str) -> Path:
    """The python of the peer's virtual environment, made (and its packages installed) on first use."""
    python = root / name / "bin" / "python"
    if not python.exists():
        print(f"creating the {name} environment in {root / name} …", flush=True)
        subprocess.run(["python3.11", "-m", "venv", str(root / name)], check=True)
        for args in INSTALL[name]:
            subprocess.run([str(python), *args], check=True)
    return python


def run_peer(peer: str, python: Path, split_dir: Path, work: Path, ks: tuple[int, ...]) -> dict:
    """Every configuration of the peer's grid, judged on validation; the best one's test figures."""
    grid = GRIDS[peer]
    best: dict | None = None
    tried = []
    for values in itertools.product(*grid.values()):
        cfg = dict(zip(grid, values, strict=True))
        out = work / f"{peer}-{len(tried)}"
        out.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run([str(python), "-c", RUNNER, str(split_dir), str(out), peer, json.dumps(cfg)],
                              capture_output=True, text=True, check=False)
        if proc.returncode:
            raise RuntimeError(f"{peer} failed with {cfg}:\n{proc.stderr[-2000:]}")
        times = json.loads(proc.stdout.split("TIMES", 1)[1])
        for tag, seconds in times.items():
            parts = evaluate_scores(split_dir, out / f"scores-{tag}.npz", ks=ks)
            valid = parts["valid"].metrics["ndcg@10"]
            trial = {"params": {**cfg, **({"epochs": int(tag)} if tag != "final" else {})}, "valid_ndcg@10": valid,
                     "fit_seconds": round(seconds, 2), "scores": str(out / f"scores-{tag}.npz")}
            tried.append(trial)
            print(f"  {peer} {trial['params']} · valid ndcg@10 {valid:.4f} · {seconds:.1f} s", flush=True)
            if best is None or valid > best["valid_ndcg@10"]:
                best = trial
    assert best is not None
    return {**best, "tried": tried}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--split", default="random")
    parser.add_argument("--ratios", default="0.8,0.1,0.1", help="train,valid,test ratios (as knowrec train's)")
    parser.add_argument("--seeds", default="2020", help="split seeds, comma-separated (cold splits: several)")
    parser.add_argument("--name", help="result name (default: the dataset); use the name benchmarks/run.py used")
    parser.add_argument("--peers", default="als,lightfm")
    parser.add_argument("--lightfm-epochs", default="5,10,20,40", help="LightFM's checkpoints, chosen on validation")
    parser.add_argument("--venvs", type=Path, default=Path.home() / ".cache" / "knowrec" / "peer-venvs")
    parser.add_argument("--work", type=Path, default=Path("/tmp/knowrec-peers"))
    args = parser.parse_args()

    name = args.name or args.dataset
    seeds = [int(s) for s in args.seeds.split(",")]
    GRIDS["lightfm"]["checkpoints"] = [[int(e) for e in args.lightfm_epochs.split(",")]]
    by_seed: dict[int, dict] = {}
    for seed in seeds:
        work = args.work / name / f"seed-{seed}"
        split_dir = work / "split"
        subprocess.run([sys.executable, "-m", "knowrec", "data", "split", args.dataset, "--out", str(split_dir),
                        "--format", "knowrec", "--split", args.split, "--seed", str(seed), "--ratios", args.ratios],
                       check=True,
                       stdout=subprocess.DEVNULL)
        rows = by_seed[seed] = {}
        for peer in args.peers.split(","):
            python = venv(args.venvs, VENV_OF[peer])
            print(f"{LABELS[peer]} on {name} ({args.split}, seed {seed}) …", flush=True)
            t0 = time.perf_counter()
            chosen = run_peer(peer, python, split_dir, work, (10, 20))
            folder = RESULTS / "runs" / name / (f"seed-{seed}" if len(seeds) > 1 else "") / f"peer-{peer}"
            parts = evaluate_scores(split_dir, chosen["scores"], out=folder, name=LABELS[peer])
            rows[peer] = {"label": LABELS[peer], "params": chosen["params"], "fit_seconds": chosen["fit_seconds"],
                          "grid_seconds": round(time.perf_counter() - t0, 1), "valid": parts["valid"].metrics,
                          "test": parts["test"].metrics, "run": str(folder.relative_to(RESULTS)),
                          "tried": [{k: v for k, v in t.items() if k != "scores"} for t in chosen["tried"]]}
            if "test_all_items" in parts:
                rows[peer]["test_all_items"] = parts["test_all_items"].metrics

        table = Table(title=f"peers on {name}: {args.split} split, seed {seed}, chosen on validation — test set",
                      title_justify="left")
        for col in ("peer", "chosen", "valid ndcg@10", "ndcg@10", "recall@20", "fit s"):
            table.add_column(col, justify="left" if col in ("peer", "chosen") else "right")
        for r in rows.values():
            table.add_row(r["label"], json.dumps(r["params"]), f"{r['valid']['ndcg@10']:.4f}",
                          f"{r['test']['ndcg@10']:.4f}", f"{r['test']['recall@20']:.4f}", f"{r['fit_seconds']:.1f}")
        Console(width=200).print(table)
    path = RESULTS / f"{name}-peers.json"  # peers run before (another --peers) keep their rows
    before = json.loads(path.read_text())["seeds"] if path.is_file() else {}
    write_json(path, {"dataset": args.dataset, "split": args.split,
                      "seeds": {str(s): before.get(str(s), {}) | r for s, r in by_seed.items()}})
    print(f"wrote {RESULTS / (name + '-peers.json')}")


if __name__ == "__main__":
    main()
