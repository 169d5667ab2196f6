"""``knowrec tune`` (issue 12): the validation metric only, the defaults as the first trial, the best config a run,
resume, concurrent processes on one storage, declared search spaces."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from conftest import make_tiny
from knowrec.cli import app
from knowrec.config import RunConfig
from knowrec.errors import ConfigError
from knowrec.params import Choice, Float, Int, parse_space
from knowrec.tune import search_space, tune

runner = CliRunner()


@pytest.fixture
def tiny_dir(tmp_path: Path) -> Path:
    make_tiny().save(tmp_path / "tiny")
    return tmp_path / "tiny"


def base(tiny_dir: Path, **params: object) -> RunConfig:
    return RunConfig.build(dataset=str(tiny_dir), model="bpr", patience=3,
                           model_params={"epochs": 15, "batch_size": 64} | params)


def test_the_best_is_never_worse_than_the_defaults_and_is_tested_once(tiny_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "t"
    result = tune(base(tiny_dir), out, trials=5, show_progress=False)
    defaults = result.study.trials[0]
    assert defaults.params == {"lr": 1e-3, "reg": 1e-2}  # BPR's defaults, trial 0
    assert result.best_value >= defaults.value
    assert len(result.trials) == 5 and all(t["state"] in ("complete", "pruned") for t in result.trials)
    best = yaml.safe_load((out / "best.yaml").read_text())
    assert best["model_params"]["lr"] == result.best_params["lr"]
    run = result.best_run  # retrained with the test part scored, nothing else read the test part
    assert run.valid.metrics["ndcg@10"] == pytest.approx(result.best_value, abs=1e-6)
    assert "ndcg@10" in run.test.metrics and (out / "best" / "metrics.json").is_file()
    trained = runner.invoke(app, ["train", "--config", str(out / "best.yaml"), "--out", str(tmp_path / "r"), "--quiet"])
    assert trained.exit_code == 0, trained.output  # best.yaml is a config `knowrec train` takes
    again = tune(base(tiny_dir), out, trials=7, show_progress=False)  # resumes: two more trials
    assert len(again.trials) == 7 and [t["number"] for t in again.trials] == list(range(7))
    with pytest.raises(ConfigError, match="other settings"):
        tune(base(tiny_dir, dim=32), out, trials=7, show_progress=False)


def test_two_processes_share_one_study(tiny_dir: Path, tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    cmd = [sys.executable, "-m", "knowrec", "tune", "--dataset", str(tiny_dir), "--model", "bpr", "--trials", "8",
           "--storage", storage, "--study", "shared", "--set", "epochs=10", "--set", "batch_size=64", "--quiet"]
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([*cmd, "--out", str(tmp_path / f"w{i}")], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for i in range(2)]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    db = sqlite3.connect(tmp_path / "shared.db")
    rows = db.execute("SELECT number, state FROM trials JOIN studies USING (study_id) WHERE study_name = 'shared'"
                      ).fetchall()
    numbers = sorted(n for n, _ in rows)
    assert numbers == list(range(len(numbers)))  # no trial twice, none missing
    assert 8 <= len(numbers) <= 9  # a worker may start one trial while the other finishes the eighth
    assert {s for _, s in rows} <= {"COMPLETE", "PRUNED"}  # none left running
    params = db.execute("SELECT trial_id, param_name, param_value FROM trial_params").fetchall()
    assert len({(t, p) for t, p, _ in params}) == len(params)
    configs = {}
    for t, p, v in params:
        configs.setdefault(t, set()).add((p, v))
    assert len({frozenset(c) for c in configs.values()}) == len(configs)  # no configuration proposed twice


def test_search_spaces_are_declared_and_can_be_given() -> None:
    assert search_space("lightgcn")["layers"] == Int(1, 4)
    assert search_space("hybrid")["temperature"] == Float(0.05, 1.0, log=True)
    given = parse_space(["lr=float:1e-4:1e-2:log", "dim=choice:32,64", "layers=int:1:3"])
    assert given == {"lr": Float(1e-4, 1e-2, True), "dim": Choice((32, 64)), "layers": Int(1, 3)}
    assert parse_space({"reg": {"low": 1e-6, "high": 1e-2, "log": True}}) == {"reg": Float(1e-6, 1e-2, True)}
    with pytest.raises(ConfigError, match="search space of lr"):
        parse_space(["lr=float:0:1:log"])
    with pytest.raises(ConfigError, match="no parameter 'depth'"):
        search_space("bpr", {"depth": Int(1, 2)})
    with pytest.raises(ConfigError, match="declares no search space"):
        search_space("pop")
