"""``RunConfig``: every setting of a run, typed; YAML/JSON/TOML files are just its saved form."""

from __future__ import annotations

import contextlib
import json
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from knowrec.data.split import SplitKind
from knowrec.devices import DEVICE_NAME
from knowrec.errors import ConfigError, did_you_mean
from knowrec.models import MODELS, Estimator


class RunConfig(BaseModel):
    """Data, split, model and training settings of one run (the protocol defaults are RecBole's for ml-100k)."""

    model_config = ConfigDict(extra="forbid", use_enum_values=False)

    dataset: str = "ml-100k"
    #: ``items`` (what to recommend to a user) or ``friends`` (which users: the dataset's social graph as data).
    task: Literal["items", "friends"] = "items"
    model: str = "lightgcn"
    model_params: dict[str, Any] = Field(default_factory=dict)
    split: SplitKind = SplitKind.RANDOM
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)
    cold_share: float = 0.2
    seed: int = 2020
    min_rating: float | None = None
    user_core: int = 0
    item_core: int = 0
    ks: list[int] = Field(default_factory=lambda: [10, 20])
    valid_metric: str = "ndcg@10"
    patience: int = 20
    eval_every: int = 1
    threads: int = 1
    #: Where gradient models train and score: ``auto`` (a GPU when torch sees one), ``cpu``, ``cuda[:N]``, ``mps``.
    device: str = "auto"
    #: Mixed precision for gradient models (float16 with loss scaling on CUDA, bfloat16 on the CPU).
    amp: bool = False

    @field_validator("device")
    @classmethod
    def _device_name(cls, v: str) -> str:
        if not DEVICE_NAME.match(v.strip().lower()):
            raise ValueError("must be auto, cpu, cuda, cuda:N or mps")
        return v.strip().lower()

    @field_validator("threads", "patience", "eval_every")
    @classmethod
    def _positive(cls, v: int) -> int:
        if v < 1:
            raise ValueError("must be at least 1")
        return v

    @classmethod
    def build(cls, **values: Any) -> RunConfig:
        """Validate ``values`` — every setting, and the model's name, parameter names and ranges — into a config;
        any problem becomes one readable ``ConfigError`` with a suggestion. Every config of a run comes
        through here once, at the edge (command line, file, ``pipeline(**settings)``, a saved run)."""
        unknown = [k for k in values if k not in cls.model_fields]
        if unknown:
            raise ConfigError(f"unknown setting {unknown[0]!r}." + did_you_mean(unknown[0], list(cls.model_fields)))
        try:
            config = cls(**values)
        except ValidationError as e:
            err = e.errors()[0]
            where = ".".join(map(str, err["loc"]))
            raise ConfigError(f"setting {where!r}: {err['msg']} (got {err.get('input')!r})") from None
        model = MODELS.get(config.model)
        bad = sorted(set(config.model_params) - set(model.param_names()))
        if bad:
            raise ConfigError(f"model {config.model!r} has no parameter {bad[0]!r}."
                              + did_you_mean(bad[0], model.param_names()))
        update: dict[str, Any] = {"model_params": _coerce(model, config.model_params)}
        if Path(config.dataset).is_dir():  # a folder: kept absolute, so the run can be reloaded from anywhere
            update["dataset"] = str(Path(config.dataset).resolve())
        config = config.model_copy(update=update)
        model(**config.model_params).check_params()
        return config

    @classmethod
    def resolve(cls, *, base: RunConfig | None = None, file: str | Path | None = None,
                settings: dict[str, Any] | None = None, overrides: Sequence[str] = ()) -> RunConfig:
        """The config of a run from its sources, later ones winning: defaults (or ``base``), a YAML/JSON/TOML
        ``file``, ``settings`` (``{"seed": 7}``), then ``key=value`` ``overrides`` (``--set``): a run setting, or
        a model parameter (``model.x=…`` or a name the model has)."""
        values = base.model_dump() if base is not None else (_read(Path(file)) if file is not None else {})
        values |= settings or {}
        params = dict(values.get("model_params") or {})
        names = MODELS.get(str(values.get("model", cls.model_fields["model"].default))).param_names()
        for pair in overrides:
            key, eq, raw = pair.partition("=")
            key = key.strip()
            if not eq or not key:
                raise ConfigError(f"--set expects key=value, got {pair!r}")
            value = yaml.safe_load(raw) if raw.strip() else None
            if key.startswith("model."):
                params[key.removeprefix("model.")] = value
            elif key in cls.model_fields and key != "model_params":
                values[key] = value
            elif key in names:
                params[key] = value
            else:
                raise ConfigError(f"unknown setting {key!r}: neither a run setting nor a parameter of model "
                                  f"{values.get('model', 'lightgcn')!r}." + did_you_mean(key, [*cls.model_fields,
                                                                                                 *names]))
        return cls.build(**values | {"model_params": params})


def _read(path: Path) -> dict[str, Any]:
    """The settings in a YAML, JSON or TOML file."""
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(f"cannot read config {path}: {e.strerror}") from None
    try:
        if path.suffix == ".json":
            values = json.loads(text)
        elif path.suffix == ".toml":
            values = tomllib.loads(text)
        else:
            values = yaml.safe_load(text) or {}
    except (ValueError, yaml.YAMLError) as e:
        raise ConfigError(f"cannot parse config {path}: {e}") from None
    if not isinstance(values, dict):
        raise ConfigError(f"config {path} must hold a mapping of settings")
    return values


def _coerce(model: type[Estimator], params: dict[str, Any]) -> dict[str, Any]:
    """Numbers that arrived as text (YAML reads ``1e-3`` as a string) become the type of the default; what is
    not a number is left for ``check_params`` to name the range it misses."""
    defaults = model.param_defaults()
    out = dict(params)
    for key, value in params.items():
        default = defaults.get(key)
        if isinstance(value, str) and isinstance(default, int | float) and not isinstance(default, bool):
            with contextlib.suppress(ValueError):
                out[key] = type(default)(float(value)) if isinstance(default, int) else float(value)
        elif isinstance(value, int) and isinstance(default, float) and not isinstance(value, bool):
            out[key] = float(value)
    return out
