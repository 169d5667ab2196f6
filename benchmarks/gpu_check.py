"""GPU check (a few minutes on one GPU): LightGCN and the hybrid on ml-1m-kg trained on CUDA and on the CPU for the
same few epochs — test metrics within ``--tolerance``, seconds per epoch on both — and, where two GPUs are present,
the same on 2 GPUs with DDP (NCCL) against 1.

    python benchmarks/gpu_check.py                  # writes benchmarks/results/gpu-check.json (or $OUT/…)
    python benchmarks/gpu_check.py --dataset ml-100k --epochs 2 --set text_model=/models/minilm

The runs share one text cache and the GPU goes first: the hybrid's language model encodes the items on the GPU,
and the CPU run trains on the same vectors (the encoder on each device is checked by the device tests). A run
that fails is reported with the end of its error output and the others go on; the JSON is rewritten after each
run, so a check cut short still leaves what it measured. It exits 2 with a one-line message on a machine without
a CUDA GPU, and 1 when a run failed or a metric is out of tolerance.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from ddp import train
from knowrec._io import write_json

#: Settings per model: the hybrid with its default sources (ID, KG and the language model, encoded on the device).
MODELS = {"lightgcn": [], "hybrid": []}
METRICS = ("test_ndcg@10", "test_recall@20")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="ml-1m-kg")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--tolerance", type=float, default=0.005)
    parser.add_argument("--threads", type=int, default=min(8, os.cpu_count() or 1), help="CPU threads per run.")
    parser.add_argument("--set", action="append", default=[], help="A setting for every run, key=value.")
    parser.add_argument("--runs", type=Path, default=None, help="Where the run folders go (default: beside the JSON).")
    args = parser.parse_args()
    console = Console()
    if not torch.cuda.is_available():
        console.print(f"no CUDA GPU here (torch {torch.__version__}): nothing to check")
        return 2
    results = Path(os.environ.get("OUT") or Path(__file__).parent / "results")
    runs = args.runs or results / "runs" / "gpu-check"
    name = torch.cuda.get_device_name(0)
    summary = {"dataset": args.dataset, "epochs": args.epochs, "gpu": name, "gpus": torch.cuda.device_count(),
               "torch": torch.__version__, "cuda": torch.version.cuda, "threads": args.threads,
               "tolerance": args.tolerance, "settings": args.set, "runs": []}
    plans = [("cuda", 1), ("cpu", 1)] + ([("cuda", 2)] if torch.cuda.device_count() >= 2 else [])
    os.environ["KNOWREC_CACHE_DIR"] = str(runs / "cache")
    for model in args.models.split(","):
        for device, procs in plans:
            console.print(f"{model} on {device} × {procs} …")
            out = runs / f"{model}-{device}-{procs}"
            settings = [*MODELS.get(model, []), *args.set, f"device={device}"]
            start = time.perf_counter()
            try:
                row = train(args.dataset, model, procs, args.epochs, settings, out, threads=args.threads)
            except subprocess.CalledProcessError as err:
                row = {"model": model, "procs": procs, "settings": settings, "error": f"exit {err.returncode}"}
            summary["runs"].append({"device": device, "wall_s": time.perf_counter() - start, **row})
            write_json(results / "gpu-check.json", summary)
    failed = [f"{r['model']} on {r['device']} × {r['procs']}" for r in summary["runs"]
              if _compare(r, summary["runs"], args.tolerance)]
    write_json(results / "gpu-check.json", summary)
    console.print(_table(summary, f"{args.dataset}, {args.epochs} epochs: CPU ({args.threads} threads) against {name}"))
    if failed:
        console.print(f"failed or out of tolerance ({args.tolerance}): {', '.join(failed)}")
    return 1 if failed else 0


def _compare(run: dict, runs: list[dict], tolerance: float) -> bool:
    """Fill in ``run``'s gap to the same model on the CPU; whether it failed or is out of tolerance."""
    cpu = next(x for x in runs if x["model"] == run["model"] and x["device"] == "cpu")
    if "error" in run or "error" in cpu:
        run["ok"] = False
        return True
    run["gap"] = run["test_ndcg@10"] - cpu["test_ndcg@10"]
    run["ok"] = all(abs(run[m] - cpu[m]) <= tolerance for m in METRICS)
    return not run["ok"]


def _table(summary: dict, title: str) -> Table:
    table = Table(title=title)
    for col in ("model", "device", "processes", "s/epoch", "wall s", "test ndcg@10", "test recall@20", "gap to CPU",
                "ok"):
        table.add_column(col, justify="right")
    for r in summary["runs"]:
        if "error" in r:
            table.add_row(r["model"], r["device"], str(r["procs"]), "–", f"{r['wall_s']:.0f}", r["error"], "", "", "NO")
            continue
        table.add_row(r["model"], r["device"], str(r["procs"]), f"{r['s_per_epoch']:.2f}", f"{r['wall_s']:.0f}",
                      f"{r['test_ndcg@10']:.4f}", f"{r['test_recall@20']:.4f}", f"{r.get('gap', 0):+.4f}",
                      "yes" if r["ok"] else "NO")
    return table


if __name__ == "__main__":
    sys.exit(main())
