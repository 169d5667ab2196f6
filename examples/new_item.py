"""Cold start in practice: add a film the model never saw, from its text and KG facts, and see who gets it.

    python examples/new_item.py runs/hybrid          # a run trained with --model hybrid on ml-100k

Prints how many users get the new film in their top-10 / top-100 with no retraining (by full score, and by
taste alone — what `knowrec serve` uses for its fresh places), the users it ranks highest for and, for each,
the films of their history closest to it — the reason it reached them.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import torch
from rich.console import Console
from rich.table import Table

from knowrec.experiment import open_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="folder of a finished hybrid run")
    parser.add_argument("--title", default="Galactic Frontier")
    parser.add_argument("--year", default="1998")
    parser.add_argument("--genres", default="Action,Adventure,Sci-Fi")
    parser.add_argument("--fact", action="append", default=["film.film.genre=m.06n90"],
                        help="relation=entity facts about the new film (default: genre Science Fiction)")
    args = parser.parse_args()

    opened = open_run(args.run)
    data, model = opened.data, opened.model
    table = pd.DataFrame({"movie_title": [args.title], "release_year": [args.year],
                          "class": [args.genres.split(",")]}, index=["new"])
    facts = [("new", *f.split("=", 1)) for f in args.fact]
    (new,) = model.add_items(table, facts)

    seen = torch.from_numpy(model.seen_.toarray() > 0)
    scores = model.score(np.arange(model.n_users_)).masked_fill(seen, -torch.inf)
    rank = ((scores > scores[:, new:new + 1]).sum(1) + 1).numpy()
    # by taste alone (the score without the popularity prior): what the service's fresh places use
    taste = (model.user_factors_ @ model.item_factors_.T).masked_fill(seen, -torch.inf)
    taste_rank = ((taste > taste[:, new:new + 1]).sum(1) + 1).numpy()
    order = np.argsort(rank, kind="stable")
    titles = data.item_titles()
    item_vecs = model.item_factors_
    out = Table(title=f"'{args.title} ({args.year})' [{args.genres}], added without retraining: in the top-10 "
                      f"of {(rank <= 10).sum()} and the top-100 of {(rank <= 100).sum()} of {model.n_users_} "
                      f"users by full score; by taste alone (no popularity prior) in the top-10 of "
                      f"{(taste_rank <= 10).sum()}. The users it ranks highest for:", title_justify="left")
    for col in ("user", "rank", "profile", "closest films in their history"):
        out.add_column(col)
    for u in order[:10]:
        history = model.seen_[u].indices
        sims = (item_vecs[history] @ item_vecs[new]).numpy()
        closest = [titles[history[i]] for i in np.argsort(-sims)[:3]]
        profile = "" if data.user_table is None else " ".join(str(v) for v in data.user_table.iloc[u][:3])
        out.add_row(str(data.user_ids[u]), str(rank[u]), profile, "; ".join(closest))
    Console(width=160).print(out)


if __name__ == "__main__":
    main()
