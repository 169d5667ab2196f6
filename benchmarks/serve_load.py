"""Load test of the HTTP service on loopback: throughput and latency percentiles per endpoint, from a second
process, against a trained run and/or a synthetic catalogue served through a faiss index.

    python benchmarks/serve_load.py --run runs/hybrid                       # ml-100k: with and without explain
    python benchmarks/serve_load.py --synthetic 1000000 --index hnsw ivf    # 1M items × 64-d, recall vs exact

The server runs in its own process (``knowrec serve``, or this script with ``--serve-synthetic``); this
process keeps ``--concurrency`` keep-alive connections busy for ``--seconds`` per scenario and reports
requests/s, p50/p90/p99/max latency, errors and the server's resident memory. For the synthetic catalogue it
first measures each index's build time and recall@10 against exact search (1,000 users, history excluded).
Writes ``benchmarks/results/serve.json`` and ``serve.png``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil
from rich.console import Console
from rich.table import Table

from knowrec._io import save_figure, write_json

RESULTS = Path(__file__).parent / "results"


# --- the synthetic catalogue ------------------------------------------------------------------------------
def synthetic_vectors(n_items: int, n_users: int, dim: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Unit item vectors around 2,000 topic centres (plus a small bias column, as the hybrid model's popularity
    prior), users near a topic scaled like the hybrid model's (1 / temperature), and 20-item histories."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(2000, dim)).astype(np.float32)
    topic = rng.integers(0, len(centres), n_items)
    items = centres[topic] + 0.6 * rng.normal(size=(n_items, dim)).astype(np.float32)
    items /= np.linalg.norm(items, axis=1, keepdims=True)
    bias = 0.1 * rng.normal(size=n_items).astype(np.float32)
    user_topic = rng.integers(0, len(centres), n_users)
    users = centres[user_topic] + 0.6 * rng.normal(size=(n_users, dim)).astype(np.float32)
    users = 5 * users / np.linalg.norm(users, axis=1, keepdims=True)
    by_topic = np.argsort(topic, kind="stable")
    starts = np.searchsorted(topic[by_topic], user_topic)
    history = by_topic[np.minimum(starts[:, None] + np.arange(20), n_items - 1)]  # 20 items of their topic
    return items, bias, users, history


def synthetic_service(n_items: int, n_users: int, dim: int, index: str) -> object:
    import pandas as pd
    import scipy.sparse as sp
    import torch

    from knowrec.data import Dataset
    from knowrec.models.base import FactorRecommender
    from knowrec.serve import RecommenderService

    class Vectors(FactorRecommender):
        """Given vectors, no training: the serving path is what is measured."""

        name = "synthetic"

    items, bias, users, history = synthetic_vectors(n_items, n_users, dim)
    item_ids = np.array([f"i{i}" for i in range(n_items)])
    table = pd.DataFrame({"title": np.char.add("Item ", np.arange(n_items).astype(str))}, index=item_ids)
    rows = np.repeat(np.arange(n_users), history.shape[1])
    data = Dataset.from_ids(f"synthetic-{n_items}", np.char.add("u", rows.astype(str)), item_ids[history.ravel()],
                            item_table=table)
    model = Vectors()
    model.n_users_, model.n_items_ = data.n_users, data.n_items
    model.seen_ = sp.csr_matrix(data.matrix())
    order_items = pd.Index(item_ids).get_indexer(data.item_ids)
    order_users = np.array([int(u[1:]) for u in data.user_ids])
    model.item_factors_ = torch.from_numpy(items[order_items])
    model.item_bias_ = torch.from_numpy(bias[order_items])
    model.user_factors_ = torch.from_numpy(users[order_users])
    options = {"hnsw": {"m": 32, "ef_construction": 80, "ef_search": 64}, "ivf": {"nprobe": 32}}.get(index, {})
    return RecommenderService(model, data, index=index, index_options=options)


def serve_synthetic(args: argparse.Namespace) -> None:
    import faiss
    import torch
    import uvicorn

    from knowrec.serve.app import create_app

    torch.set_num_threads(1)
    faiss.omp_set_num_threads(2)  # build with both cores, then answer requests on one
    service = synthetic_service(args.synthetic, args.users, args.dim, args.serve_synthetic)
    faiss.omp_set_num_threads(1)
    uvicorn.run(create_app(service), host="127.0.0.1", port=args.port, log_level="warning")


def index_quality(n_items: int, n_users: int, dim: int, kinds: list[str]) -> list[dict]:
    """Build time, memory, single-query latency and recall@10 (vs exact, history excluded) of each index."""
    import faiss

    from knowrec.serve import build_index

    items, bias, users, history = synthetic_vectors(n_items, n_users, dim)
    rows = np.hstack([items, bias[:, None]])
    queries = np.hstack([users[:1000], np.ones((1000, 1), dtype=np.float32)])
    exclude = list(history[:1000])
    exact, _ = build_index("exact", rows).search(queries, 10, exclude)
    out = []
    for kind in ["exact", *kinds]:
        options = {"hnsw": {"m": 32, "ef_construction": 80, "ef_search": 64}, "ivf": {"nprobe": 32}}.get(kind, {})
        faiss.omp_set_num_threads(2)
        rss0, t0 = psutil.Process().memory_info().rss, time.perf_counter()
        index = build_index(kind, rows, **options)
        build, grown = time.perf_counter() - t0, (psutil.Process().memory_info().rss - rss0) / 2**20
        faiss.omp_set_num_threads(1)
        t0 = time.perf_counter()
        found = np.vstack([index.search(queries[i], 10, [exclude[i]])[0] for i in range(200)])
        per_query = (time.perf_counter() - t0) / 200 * 1000
        found = np.vstack([found, index.search(queries[200:], 10, exclude[200:])[0]])
        recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, exact, strict=True)]))
        out.append({"index": kind, "options": options, "build_seconds": round(build, 1),
                    "memory_mb": round(grown), "ms_per_query": round(per_query, 3), "recall@10": round(recall, 4)})
        del index
    return out


# --- load -------------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port: int, proc: subprocess.Popen, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError("the server did not become ready")


def load(port: int, paths: list[str], seconds: float, concurrency: int) -> dict:
    """Closed-loop load: ``concurrency`` keep-alive connections, each sending the next path when answered."""
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors = [0] * concurrency
    stop = time.perf_counter() + seconds

    def worker(w: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        rng = np.random.default_rng(w)
        while time.perf_counter() < stop:
            path = paths[rng.integers(len(paths))]
            t0 = time.perf_counter()
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            latencies[w].append(time.perf_counter() - t0)
            errors[w] += response.status != 200

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(concurrency)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    ms = np.concatenate([np.asarray(x) for x in latencies]) * 1000
    return {"requests": len(ms), "errors": int(sum(errors)), "rps": round(len(ms) / wall, 1),
            **{f"p{q}_ms": round(float(np.percentile(ms, q)), 2) for q in (50, 90, 99)},
            "max_ms": round(float(ms.max()), 2)}


def run_server(cmd: list[str], port: int, scenarios: dict[str, list[str]], args: argparse.Namespace,
               label: str) -> list[dict]:
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    try:
        t0 = time.perf_counter()
        wait_ready(port, proc)
        startup = time.perf_counter() - t0
        rows = []
        for name, paths in scenarios.items():
            load(port, paths[:50], min(3.0, args.seconds), args.concurrency)  # warm-up
            result = load(port, paths, args.seconds, args.concurrency)
            rss = psutil.Process(proc.pid).memory_info().rss / 2**20
            rows.append({"service": label, "scenario": name, "concurrency": args.concurrency,
                         "seconds": args.seconds, "startup_seconds": round(startup, 1),
                         "server_rss_mb": round(rss), **result})
            print(f"  {label} {name}: {result['rps']} req/s, p99 {result['p99_ms']} ms", flush=True)
        return rows
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, help="a run folder to serve (knowrec serve)")
    parser.add_argument("--synthetic", type=int, default=0, help="serve a synthetic catalogue of this many items")
    parser.add_argument("--index", nargs="+", default=["hnsw"], help="indexes for the synthetic catalogue")
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--serve-synthetic", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_synthetic:
        return serve_synthetic(args)

    result: dict = {"cpu_count": os.cpu_count(), "load": [], "indexes": []}
    previous = args.out / "serve.json"
    if previous.is_file():  # one file for both parts: a run of one part keeps the other's figures
        result |= {k: v for k, v in json.loads(previous.read_text()).items() if k in ("load", "indexes")}
    if args.run:
        from knowrec.data import load_dataset
        from knowrec.results import RunResult

        run = RunResult.load(args.run)
        data = load_dataset(run.config.dataset, show_progress=False)
        users = [str(u) for u in data.user_ids]
        port = free_port()
        state = Path(tempfile.mkdtemp()) / "live.sqlite"
        cmd = [sys.executable, "-m", "knowrec", "serve", str(args.run), "--port", str(port), "--state", str(state)]
        scenarios = {"recommendations k=10": [f"/users/{u}/recommendations?k=10" for u in users],
                     "recommendations k=10 explain": [f"/users/{u}/recommendations?k=10&explain=true" for u in users],
                     "similar k=10": [f"/items/{i}/similar?k=10" for i in data.item_ids]}
        label = f"{run.config.model} on {run.config.dataset}"
        print(f"serving {label} …", flush=True)
        result["load"] = [r for r in result["load"] if r["service"] != label]
        result["load"] += run_server(cmd, port, scenarios, args, label)
    if args.synthetic:
        print(f"index quality on {args.synthetic:,} × {args.dim} …", flush=True)
        result["indexes"] = index_quality(args.synthetic, args.users, args.dim, args.index)
        for kind in args.index:
            port = free_port()
            cmd = [sys.executable, __file__, "--serve-synthetic", kind, "--synthetic", str(args.synthetic),
                   "--users", str(args.users), "--dim", str(args.dim), "--port", str(port)]
            label = f"synthetic {args.synthetic:,} items, {kind}"
            print(f"serving {label} …", flush=True)
            paths = [f"/users/u{u}/recommendations?k=10" for u in range(args.users)]
            result["load"] = [r for r in result["load"] if r["service"] != label]
            result["load"] += run_server(cmd, port, {"recommendations k=10": paths}, args, label)
    report(result, args.out)


def report(result: dict, out: Path) -> None:
    console = Console(width=200)
    if result["indexes"]:
        table = Table(title="Indexes on the synthetic catalogue (1,000 users, history excluded)", title_justify="left")
        for col in ("index", "build s", "memory MB", "ms / query", "recall@10 vs exact"):
            table.add_column(col, justify="left" if col == "index" else "right")
        for r in result["indexes"]:
            table.add_row(r["index"], str(r["build_seconds"]), str(r["memory_mb"]), str(r["ms_per_query"]),
                          f"{r['recall@10']:.4f}")
        console.print(table)
    table = Table(title="HTTP load on 127.0.0.1 (closed loop, keep-alive)", title_justify="left")
    cols = ("service", "scenario", "conns", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors", "server MB")
    for col in cols:
        table.add_column(col, justify="left" if col in ("service", "scenario") else "right")
    for r in result["load"]:
        table.add_row(r["service"], r["scenario"], str(r["concurrency"]), str(r["rps"]), str(r["p50_ms"]),
                      str(r["p90_ms"]), str(r["p99_ms"]), str(r["max_ms"]), str(r["errors"]), str(r["server_rss_mb"]))
    console.print(table)
    write_json(out / "serve.json", result)
    plot(result["load"], out / "serve.png")
    print(f"wrote {out / 'serve.json'} and {out / 'serve.png'}")


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r['service']}\n{r['scenario']}" for r in rows]
    y = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(9, 0.7 * len(rows) + 1.2))
    for offset, q in ((-0.25, "p50"), (0, "p90"), (0.25, "p99")):
        ax.barh(y + offset, [r[f"{q}_ms"] for r in rows], 0.25, label=q)
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("latency, ms (loopback, closed loop)")
    ax.legend()
    save_figure(fig, path)


if __name__ == "__main__":
    main()
