"""Load test of the HTTP service on loopback: throughput and latency percentiles per endpoint, from a second
process, against a trained run and/or a synthetic catalogue served through a faiss index.

    python benchmarks/serve_load.py --run runs/hybrid                       # ml-100k: with and without explain
    python benchmarks/serve_load.py --synthetic 1000000 --index hnsw ivf    # 1M items × 64-d, recall vs exact
    python benchmarks/serve_load.py --run runs/hybrid --mixed               # reads beside writes, and kill -9

The server runs in its own process (``knowrec serve``, or this script with ``--serve-synthetic``); this
process keeps ``--concurrency`` keep-alive connections busy for ``--seconds`` per scenario and reports
requests/s, p50/p90/p99/max latency, errors and the server's resident memory. For the synthetic catalogue it
first measures each index's build time and recall@10 against exact search (1,000 users, history excluded).
Writes ``benchmarks/results/serve.json`` and ``serve.png``.

``--mixed`` measures reads alone, then the same readers beside clients that add items (``POST /items``) and
interactions (``POST /users/{id}/interactions``), then the same mix with the server killed (``SIGKILL``) half
way through and restarted on its state file; every acknowledged write is then looked up on the server.
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


# --- reads beside writes ---------------------------------------------------------------------------------
TOKEN = "bench-token"


def mixed_load(port: int, reads: list[str], seconds: float, readers: int, item_writers: int, user_writers: int,
               items: list[str], users: list[str], tag: str) -> dict:
    """``readers`` closed-loop GET clients beside writers adding items and interactions for ``seconds``.
    Returns read and write latencies and every write the server acknowledged (for checking afterwards)."""
    stop = time.perf_counter() + seconds
    read_ms: list[list[float]] = [[] for _ in range(readers)]
    write_ms: list[float] = []
    acked: dict[str, list] = {"items": [], "interactions": []}
    errors = {"read": 0, "write": 0}
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
    genres = ["Action", "Comedy", "Drama", "Sci-Fi", "Romance", "Thriller", "Documentary", "Animation"]

    def reader(w: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        rng = np.random.default_rng(w)
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            try:
                conn.request("GET", reads[rng.integers(len(reads))])
                response = conn.getresponse()
                response.read()
            except OSError:  # the server was killed
                return
            read_ms[w].append((time.perf_counter() - t0) * 1000)
            errors["read"] += response.status != 200

    def writer(w: int, kind: str) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        rng = np.random.default_rng(1000 + w)
        n = 0
        while time.perf_counter() < stop:
            n += 1
            if kind == "items":
                item_id = f"{tag}-w{w}-{n}"
                picked = list(rng.choice(genres, size=2, replace=False))
                path, body = "/items", {"item_id": item_id, "fields": {
                    "movie_title": f"Film {item_id}", "release_year": "1999", "class": picked}}
            else:
                user = users[rng.integers(len(users))] if rng.random() < 0.8 else f"{tag}-u{w}-{n}"
                chosen = [items[i] for i in rng.choice(len(items), size=3, replace=False)]
                path, body = f"/users/{user}/interactions", {"items": chosen}
            t0 = time.perf_counter()
            try:
                conn.request("POST", path, json.dumps(body), headers)
                response = conn.getresponse()
                response.read()
            except OSError:
                return
            write_ms.append((time.perf_counter() - t0) * 1000)
            if response.status in (200, 201):
                acked[kind].append(item_id if kind == "items" else (user, chosen))
            else:
                errors["write"] += 1

    threads = [threading.Thread(target=reader, args=(w,)) for w in range(readers)]
    threads += [threading.Thread(target=writer, args=(w, "items")) for w in range(item_writers)]
    threads += [threading.Thread(target=writer, args=(w, "interactions"))
                for w in range(item_writers, item_writers + user_writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    reads_ms = np.concatenate([np.asarray(x) for x in read_ms])
    out = {"reads": len(reads_ms), "read_errors": errors["read"], "write_errors": errors["write"],
           "items_acknowledged": len(acked["items"]), "interactions_acknowledged": len(acked["interactions"]),
           **{f"read_p{q}_ms": round(float(np.percentile(reads_ms, q)), 2) for q in (50, 99)}}
    if write_ms:
        out |= {f"write_p{q}_ms": round(float(np.percentile(write_ms, q)), 2) for q in (50, 99)}
    return out | {"_acked": acked}


def verify(port: int, acked: dict[str, list]) -> dict:
    """Look every acknowledged write up on the server: items by ``/similar``, interactions in the history."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def get(path: str) -> tuple[int, dict]:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, json.loads(response.read())

    items_missing = sum(get(f"/items/{i}/similar?k=1")[0] != 200 for i in acked["items"])
    histories: dict[str, set[str]] = {}
    missing = 0
    for user, chosen in acked["interactions"]:
        if user not in histories:
            status, body = get(f"/users/{user}/history?limit=1000")
            histories[user] = {i["item_id"] for i in body.get("items", [])} if status == 200 else set()
        missing += not set(chosen) <= histories[user]
    return {"items_lost": items_missing, "interactions_lost": missing}


