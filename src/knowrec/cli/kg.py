"""``knowrec kg …``: load a dataset's knowledge graph into a graph store and query it, with timings."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from knowrec.cli._common import console, friendly_errors, table
from knowrec.kg.store import NEO4J_URI_ENV

app = typer.Typer(help="Load a knowledge graph into a graph store (LadybugDB or Neo4j) and query it.",
                  no_args_is_help=True)

StoreOpt = Annotated[Path, typer.Option("--store", help="LadybugDB folder (the embedded default).")]
Neo4jOpt = Annotated[str | None, typer.Option("--neo4j", envvar=NEO4J_URI_ENV,
                                              help="Neo4j URI (bolt://…); credentials from KNOWREC_NEO4J_USER/"
                                                   "KNOWREC_NEO4J_PASSWORD. Overrides --store.")]


def _open(store: Path, neo4j: str | None):
    from knowrec.kg.store import open_store

    return open_store(neo4j or store)


@app.command("load")
@friendly_errors
def load_cmd(dataset: Annotated[str, typer.Argument(help="Built-in dataset name or folder.")],
             store: StoreOpt = Path("kg-store"), neo4j: Neo4jOpt = None,
             social: Annotated[bool, typer.Option(help="Load the users too: their friendships and what they "
                                                  "interacted with (user → friend → item → fact paths).")] = False,
             ) -> None:
    """Bulk-load a dataset's entities, facts and item links (replacing what the store held)."""
    from knowrec.data import load_dataset

    data = load_dataset(dataset)
    with _open(store, neo4j) as s:
        t0 = time.perf_counter()
        counts = s.load(data, social=social)
        seconds = time.perf_counter() - t0
    console.print(f"loaded {counts['entities']:,} entities and {counts['facts']:,} facts of {data.name} "
                  f"into {s.backend} ({neo4j or store}) in {seconds:.2f} s")


@app.command("info")
@friendly_errors
def info_cmd(store: StoreOpt = Path("kg-store"), neo4j: Neo4jOpt = None) -> None:
    """Counts of entities, items, facts and the largest relations."""
    with _open(store, neo4j) as s:
        t0 = time.perf_counter()
        stats = s.stats()
        seconds = time.perf_counter() - t0
    top = stats.pop("top_relations")
    console.print(table(f"Graph store ({seconds * 1000:.1f} ms)", ["field", "value"], stats.items()))
    console.print(table("Largest relations", ["relation", "facts"], top.items()))


@app.command("neighbors")
@friendly_errors
def neighbors_cmd(
    entity: Annotated[str, typer.Argument(help="Entity id, or an item id with --item.")],
    item: Annotated[bool, typer.Option("--item", help="ENTITY is an item id.")] = False,
    relation: Annotated[str | None, typer.Option(help="Only facts of this relation.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many facts.")] = 50,
    store: StoreOpt = Path("kg-store"), neo4j: Neo4jOpt = None,
) -> None:
    """Facts touching an entity (→ the fact points away from it, ← towards it)."""
    with _open(store, neo4j) as s:
        t0 = time.perf_counter()
        name = s.item_entity(entity) if item else entity
        frame = s.neighbors(name, relation=relation, limit=limit)
        seconds = time.perf_counter() - t0
    rows = ((r.relation, "→" if r.forward else "←", r.neighbor, r.name if r.name != r.neighbor else "")
            for r in frame.itertuples(index=False))
    console.print(table(f"Neighbours of {name} ({len(frame)} facts, {seconds * 1000:.1f} ms)",
                        ["relation", "dir", "neighbor", "name"], rows))


@app.command("paths")
@friendly_errors
def paths_cmd(
    source: Annotated[list[str], typer.Option("--from", help="Item id to start from (repeatable).")],
    target: Annotated[str, typer.Option("--to", help="Item id to reach.")],
    max_hops: Annotated[int, typer.Option(help="Longest path, in facts (1–5).")] = 3,
    limit: Annotated[int, typer.Option(help="At most this many paths.")] = 10,
    store: StoreOpt = Path("kg-store"), neo4j: Neo4jOpt = None,
) -> None:
    """Shortest knowledge-graph paths from items to an item (what explanations are made of)."""
    with _open(store, neo4j) as s:
        t0 = time.perf_counter()
        paths = s.paths(source, target, max_hops=max_hops, limit=limit)
        seconds = time.perf_counter() - t0
    console.print(table(f"{len(paths)} paths to item {target} ({seconds * 1000:.1f} ms)", ["hops", "path"],
                        ((p.hops, str(p)) for p in paths)))


@app.command("embed")
@friendly_errors
def embed_cmd(
    dataset: Annotated[str, typer.Argument(help="Built-in dataset name or folder with a KG.")],
    model: Annotated[str, typer.Option(help="transe, transr or rotate.")] = "transe",
    out: Annotated[Path | None, typer.Option(help="Folder for the embeddings and metrics.json.")] = None,
    dim: Annotated[int, typer.Option(help="Embedding size.")] = 64,
    epochs: Annotated[int, typer.Option(help="Most epochs (early stopping on validation MRR).")] = 100,
    seed: Annotated[int, typer.Option(help="Seed of the triple split and training.")] = 2020,
    test_size: Annotated[int, typer.Option(help="Test triples to rank (a sample keeps it fast).")] = 2000,
    threads: Annotated[int, typer.Option(help="Torch threads.")] = 1,
) -> None:
    """Train a KG embedding with the shared trainer and report filtered link prediction vs a random scorer."""
    import numpy as np
    import torch

    from knowrec._io import write_json
    from knowrec.data import load_dataset
    from knowrec.errors import DataError
    from knowrec.evaluate.link_prediction import link_prediction, split_triples
    from knowrec.kg.prepare import clean
    from knowrec.models.kge import KGE_MODELS
    from knowrec.train import Checkpointer, Trainer

    torch.set_num_threads(threads)
    data = load_dataset(dataset)
    if data.kg is None:
        raise DataError(f"dataset {data.name!r} has no knowledge graph")
    kg, report = clean(data.kg)
    console.print(str(report))
    train, valid, test = split_triples(kg, seed=seed)
    known = np.stack([kg.heads, kg.relations, kg.tails], axis=1)
    rng = np.random.default_rng(seed)
    valid = valid[rng.permutation(len(valid))[:500]]
    test = test[rng.permutation(len(test))[:test_size]]
    estimator = KGE_MODELS.get(model)(dim=dim, epochs=epochs, seed=seed)
    trained = Trainer(validate=lambda m: link_prediction(m, valid, known, n_relations=kg.n_relations),
                      metric="mrr", patience=3, eval_every=5, folder=out).fit(estimator, train, resume=False)
    scores = link_prediction(estimator, test, known, n_relations=kg.n_relations)
    per_epoch = float(np.mean([h["seconds"] for h in trained.history]))
    console.print(table(f"{model} on {data.name}: filtered link prediction, {len(test)} test triples",
                        ["metric", "value"], [*scores.items(), ("best epoch", trained.best_epoch),
                                              ("s/epoch", per_epoch)]))
    if out is not None:
        estimator.save(out / "model")
        Checkpointer.discard(out)
        write_json(out / "metrics.json", {"dataset": data.name, "model": model, "test": scores,
                                          "best_epoch": trained.best_epoch, "seconds_per_epoch": per_epoch,
                                          "kg_report": str(report)})
