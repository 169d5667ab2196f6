"""Explanations, measured on a trained run: how many recommendations get a knowledge-graph reason, how many of
the first reasons lean on a hub, how long explaining a top-10 takes, and whether the reasons are faithful.

    python benchmarks/explanations.py runs/hybrid              # 200 users × top-10, seed 2020
    python benchmarks/explanations.py runs/hybrid runs/kgnet --users 300 --out benchmarks/results/expl.json

**Faithfulness.** For each recommendation explained by a KG path, the evidence the first reason names is
removed and the user's scores derived again without retraining (``model.scores_without``): the path's facts
between items and entities, the anchor history item, or both. The same removal of a *random* path of the same
number of facts from the user's history to the same item (``PathFinder.random_path``, and its history item) is
the chance baseline. Reported: the share of recommendations that leave the top-k, and the mean rank drop.
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from knowrec._io import write_json
from knowrec.experiment import open_run
from knowrec.explain import Explainer
from knowrec.kg.paths import HUB_SHARE

RESULTS = Path(__file__).parent / "results"


def path_facts(explainer: Explainer, nodes: tuple[str, ...], data: Any) -> list[tuple[int, str]]:
    """The (item index, entity id) facts along a path — those a model embeds items from."""
    out = []
    for u, v in itertools.pairwise(nodes):
        for item, entity in ((u, v), (v, u)):
            item_id = explainer.paths.item_id(item)
            if item_id is not None:
                out.append((int(data.item_index(item_id)), entity))
    return out


def rank_of(scores: np.ndarray, item: int, seen: np.ndarray) -> int:
    """The item's 0-based rank among the items the user has not seen."""
    mask = np.ones(len(scores), dtype=bool)
    mask[seen] = False
    return int((scores[mask] > scores[item]).sum())


def measure(run: Path, *, users: int, k: int, seed: int) -> dict[str, Any]:
    opened = open_run(run)
    model, data = opened.model, opened.data
    train = opened.result.split.train(data)
    explainer = Explainer(model, data)
    rng = np.random.default_rng(seed)
    candidates = np.flatnonzero(np.diff(model.seen_.indptr) > 0)
    chosen = rng.choice(candidates, size=min(users, len(candidates)), replace=False)
    faithful = hasattr(model, "scores_without")
    explainer.explain_history(model.seen_[chosen[0]].indices, 0, user=int(chosen[0]))  # loads what it reads once
    rows, latency = [], []
    for user in chosen.tolist():
        items, _ = model.recommend(user, k=k)
        history = model.seen_[user].indices
        t0 = time.perf_counter()
        explanations = [explainer.explain_history(history, int(i), user=user) for i in items]
        latency.append((time.perf_counter() - t0) * 1000)
        base = model.scores_without(train, user).numpy() if faithful else None
        for item, exp in zip(items.tolist(), explanations, strict=True):
            row: dict[str, Any] = {"user": user, "item": item, "kind": exp.kind}
            if exp.kind == "kg":
                first = exp.reasons[0]
                row |= {"weak": first.weak, "hops": first.hops, "weight": first.weight, "evidence": first.evidence}
                if faithful:
                    row |= removals(explainer, model, train, data, user, item, history, first, base, rng, k)
            rows.append(row)
    return summarise(run, opened, rows, latency, k)


def removals(explainer: Explainer, model: Any, train: Any, data: Any, user: int, item: int, history: np.ndarray,
             first: Any, base: np.ndarray, rng: np.random.Generator, k: int) -> dict[str, Any]:
    """Ranks after removing the named evidence and a random path's, for the three kinds of removal."""
    ids = [str(data.item_ids[h]) for h in history]
    random_path = explainer.paths.random_path(ids, str(data.item_ids[item]), first.hops, rng, avoid=first.nodes)
    if random_path is None:
        return {"baseline": False}
    r0 = rank_of(base, item, history)
    out: dict[str, Any] = {"baseline": True, "rank": r0}
    for name, nodes in (("named", first.nodes), ("random", random_path.nodes)):
        anchor = int(data.item_index(explainer.paths.item_id(nodes[0])))
        facts = path_facts(explainer, nodes, data)
        for what, kwargs in (("facts", {"facts": facts}), ("anchor", {"history": [anchor]}),
                             ("both", {"facts": facts, "history": [anchor]})):
            r = rank_of(model.scores_without(train, user, **kwargs).numpy(), item, history)
            out[f"{name}_{what}"] = r
    return out


def summarise(run: Path, opened: Any, rows: list[dict], latency: list[float], k: int) -> dict[str, Any]:
    kg = [r for r in rows if r["kind"] == "kg"]
    out: dict[str, Any] = {
        "run": str(run), "model": opened.result.config.model, "dataset": opened.data.name, "k": k,
        "recommendations": len(rows), "kg_share": len(kg) / max(len(rows), 1),
        "hub_first_share": float(np.mean([r["weak"] for r in kg])) if kg else None, "hub_threshold": HUB_SHARE,
        "mean_hops": float(np.mean([r["hops"] for r in kg])) if kg else None,
        "mean_evidence": float(np.mean([r["evidence"] for r in kg])) if kg else None,
        "latency_ms_top10": {"p50": float(np.percentile(latency, 50)), "p99": float(np.percentile(latency, 99))},
    }
    tested = [r for r in kg if r.get("baseline")]
    if tested:
        out["faithfulness"] = {"explanations": len(tested), "without_baseline": len(kg) - len(tested)}
        for what in ("facts", "anchor", "both"):
            part = {}
            for name in ("named", "random"):
                ranks = np.asarray([r[f"{name}_{what}"] for r in tested])
                before = np.asarray([r["rank"] for r in tested])
                part[name] = {"leaves_top_k": float((ranks >= k).mean()),
                              "mean_rank_drop": float((ranks - before).mean())}
            part["ratio"] = part["named"]["leaves_top_k"] / max(part["random"]["leaves_top_k"], 1e-12)
            out["faithfulness"][what] = part
    return out


def show(results: list[dict[str, Any]], console: Console) -> None:
    table = Table(title="Explanations of top-k recommendations")
    for col in ("run", "model", "data", "KG reason", "hub first", "p50 / p99 ms (10)", "removed", "named leaves",
                "random leaves", "ratio", "named / random rank drop"):
        table.add_column(col)
    for r in results:
        head = [Path(r["run"]).name, r["model"], r["dataset"], f"{r['kg_share']:.1%}",
                "-" if r["hub_first_share"] is None else f"{r['hub_first_share']:.1%}",
                f"{r['latency_ms_top10']['p50']:.1f} / {r['latency_ms_top10']['p99']:.1f}"]
        faith = r.get("faithfulness")
        if not faith:
            table.add_row(*head, "-", "-", "-", "-", "-")
            continue
        for what in ("facts", "anchor", "both"):
            f = faith[what]
            table.add_row(*head, what, f"{f['named']['leaves_top_k']:.1%}", f"{f['random']['leaves_top_k']:.1%}",
                          f"{f['ratio']:.2f}×",
                          f"{f['named']['mean_rank_drop']:.1f} / {f['random']['mean_rank_drop']:.1f}")
            head = [""] * len(head)
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="Run folders written by `knowrec train`.")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument("--out", type=Path, default=RESULTS / "explanations.json")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    results = [measure(run, users=args.users, k=args.k, seed=args.seed) for run in args.runs]
    show(results, Console(width=170))
    write_json(args.out, {"users": args.users, "seed": args.seed, "results": results})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
