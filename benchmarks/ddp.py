"""Data-parallel benchmark: seconds per epoch and test metrics of the same run on 1 and on N processes
(``knowrec train --nproc N``: torchrun, gloo on CPU, NCCL on GPUs), each process with one thread.

    python benchmarks/ddp.py                                   # BPR, LightGCN, hybrid on ml-100k, 1 and 2 processes
    python benchmarks/ddp.py --dataset ml-1m-kg --procs 1,2,4 --epochs 5 --set device=cuda

Every run trains a fixed number of epochs (validation only after the last, no early stopping), so the runs do the
same work; the median epoch of each is reported, with the test NDCG@10 and its gap to the 1-process run.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from knowrec._io import write_json

RESULTS = Path(__file__).parent / "results"
#: Each model's settings for the runs: the hybrid on ID + KG vectors (no language model: its epochs then
#: measure the training loop, not the encoder).
MODELS = {"bpr": [], "lightgcn": [], "hybrid": ["sources=id,kg"]}


def train(dataset: str, model: str, procs: int, epochs: int, settings: list[str], out: Path, *,
          threads: int = 1) -> dict[str, float]:
    """``knowrec train`` for exactly ``epochs`` epochs on ``procs`` processes; its median epoch and test metrics."""
    cmd = [sys.executable, "-m", "knowrec", "train", "--dataset", dataset, "--model", model, "--out", str(out),
           "--quiet", "--nproc", str(procs)]
    for kv in [f"epochs={epochs}", f"eval_every={epochs}", "patience=1000", f"threads={threads}", *settings]:
        cmd += ["--set", kv]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
    with open(out / "history.csv") as f:
        seconds = sorted(float(row["seconds"]) for row in csv.DictReader(f))
    metrics = json.loads((out / "metrics.json").read_text())
    return {"model": model, "procs": procs, "settings": settings, "s_per_epoch": seconds[len(seconds) // 2],
            "epochs": len(seconds),
            "test_ndcg@10": metrics["test"]["ndcg@10"], "test_recall@20": metrics["test"]["recall@20"],
            "peak_rss_mb": metrics.get("peak_rss_mb")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--procs", default="1,2")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--set", action="append", default=[], help="A setting for every run, key=value.")
    parser.add_argument("--name", default=None, help="Results name (default: <dataset>-ddp).")
    args = parser.parse_args()
    console = Console()
    name = args.name or f"{args.dataset}-ddp"
    rows = []
    for model in args.models.split(","):
        for procs in (int(p) for p in args.procs.split(",")):
            console.print(f"{model} on {procs} process(es) …")
            out = RESULTS / "runs" / name / f"{model}-{procs}"
            rows.append(train(args.dataset, model, procs, args.epochs, MODELS.get(model, []) + args.set, out))
    table = Table(title=f"{args.dataset}: {args.epochs} epochs on 1 thread per process ({os.cpu_count()} cores)")
    for col in ("model", "processes", "s/epoch", "speed-up", "test ndcg@10", "gap to 1 process", "peak MB/process"):
        table.add_column(col, justify="right")
    for r in rows:
        one = next(x for x in rows if x["model"] == r["model"] and x["procs"] == rows[0]["procs"])
        r["speedup"] = one["s_per_epoch"] / r["s_per_epoch"]
        r["ndcg_gap"] = r["test_ndcg@10"] - one["test_ndcg@10"]
        table.add_row(r["model"], str(r["procs"]), f"{r['s_per_epoch']:.3f}", f"{r['speedup']:.2f}x",
                      f"{r['test_ndcg@10']:.4f}", f"{r['ndcg_gap']:+.4f}", f"{r['peak_rss_mb'] or 0:.0f}")
    console.print(table)
    out = RESULTS / f"{name}.json"
    write_json(out, {"dataset": args.dataset, "epochs": args.epochs, "settings": args.set, "cpu_count": os.cpu_count(),
                     "runs": rows})
    console.print(f"wrote {out}")


if __name__ == "__main__":
    main()
