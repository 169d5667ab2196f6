"""The command line end to end on the real ml-100k, driven through Typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from knowrec.cli import app

runner = CliRunner()


def run(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def runs(tmp_path_factory, data_dir: Path) -> Path:
    """A short BPR run and a Pop run on ml-100k (BPR capped at a few epochs to stay fast)."""
    root = tmp_path_factory.mktemp("runs")
    run("train", "--dataset", "ml-100k", "--model", "bpr", "--out", str(root / "bpr"), "--quiet",
        "--set", "epochs=4", "--set", "lr=0.01", "--set", "patience=2")
    run("train", "--dataset", "ml-100k", "--model", "pop", "--out", str(root / "pop"), "--quiet")
    return root


def test_train_writes_metrics(runs: Path) -> None:
    m = json.loads((runs / "bpr" / "metrics.json").read_text())
    for key in ("dataset", "model", "split", "seed", "best_epoch", "train_seconds", "peak_rss_mb", "valid", "test"):
        assert key in m
    assert m["dataset"] == "ml-100k" and m["model"] == "bpr" and m["seed"] == 2020 and m["split"] == "random"
    assert {"recall@10", "ndcg@10", "hit@10", "mrr@10", "precision@10", "recall@20", "ndcg@20"} <= set(m["test"])
    assert 1 <= m["best_epoch"] <= 4 and m["params"]["epochs"] == 4
    assert 0.08 < json.loads((runs / "pop" / "metrics.json").read_text())["test"]["ndcg@10"] < 0.2
    assert (runs / "bpr" / "history.csv").read_text().count("\n") == 5
    assert (runs / "bpr" / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert not (runs / "bpr" / "checkpoint.pt").exists()


def test_evaluate_reproduces(runs: Path) -> None:
    out = run("evaluate", str(runs / "bpr"))
    m = json.loads((runs / "bpr" / "metrics.json").read_text())
    assert f"{m['test']['ndcg@10']:.4f}" in out


def test_recommend_with_titles(runs: Path) -> None:
    out = run("recommend", str(runs / "pop"), "--user", "196", "-k", "5")
    assert "Star Wars (1977)" in out or "Fargo (1996)" in out
    bad = runner.invoke(app, ["recommend", str(runs / "pop"), "--user", "no-such-user"])
    assert bad.exit_code == 1 and "unknown user id 'no-such-user'" in bad.output


def test_compare(runs: Path) -> None:
    import re

    out = run("compare", str(runs / "pop"), str(runs / "bpr"))
    assert "ndcg@10" in out and "943 paired users" in out
    # issue 10, item 15: small p-values are shown as such, not as 0.0000
    assert "0.0000" not in out and re.search(r"\d(\.\d)?e-\d\d", out)


def test_item16_models_and_help_at_80_columns() -> None:
    """Issue 10, item 16: parameter names are never cut, defaults and ranges are shown."""
    result = runner.invoke(app, ["models", "hybrid"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    for name in ("source_dropout", "history_dropout", "temperature", "text_template"):
        assert name in result.output
    assert "0.3" in result.output and "a finite number" in result.output and "float:0.05:1:log" in result.output
    assert "id,kg,text" in result.output and "<Source" not in result.output
    listing = runner.invoke(app, ["models"], env={"COLUMNS": "80"}).output
    assert "source_dropout=0.1" in listing.replace("\n", "").replace("│", "").replace(" ", "") or \
        "source_dropout=0.1" in listing
    helptext = runner.invoke(app, ["train", "--help"], env={"COLUMNS": "100"}).output
    assert "[default: (random)]" in helptext and "[default: (2020)]" in helptext


def test_item12_training_reports_progress_in_a_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 10, item 12: not a terminal: one plain line per epoch, text encoding and evaluation reported."""
    from conftest import make_tiny

    monkeypatch.setenv("KNOWREC_CACHE_DIR", str(tmp_path / "cache"))  # nothing encoded yet: encoding is shown

    make_tiny().save(tmp_path / "tiny")
    result = runner.invoke(app, ["train", "--dataset", str(tmp_path / "tiny"), "--model", "hybrid",
                                 "--out", str(tmp_path / "h"), "--set", "epochs=3", "--set", "batch_size=64"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    epochs = [line for line in lines if line.startswith("hybrid epoch ")]
    assert [line.split(" · ")[0] for line in epochs] == [f"hybrid epoch {e}/3" for e in (1, 2, 3)]
    assert all("loss" in line and "ndcg@10" in line and "best" in line and "s/epoch" in line
               and "left at cap" in line for line in epochs)
    assert any(line.startswith("encoding 40 texts with all-MiniLM-L6-v2") for line in lines)
    assert any(line.startswith("evaluating test (") and "done in" in line for line in lines)
    assert "\r" not in result.output


def test_finished_run_is_not_overwritten(runs: Path) -> None:
    res = runner.invoke(app, ["train", "--model", "pop", "--out", str(runs / "pop"), "--quiet"])
    assert res.exit_code == 1 and "--overwrite" in res.output


def test_bad_settings_are_one_line(tmp_path: Path) -> None:
    res = runner.invoke(app, ["train", "--model", "bpr", "--set", "dimm=3", "--out", str(tmp_path / "x")])
    assert res.exit_code == 1 and "'dimm'" in res.output and "Did you mean 'dim'" in res.output
    res = runner.invoke(app, ["train", "--model", "lightgcm", "--out", str(tmp_path / "y")])
    assert res.exit_code == 1 and "lightgcn" in res.output
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model: bpr\npatiense: 3\n")
    res = runner.invoke(app, ["train", "--config", str(cfg), "--out", str(tmp_path / "z")])
    assert res.exit_code == 1 and "'patiense'" in res.output and "patience" in res.output


def test_data_commands(data_dir: Path, tmp_path: Path) -> None:
    out = run("data", "list")
    assert "ml-100k" in out and "book-crossing-kg" in out and "ml-1m-kg" in out
    out = run("data", "info", "ml-100k")
    assert "100,000" in out and "1598/1682" in out
    run("data", "split", "ml-100k", "--out", str(tmp_path / "ml-100k"))
    assert {p.name for p in (tmp_path / "ml-100k").iterdir()} >= {
        "ml-100k.train.inter", "ml-100k.valid.inter", "ml-100k.test.inter", "ml-100k.item", "ml-100k.kg",
        "ml-100k.link"}
    run("models")


def test_item7_importing_nothing_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text("u,i,r\n")
    res = runner.invoke(app, ["data", "import", str(tmp_path / "r.csv"), "--user-col", "u", "--item-col", "i",
                              "--out", str(tmp_path / "ds")])
    assert res.exit_code == 1 and "no interaction row kept" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "ds").exists()
    res = runner.invoke(app, ["data", "import", str(tmp_path / "r.csv"), "--links", str(tmp_path / "r.csv"),
                              "--out", str(tmp_path / "ds")])
    assert res.exit_code == 1 and "--kg" in res.output  # item 11: --links without --kg is not ignored


def test_item4_state_commands(tmp_path: Path) -> None:
    """Issue 10, item 4: back up a live state online, see a damaged one refused, restore it, or reset it."""
    from knowrec.serve.live import LiveItem, LiveState, run_state

    run_dir = tmp_path / "run"
    path, marks = run_state(run_dir)
    state = LiveState(path, marks=marks)
    state.add_item(LiveItem("n1", {"title": "New"}, []))
    state.add_interactions("u1", ["n1"])
    out = run("state", "backup", str(run_dir), "--to", str(tmp_path / "b.sqlite"))
    assert "(2 writes)" in out
    state.add_interactions("u2", ["n1"])
    state.close()
    assert "writes" in run("state", "info", str(run_dir))
    path.write_bytes(b"")  # emptied by accident
    bad = runner.invoke(app, ["state", "info", str(run_dir)])
    assert bad.exit_code == 1 and "3 writes to it were acknowledged" in bad.output
    assert "2 writes" in run("state", "restore", str(run_dir), "--from", str(tmp_path / "b.sqlite"))
    assert LiveState(path, marks=marks).counts() == {"items": 1, "interactions": 1, "friendships": 0}
    out = run("state", "reset", str(run_dir), "--yes")
    assert "moved" in out and not path.exists()


def test_data_import(tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text("u,i,r\n1,a,5\n1,b,x\n2,a,3\n2,a,4\n")
    out = run("data", "import", str(tmp_path / "r.csv"), "--user-col", "u", "--item-col", "i", "--weight-col", "r",
              "--out", str(tmp_path / "ds"))
    assert "kept 2" in out and "weight is not a number" in out and "duplicate" in out
    assert "users" in run("data", "info", str(tmp_path / "ds"))


def test_config_file_and_overrides(tmp_path: Path, data_dir: Path) -> None:
    cfg = tmp_path / "run.yaml"
    cfg.write_text("dataset: ml-100k\nmodel: itemknn\nmodel_params: {k: 50}\nks: [5, 10]\n")
    run("train", "--config", str(cfg), "--out", str(tmp_path / "knn"), "--quiet", "--set", "k=20")
    m = json.loads((tmp_path / "knn" / "metrics.json").read_text())
    assert m["params"] == {"k": 20, "shrink": 0.0} and "ndcg@5" in m["test"]


def test_kg_commands(tmp_path: Path, data_dir: Path) -> None:
    store = str(tmp_path / "kg")
    out = run("kg", "load", "ml-100k", "--store", store)
    assert "91,631 facts" in out
    assert "film.film.actor" in run("kg", "info", "--store", store)
    out = run("kg", "neighbors", "50", "--item", "--store", store, "--relation", "film.film.directed_by")
    assert "1 facts" in out and "ms)" in out
    out = run("kg", "paths", "--from", "172", "--from", "181", "--to", "50", "--store", store)
    assert "Star Wars (1977)" in out and "paths to item 50" in out


def test_kg_embed(tmp_path: Path, data_dir: Path) -> None:
    out = run("kg", "embed", "ml-100k", "--epochs", "2", "--test-size", "100", "--out", str(tmp_path / "te"))
    assert "hits@10" in out and "filtered link" in out
    m = json.loads((tmp_path / "te" / "metrics.json").read_text())
    assert m["test"]["mrr"] > m["test"]["random_mrr"]
    assert (tmp_path / "te" / "model" / "weights.safetensors").is_file()


def test_evaluate_a_cold_item_run_ranks_cold_items(tmp_path: Path, data_dir: Path) -> None:
    """`knowrec evaluate` re-creates metrics.json's numbers for a cold-item run, all-items ranking included."""
    out = tmp_path / "cold"
    res = runner.invoke(app, ["train", "--dataset", "ml-100k", "--model", "content", "--split", "cold-item",
                              "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    assert "test_all_items" in res.output
    saved = json.loads((out / "metrics.json").read_text())
    # issue 10, item 13: cold candidates have no training interactions to read novelty or diversity from
    assert not {m for m in saved["test"] if m.startswith(("novelty", "diversity"))}
    assert {"novelty@10", "diversity@10"} <= set(saved["test_all_items"])
    res = runner.invoke(app, ["evaluate", str(out)])
    assert res.exit_code == 0, res.output
    assert f"{saved['test']['recall@20']:.4f}" in res.output
    assert f"{saved['test_all_items']['recall@20']:.4f}" in res.output


def test_explain_recommendations_with_kg_paths(runs: Path) -> None:
    out = run("explain", str(runs / "bpr"), "--user", "196", "-k", "2")
    assert out.count("for user 196") == 2 and "from the knowledge graph" in out
    assert "which you interacted with" in out and "(weight " in out and " ms" in out
    assert "film.film." not in out and "m.0" not in out  # relations in words; Freebase ids have no name to show
    out = run("explain", str(runs / "bpr"), "--user", "196", "--item", "50")
    assert "Star Wars (1977) for user 196" in out


def test_recommend_with_explanations(runs: Path) -> None:
    out = run("recommend", str(runs / "bpr"), "--user", "196", "-k", "3", "--explain")
    assert out.count("for user 196 — ") == 3 and "which you interacted with" in out


def test_serve_over_http(runs: Path, tmp_path: Path) -> None:
    """`knowrec serve` in its own process on loopback: health, explained top-10 for real users (most with a KG
    path), a clear 400 where a BPR model cannot add items, and the live state file in place."""
    import http.client
    import os
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    state = tmp_path / "live.sqlite"
    proc = subprocess.Popen([sys.executable, "-m", "knowrec", "serve", str(runs / "bpr"), "--port", str(port),
                             "--state", str(state)], env=os.environ | {"KNOWREC_TOKEN": "t"})

    def call(method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request(method, path, json.dumps(body) if body is not None else None,
                     {"Content-Type": "application/json", "Authorization": "Bearer t"})
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"null")

    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, "knowrec serve did not start"
            try:
                status, health = call("GET", "/health")
                break
            except OSError:
                time.sleep(0.3)
        assert status == 200 and health["model"] == "bpr" and health["items"] == 1682
        with_path = total = 0
        for user in ("1", "196", "405", "655", "888"):
            status, body = call("GET", f"/users/{user}/recommendations?k=10&explain=true")
            assert status == 200 and len(body["items"]) == 10
            total += 10
            with_path += sum(i["explanation"]["kind"] == "kg" for i in body["items"])
        assert with_path >= 0.8 * total
        status, body = call("POST", "/items", {"item_id": "new", "fields": {"title": "A new film"}})
        assert status == 400 and "cannot add items" in body["detail"]
        assert state.is_file()
    finally:
        proc.terminate()
        proc.wait(30)


def test_another_librarys_scores_judged_like_a_run(runs: Path, tmp_path: Path) -> None:
    """`data split --format knowrec` then `evaluate --scores`: Pop's scores written by hand equal the Pop run."""
    import numpy as np
    import pandas as pd

    run("data", "split", "ml-100k", "--out", str(tmp_path / "split"), "--format", "knowrec")
    train = pd.read_csv(tmp_path / "split" / "train.tsv", sep="\t")
    n_users = len(pd.read_csv(tmp_path / "split" / "users.tsv", sep="\t"))
    n_items = len(pd.read_csv(tmp_path / "split" / "items.tsv", sep="\t"))
    counts = np.bincount(train["item"], minlength=n_items).astype(np.float32)
    np.save(tmp_path / "pop.npy", np.tile(counts, (n_users, 1)))
    out = run("evaluate", str(tmp_path / "split"), "--scores", str(tmp_path / "pop.npy"), "--name", "their pop",
              "--out", str(tmp_path / "judged"))
    assert "their pop" in out
    theirs = json.loads((tmp_path / "judged" / "metrics.json").read_text())["test"]
    ours = json.loads((runs / "pop" / "metrics.json").read_text())["test"]
    assert theirs["ndcg@10"] == pytest.approx(ours["ndcg@10"])
    assert theirs["recall@20"] == pytest.approx(ours["recall@20"])
    assert "943 paired users" in run("compare", str(runs / "pop"), str(tmp_path / "judged"))


def test_friend_task_from_import_to_explained_suggestions(tmp_path: Path) -> None:
    """Import a friend list with the interactions, train a friend model, suggest and explain friends."""
    from tests.conftest import make_tiny_social

    data = make_tiny_social()
    inter = tmp_path / "inter.csv"
    inter.write_text("user_id,item_id\n" + "".join(f"{data.user_ids[u]},{data.item_ids[i]}\n"
                                                   for u, i in zip(data.users, data.items, strict=True)))
    links = tmp_path / "friends.csv"
    links.write_text("a,b\n" + "".join(f"{data.user_ids[s]},{data.user_ids[d]}\n"
                                       for s, d in zip(data.social.src, data.social.dst, strict=True)) + "u0,u0\n")
    out = run("data", "import", str(inter), "--out", str(tmp_path / "ds"), "--social", str(links),
              "--social-header")
    assert "self-link" in out and "social_links" in out
    run("train", "--dataset", str(tmp_path / "ds"), "--task", "friends", "--model", "adamic-adar",
        "--out", str(tmp_path / "run"), "--quiet")
    assert json.loads((tmp_path / "run" / "config.json").read_text())["task"] == "friends"
    out = run("recommend", str(tmp_path / "run"), "--user", "u3", "-k", "3", "--explain")
    assert "Top 3 friends for user u3" in out and "user_id" in out and "mutual friends" in out
    out = run("explain", str(tmp_path / "run"), "--user", "u3", "-k", "2")
    assert out.count("you and user") == 2
