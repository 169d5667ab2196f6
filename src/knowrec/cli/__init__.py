"""The ``knowrec`` command line (Typer). Commands are thin: they resolve settings and call the library."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from knowrec._version import __version__
from knowrec.cli import data as data_cli
from knowrec.cli import kg as kg_cli
from knowrec.cli import state as state_cli
from knowrec.cli._common import console, friendly_errors, p_value, setup_logging, table
from knowrec.cli.tune import tune_cmd

app = typer.Typer(
    help="knowrec: knowledge-enhanced recommendation — train, evaluate, recommend.",
    no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(data_cli.app, name="data")
app.add_typer(kg_cli.app, name="kg")
app.add_typer(state_cli.app, name="state")
app.command("tune")(tune_cmd)


def _version(value: bool) -> None:
    if value:
        console.print(f"knowrec {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log routine events.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    setup_logging(verbose)


@app.command("models")
def models_cmd(
    name: Annotated[str | None, typer.Argument(help="A model to show in full: parameters, defaults, ranges.")] = None,
) -> None:
    """List every recommender and KG embedding; with a NAME, its parameters with defaults and valid values."""
    from knowrec.models import MODELS
    from knowrec.models.kge import KGE_MODELS

    if name is not None:
        cls = MODELS.get(name) if name in MODELS or name not in KGE_MODELS else KGE_MODELS.get(name)
        defaults, constraints, space = cls.param_defaults(), cls.param_constraints(), cls.param_space()
        console.print(table(f"{cls.name}: {_summary(cls)}", ["parameter", "default", "valid values", "tuned over"],
                            ((p, _default(defaults[p]), constraints[p].describe() if p in constraints else "",
                              str(space.get(p, ""))) for p in cls.param_names())))
        console.print(f"requires: {', '.join(sorted(getattr(cls, 'requires', ()))) or 'interactions'}")
        console.print(f"citation: {cls.citation}", highlight=False)
        return
    rows = [(n, _summary(cls), ", ".join(sorted(cls.requires)) or "interactions",
             ", ".join(f"{p}={_default(v)}" for p, v in cls.param_defaults().items())) for n, cls in MODELS]
    console.print(table("Recommenders (knowrec train --model …)", ["model", "description", "requires", "parameters"],
                        rows))
    rows = [(n, _summary(cls), ", ".join(f"{p}={_default(v)}" for p, v in cls.param_defaults().items()))
            for n, cls in KGE_MODELS]
    console.print(table("KG embeddings (knowrec kg embed --model …)", ["model", "description", "parameters"], rows))
    console.print("knowrec models NAME shows one model's parameters with their valid values and its citation.")


def _default(value: object) -> str:
    """A default as one would write it in --set: gate, id,kg,text, 0.3, '' for an empty string."""
    if isinstance(value, str) and isinstance(value, Enum):
        return str(value)
    if isinstance(value, tuple | list):
        return ",".join(_default(v) for v in value) or "''"
    return repr(value) if isinstance(value, str) else str(value)


def _summary(cls: type) -> str:
    return (cls.__doc__ or "").strip().splitlines()[0]


def _metric_table(title: str, metrics: dict[str, dict[str, float]]) -> object:
    names = sorted({m for part in metrics.values() for m in part},
                   key=lambda m: (m.split("@")[0], int(m.split("@")[1]) if "@" in m else 0))
    parts = list(metrics)
    return table(title, ["metric", *parts], ((m, *(metrics[p].get(m) for p in parts)) for m in names))


@app.command("train")
@friendly_errors
def train_cmd(
    ctx: typer.Context,
    dataset: Annotated[str | None, typer.Option(help="Built-in dataset name or folder.",
                                                show_default="ml-100k")] = None,
    model: Annotated[str | None, typer.Option(help="Model name (see `knowrec models`).",
                                              show_default="lightgcn")] = None,
    task: Annotated[str | None, typer.Option(help="items (what to recommend to users) or friends (which users: "
                                             "the social graph as the data).", show_default="items")] = None,
    out: Annotated[Path, typer.Option(help="Run folder: checkpoints, metrics.json, model/.")] = Path("runs/latest"),
    config: Annotated[Path | None, typer.Option(help="YAML/JSON/TOML file of settings.")] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Override a setting or model parameter: key=value.")
    ] = None,
    split: Annotated[str | None, typer.Option(help="random, temporal, loo, cold-item, cold-user, given or rows.",
                                              show_default="random")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (split, initialisation, sampling).",
                                             show_default="2020")] = None,
    threads: Annotated[int | None, typer.Option(help="Torch threads (1 is fastest beside other work).",
                                                show_default="1")] = None,
    device: Annotated[str | None, typer.Option(help="auto (a GPU when torch sees one), cpu, cuda, cuda:N or mps.",
                                               show_default="auto")] = None,
    nproc: Annotated[int, typer.Option(help="Train on N processes of this machine with DDP (runs torchrun "
                                       "--standalone --nproc-per-node N for you).", min=1)] = 1,
    overwrite: Annotated[bool, typer.Option(help="Replace a finished run in --out.")] = False,
    fresh: Annotated[bool, typer.Option(help="Ignore a checkpoint in --out and start over.")] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bars.")] = False,
    tracker: Annotated[str, typer.Option(help="Record the run in tensorboard (RUN/tensorboard), mlflow or none.")]
    = "none",
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI (default: local mlruns/).")] = None,
) -> None:
    """Train a model with early stopping, evaluate it on validation and test, and save the run."""
    from knowrec.config import RunConfig
    from knowrec.experiment import pipeline
    from knowrec.train import distributed_env
    from knowrec.train.tracking import make_tracker

    direct = {k: v for k, v in {"dataset": dataset, "model": model, "task": task, "split": split, "seed": seed,
                                "threads": threads, "device": device}.items() if v is not None}
    cfg = RunConfig.resolve(file=config, settings=direct, overrides=set_ or [])
    if nproc > 1 and distributed_env()[2] == 1:
        raise typer.Exit(_torchrun(ctx, nproc))
    result = pipeline(cfg, out=out, show_progress=not quiet, resume=not fresh, overwrite=overwrite,
                      tracker=make_tracker(tracker, tracking_uri=tracking_uri))
    if result is None:  # a rank above 0 of a distributed run: rank 0 reports
        return
    m = result.metrics()
    what = f"{cfg.dataset}, friends" if cfg.task == "friends" else cfg.dataset
    console.print(_metric_table(f"{cfg.model} on {what} ({cfg.split} split, seed {cfg.seed})",
                                {part: m[part] for part in ("valid", "test", "test_all_items") if part in m}))
    console.print(
        f"best epoch {m['best_epoch']} of {m['epochs_run']} · {m['time_to_best_seconds']:.1f} s to the best epoch · "
        f"{m['train_seconds']:.1f} s training · peak RSS {m['peak_rss_mb']:.0f} MB"
        + (f" · resumed at epoch {result.train.resumed_from + 1}" if result.train.resumed_from else "")
    )
    console.print(f"saved to {out}/ (metrics.json, history.csv, curves.png, model/)")


def _torchrun(ctx: typer.Context, nproc: int) -> int:
    """Run this same ``knowrec train`` command under ``torchrun --standalone --nproc-per-node nproc`` (one machine);
    return its exit status."""
    import subprocess
    import sys

    args: list[str] = []
    for param in ctx.command.params:
        value = ctx.params.get(param.name or "")
        if param.name == "nproc" or value is None or value == param.default or param.param_type_name != "option":
            continue
        if getattr(param, "is_flag", False):
            args.append(param.opts[0] if value else param.secondary_opts[0])
        else:
            args += [item for v in (value if param.multiple else [value]) for item in (param.opts[0], str(v))]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
           "-m", "knowrec", "train", *args]
    console.print(f"running: torchrun --standalone --nproc-per-node={nproc} -m knowrec train {' '.join(args)}",
                  highlight=False, markup=False)
    return subprocess.run(cmd, check=False).returncode


@app.command("evaluate")
@friendly_errors
def evaluate_cmd(
    run: Annotated[Path, typer.Argument(help="A run folder written by `knowrec train`, or with --scores a split "
                                        "folder written by `knowrec data split … --format knowrec`.")],
    ks: Annotated[str | None, typer.Option(help="Cut-offs, e.g. 5,10,20 (default: the run's; 10,20).")] = None,
    scores: Annotated[Path | None, typer.Option(help="Scores of another library on the exported split: .npy "
                                                "matrix, .npz (users, scores) or .tsv top-k lists.")] = None,
    out: Annotated[Path | None, typer.Option(help="With --scores: a folder for metrics.json and per-user "
                                             "figures (the layout of a run folder, for `knowrec compare`).")] = None,
    name: Annotated[str, typer.Option(help="With --scores: the name shown for these scores.")] = "scores",
) -> None:
    """Re-evaluate a saved run's model on its split, or score another library's output with knowrec's metrics
    (the same masks, tie-breaking and metric code as every knowrec model)."""
    cutoffs = [int(k) for k in ks.split(",")] if ks else None
    if scores is None:
        from knowrec.experiment import open_run

        opened = open_run(run)
        parts = opened.evaluate(cutoffs)
        title = f"{opened.result.config.model} on {opened.result.config.dataset} ({run})"
    else:
        from knowrec.experiment import evaluate_scores

        parts = evaluate_scores(run, scores, ks=cutoffs or (10, 20), out=out, name=name)
        title = f"{name} on {run}"
    console.print(_metric_table(title, {part: result.metrics for part, result in parts.items()}))
    if out is not None and scores is not None:
        console.print(f"wrote {out / 'metrics.json'} and the per-user figures beside it")


@app.command("recommend")
@friendly_errors
def recommend_cmd(
    run: Annotated[Path, typer.Argument(help="A run folder written by `knowrec train`.")],
    user: Annotated[list[str], typer.Option(help="Original user id (repeatable).")],
    k: Annotated[int, typer.Option("-k", "--k", help="How many items.")] = 10,
    include_seen: Annotated[bool, typer.Option(help="Keep items the user has already interacted with.")] = False,
    explain: Annotated[bool, typer.Option(help="Say why: knowledge-graph paths and the score's sources.")] = False,
) -> None:
    """Top-k items for users, by original id, with titles where the dataset has them (on a friend run: users)."""
    from knowrec.experiment import open_run

    opened = open_run(run)
    explainer = _explainer(opened) if explain else None
    what = "friends" if opened.data.task == "friends" else "items"
    for uid in user:
        frame = opened.result.recommend(opened.data, uid, k, exclude_seen=not include_seen)
        console.print(table(f"Top {k} {what} for user {uid} ({opened.result.config.model})", list(frame.columns),
                            frame.itertuples(index=False)))
        if explainer is not None:
            for item_id in frame.iloc[:, 1]:
                console.print(str(explainer.explain(uid, item_id)), markup=False, highlight=False)


def _explainer(opened: Any, max_hops: int = 3) -> Any:
    """The explainer of a run: KG paths and sources for items, shared friends, items and facts for friends."""
    if opened.data.task == "friends":
        from knowrec.explain.friends import FriendExplainer

        return FriendExplainer.of_task(opened.data, opened.model.seen_)
    from knowrec.explain import Explainer

    return Explainer(opened.model, opened.data, max_hops=max_hops)


@app.command("serve")
@friendly_errors
def serve_cmd(
    run: Annotated[Path, typer.Argument(help="A run folder written by `knowrec train`.")],
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    index: Annotated[str, typer.Option(help="Retrieval: exact, hnsw or ivf (faiss).")] = "exact",
    state: Annotated[Path | None, typer.Option(help="SQLite file of live items and interactions "
                                                    "(default RUN/live.sqlite).")] = None,
    token: Annotated[str | None, typer.Option(envvar="KNOWREC_TOKEN",
                                              help="Bearer token required by writes (env KNOWREC_TOKEN).")] = None,
    explain: Annotated[bool, typer.Option(help="Load the knowledge graph for explanations.")] = True,
    fresh: Annotated[int, typer.Option(help="Places per list for new items that match the user's taste.")] = 2,
    social_weight: Annotated[float, typer.Option(help="Weight of a user's friends' mean vector beside their own "
                                                      "(0: friends speak only for users with no history).")] = 0.0,
    device: Annotated[str, typer.Option(help="Where the language model encodes new items and profiles: auto, cpu, "
                                             "cuda[:N] or mps (scoring and the index stay on the CPU).")] = "auto",
) -> None:
    """Serve a trained model over HTTP (FastAPI): recommendations with explanations, new items, interactions
    and friendships live, friend suggestions, /metrics, a web page at /."""
    import gc

    import torch
    import uvicorn

    from knowrec.devices import resolve_device
    from knowrec.serve import open_service
    from knowrec.serve.app import create_app

    torch.set_num_threads(1)  # requests are small; one thread keeps latency flat beside other work
    resolve_device(device)  # a device that is not there is said before the run is read
    service = open_service(run, index=index, state=state, explain=explain, fresh=fresh, social_weight=social_weight,
                           device=device)
    gc.collect()
    gc.freeze()  # the model, graph and language model live as long as the process: keep them out of every GC pass
    console.print(f"serving {service.model.name} on {service.data.name}: {len(service.users)} users, "
                  f"{len(service.items)} items ({index} index) at http://{host}:{port}/")
    uvicorn.run(create_app(service, token=token), host=host, port=port, log_level="warning")


@app.command("explain")
@friendly_errors
def explain_cmd(
    run: Annotated[Path, typer.Argument(help="A run folder written by `knowrec train`.")],
    user: Annotated[str, typer.Option(help="Original user id.")],
    item: Annotated[list[str] | None, typer.Option(help="Original item id (repeatable; default: the top-k).")] = None,
    k: Annotated[int, typer.Option("-k", "--k", help="How many recommendations to explain without --item.")] = 3,
    max_hops: Annotated[int, typer.Option(help="Longest knowledge-graph path, in facts.")] = 3,
) -> None:
    """Why items are recommended to a user: KG paths from their history, or the closest history items; on a friend
    run, why users are suggested (mutual friends, shared items and facts; --item names the suggested users)."""
    import time

    from knowrec.experiment import open_run

    opened = open_run(run)
    explainer = _explainer(opened, max_hops)
    items = item or [str(i) for i in opened.result.recommend(opened.data, user, k).iloc[:, 1]]
    for item_id in items:
        t0 = time.perf_counter()
        text = str(explainer.explain(user, item_id))
        console.print(text, markup=False, highlight=False)  # relation names look like [markup]
        console.print(f"[dim]{(time.perf_counter() - t0) * 1000:.0f} ms[/dim]")


@app.command("compare")
@friendly_errors
def compare_cmd(
    run_a: Annotated[Path, typer.Argument(help="Baseline run folder.")],
    run_b: Annotated[Path, typer.Argument(help="Run folder to compare with the baseline.")],
    part: Annotated[str, typer.Option(help="valid or test.")] = "test",
) -> None:
    """Paired significance tests (t-test and Wilcoxon) on per-user metrics of two runs."""
    from knowrec.evaluate import compare_per_user
    from knowrec.results import load_per_user

    rows = compare_per_user(load_per_user(run_a, part), load_per_user(run_b, part))
    console.print(table(
        f"{run_b} vs {run_a} ({part}, {rows[0].users if rows else 0} paired users)",
        ["metric", "A", "B", "B − A", "p (t-test)", "p (Wilcoxon)", ""],
        ((r.metric, r.mean_a, r.mean_b, r.diff, p_value(r.p_ttest), p_value(r.p_wilcoxon),
          "*" if r.p_ttest < 0.05 else "") for r in rows),
    ))


@app.command("report")
@friendly_errors
def report_cmd(
    paths: Annotated[list[Path], typer.Argument(help="Run folders (knowrec train --out) and tune folders.")],
    out: Annotated[Path, typer.Option(help="The HTML file to write.")] = Path("report.html"),
    title: Annotated[str, typer.Option(help="The page's title.")] = "knowrec report",
    metric: Annotated[str, typer.Option(help="The metric compared across runs.")] = "ndcg@10",
) -> None:
    """One self-contained HTML page: metrics, curves, paired tests, beyond-accuracy, hybrid sources, cold start,
    and for tune folders the optimisation history and parameter importances."""
    from knowrec.report import build_report

    written = build_report(paths, out, title=title, metric=metric)
    console.print(f"wrote {written} ({written.stat().st_size / 1e6:.1f} MB, opens without a network)")


def main() -> None:
    app()
