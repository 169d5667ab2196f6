"""``knowrec data …``: list, inspect, import and split datasets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from knowrec.cli._common import console, friendly_errors, table
from knowrec.data import DATASETS, export_recbole, import_dataset, load_dataset, split
from knowrec.data.builtin import DATA_DIR_ENV
from knowrec.data.download import cache_dir
from knowrec.data.exchange import export_split
from knowrec.data.split import SplitKind

app = typer.Typer(help="List, inspect, import and split datasets.", no_args_is_help=True)


@app.command("list")
def list_datasets() -> None:
    """Show the built-in datasets and where each is found."""
    import os

    rows = []
    for name, spec in DATASETS:
        where = "download"
        base = os.environ.get(DATA_DIR_ENV)
        if base and spec.present_in(Path(base) / (spec.folder or name)):
            where = f"${DATA_DIR_ENV}"
        elif spec.present_in(cache_dir() / name):
            where = "cache"
        rows.append((name, spec.description, where))
    console.print(table("Built-in datasets", ["dataset", "description", "found in"], rows))


@app.command("info")
@friendly_errors
def info(dataset: Annotated[str, typer.Argument(help="A built-in name or a dataset folder.")]) -> None:
    """Counts, density, fields and knowledge-graph coverage of a dataset."""
    import time

    t0 = time.perf_counter()
    data = load_dataset(dataset)
    seconds = time.perf_counter() - t0
    console.print(table(f"{data.name} (loaded in {seconds:.2f} s)", ["field", "value"], data.summary().items()))
    if data.kg_warning():
        console.print(f"[yellow]warning:[/yellow] {data.kg_warning()}", highlight=False)
    if data.kg is not None:
        top = sorted(data.kg.relation_counts().items(), key=lambda kv: -kv[1])[:10]
        console.print(table("Top KG relations", ["relation", "triples"], top))


@app.command("import")
@friendly_errors
def import_cmd(
    interactions: Annotated[Path, typer.Argument(help="Interactions file: CSV, TSV or Parquet.")],
    out: Annotated[Path, typer.Option(help="Folder to write the dataset to.")],
    user_col: Annotated[str, typer.Option(help="User column (name or 0-based position).")] = "user_id",
    item_col: Annotated[str, typer.Option(help="Item column.")] = "item_id",
    weight_col: Annotated[str | None, typer.Option(help="Rating/weight column.")] = None,
    time_col: Annotated[str | None, typer.Option(help="Timestamp column (numbers or dates).")] = None,
    sep: Annotated[
        str | None, typer.Option(help="Separator (default from the suffix: , for .csv, tab for .tsv).")
    ] = None,
    encoding: Annotated[str, typer.Option(help="Text encoding of the files.")] = "utf-8",
    no_header: Annotated[bool, typer.Option("--no-header", help="The interactions file has no header line.")] = False,
    name: Annotated[str | None, typer.Option(help="Dataset name (default: the file's stem).")] = None,
    items: Annotated[Path | None, typer.Option(help="Item table (CSV/TSV/Parquet).")] = None,
    item_id_col: Annotated[str, typer.Option(help="Id column of the item table.")] = "item_id",
    text_col: Annotated[list[str] | None, typer.Option(help="Item text column (repeatable).")] = None,
    attr_col: Annotated[
        list[str] | None, typer.Option(help="Item attribute to turn into a KG relation (repeatable).")
    ] = None,
    attr_sep: Annotated[str | None, typer.Option(help="Separator of multi-valued attributes, e.g. '|'.")] = None,
    attr_pattern: Annotated[str | None, typer.Option(
        help="A regular expression that separates multi-valued attributes instead, e.g. ',(?! )'.")] = None,
    kg: Annotated[Path | None, typer.Option(help="KG triples file.")] = None,
    kg_cols: Annotated[str, typer.Option(help="Head,relation,tail columns (names or positions).")] = "0,1,2",
    kg_header: Annotated[bool, typer.Option(help="The KG file has a header line.")] = False,
    links: Annotated[Path | None, typer.Option(help="Item → entity links file.")] = None,
    link_cols: Annotated[str, typer.Option(help="Item,entity columns.")] = "0,1",
    links_header: Annotated[bool, typer.Option(help="The links file has a header line.")] = False,
    social: Annotated[Path | None, typer.Option(help="User–user links file (friendships, follows).")] = None,
    social_cols: Annotated[str, typer.Option(help="Source,target user columns of the links file.")] = "0,1",
    social_weight_col: Annotated[str | None, typer.Option(help="Weight column of the links file.")] = None,
    social_header: Annotated[bool, typer.Option(help="The links file has a header line.")] = False,
    social_directed: Annotated[bool, typer.Option(
        help="Links are one-way (follows, trust); by default a link is a friendship both ways.")] = False,
    entity_names: Annotated[Path | None, typer.Option(
        help="Labels of KG entities for explanations: a file of (entity id, label) rows.")] = None,
    entity_name_cols: Annotated[str, typer.Option(help="Entity,label columns of the names file.")] = "0,1",
    entity_names_header: Annotated[bool, typer.Option(help="The names file has a header line.")] = False,
    strict: Annotated[bool, typer.Option(help="Fail on the first bad row instead of dropping it.")] = False,
) -> None:
    """Build a dataset from your own files, report what was kept and dropped, and save it to --out."""
    data, report = import_dataset(
        interactions, user_col=user_col, item_col=item_col, weight_col=weight_col, time_col=time_col, sep=sep,
        encoding=encoding, header=not no_header, name=name, items=items, item_id_col=item_id_col,
        text_cols=text_col or (), attr_cols=attr_col or (), attr_sep=attr_sep, attr_pattern=attr_pattern, kg=kg,
        kg_cols=tuple(kg_cols.split(",")), kg_header=kg_header, links=links, link_cols=tuple(link_cols.split(",")),
        links_header=links_header, social=social, social_cols=tuple(social_cols.split(",")),
        social_weight_col=social_weight_col, social_header=social_header, social_directed=social_directed,
        entity_names=entity_names, entity_name_cols=tuple(entity_name_cols.split(",")),
        entity_names_header=entity_names_header, strict=strict,
    )
    data.save(out)
    console.print(f"read {report.rows_read:,} interaction rows, kept {report.kept:,}")
    if report.dropped:
        console.print(table("Dropped", ["reason", "rows", "first examples"],
                            ((r, n, ", ".join(report.examples[r])) for r, n in report.dropped.items())))
    for note in report.notes:
        console.print(f"note: {note}")
    console.print(table(f"Saved to {out}", ["field", "value"], data.summary().items()))
    if data.kg_warning():
        console.print(f"[yellow]warning:[/yellow] {data.kg_warning()}", highlight=False)


@app.command("synth")
@friendly_errors
def synth_cmd(
    out: Annotated[Path, typer.Option(help="Folder to write the dataset to.")],
    users: Annotated[int, typer.Option(help="Number of users.")] = 10_000,
    items: Annotated[int, typer.Option(help="Number of items.")] = 5_000,
    interactions: Annotated[int, typer.Option(help="Number of distinct (user, item) interactions.")] = 200_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    clusters: Annotated[int, typer.Option(help="Taste clusters users and items belong to.")] = 20,
    alpha: Annotated[float, typer.Option(help="Zipf exponent of item popularity (users get half).")] = 1.0,
    kg: Annotated[bool, typer.Option("--kg", help="Add genre and maker facts per item.")] = False,
    text: Annotated[bool, typer.Option("--text", help="Add an item title of taste words.")] = False,
) -> None:
    """Generate a synthetic dataset (power-law popularity, learnable tastes) of any size and save it to --out."""
    import time

    from knowrec.data.synth import synthesize

    t0 = time.perf_counter()
    data = synthesize(users, items, interactions, seed=seed, clusters=clusters, alpha=alpha, kg=kg, text=text)
    data.save(out)
    console.print(table(f"Saved to {out} in {time.perf_counter() - t0:.1f} s", ["field", "value"],
                        data.summary().items()))


@app.command("split")
@friendly_errors
def split_cmd(
    dataset: Annotated[str, typer.Argument(help="A built-in name or a dataset folder.")],
    out: Annotated[Path, typer.Option(help="Folder to write the split to.")],
    kind: Annotated[SplitKind, typer.Option("--split", help="Kind of split.")] = SplitKind.RANDOM,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 2020,
    ratios: Annotated[str, typer.Option(help="Train,valid,test ratios.")] = "0.8,0.1,0.1",
    cold_share: Annotated[float, typer.Option(help="Share of cold items/users for cold splits.")] = 0.2,
    fmt: Annotated[str, typer.Option("--format", help="recbole (benchmark files) or knowrec (TSV files of indices "
                                     "and ids, for any library; score them with `knowrec evaluate`).")] = "recbole",
) -> None:
    """Split a dataset and write it, e.g. as RecBole benchmark files so both libraries see one split.

    RecBole files are named after the --out folder (``<folder>.train.inter`` …), as RecBole expects.
    """
    from knowrec.errors import ConfigError

    data = load_dataset(dataset)
    try:
        r = tuple(float(x) for x in ratios.split(","))
    except ValueError:
        raise ConfigError(f"--ratios expects three numbers such as 0.8,0.1,0.1, got {ratios!r}") from None
    s = split(data, kind, seed=seed, ratios=r, cold_share=cold_share)  # type: ignore[arg-type]
    if fmt == "recbole":
        written = export_recbole(data, s.parts, out, name=out.name)
    elif fmt == "knowrec":
        written = export_split(data, s, out, dataset=dataset)
    else:
        raise ConfigError(f"unknown --format {fmt!r}; choose recbole or knowrec")
    console.print(table(f"{kind} split of {data.name} (seed {seed})", ["part", "interactions"], s.counts().items()))
    for path in written:
        console.print(f"wrote {path}")
    if fmt == "knowrec":
        console.print(f"score another library's output on it with: knowrec evaluate {out} --scores FILE")
    if fmt == "recbole":
        console.print(f"RecBole reads them with data_path: {out.parent}, dataset: {out.name}, "
                      f"benchmark_filename: \\[train, valid, test]")