def mixed(run: Path, args: argparse.Namespace) -> dict:
    """Reads alone, reads beside writes, and the same with a kill -9 half way; acknowledged writes checked."""
    from knowrec.experiment import open_run

    opened = open_run(run)
    result, data = opened.result, opened.data
    users, items = [str(u) for u in data.user_ids], [str(i) for i in data.item_ids]
    reads = [f"/users/{u}/recommendations?k=10" for u in users]
    state = Path(tempfile.mkdtemp()) / "live.sqlite"
    env = os.environ | {"OMP_NUM_THREADS": "1", "KNOWREC_TOKEN": TOKEN}
    readers, item_w, user_w = args.concurrency, args.writers // 2, args.writers - args.writers // 2

    def start() -> tuple[subprocess.Popen, int]:
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "knowrec", "serve", str(run), "--port", str(port),
                                 "--state", str(state)], env=env, stdout=subprocess.DEVNULL)
        wait_ready(port, proc)
        return proc, port

    out: dict = {"service": f"{result.config.model} on {result.config.dataset}", "readers": readers,
                 "item_writers": item_w, "interaction_writers": user_w, "seconds": args.seconds}
    proc, port = start()
    try:
        load(port, reads[:50], 3.0, readers)  # warm-up
        out["reads_alone"] = {k: v for k, v in mixed_load(port, reads, args.seconds, readers, 0, 0, items, users,
                                                          "warm").items() if k != "_acked"}
        print(f"  reads alone: p50 {out['reads_alone']['read_p50_ms']} ms, p99 {out['reads_alone']['read_p99_ms']}"
              " ms", flush=True)
        both = mixed_load(port, reads, args.seconds, readers, item_w, user_w, items, users, "mixed")
        out["reads_with_writes"] = {k: v for k, v in both.items() if k != "_acked"} | verify(port, both["_acked"])
        print(f"  with writes: read p99 {both['read_p99_ms']} ms, {both['items_acknowledged']} items and "
              f"{both['interactions_acknowledged']} interactions acknowledged", flush=True)
        killer = threading.Timer(args.seconds / 2, proc.kill)
        killer.start()
        killed = mixed_load(port, reads, args.seconds, readers, item_w, user_w, items, users, "killed")
        proc.wait(30)
        proc, port = start()  # the same state file: the writes acknowledged before the kill are replayed
        earlier = verify(port, both["_acked"])
        out["kill_9"] = {k: v for k, v in killed.items() if k != "_acked"} | verify(port, killed["_acked"]) | {
            "before_kill_lost": earlier["items_lost"] + earlier["interactions_lost"]}
        print(f"  kill -9: {killed['items_acknowledged']} items and {killed['interactions_acknowledged']} "
              f"interactions acknowledged before it; lost after restart: {out['kill_9']['items_lost']} items, "
              f"{out['kill_9']['interactions_lost']} interactions", flush=True)
    finally:
        proc.kill()
        proc.wait(30)
    alone, with_writes = out["reads_alone"]["read_p99_ms"], out["reads_with_writes"]["read_p99_ms"]
    out["read_p99_ratio"] = round(with_writes / alone, 2)
    return out


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
    parser.add_argument("--concurrency", type=int, default=4, help="connections (readers, with --mixed)")
    parser.add_argument("--mixed", action="store_true", help="with --run: reads beside writes, and a kill -9")
    parser.add_argument("--writers", type=int, default=4, help="with --mixed: writing clients (half add items)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--serve-synthetic", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_synthetic:
        return serve_synthetic(args)

    result: dict = {"cpu_count": os.cpu_count(), "load": [], "indexes": [], "mixed": []}
    previous = args.out / "serve.json"
    if previous.is_file():  # one file for every part: a run of one part keeps the others' figures
        result |= {k: v for k, v in json.loads(previous.read_text()).items() if k in ("load", "indexes", "mixed")}
    if args.run and args.mixed:
        print(f"reads beside writes on {args.run} …", flush=True)
        row = mixed(args.run, args)
        result["mixed"] = [r for r in result["mixed"] if r["service"] != row["service"]] + [row]
    elif args.run:
        from knowrec.experiment import open_run

        opened = open_run(args.run)
        run, data = opened.result, opened.data
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
    if result["mixed"]:
        table = Table(title="Reads beside writes (POST /items, POST /users/{id}/interactions) on 127.0.0.1",
                      title_justify="left")
        cols = ("service", "phase", "readers", "writers", "read p50 ms", "read p99 ms", "write p50 ms", "write p99 ms",
                "items acked", "interactions acked", "lost")
        for col in cols:
            table.add_column(col, justify="left" if col in ("service", "phase") else "right")
        for r in result["mixed"]:
            for phase in ("reads_alone", "reads_with_writes", "kill_9"):
                p = r[phase]
                lost = "" if phase == "reads_alone" else str(p["items_lost"] + p["interactions_lost"]
                                                            + p.get("before_kill_lost", 0))
                table.add_row(r["service"], phase.replace("_", " "), str(r["readers"]),
                              "0" if phase == "reads_alone" else str(r["item_writers"] + r["interaction_writers"]),
                              str(p["read_p50_ms"]), str(p["read_p99_ms"]), str(p.get("write_p50_ms", "")),
                              str(p.get("write_p99_ms", "")), str(p["items_acknowledged"]),
                              str(p["interactions_acknowledged"]), lost)
        console.print(table)
        for r in result["mixed"]:
            print(f"{r['service']}: read p99 with writes / alone = {r['read_p99_ratio']}×")
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
