"""Behaviour snapshot: every model's ml-100k test metrics and a trained service's answers to a fixed request set,
written as JSON, so a refactoring can be checked to change nothing (``--compare OLD.json``).

    python benchmarks/snapshot.py --runs runs/snapshot --out snapshot.json            # train (or reuse) and record
    python benchmarks/snapshot.py --runs runs/snapshot --out new.json --compare snapshot.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

MODELS = ("pop", "itemknn", "bpr", "lightgcn", "kgnet", "cke", "hybrid")
METRICS = ("ndcg@10", "recall@20")


def train(model: str, folder: Path, dataset: str) -> dict[str, Any]:
    if not (folder / "metrics.json").is_file():
        subprocess.run([sys.executable, "-m", "knowrec", "train", "--dataset", dataset, "--model", model,
                        "--out", str(folder), "--overwrite", "--quiet"], check=True, stdout=subprocess.DEVNULL)
    metrics = json.loads((folder / "metrics.json").read_text())
    return {m: round(metrics["test"][m], 4) for m in METRICS}


def service_answers(run: Path) -> list[dict[str, Any]]:
    """Answers of the HTTP app over ``run`` to a fixed list of reads and writes (state in a scratch file)."""
    from fastapi.testclient import TestClient

    from knowrec.serve.app import create_app

    try:
        from knowrec.serve import open_service as service
    except ImportError:
        from knowrec.api import service  # before the redesign
    scratch = Path(tempfile.mkdtemp()) / "live.sqlite"
    client = TestClient(create_app(service(run, state=scratch)))
    requests: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", "/users/196/recommendations?k=10&explain=true", None),
        ("GET", "/users/42/recommendations?k=5&exclude_seen=false", None),
        ("GET", "/users/196/history?limit=5", None),
        ("GET", "/items/50/similar?k=5", None),
        ("POST", "/recommendations", {"history": ["50", "172", "181"], "k": 5, "explain": True}),
        ("POST", "/recommendations", {"text": "35-year-old female engineer", "k": 5}),
        ("POST", "/recommendations", {"k": 5}),
        ("POST", "/items", {"item_id": "new-1", "fields": {"movie_title": "Galactic Frontier", "release_year": "1998",
                                                          "class": ["Action", "Adventure", "Sci-Fi"]},
                            "facts": [{"relation": "film.film.genre", "entity": "m.06n90"}]}),
        ("POST", "/users/196/interactions", {"items": ["new-1", "1"]}),
        ("GET", "/users/196/recommendations?k=10", None),
        ("POST", "/users/new-user/interactions", {"items": ["50", "new-1"]}),
        ("GET", "/users/new-user/recommendations?k=5&explain=true", None),
        ("GET", "/users/nobody/recommendations", None),
    ]
    out = []
    for method, path, body in requests:
        response = client.request(method, path, json=body)
        out.append({"request": f"{method} {path}", "status": response.status_code, "body": _rounded(response.json())})
    shutil.rmtree(scratch.parent, ignore_errors=True)
    return out


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=Path, required=True, help="folder of run folders (reused when finished)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--compare", type=Path, help="an earlier snapshot; differences are printed, exit 1 if any")
    args = parser.parse_args()
    snap = {"metrics": {m: train(m, args.runs / m, args.dataset) for m in args.models.split(",")}}
    if (args.runs / "hybrid" / "metrics.json").is_file():
        snap["service"] = service_answers(args.runs / "hybrid")
    args.out.write_text(json.dumps(snap, indent=1, sort_keys=True) + "\n")
    for model, metrics in snap["metrics"].items():
        print(f"{model:10s} " + "  ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
    if args.compare:
        old = json.loads(args.compare.read_text())
        diffs = [f"metrics of {m}: {old['metrics'].get(m)} → {v}" for m, v in snap["metrics"].items()
                 if old["metrics"].get(m) != v]
        for before, after in zip(old.get("service", []), snap.get("service", []), strict=False):
            if before != after:
                diffs.append(f"service answer to {after['request']} differs")
        print("\n".join(diffs) or "no differences")
        sys.exit(1 if diffs else 0)


if __name__ == "__main__":
    main()
