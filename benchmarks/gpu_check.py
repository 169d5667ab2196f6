"""GPU check (a few minutes on one GPU): LightGCN and the hybrid on ml-1m-kg trained on CUDA and on the CPU for the
same few epochs — test metrics within ``--tolerance``, seconds per epoch on both — and, where two GPUs are present,
the same on 2 GPUs with DDP (NCCL) against 1.

    python benchmarks/gpu_check.py                  # writes benchmarks/results/gpu-check.json (or $OUT/…)
    python benchmarks/gpu_check.py --dataset ml-100k --epochs 2

It exits 2 with a one-line message on a machine without a CUDA GPU, and 1 when a metric is out of tolerance.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from ddp import train
from knowrec._io import write_json

#: Settings per model: the hybrid with its default sources (ID, KG and the language model, encoded on the device).
MODELS = {"lightgcn": [], "hybrid": []}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="ml-1m-kg")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--tolerance", type=float, default=0.005)
    parser.add_argument("--threads", type=int, default=min(8, os.cpu_count() or 1), help="CPU threads per run.")
    args = parser.parse_args()
    console = Console()
    if not torch.cuda.is_available():
        console.print(f"no CUDA GPU here (torch {torch.__version__}): nothing to check")
        return 2
    results = Path(os.environ.get("OUT") or Path(__file__).parent / "results")
    name = torch.cuda.get_device_name(0)
    rows, failed = [], []
    plans = [("cpu", 1), ("cuda", 1)] + ([("cuda", 2)] if torch.cuda.device_count() >= 2 else [])
    for model in args.models.split(","):
        for device, procs in plans:
            console.print(f"{model} on {device} × {procs} …")
            out = results / "runs" / "gpu-check" / f"{model}-{device}-{procs}"
            rows.append({"device": device, **train(args.dataset, model, procs, args.epochs,
                                                    [*MODELS.get(model, []), f"device={device}"], out,
                                                    threads=args.threads)})
    table = Table(title=f"{args.dataset}, {args.epochs} epochs: CPU ({args.threads} threads) against {name}")
    for col in ("model", "device", "processes", "s/epoch", "test ndcg@10", "test recall@20", "gap to CPU", "ok"):
        table.add_column(col, justify="right")
    for r in rows:
        cpu = next(x for x in rows if x["model"] == r["model"] and x["device"] == "cpu")
        r["gap"] = r["test_ndcg@10"] - cpu["test_ndcg@10"]
        r["ok"] = abs(r["gap"]) <= args.tolerance and abs(r["test_recall@20"] - cpu["test_recall@20"]) <= args.tolerance
        if not r["ok"]:
            failed.append(f"{r['model']} on {r['device']} × {r['procs']}")
        table.add_row(r["model"], r["device"], str(r["procs"]), f"{r['s_per_epoch']:.2f}", f"{r['test_ndcg@10']:.4f}",
                      f"{r['test_recall@20']:.4f}", f"{r['gap']:+.4f}", "yes" if r["ok"] else "NO")
    console.print(table)
    write_json(results / "gpu-check.json", {"dataset": args.dataset, "epochs": args.epochs, "gpu": name,
                                            "gpus": torch.cuda.device_count(), "torch": torch.__version__,
                                            "tolerance": args.tolerance, "runs": rows})
    if failed:
        console.print(f"out of tolerance ({args.tolerance}): {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
