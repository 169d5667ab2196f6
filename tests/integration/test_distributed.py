"""Distributed data-parallel training on torch's own engine: ``knowrec train --nproc 2`` (torchrun, gloo, two CPU
processes) on ml-100k gives the single-process run's figures and the same run folder, and resumes after a kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import torch

from knowrec import pipeline
from knowrec.config import RunConfig
from knowrec.errors import ConfigError
from knowrec.train import DistributedBackend

#: Short runs, CI-sized: the comparison is of one loop against the same loop split over two processes.
RUNS = {"bpr": ["epochs=6"], "lightgcn": ["epochs=4"], "hybrid": ["epochs=3", "sources=id,kg"]}


def _config(model: str, sets: list[str]) -> RunConfig:
    return RunConfig.resolve(settings={"dataset": "ml-100k", "model": model}, overrides=[*sets, "eval_every=2"])


def _torchrun(model: str, sets: list[str], out: Path, **popen: object) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "knowrec", "train", "--dataset", "ml-100k", "--model", model, "--out", str(out),
           "--quiet", "--nproc", "2", *(f"--set={kv}" for kv in [*sets, "eval_every=2"])]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)


def _finish(proc: subprocess.Popen) -> str:
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    return out


@pytest.mark.parametrize("model", list(RUNS))
def test_two_processes_match_one(model: str, data_dir: Path, tmp_path: Path) -> None:
    one = pipeline(_config(model, RUNS[model]), out=tmp_path / "one", show_progress=False)
    _finish(_torchrun(model, RUNS[model], tmp_path / "two"))
    two = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert abs(two["test"]["ndcg@10"] - one.test.metrics["ndcg@10"]) <= 0.01
    assert two["epochs_run"] == one.metrics()["epochs_run"]
    # rank 0 alone wrote the folder, and it is laid out as a single process's
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == sorted(p.name for p in (tmp_path / "one").iterdir())
    assert not list((tmp_path / "two").glob("checkpoint.pt"))


def test_a_killed_distributed_run_resumes(data_dir: Path, tmp_path: Path) -> None:
    sets = ["epochs=16", "batch_size=1024"]
    out = tmp_path / "run"
    proc = _torchrun("bpr", sets, out)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if (out / "checkpoint.pt").is_file() and (out / "history.csv").read_text().count("\n") >= 4:
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the run ended before it could be killed: " + (proc.stdout.read() if proc.stdout
                                                                                else "")
    # the whole tree at once, as a crash would: torchrun starts each rank in a session of its own, so killing the
    # launcher's process group would leave the ranks running on to the end
    tree = [proc.pid, *(c.pid for c in psutil.Process(proc.pid).children(recursive=True))]
    assert len(tree) >= 4  # knowrec --nproc, torchrun and its two ranks
    for pid in tree:
        os.kill(pid, signal.SIGKILL)
    proc.wait()
    psutil.wait_procs([p for p in map(_process, tree) if p is not None], timeout=30)
    assert not (out / "metrics.json").exists()
    done_before = torch.load(out / "checkpoint.pt", weights_only=True)["model"]["epoch"] + 1
    assert 3 <= done_before < 16

    _finish(_torchrun("bpr", sets, out))
    metrics = json.loads((out / "metrics.json").read_text())
    meta = json.loads((out / "meta.json").read_text())
    assert meta["resumed_from_epoch"] >= done_before
    assert metrics["epochs_run"] == 16
    uninterrupted = pipeline(_config("bpr", sets), show_progress=False)
    assert abs(metrics["test"]["ndcg@10"] - uninterrupted.test.metrics["ndcg@10"]) <= 0.01


def _process(pid: int) -> psutil.Process | None:
    try:
        return psutil.Process(pid)
    except psutil.NoSuchProcess:
        return None


def test_the_ddp_backend_outside_torchrun_says_how_to_launch(tiny: object) -> None:
    from knowrec.models import BPR

    with pytest.raises(ConfigError, match="torchrun"):
        BPR(epochs=1).fit(tiny, show_progress=False, backend=DistributedBackend(device="cpu"))
