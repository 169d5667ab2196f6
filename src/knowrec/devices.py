"""Where tensors live: one ``device`` setting (``auto`` | ``cpu`` | ``cuda[:N]`` | ``mps``) resolved once, a clear
error for a device that is not there, and a mover for the nested tensors a model keeps (dataclasses included)."""

from __future__ import annotations

import contextlib
import dataclasses
import re
from typing import Any, TypeVar

import torch

from knowrec.errors import ConfigError

T = TypeVar("T")
#: What a ``device`` setting may say.
DEVICE_NAME = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def available_devices() -> list[str]:
    """The devices torch can use on this machine: ``cpu`` first, then each GPU (what device-parametrised tests run
    on)."""
    found = ["cpu"]
    if torch.cuda.is_available():
        found += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        found.append("mps")
    return found


def resolve_device(name: str | torch.device | None = "auto") -> torch.device:
    """The ``torch.device`` a setting names: ``auto`` (or ``None``) is the first GPU when torch sees one, else the
    CPU; a GPU that is not there is a ``ConfigError`` saying what is."""
    if isinstance(name, torch.device):
        name = str(name)
    name = (name or "auto").strip().lower()
    if not DEVICE_NAME.match(name):
        raise ConfigError(f"device {name!r} is not one of auto, cpu, cuda, cuda:N, mps")
    present = available_devices()
    if name == "auto":
        return torch.device(present[1] if len(present) > 1 else "cpu")
    if (name if name != "cuda" else "cuda:0") not in present:
        kind = "CUDA GPU" if name.startswith("cuda") else "Apple GPU (mps)"
        raise ConfigError(f"device {name!r} asked for, but torch {torch.__version__} sees no such {kind} here "
                          f"(available: {', '.join(present)}); use --device cpu or auto")
    return torch.device(name if name != "cuda" else "cuda:0")


def to_device(obj: T, device: torch.device | str, *, non_blocking: bool = False) -> T:
    """``obj`` with every tensor inside it (tuples, lists, dicts, dataclasses) on ``device``; other values, and
    containers with nothing to move, are returned as they are."""
    if isinstance(obj, torch.Tensor):
        return obj.to(device, non_blocking=non_blocking)  # type: ignore[return-value]
    if isinstance(obj, dict):
        items = {k: to_device(v, device, non_blocking=non_blocking) for k, v in obj.items()}
        return obj if all(items[k] is v for k, v in obj.items()) else type(obj)(items)  # type: ignore
    if isinstance(obj, tuple | list):
        values = [to_device(v, device, non_blocking=non_blocking) for v in obj]
        if all(a is b for a, b in zip(values, obj, strict=True)):
            return obj
        return type(obj)(*values) if hasattr(obj, "_fields") else type(obj)(values)  # type: ignore
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if f.init}
        moved = {k: to_device(v, device, non_blocking=non_blocking) for k, v in fields.items()}
        changed = {k: v for k, v in moved.items() if v is not fields[k]}
        return dataclasses.replace(obj, **changed) if changed else obj  # type: ignore[type-var]
    return obj


def sparse_mm(matrix: torch.Tensor, dense: torch.Tensor) -> torch.Tensor:
    """``matrix @ dense`` for a sparse float32 ``matrix``, in float32 even under mixed precision: sparse kernels
    take no half-precision operands, and a sum over many neighbours is where low precision loses most."""
    with torch.autocast(dense.device.type, enabled=False):
        return matrix @ dense.float()


def creating_on(device: torch.device) -> Any:
    """A context in which tensors made without a device (masks, ranges, random draws) land on ``device``; a no-op
    where they would anyway. ``torch.device`` as a context is a Python function mode that every torch call passes
    through — ~14 % of a hybrid training step on the CPU — so it is entered only when it changes something."""
    return contextlib.nullcontext() if device == torch.get_default_device() else device


def autocast(device: torch.device, enabled: bool) -> Any:
    """Mixed precision where it is safe: float16 autocast on CUDA (its loss scaled by the caller), bfloat16 on the
    CPU; a no-op context when not ``enabled``."""
    dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    return torch.autocast(device.type, dtype=dtype, enabled=enabled)
