"""Trackers (issue 12): ``--tracker tensorboard`` and ``--tracker mlflow`` write runs their own readers open."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import make_tiny
from knowrec.cli import app

runner = CliRunner()


def train(tmp_path: Path, *extra: str) -> Path:
    make_tiny().save(tmp_path / "tiny")
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", "--dataset", str(tmp_path / "tiny"), "--model", "bpr", "--out", str(out),
                                 "--set", "epochs=4", "--set", "batch_size=64", "--quiet", *extra])
    assert result.exit_code == 0, result.output
    return out


def test_tensorboard_event_files_open_in_tensorboard(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = train(tmp_path, "--tracker", "tensorboard")
    events = EventAccumulator(str(out / "tensorboard")).Reload()
    scalars = events.Tags()["scalars"]
    assert {"train/loss", "valid/ndcg@10", "test/ndcg@10"} <= set(scalars)
    assert [e.step for e in events.Scalars("train/loss")] == [1, 2, 3, 4]
    assert "params" in "".join(events.Tags()["tensors"])  # the settings, as text


def test_mlflow_runs_open_in_mlflow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    out = train(tmp_path, "--tracker", "mlflow", "--tracking-uri", uri)
    client = MlflowClient(tracking_uri=uri)
    (run,) = client.search_runs([client.get_experiment_by_name("knowrec").experiment_id])
    assert run.data.params["model"] == "bpr" and run.data.params["model_params.epochs"] == "4"
    assert {"train/loss", "valid/ndcg_10", "test/ndcg_10"} <= set(run.data.metrics)
    assert len(client.get_metric_history(run.info.run_id, "train/loss")) == 4
    assert "metrics.json" in {a.path for a in client.list_artifacts(run.info.run_id)}  # the run folder
    assert run.info.status == "FINISHED" and run.info.run_name == out.name
