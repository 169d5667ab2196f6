"""Run RecBole on exactly knowrec's split of ml-100k and put both libraries' test metrics side by side.

RecBole lives in its own virtual environment (it needs older numpy/pandas than knowrec). Set one up with::

    python3.11 -m venv /tmp/rb && /tmp/rb/bin/pip install torch==2.13.0 recbole==1.2.1 \
        "numpy<2" "pandas<2.2" "scipy<1.12" "setuptools<81"

then::

    python benchmarks/recbole_crosscheck.py --recbole-python /tmp/rb/bin/python --models ItemKNN,BPR,LightGCN

It reads knowrec's figures from ``benchmarks/results/ml-100k.json`` (written by ``benchmarks/run.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from knowrec._io import write_json
from knowrec.data import export_recbole, load_dataset, split

RESULTS = Path(__file__).parent / "results"
METRICS = ("ndcg@10", "recall@10", "hit@10", "mrr@10", "ndcg@20", "recall@20")
RUNNER = """
import json, sys, torch
torch.set_num_threads(1)
from recbole.quick_start import run_recbole
cfg = {"data_path": sys.argv[2], "benchmark_filename": ["train", "valid", "test"],
       "load_col": {"inter": ["user_id", "item_id", "rating", "timestamp"]},
       "metrics": ["Recall", "NDCG", "Hit", "MRR", "Precision"], "topk": [10, 20], "valid_metric": "NDCG@10",
       "eval_args": {"mode": "full", "order": "RO", "group_by": "user"}, "seed": 2020, "reproducibility": True,
       "device": "cpu", "use_gpu": False, "show_progress": False, "stopping_step": 10}
r = run_recbole(model=sys.argv[1], dataset=sys.argv[3], config_dict=cfg)
print("RESULT" + json.dumps(dict(r["test_result"])))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recbole-python", required=True, help="python of a venv with recbole installed")
    parser.add_argument("--models", default="ItemKNN,BPR,LightGCN")
    args = parser.parse_args()

    data = load_dataset("ml-100k")
    folder = Path(tempfile.mkdtemp(prefix="knowrec-recbole-"))
    export_recbole(data, split(data, seed=2020).parts, folder / "kr-ml100k", name="kr-ml100k")
    env = {**os.environ, "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}  # RecBole 1.2.1 predates torch's safe load
    ours = json.loads((RESULTS / "ml-100k.json").read_text())["runs"] if (RESULTS / "ml-100k.json").is_file() else {}
    rows = {}
    for model in args.models.split(","):
        t0 = time.perf_counter()
        out = subprocess.run([args.recbole_python, "-c", RUNNER, model, str(folder), "kr-ml100k"], env=env,
                             cwd=folder, capture_output=True, text=True, check=True).stdout
        line = next(x for x in out.splitlines() if x.startswith("RESULT"))
        rows[model] = {"test": json.loads(line.removeprefix("RESULT")), "wall_seconds": time.perf_counter() - t0}

    table = Table(title="ml-100k, one split (seed 2020), test set: RecBole 1.2.1 vs knowrec", title_justify="left")
    for col in ("model", "library", *METRICS, "wall s"):
        table.add_column(col, justify="left" if col in ("model", "library") else "right")
    for model, r in rows.items():
        table.add_row(model, "RecBole", *(f"{r['test'][m]:.4f}" for m in METRICS), f"{r['wall_seconds']:.1f}")
        mine = ours.get(model.lower())
        if mine:
            table.add_row("", "knowrec", *(f"{mine['test'][m]:.4f}" for m in METRICS), f"{mine['wall_seconds']:.1f}")
    Console(width=160).print(table)
    write_json(RESULTS / "ml-100k-recbole.json", {"split": "knowrec random 8:1:1, seed 2020, exported with "
                                                  "knowrec data split", "recbole": "1.2.1", "runs": rows})


if __name__ == "__main__":
    main()
