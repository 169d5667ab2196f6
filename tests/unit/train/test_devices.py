"""The ``device`` setting: resolved once with a clear error, honoured by training and evaluation on every device
torch sees here (the CPU on this machine; each GPU too where there is one), mixed precision where asked."""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from knowrec.cli import app
from knowrec.data import Dataset
from knowrec.data.split import split
from knowrec.devices import available_devices, creating_on, resolve_device, to_device
from knowrec.errors import ConfigError
from knowrec.evaluate import Evaluator
from knowrec.models import BPR, Hybrid, LightGCN
from knowrec.train import LocalBackend

DEVICES = available_devices()


def test_tensors_made_inside_training_land_on_its_device() -> None:
    with creating_on(torch.device("meta")):
        assert torch.rand(2).device.type == "meta"
    with creating_on(torch.get_default_device()) as ctx:  # no function mode where it would change nothing
        assert ctx is None and torch.rand(2).device == torch.get_default_device()


def test_auto_is_a_gpu_when_there_is_one_else_the_cpu() -> None:
    assert resolve_device("auto") == torch.device(DEVICES[1] if len(DEVICES) > 1 else "cpu")
    assert resolve_device(None) == resolve_device("auto")
    assert resolve_device("CPU") == torch.device("cpu")


def test_a_device_that_is_not_there_is_one_clear_line() -> None:
    if torch.cuda.is_available():
        assert resolve_device("cuda") == torch.device("cuda:0")
        missing = f"cuda:{torch.cuda.device_count()}"
    else:
        missing = "cuda"
    with pytest.raises(ConfigError, match="sees no such CUDA GPU") as err:
        resolve_device(missing)
    assert "\n" not in str(err.value) and "available: cpu" in str(err.value)
    with pytest.raises(ConfigError, match="not one of auto, cpu"):
        resolve_device("gpu0")


def test_train_on_a_missing_gpu_fails_before_reading_data(tmp_path: Path) -> None:
    missing = f"cuda:{torch.cuda.device_count()}" if torch.cuda.is_available() else "cuda"
    result = CliRunner().invoke(app, ["train", "--dataset", "no-such-data", "--device", missing,
                                      "--out", str(tmp_path / "r")])
    assert result.exit_code == 1
    assert "sees no such CUDA GPU" in result.output and "no-such-data" not in result.output
    assert not (tmp_path / "r").exists()


def test_serve_on_a_missing_gpu_fails_before_reading_the_run(tmp_path: Path) -> None:
    missing = f"cuda:{torch.cuda.device_count()}" if torch.cuda.is_available() else "cuda"
    result = CliRunner().invoke(app, ["serve", str(tmp_path / "no-such-run"), "--device", missing])
    assert result.exit_code == 1 and "sees no such CUDA GPU" in result.output and "no-such-run" not in result.output


def test_a_setting_names_the_device_field() -> None:
    from knowrec.config import RunConfig

    with pytest.raises(ConfigError, match="'device'"):
        RunConfig.build(device="tpu")
    assert RunConfig.build(device=" CUDA:1 ").device == "cuda:1"  # checked for form here, for presence at train


def test_to_device_moves_what_is_inside_and_keeps_what_has_nothing_to_move() -> None:
    @dataclass
    class Inputs:
        a: torch.Tensor
        facts: dict[str, torch.Tensor]
        name: str = "x"

    pair = namedtuple("pair", "u v")
    value = {"inputs": Inputs(torch.ones(2), {"f": torch.zeros(1)}), "pair": pair(torch.ones(1), 3), "n": 1}
    same = to_device(value, "cpu")
    assert same is value  # nothing moved: the very same objects
    half = to_device(value, torch.float16)  # a dtype is a "device" to .to(): everything inside moves
    assert half["inputs"].a.dtype == torch.float16 and half["inputs"].facts["f"].dtype == torch.float16
    assert isinstance(half["pair"], pair) and half["pair"].v == 3 and half["inputs"].name == "x"
    assert value["inputs"].a.dtype == torch.float32  # the original is untouched


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("model_cls", [BPR, LightGCN, Hybrid])
def test_models_train_and_score_on_each_device(model_cls: type, device: str, tiny: Dataset) -> None:
    s = split(tiny, seed=0)
    train = s.train(tiny)
    params = {"epochs": 4, "batch_size": 64, "lr": 0.01}
    on_cpu = model_cls(**params).fit(train, show_progress=False, backend=LocalBackend(device="cpu"))
    there = model_cls(**params).fit(train, show_progress=False, backend=LocalBackend(device=device))
    assert there.item_factors_.device.type == torch.device(device).type
    evaluator = Evaluator(tiny, s, ks=[5])
    a, b = evaluator.evaluate(on_cpu, "test").metrics, evaluator.evaluate(there.to("cpu"), "test").metrics
    # the same seeds draw other numbers on a GPU: the figures agree closely, not exactly, there
    assert b["ndcg@5"] == pytest.approx(a["ndcg@5"], abs=0.0 if device == "cpu" else 0.05)


@pytest.mark.parametrize("device", DEVICES)
def test_the_evaluator_scores_on_the_models_device_with_exact_metrics(device: str, tiny: Dataset) -> None:
    s = split(tiny, seed=0)
    model = BPR(epochs=3, batch_size=64).fit(s.train(tiny), show_progress=False)
    evaluator = Evaluator(tiny, s, ks=[5, 10], max_cells=7 * tiny.n_items)  # batches of 7 users
    on_cpu = evaluator.evaluate(model, "test")
    moved = evaluator.evaluate(model.to(device), "test")
    assert moved.metrics == on_cpu.metrics
    assert Evaluator(tiny, s, ks=[5, 10]).evaluate(model.to("cpu"), "test").metrics == on_cpu.metrics


def test_mixed_precision_trains_the_models_with_sparse_products(tiny: Dataset) -> None:
    """bfloat16 autocast on the CPU (float16 with loss scaling on CUDA): sparse products stay in float32."""
    s = split(tiny, seed=0)
    train = s.train(tiny)
    for model_cls in (LightGCN, Hybrid):
        full = model_cls(epochs=6, batch_size=64, lr=0.01).fit(train, show_progress=False)
        mixed = model_cls(epochs=6, batch_size=64, lr=0.01).fit(train, show_progress=False,
                                                              backend=LocalBackend(device="cpu", amp=True))
        assert mixed.item_factors_.dtype == torch.float32
        ev = Evaluator(tiny, s, ks=[5])
        assert ev.evaluate(mixed, "test").metrics["ndcg@5"] == pytest.approx(
            ev.evaluate(full, "test").metrics["ndcg@5"], abs=0.1)


@pytest.mark.parametrize("device", DEVICES)
def test_a_service_encodes_new_text_on_its_device_and_answers_on_the_cpu(device: str, tiny_hybrid_dir: Path,
                                                                          tmp_path: Path) -> None:
    from conftest import make_tiny
    from knowrec.models import Recommender
    from knowrec.serve import LiveState, RecommenderService

    model = Recommender.load(tiny_hybrid_dir)
    service = RecommenderService(model, make_tiny(), state=LiveState(tmp_path / "live.sqlite"), device=device)
    assert model.device_ == resolve_device(device)
    encoder = model._item_encoder()
    assert encoder.load().device.type == resolve_device(device).type
    index = service.add_item("new-item", {"title": "Item 3 remastered", "genres": ["g1"]})
    assert model.item_factors_.device.type == "cpu" and index == model.n_items_ - 1
