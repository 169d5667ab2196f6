"""Scaling benchmark: seconds per epoch and peak memory against the number of interactions, on synthetic data
(``knowrec.data.synth``: power-law popularity, 20 interactions per user, 200 per item), and the evaluator's
memory against the number of users with the catalogue fixed.

    python benchmarks/scale.py          # BPR (sparse) at 1e5, 1e6, 1e7; BPR (dense Adam) and LightGCN to 1e6
    python benchmarks/scale.py --sizes 1e5,1e6 --models "bpr:sparse=true" --eval-users 1e4,1e5
    python benchmarks/scale.py --name scale-fixed-tables --tables 500000,50000 --sizes 1e6,3e6,1e7 \
        --models "bpr:sparse=true" --eval-users ""      # the tables of 1e7 at every size: the interactions' own cost

Each measurement runs in its own process with one thread, so its time and memory are its own. Peak memory is
sampled from ``/proc/self/statm`` every 5 ms during the measured step (data generation is not counted) and
the process's ``ru_maxrss`` is shown beside it; "fit MB" is the growth over the process before fitting
(the ~400 MB of an imported torch is in every peak). The table ends with the log-log slope between the smallest and
largest size: 1 is linear growth.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from knowrec._io import save_figure, write_json

RESULTS = Path(__file__).parent / "results"
PAGE = os.sysconf("SC_PAGE_SIZE")


@contextmanager
def peak_rss() -> Iterator[dict[str, float]]:
    """Sample the resident set every 5 ms while the block runs; ``out["before"]``/``out["peak"]`` in MB."""
    out = {"before": _rss(), "peak": 0.0}
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.005):
            out["peak"] = max(out["peak"], _rss())

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield out
    finally:
        done.set()
        thread.join()
        out["peak"] = max(out["peak"], _rss())


def _rss() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20


def sizes_for(n: int, tables: str = "") -> tuple[int, int]:
    """Users and items for ``n`` interactions: 20 per user, 200 per item, or ``tables`` ("USERS,ITEMS") fixed."""
    if tables:
        users, items = (int(float(x)) for x in tables.split(","))
        return users, items
    return max(n // 20, 100), max(n // 200, 100)


def parse_model(spec: str) -> tuple[str, dict[str, object]]:
    """``"bpr:sparse=true;dim=32"`` → ``("bpr", {"sparse": True, "dim": 32})``."""
    name, _, rest = spec.partition(":")
    params: dict[str, object] = {}
    for kv in filter(None, rest.split(";")):
        key, _, value = kv.partition("=")
        params[key] = json.loads(value) if value not in ("True", "False") else value == "True"
    return name, params


def child_train(spec: str, n: int, epochs: int, seed: int, tables: str = "") -> dict[str, float]:
    import torch

    from knowrec.data.synth import synthesize
    from knowrec.models import MODELS
    from knowrec.train import Callback

    torch.set_num_threads(1)
    users, items = sizes_for(n, tables)
    t0 = time.perf_counter()
    data = synthesize(users, items, n, seed=seed)
    generate = time.perf_counter() - t0
    seconds: list[float] = []

    class Timer(Callback):
        def on_epoch_end(self, model: object, epoch: int, logs: dict[str, float]) -> None:
            seconds.append(logs["seconds"])

    model_name, params = parse_model(spec)
    model = MODELS.get(model_name)(epochs=epochs, seed=seed, **params)
    t0 = time.perf_counter()
    with peak_rss() as mem:
        model.fit(data, callbacks=[Timer()], show_progress=False)
    return {"model": spec, "interactions": n, "users": users, "items": items, "generate_s": generate,
            "fit_s": time.perf_counter() - t0, "s_per_epoch": min(seconds), "epochs": len(seconds),
            "rss_before_mb": mem["before"], "peak_mb": mem["peak"], "fit_mb": mem["peak"] - mem["before"],
            "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def child_eval(users: int, items: int, seed: int) -> dict[str, float]:
    """Full-ranking evaluation of a fixed random 64-d factor model: working memory against users."""
    import torch

    from knowrec.data import split
    from knowrec.data.synth import synthesize
    from knowrec.evaluate import Evaluator

    torch.set_num_threads(1)
    data = synthesize(users, items, users * 20, seed=seed)
    s = split(data, "random", seed=seed)
    evaluator = Evaluator(data, s)
    gen = torch.Generator().manual_seed(seed)
    user_f, item_f = torch.randn(users, 64, generator=gen), torch.randn(items, 64, generator=gen)

    class Factors:
        def score(self, batch: np.ndarray) -> torch.Tensor:
            return user_f[torch.from_numpy(batch)] @ item_f.T

    t0 = time.perf_counter()
    with peak_rss() as mem:
        result = evaluator.evaluate(Factors(), "test")
    return {"users": users, "items": items, "ranked_users": len(result.users), "eval_s": time.perf_counter() - t0,
            "rss_before_mb": mem["before"], "peak_mb": mem["peak"], "delta_mb": mem["peak"] - mem["before"],
            "ndcg@10": result.metrics["ndcg@10"]}


def spawn(*args: str) -> dict[str, float]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, env=env)
    if out.returncode:
        raise SystemExit(f"child {' '.join(args)} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def slope(xs: list[float], ys: list[float]) -> float:
    """Log-log slope between the first and last point (1 = linear)."""
    return float(np.log(ys[-1] / ys[0]) / np.log(xs[-1] / xs[0])) if len(xs) > 1 else float("nan")


def plot(train: list[dict], evals: list[dict], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for name in sorted({r["model"] for r in train}):
        rows = [r for r in train if r["model"] == name]
        n = [r["interactions"] for r in rows]
        axes[0].loglog(n, [r["s_per_epoch"] for r in rows], "o-", label=name)
        axes[1].loglog(n, [r["peak_mb"] for r in rows], "o-", label=f"{name} peak")
        axes[1].loglog(n, [r["fit_mb"] for r in rows], "^--", label=f"{name} growth during fit")
    for ax, what in ((axes[0], "seconds per epoch"), (axes[1], "peak RSS during fit (MB)")):
        lo, hi = min(r["interactions"] for r in train), max(r["interactions"] for r in train)
        ref = next(r for r in train if r["interactions"] == lo)
        key = "s_per_epoch" if "seconds" in what else "peak_mb"
        ax.loglog([lo, hi], [ref[key], ref[key] * hi / lo], "k:", label="linear from the smallest")
        ax.set(xlabel="interactions", ylabel=what, title=f"{what} vs interactions (1 thread)")
        ax.legend()
    if evals:
        u = [r["users"] for r in evals]
        axes[2].semilogx(u, [r["delta_mb"] for r in evals], "o-", label="evaluation working memory")
        axes[2].semilogx(u, [r["rss_before_mb"] for r in evals], "s--", label="process before evaluating")
        axes[2].set(xlabel="users ranked (catalogue fixed)", ylabel="MB",
                    title=f"evaluator memory vs users ({evals[0]['items']:,} items)")
        axes[2].legend()
    return save_figure(fig, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1e5,1e6,1e7", help="Interaction counts.")
    parser.add_argument("--models", default="bpr:sparse=true,bpr,lightgcn",
                        help="Comma-separated models, each with optional parameters: name:key=value;key=value.")
    parser.add_argument("--max-size", default="bpr=1e6,lightgcn=1e6",
                        help="Largest size per model spec: dense Adam (bpr) and LightGCN's full-graph propagation "
                             "touch every row at every step, so their epochs grow with interactions × batches.")
    parser.add_argument("--epochs", type=int, default=2, help="Epochs per run; the fastest epoch is reported.")
    parser.add_argument("--eval-users", default="1e4,1e5,4e5")
    parser.add_argument("--eval-items", type=int, default=20_000)
    parser.add_argument("--tables", default="",
                        help='Fixed "USERS,ITEMS" at every size (default: 20 interactions per user, 200 per item): '
                             "time against interactions with the tables' size, and so the cache, held constant.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", default="scale")
    parser.add_argument("--reuse-train", action="store_true",
                        help="Keep the training rows of the existing results file; measure the evaluator again.")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        result = (child_train(rest[0], int(rest[1]), int(rest[2]), args.seed, args.tables) if kind == "train"
                  else child_eval(int(rest[0]), int(rest[1]), args.seed))
        print(json.dumps(result))
        return
    console = Console()
    caps = {k: float(v) for k, v in (kv.split("=") for kv in args.max_size.split(",") if kv)}
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    out = RESULTS / f"{args.name}.json"
    train = json.loads(out.read_text())["train"] if args.reuse_train else []
    for name in [] if args.reuse_train else args.models.split(","):
        for n in sizes:
            if n > caps.get(name, float("inf")):
                continue
            console.print(f"{name}: {n:,} interactions …")
            train.append(spawn("train", name, str(n), str(args.epochs), "--tables", args.tables))
            console.print(f"  {train[-1]['s_per_epoch']:.2f} s/epoch, peak {train[-1]['peak_mb']:.0f} MB")
    evals = []
    for u in (int(float(x)) for x in args.eval_users.split(",") if x):
        console.print(f"evaluator: {u:,} users × {args.eval_items:,} items …")
        evals.append(spawn("eval", str(u), str(args.eval_items)))
    table = Table(title="Training on synthetic data (1 thread): time and memory against interactions")
    for col in ("model", "interactions", "users", "items", "s/epoch", "peak MB", "fit MB", "maxrss MB"):
        table.add_column(col, justify="right")
    for r in train:
        table.add_row(r["model"], f"{r['interactions']:,}", f"{r['users']:,}", f"{r['items']:,}",
                      f"{r['s_per_epoch']:.2f}", f"{r['peak_mb']:.0f}", f"{r['fit_mb']:.0f}", f"{r['maxrss_mb']:.0f}")
    slopes = {}
    for name in sorted({r["model"] for r in train}):
        rows = [r for r in train if r["model"] == name]
        n = [r["interactions"] for r in rows]
        slopes[name] = {"time": slope(n, [r["s_per_epoch"] for r in rows]),
                        "memory": slope(n, [r["peak_mb"] for r in rows]),
                        "fit_memory": slope(n, [r["fit_mb"] for r in rows])}
        table.add_row(name, "log-log slope", "", "", f"{slopes[name]['time']:.2f}", f"{slopes[name]['memory']:.2f}",
                      f"{slopes[name]['fit_memory']:.2f}", "")
    console.print(table)
    if evals:
        et = Table(title=f"Evaluator: full ranking over {args.eval_items:,} items against users")
        for col in ("users", "ranked", "seconds", "MB before", "working MB", "working bytes/user"):
            et.add_column(col, justify="right")
        for r in evals:
            et.add_row(f"{r['users']:,}", f"{r['ranked_users']:,}", f"{r['eval_s']:.1f}", f"{r['rss_before_mb']:.0f}",
                       f"{r['delta_mb']:.0f}", f"{r['delta_mb'] * 2**20 / r['ranked_users']:.0f}")
        console.print(et)
    write_json(out, {"train": train, "slopes": slopes, "evaluator": evals, "epochs": args.epochs,
                     "seed": args.seed, "threads": 1, "tables": args.tables or "20 per user, 200 per item"})
    png = plot(train, evals, RESULTS / f"{args.name}.png")
    console.print(f"wrote {out} and {png}")


if __name__ == "__main__":
    main()
