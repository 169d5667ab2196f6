"""Render a results file of ``benchmarks/run.py`` as the Markdown table the README shows (best row first).

    python benchmarks/markdown.py ml-100k amazon-scientific ml-100k-cold-item
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"
WARM = ("ndcg@10", "recall@10", "ndcg@20", "recall@20", "coverage@10", "diversity@10")
COLD = ("ndcg@10", "recall@20")


def cells(by_seed: dict[str, dict], label: str, part: str, metric: str) -> str:
    values = [rows[label][part][metric] for rows in by_seed.values()
              if label in rows and metric in rows[label].get(part, {})]
    if not values:
        return "–"
    return f"{values[0]:.4f}" if len(values) == 1 else f"{np.mean(values):.4f} ± {np.std(values, ddof=1):.4f}"


def render(name: str) -> str:
    result = json.loads((RESULTS / f"{name}.json").read_text())
    by_seed = result.get("by_seed") or {str(result["seeds"][0] if "seeds" in result else 0): result["runs"]}
    first = next(iter(by_seed.values()))
    cold = any("test_all_items" in r for r in first.values())
    metrics = COLD if cold else WARM
    few = next((r["test_few"] for r in first.values() if "test_few" in r), None)
    reference = next((r.get("reference") for r in first.values() if r.get("reference")), None)
    plain = [m for m, r in first.items() if not r.get("knowledge") and not m.startswith(("constant", "random"))]
    best_plain = max(plain, key=lambda m: first[m]["test"]["ndcg@10"]) if plain else None
    p_head = "p vs best knowledge-free" if reference in (None, best_plain) else f"p vs {reference}"
    few_head = [f"ndcg@10, ≤ {few.get('at_most', '?')} training ({few['users']:,} users)"] if few else []
    head = ["model", "knowledge", *metrics, *([f"all items {m}" for m in COLD] if cold else []), *few_head,
            p_head, "s to best"]
    lines = [f"*{name}* — {result['protocol']}", "", "| " + " | ".join(head) + " |",
             "|" + "---|" * len(head)]
    order = sorted(first, key=lambda m: -np.mean([rows[m]["test"]["ndcg@10"] for rows in by_seed.values()
                                                  if m in rows]))
    for label in order:
        r = first[label]
        p = [rows[label].get("p_vs_reference_ndcg@10") for rows in by_seed.values() if label in rows]
        p = [x for x in p if x is not None]
        seconds = np.mean([rows[label]["time_to_best_seconds"] for rows in by_seed.values() if label in rows])
        lines.append("| " + " | ".join([
            r.get("label", label), "✓" if r.get("knowledge") else "",
            *(cells(by_seed, label, "test", m) for m in metrics),
            *((cells(by_seed, label, "test_all_items", m) for m in COLD) if cold else ()),
            *((cells(by_seed, label, "test_few", "ndcg@10"),) if few else ()),
            "–" if not p else f"{max(p):.2g}", f"{seconds:.1f}"]) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="+")
    for name in parser.parse_args().names:
        print(render(name), end="\n\n")


if __name__ == "__main__":
    main()
